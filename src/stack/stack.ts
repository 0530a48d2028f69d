import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackendHandler } from '../http/node-handler.js';
import { Gateway, type GatewayOptions } from '../gateway.js';
import { createLogger, type Logger } from '../log.js';
import type { HTTMCP } from '../server/httmcp.js';
import { parseNginxSeconds } from '../session/resume.js';
import type { AuthOptions } from '../auth/authenticator.js';
import { authFromEnv } from '../auth/config.js';
import { findNginx, NGINX_DIES_WITH_LAUNCHER, NginxProcess, PortInUseError } from './nginx.js';
import { waitForRedisStore } from './redis-ready.js';
import {
  accessLogDirective,
  backendCredential,
  clientHeaderBuffer,
  clientLimits,
  principalLimits,
  type PrincipalLimits,
  connectionLimits,
  CORE_BACKLOG,
  coreSocketDirectives,
  coreSockets,
  consoleAccess,
  consoleAllowFromEnv,
  DEFAULT_ALLOWED_HOSTS,
  DEFAULT_ALLOWED_ORIGINS,
  listenKeep,
  modernAtEdge,
  renderNginxConfig,
  trustedProxyEntries,
  type ClientLimits,
} from './nginx-config.js';

/** How to run a local stack. */
export interface StackOptions {
  /** The servers to serve at `/mcp/{name}` from an in-process backend. */
  servers: HTTMCP[];
  /**
   * Addresses (`host:port`) of backends running elsewhere (`httmcp backend`) to put behind
   * nginx instead of an in-process one; `servers` then only names the URLs. They must publish
   * to {@link Stack.publishUrl} and share the session secret.
   */
  backends?: string[];
  /**
   * Redis URL (`redis://host:port`) for nchan's Redis store: every nginx node on the same Redis
   * delivers what any node published, so several nodes form one cluster.
   */
  redis?: string;
  /**
   * Where nginx takes publishes from backends: `host:port` for backends on other machines
   * (keep it on a private network). Default: a unix socket only this user can reach.
   */
  publishListen?: string;
  /** Public port; 0 picks a free one. */
  port?: number;
  /** Public address (default 127.0.0.1). */
  host?: string;
  /** Runtime directory for config, logs and sockets (default: a new temp dir). */
  prefix?: string;
  /** Regular expression of allowed browser Origins (default: localhost pages only). */
  allowedOrigins?: string;
  /**
   * Regular expression of the host names clients may use in `Host` (DNS-rebinding protection).
   * Default: loopback names, plus `host` when it is a specific name or address.
   */
  allowedHosts?: string;
  /** nginx worker processes (default 1; `auto` for one per core). */
  workerProcesses?: number | 'auto';
  /**
   * Open files per nginx worker, at most the hard limit (default: the hard limit). Sizes
   * worker_connections and how many clients the edge admits.
   */
  maxOpenFiles?: number;
  /** What one client may hold and send at the edge (default: `DEFAULT_CLIENT_LIMITS`). */
  clientLimits?: Partial<ClientLimits>;
  /** What one authenticated principal may hold and send on a server (default: `DEFAULT_PRINCIPAL_LIMITS`). */
  principalLimits?: Partial<PrincipalLimits>;
  /**
   * Proxies in front of the edge (addresses or CIDR ranges) whose X-Forwarded-For names the
   * client the per-client limits count. Default none: the header is ignored.
   */
  trustedProxies?: string[];
  /**
   * The listen queue each of the core's unix sockets asks for (default
   * `HTTMCP_CORE_BACKLOG` or 65535; the kernel caps it at `net.core.somaxconn`). The core listens
   * on as many sockets as the edge's client cap needs at that queue (see `coreSockets`).
   */
  coreBacklog?: number;
  /**
   * Who may open the operator console at `/console/`: addresses or CIDR ranges, `['all']`, or
   * `[]` for nobody. Default: `HTTMCP_CONSOLE_ALLOW`, else loopback only (127.0.0.1, ::1).
   */
  consoleAllow?: readonly string[];
  /**
   * nginx's access log: a file, `/dev/stdout`, or `off` (the default; `HTTMCP_ACCESS_LOG` when
   * unset). Lines are nginx's `combined` format plus the Mcp-Method and Mcp-Name headers.
   */
  accessLog?: string;
  /** nginx error log level (default `notice`; workers that die on a signal are logged at `alert`). */
  nginxLogLevel?: string;
  /**
   * How long the old workers of a reload (`nginx -s reload`, SIGHUP) may finish requests still in
   * flight before nginx closes what is left, as an nginx time (`10s`, `1m`). Default
   * `HTTMCP_WORKER_SHUTDOWN_TIMEOUT`, else {@link LIMITS}.workerShutdownTimeout.
   */
  workerShutdownTimeout?: string;
  /**
   * The `retry:` of every SSE stream, in ms: how long clients wait before they reconnect a stream
   * the server closed. Default `HTTMCP_SSE_RETRY_MS`, else {@link LIMITS}.sseRetryMs.
   */
  sseRetryMs?: number;
  /**
   * Authentication (off by default). Default: from the environment (`HTTMCP_OAUTH_ISSUER`,
   * `HTTMCP_API_KEYS`, ...; docs/auth.md), with the stack's own URL as the public origin.
   */
  auth?: AuthOptions;
  /** The origin clients use, when it is not `http://host:port` (a TLS proxy in front): token audiences. */
  publicUrl?: string;
  /**
   * The user nginx workers run as when the launcher is root (`HTTMCP_NGINX_USER`; default
   * `www-data` where it exists, else `nobody`). Its primary group may enter the prefix.
   */
  nginxUser?: string;
  /** Gateway settings (session secret, budgets, limits); the publish URL is set by the stack. */
  gateway?: Omit<GatewayOptions, 'publishUrl'>;
  logger?: Logger;
}

/** A running local stack: nginx+nchan in front of an in-process backend. */
export interface Stack {
  /** `http://host:port` of the public edge. */
  url: string;
  port: number;
  /** URL of each server, by name. */
  servers: Record<string, string>;
  prefix: string;
  errorLog: string;
  nginxPid: number;
  /** Always 0: the in-process backend listens on {@link Stack.backendSocket}, not on a port. */
  backendPort: number;
  /** The in-process backend's unix socket, in the prefix only nginx's workers may enter ('' with external `backends`). */
  backendSocket: string;
  /**
   * Resolves when the stack stopped on its own because nginx exited (it is then stopped
   * entirely: the backend is closed too), with what nginx's log said. Never resolves when
   * {@link Stack.stop} stops it.
   */
  failed: Promise<Error>;
  /** nchan's publish listener, for backends started elsewhere. */
  publishUrl: string;
  gateway: Gateway;
  stop(): Promise<void>;
}

/** Defaults shared by the template users (launcher, tests, Docker): see nginx/nginx.conf.template. */
export const LIMITS = {
  maxBody: '4m',
  maxPublish: '16m',
  subrequestBuffer: '64k',
  /** Stays below subrequestBuffer; larger replies are published instead of returned inline. */
  inlineReplyMax: 60 * 1024,
  messageBufferLength: 200,
  messageTimeout: '10m',
  /** How long SSE clients wait before reconnecting a stream the server closed. */
  sseRetryMs: 1000,
  /** nginx's worker_shutdown_timeout: how long a reload's old workers may finish what is in flight. */
  workerShutdownTimeout: '10s',
} as const;

/**
 * Starts nginx+nchan with the project's own config (own prefix, pid file and logs; never the
 * system nginx) and the backend with `servers`, and resolves once both accept connections.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  const install = findNginx();
  // Settings first: nothing is started or created for a stack that cannot run.
  const perClient = clientLimits(options.clientLimits);
  const perPrincipal = principalLimits(options.principalLimits);
  const trustedProxies = trustedProxyEntries(options.trustedProxies ?? []);
  const accessLog = accessLogDirective(options.accessLog ?? process.env.HTTMCP_ACCESS_LOG);
  const consoleRules = consoleAccess(options.consoleAllow ?? consoleAllowFromEnv(process.env.HTTMCP_CONSOLE_ALLOW));
  const logger = options.logger ?? createLogger();
  const host = options.host ?? '127.0.0.1';
  const port = options.port || (await freePort(host));
  const prefix = options.prefix ?? mkdtempSync(join(tmpdir(), 'httmcp-'));
  const workers = nginxWorkers(options.nginxUser);
  const backendSocket = join(prefix, 'backend.sock');
  preparePrefix(prefix, workers);
  const publishSocket = join(prefix, 'private', 'publish.sock');
  const publishListen = options.publishListen ?? `unix:${publishSocket}`;
  const publishUrl = options.publishListen ? `http://${options.publishListen}` : `unix:${publishSocket}`;
  if (options.redis !== undefined && !/^rediss?:\/\/[^\s;{}]+$/.test(options.redis)) {
    throw new Error(`redis must be a redis:// URL, got ${JSON.stringify(options.redis)}`);
  }

  // HTTMCP_RATE_STORE (a URL, or `off`) wins over the stack's Redis.
  const rateStore = process.env.HTTMCP_RATE_STORE || options.redis;
  const auth = options.auth ?? authFromEnv(process.env, options.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`);
  // HTTMCP_SESSION_SECRET and the other HTTMCP_* settings apply to the stack's backend too, so
  // nodes started with the same secret accept each other's sessions.
  const gateway = Gateway.fromEnv(process.env, {
    ...(auth ? { auth } : {}),
    inlineReplyMax: LIMITS.inlineReplyMax,
    // What this stack's nginx runs with (the template gets LIMITS, not the environment).
    messageBuffer: { length: LIMITS.messageBufferLength, timeoutSeconds: parseNginxSeconds(LIMITS.messageTimeout) },
    // Tasks outlive a backend and are seen from every node when they live in the cluster's Redis.
    ...(options.redis && !process.env.HTTMCP_TASK_STORE ? { taskStore: options.redis } : {}),
    // What nginx cannot count per principal (WebSockets, tools named only in the body), with the
    // same settings as nginx's per-principal limits.
    principalQuota: { webSockets: perPrincipal.connections, toolRatePerSecond: perPrincipal.toolRatePerSecond, toolBurst: perPrincipal.toolBurst },
    // Per-principal call rates hold across the cluster when counted in its Redis (nginx's zones
    // stay as a per-node first line), at the rates nginx is given.
    ...(rateStore && rateStore !== 'off'
      ? { sharedRates: { url: rateStore, ratePerSecond: perPrincipal.ratePerSecond, burst: perPrincipal.burst, timeoutMs: positiveInteger(process.env.HTTMCP_RATE_STORE_TIMEOUT_MS, 'HTTMCP_RATE_STORE_TIMEOUT_MS') ?? 100 } }
      : {}),
    ...options.gateway,
    logger,
    publishUrl,
  });
  // Before anything listens: nginx would retry a taken port for seconds, and an older nginx
  // there would answer for it meanwhile.
  await assertPortFree(host, port).catch(async (error: unknown) => {
    await gateway.close();
    throw error;
  });
  const nofile = Math.min(fileLimit(), options.maxOpenFiles ?? Number.POSITIVE_INFINITY);
  const workerCount = options.workerProcesses === 'auto' ? availableParallelism() : (options.workerProcesses ?? 1);
  const limits = connectionLimits(nofile, workerCount);
  const coreBacklog = options.coreBacklog ?? positiveInteger(process.env.HTTMCP_CORE_BACKLOG, 'HTTMCP_CORE_BACKLOG') ?? CORE_BACKLOG;
  // nginx's hops to the core and to the in-process backend are unix sockets, whose full listen
  // queue refuses a connect at once (502) instead of letting it retry: enough sockets of each for
  // every admitted client to have a request waiting (see coreSockets), and nginx tries the next.
  const socketCount = coreSockets(limits.maxClients, Math.min(coreBacklog, listenQueueMax()));
  const core = coreSocketDirectives(prefix, socketCount, coreBacklog);
  const backendSockets = Array.from({ length: socketCount }, (_, i) => (i === 0 ? backendSocket : join(prefix, `backend-${i + 1}.sock`)));
  const errorLog = join(prefix, 'logs', 'error.log');
  const backends: Server[] = [];
  if (!options.backends) {
    const handler = createBackendHandler(options.servers, gateway, { nginxErrorLog: errorLog });
    for (const path of backendSockets) {
      backends.push(await listenOnSocket(handler, path, coreBacklog));
      restrictSocket(path, workers);
    }
  }
  const backend = backends[0];
  const upstreams = options.backends ?? backendSockets.map((path) => `unix:${path} max_fails=0`);
  const config = join(prefix, 'nginx.conf');
  const sseRetryMs = options.sseRetryMs ?? (process.env.HTTMCP_SSE_RETRY_MS ? Number(process.env.HTTMCP_SSE_RETRY_MS) : LIMITS.sseRetryMs);
  if (!Number.isInteger(sseRetryMs) || sseRetryMs < 100 || sseRetryMs > 600_000) {
    throw new Error(`the SSE retry must be an integer number of ms from 100 to 600000, got ${JSON.stringify(options.sseRetryMs ?? process.env.HTTMCP_SSE_RETRY_MS)}`);
  }
  const workerShutdownTimeout = options.workerShutdownTimeout ?? process.env.HTTMCP_WORKER_SHUTDOWN_TIMEOUT ?? LIMITS.workerShutdownTimeout;
  if (parseNginxSeconds(workerShutdownTimeout) < 1) throw new Error(`worker shutdown timeout must be at least 1s, got ${JSON.stringify(workerShutdownTimeout)}`);
  const instance = randomBytes(12).toString('base64url');
  // 0600: it holds the backend key. Only the master (launcher's user) reads it.
  rmSync(config, { force: true });
  writeFileSync(
    config,
    renderNginxConfig({
      HTTMCP_NCHAN_MODULE: install.module,
      HTTMCP_HEADERS_MORE_MODULE: install.headersMoreModule,
      HTTMCP_WORKER_PROCESSES: String(options.workerProcesses ?? 1),
      HTTMCP_USER_DIRECTIVE: workers ? `user ${workers.user} ${workers.group};` : '',
      HTTMCP_WORKER_NOFILE: String(nofile),
      HTTMCP_WORKER_CONNECTIONS: String(limits.workerConnections),
      HTTMCP_MAX_CLIENTS: String(limits.maxClients),
      HTTMCP_CLIENT_CONNECTIONS: String(perClient.connections),
      HTTMCP_CLIENT_RATE: String(perClient.ratePerSecond),
      HTTMCP_CLIENT_BURST: String(perClient.burst),
      HTTMCP_PRINCIPAL_CONNECTIONS: String(perPrincipal.connections),
      HTTMCP_PRINCIPAL_RATE: String(perPrincipal.ratePerSecond),
      HTTMCP_PRINCIPAL_BURST: String(perPrincipal.burst),
      HTTMCP_PRINCIPAL_TOOL_RATE: String(perPrincipal.toolRatePerSecond),
      HTTMCP_PRINCIPAL_TOOL_BURST: String(perPrincipal.toolBurst),
      HTTMCP_TRUSTED_PROXY_ENTRIES: trustedProxies,
      HTTMCP_BACKEND_KEEPALIVE: String(limits.backendKeepalive),
      HTTMCP_PREFIX: prefix,
      HTTMCP_ERROR_LOG: errorLog,
      HTTMCP_NGINX_LOG_LEVEL: options.nginxLogLevel ?? 'notice',
      HTTMCP_WORKER_SHUTDOWN_TIMEOUT: workerShutdownTimeout,
      HTTMCP_ACCESS_LOG: accessLog,
      HTTMCP_PUBLIC_LISTEN: `${host}:${port}`,
      HTTMCP_PUBLISH_LISTEN: publishListen,
      HTTMCP_BACKEND_SERVERS: upstreams.map((address) => `server ${address};`).join(' '),
      HTTMCP_ALLOWED_ORIGINS: options.allowedOrigins ?? DEFAULT_ALLOWED_ORIGINS,
      HTTMCP_ALLOWED_HOSTS: options.allowedHosts ?? defaultAllowedHosts(host),
      HTTMCP_MESSAGE_BUFFER_LENGTH: String(LIMITS.messageBufferLength),
      HTTMCP_MESSAGE_TIMEOUT: LIMITS.messageTimeout,
      HTTMCP_SSE_RETRY_MS: String(sseRetryMs),
      HTTMCP_SUBREQUEST_BUFFER: LIMITS.subrequestBuffer,
      HTTMCP_MAX_BODY: LIMITS.maxBody,
      HTTMCP_MAX_PUBLISH: LIMITS.maxPublish,
      HTTMCP_REDIS_UPSTREAM: options.redis ? `upstream httmcp_redis { nchan_redis_server ${options.redis}; }` : '',
      // In every nchan location: at http or server level nchan ignores it without a word.
      HTTMCP_REDIS_PASS: options.redis ? 'nchan_redis_pass httmcp_redis;' : '',
      // Redis only: an event right after the ack was lost now and then (docs/operations.md).
      HTTMCP_LISTEN_KEEP: listenKeep(Boolean(options.redis)),
      HTTMCP_AUTH_REQUEST: gateway.auth ? '/_httmcp/auth' : 'off',
      // Remote backends may exchange tokens for all this process knows: they get the header.
      HTTMCP_BACKEND_CREDENTIAL: backendCredential({
        authentication: gateway.auth !== undefined,
        backendsNeedToken: (options.backends?.length ?? 0) > 0 || options.servers.some((server) => server.exchangesCallerToken),
      }),
      HTTMCP_CLIENT_HEADER_BUFFER: clientHeaderBuffer(gateway.auth !== undefined, process.env.HTTMCP_CLIENT_HEADER_BUFFER),
      HTTMCP_BACKEND_KEY: gateway.backendKey,
      HTTMCP_INSTANCE_ID: instance,
      HTTMCP_CORE_LISTEN: core.listen,
      HTTMCP_CORE_SERVERS: core.servers,
      HTTMCP_CONSOLE_ACCESS: consoleRules,
      HTTMCP_2026_AT_EDGE: modernAtEdge(gateway.auth !== undefined),
    }),
    { mode: 0o600 },
  );

  let nginx: NginxProcess;
  try {
    nginx = await NginxProcess.start(install, prefix, config, errorLog, { host, port, instance });
  } catch (error) {
    for (const server of backends) await closeServer(server);
    await gateway.close();
    throw error;
  }
  const killOnExit = () => nginx.killNow();
  process.once('exit', killOnExit);
  if (options.redis) await waitForRedisStore(publishUrl, workerCount, logger);

  let stopping: Promise<void> | undefined;
  const stopAll = async () => {
    process.removeListener('exit', killOnExit);
    // The servers first: their hubs stop the work that publishes later (stream closers,
    // liveness sweeps) while nginx can still take it, instead of failing and logging after.
    if (backend) {
      for (const server of backends) await closeServer(server);
      for (const server of options.servers) await server.unmount();
    }
    await nginx.stop();
    await gateway.close();
  };
  // Never half alive: without nginx nobody reaches the backend, so it stops too.
  const failed = nginx.exited.then(async (code) => {
    if (stopping) return new Promise<Error>(() => undefined);
    const error = new Error(`nginx (pid ${nginx.pid}) exited (${code === null ? 'killed by a signal' : `code ${code}`}); the stack stopped. ${errorLog}:\n${lastLogLines(errorLog)}`);
    logger.error({ err: error }, 'nginx exited; stopping the backend');
    stopping = stopAll();
    await stopping.catch((stopError: unknown) => logger.error({ err: stopError }, 'stopping after nginx exited failed'));
    return error;
  });

  const url = `http://${host}:${port}`;
  logger.info({ url, prefix, nchanModule: install.module }, 'stack started');
  if (!NGINX_DIES_WITH_LAUNCHER) {
    logger.warn("util-linux's setpriv was not found: if this process is killed with SIGKILL, its nginx keeps running (docs/operations.md, \"Process supervision and internal hops\")");
  }
  if (!install.nchanFixed) {
    logger.warn(
      { nchanModule: install.module },
      "this nchan module can crash a worker when a WebSocket closes with a message on its way to the backend, and leaks worker connections when one closes with messages queued; `sudo bash scripts/build-nchan-module.sh` installs a fixed build that is used instead (docs/operations.md)",
    );
  }
  return {
    url,
    port,
    servers: Object.fromEntries(options.servers.map((s) => [s.name, `${url}/mcp/${s.name}`])),
    prefix,
    errorLog,
    nginxPid: nginx.pid,
    backendPort: 0,
    backendSocket: backend ? backendSocket : '',
    publishUrl,
    gateway,
    failed,
    stop() {
      return (stopping ??= stopAll());
    },
  };
}

/**
 * The open-file limit nginx workers may raise themselves to: the hard limit, capped. Every
 * session holds two or three nginx connections, so this bounds the sessions one worker holds.
 */
function fileLimit(): number {
  const hard = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim());
  return Number.isFinite(hard) && hard > 0 ? Math.min(hard, 1_048_576) : 1024;
}

/** The user and group nginx workers run as, when the launcher is root (else nginx keeps the launcher's). */
interface WorkerIdentity {
  user: string;
  group: string;
  gid: number;
}

/**
 * Workers never run as root: as root, the launcher drops them to `nginxUser`, or
 * `HTTMCP_NGINX_USER`, or `www-data` (Debian's web server user, also the image's), or `nobody`.
 */
function nginxWorkers(nginxUser?: string): WorkerIdentity | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (args: string[]) => spawnSync('id', args, { encoding: 'utf8' });
  const user = nginxUser ?? process.env.HTTMCP_NGINX_USER ?? (id(['-u', 'www-data']).status === 0 ? 'www-data' : 'nobody');
  const group = id(['-gn', user]);
  const gid = id(['-g', user]);
  if (group.status !== 0 || gid.status !== 0) throw new Error(`nginx workers should run as user ${JSON.stringify(user)}, which does not exist (HTTMCP_NGINX_USER)`);
  if (Number(id(['-u', user]).stdout) === 0) throw new Error(`nginx workers must not run as root (HTTMCP_NGINX_USER=${user})`);
  return { user, group: group.stdout.trim(), gid: Number(gid.stdout) };
}

/**
 * The prefix holds nginx's config (with the backend key), core.sock (edge to core) and
 * backend.sock (the in-process backend): only the launcher's user and the workers' group may
 * enter it (0750; 0700 when workers run as the launcher's user). publish.sock is in `private/`,
 * which only the launcher's user may enter. A prefix that an nginx still runs on is refused;
 * sockets left by one that was killed are removed (nginx cannot bind over them).
 */
function preparePrefix(prefix: string, workers: WorkerIdentity | undefined): void {
  mkdirSync(prefix, { recursive: true });
  const pidFile = join(prefix, 'nginx.pid');
  const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
  if (pid > 0 && isNginx(pid)) throw new Error(`nginx (pid ${pid}) still runs on the prefix ${prefix}; stop it or use another --prefix`);
  for (const socket of ['core.sock', 'backend.sock', 'private/publish.sock']) rmSync(join(prefix, socket), { force: true });
  // The extra sockets of the edge-to-core and backend hops (coreSockets).
  if (existsSync(prefix)) for (const name of readdirSync(prefix)) if (/^(core|backend)-\d+\.sock$/.test(name)) rmSync(join(prefix, name), { force: true });
  if (workers) chownSync(prefix, process.getuid!(), workers.gid);
  chmodSync(prefix, workers ? 0o750 : 0o700);
  for (const dir of ['logs', 'tmp', 'private']) mkdirSync(join(prefix, dir), { recursive: true });
  chmodSync(join(prefix, 'private'), 0o700);
}

function isNginx(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('nginx');
  } catch {
    return false;
  }
}

/** The backend's socket: for the workers' group (or the launcher's user alone), never for others. */
function restrictSocket(path: string, workers: WorkerIdentity | undefined): void {
  if (workers) chownSync(path, process.getuid!(), workers.gid);
  chmodSync(path, workers ? 0o660 : 0o600);
}

/** Fails with {@link PortInUseError} when something listens on host:port. */
function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(`${host}:${port}`) : error),
    );
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

function lastLogLines(file: string, lines = 10): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Loopback names, plus the address the stack listens on when that is a specific one. */
function defaultAllowedHosts(host: string): string {
  if (['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::'].includes(host)) return DEFAULT_ALLOWED_HOSTS;
  const escaped = host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return `^(localhost|127\\.0\\.0\\.1|\\[::1\\]|${escaped})$`;
}

/** A port that was free a moment ago (nginx cannot report a port it picked itself). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Serves a backend handler (node:http listener or Express app); its keep-alive outlives nginx's
 * upstream keepalive_timeout (60 s) so nginx never reuses a connection the backend is closing.
 * The listen queue is as long as the kernel allows: a burst of messages opens that many upstream
 * connections at once, and a connection dropped from a full queue waits 1 s, then 3 s, to retry.
 */
export function listen(handler: RequestListener, port = 0, host = '127.0.0.1'): Promise<Server> {
  const server = createHttpServer(handler);
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => resolve(server));
  });
}

/** {@link listen} on a unix socket: the in-process backend, reachable only through the prefix. */
export function listenOnSocket(handler: RequestListener, path: string, backlog = LISTEN_BACKLOG): Promise<Server> {
  const server = createHttpServer(handler);
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path, backlog }, () => resolve(server));
  });
}

/**
 * Listen queue length asked for by the backend (nginx's listeners ask for the same). The kernel
 * caps it at `net.core.somaxconn` (4096 on current Linux): raise that for bursts of more calls
 * in flight than it allows (docs/operations.md, "Listen queues").
 */
export const LISTEN_BACKLOG = 65535;

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * The kernel's cap on a listen queue (`net.core.somaxconn`; readable without root). 4096 when it
 * cannot be read, the default of current Linux.
 */
function listenQueueMax(): number {
  try {
    const value = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
    return Number.isInteger(value) && value > 0 ? value : 4096;
  } catch {
    return 4096;
  }
}

/** A positive integer setting from the environment, or undefined when unset; anything else throws. */
function positiveInteger(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}
