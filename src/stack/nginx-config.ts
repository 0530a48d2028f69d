import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The values of the `${HTTMCP_*}` placeholders in `nginx/nginx.conf.template`. */
export interface NginxConfigValues {
  HTTMCP_NCHAN_MODULE: string;
  HTTMCP_HEADERS_MORE_MODULE: string;
  HTTMCP_WORKER_PROCESSES: string;
  HTTMCP_USER_DIRECTIVE: string;
  HTTMCP_WORKER_NOFILE: string;
  HTTMCP_WORKER_CONNECTIONS: string;
  HTTMCP_MAX_CLIENTS: string;
  HTTMCP_CLIENT_CONNECTIONS: string;
  HTTMCP_CLIENT_RATE: string;
  HTTMCP_CLIENT_BURST: string;
  HTTMCP_PRINCIPAL_CONNECTIONS: string;
  HTTMCP_PRINCIPAL_RATE: string;
  HTTMCP_PRINCIPAL_BURST: string;
  HTTMCP_PRINCIPAL_TOOL_RATE: string;
  HTTMCP_PRINCIPAL_TOOL_BURST: string;
  HTTMCP_TRUSTED_PROXY_ENTRIES: string;
  HTTMCP_BACKEND_KEEPALIVE: string;
  HTTMCP_PREFIX: string;
  HTTMCP_ERROR_LOG: string;
  HTTMCP_NGINX_LOG_LEVEL: string;
  HTTMCP_WORKER_SHUTDOWN_TIMEOUT: string;
  HTTMCP_ACCESS_LOG: string;
  HTTMCP_PUBLIC_LISTEN: string;
  HTTMCP_PUBLISH_LISTEN: string;
  HTTMCP_BACKEND_SERVERS: string;
  HTTMCP_ALLOWED_ORIGINS: string;
  HTTMCP_ALLOWED_HOSTS: string;
  HTTMCP_MESSAGE_BUFFER_LENGTH: string;
  HTTMCP_MESSAGE_TIMEOUT: string;
  HTTMCP_SSE_RETRY_MS: string;
  HTTMCP_SUBREQUEST_BUFFER: string;
  HTTMCP_MAX_BODY: string;
  HTTMCP_MAX_PUBLISH: string;
  HTTMCP_REDIS_UPSTREAM: string;
  HTTMCP_REDIS_PASS: string;
  /**
   * Messages the subscriptions/listen channels keep: `1` with the Redis store, where a stream
   * starts at the second it opens in and fetches what was published meanwhile; `0` with the memory
   * store, where a stream takes what is published from its opening on.
   */
  HTTMCP_LISTEN_KEEP: string;
  /** `off`, or the auth_request location (`/_httmcp/auth`) when authentication is on. */
  HTTMCP_AUTH_REQUEST: string;
  /**
   * What becomes of the client's `Authorization` header on the way to the backends: empty (passed
   * on: authentication off, or a backend exchanges the caller's token), or
   * `proxy_set_header Authorization "";` (dropped at the edge: see {@link backendCredential}).
   */
  HTTMCP_BACKEND_CREDENTIAL: string;
  /** The edge's `client_header_buffer_size` ({@link clientHeaderBuffer}). */
  HTTMCP_CLIENT_HEADER_BUFFER: string;
  /** What nginx sends backends in X-Httmcp-Backend-Key (`deriveBackendKey` of the session secret). */
  HTTMCP_BACKEND_KEY: string;
  /** Names this start of nginx on `/healthz` (X-Httmcp-Instance); empty: no header. */
  HTTMCP_INSTANCE_ID: string;
  /** The core's `listen` directives (one or more unix sockets; see `coreSockets`). */
  HTTMCP_CORE_LISTEN: string;
  /** The edge's `server` lines for the same sockets. */
  HTTMCP_CORE_SERVERS: string;
  /** `allow`/`deny` directives of the operator console's location ({@link consoleAccess}). */
  HTTMCP_CONSOLE_ACCESS: string;
  /** `on`: the edge sends 2026-07-28 requests straight to the backend ({@link modernAtEdge}). */
  HTTMCP_2026_AT_EDGE: string;
}

/**
 * {@link NginxConfigValues.HTTMCP_LISTEN_KEEP}. With the Redis store nchan settles a channel new
 * to a worker asynchronously, and dropped an event published in that moment although the stream
 * had its acknowledgement; a stream that starts at its second fetches it from the kept message.
 */
export function listenKeep(redis: boolean): string {
  return redis ? '1' : '0';
}

/** Host names allowed by default (DNS-rebinding protection): this machine's loopback names. */
export const DEFAULT_ALLOWED_HOSTS = '^(localhost|127\\.0\\.0\\.1|\\[::1\\])$';

/** Origins allowed by default: pages served from this machine only. */
export const DEFAULT_ALLOWED_ORIGINS = '^https?://(localhost|127\\.0\\.0\\.1|\\[::1\\])(:[0-9]+)?$';

/**
 * Connections a worker needs besides sessions and its idle keep-alive connections to the backend:
 * listeners, the keep-alive cache to the core, publish pools.
 */
const CONNECTION_RESERVE = 192;

/** Connection limits of the nginx config, from {@link connectionLimits}. */
export interface ConnectionLimits {
  /** `worker_connections`. */
  workerConnections: number;
  /** Client connections the edge admits (all workers together); 503 past that. */
  maxClients: number;
  /** Idle connections to the backends each worker keeps (`keepalive` of the upstream). */
  backendKeepalive: number;
}

/**
 * Connection limits for `workers` nginx workers that may each open `nofile` files: every worker
 * may use all but a reserve of them for connections; after the connections no session owns
 * (listeners, the keep-alive caches to core and backend, each backend's publish pool), the edge
 * admits a fifth as clients (a session holds at most four connections; see the template).
 *
 * The keep-alive cache to the backends grows with the worker's connections, up to 1024: nchan
 * sends each message upstream on its own connection, so a burst of calls from many sessions
 * opens one connection per call in flight. With 64 kept, a burst of 5,000 long calls closed and
 * reopened most of them (measured in bench/README.md, "Long tasks").
 */
export function connectionLimits(nofile: number, workers: number): ConnectionLimits {
  const workerConnections = nofile > 4096 ? nofile - 1024 : Math.floor(nofile / 2);
  const backendKeepalive = Math.min(1024, Math.max(64, Math.floor(workerConnections / 16)));
  const perWorker = workerConnections - CONNECTION_RESERVE - backendKeepalive;
  // nginx refuses a limit_conn above 65535 ("connection limit must be less 65536").
  const maxClients = Math.min(65535, Math.max(1, Math.floor((workers * perWorker) / 5)));
  return { workerConnections, maxClients, backendKeepalive };
}

/**
 * What one client (an address; the real one behind a trusted proxy) may hold and send at the
 * edge. Past a limit it gets 429 with Retry-After and a JSON-RPC error.
 */
export interface ClientLimits {
  /**
   * Requests open at once: each WebSocket, SSE stream and Streamable HTTP request stream holds
   * one for as long as it is open, a plain request while it runs (1 to 65535).
   */
  connections: number;
  /** Requests per second, sustained (WebSocket handshakes and HTTP requests; not WebSocket frames). */
  ratePerSecond: number;
  /** Requests above the rate admitted at once before the rate applies (0 for none). */
  burst: number;
}

/**
 * Per-client defaults for a public deployment: a client with a few sessions and dozens of calls
 * at once stays far below them; one address cannot hold more than 64 of the server's streams or
 * send more than 20 requests a second (after a burst of 50). Behind a NAT many people share an
 * address: raise them there, or name the proxies in front with `trustedProxies`.
 */
export const DEFAULT_CLIENT_LIMITS: Readonly<ClientLimits> = { connections: 64, ratePerSecond: 20, burst: 50 };

/**
 * `limits` over `defaults`, each checked against its inclusive range in `ranges` (nginx refuses a
 * config with them otherwise, less clearly); `what` names them in the error.
 */
function checkedLimits<T extends { [K in keyof T]: number }>(what: string, defaults: Readonly<T>, ranges: Record<keyof T, readonly [number, number]>, limits: Partial<T>): T {
  const merged = { ...defaults, ...limits };
  for (const [name, [min, max]] of Object.entries(ranges) as Array<[keyof T & string, readonly [number, number]]>) {
    const value = merged[name];
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${what} ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return merged;
}

/** Checks `limits` (nginx refuses a config with them otherwise, less clearly) and fills in defaults. */
export function clientLimits(limits: Partial<ClientLimits> = {}): ClientLimits {
  return checkedLimits('client limit', DEFAULT_CLIENT_LIMITS, { connections: [1, 65535], ratePerSecond: [1, 1_000_000], burst: [0, 1_000_000] }, limits);
}

/**
 * What one authenticated principal (issuer and subject) may hold and send on one server, counted
 * in the core, where requests arrive with the edge's verdict; with authentication off nothing is
 * counted per principal. Past a limit: 429 with Retry-After and a JSON-RPC error.
 */
export interface PrincipalLimits {
  /** Requests and streams (Streamable HTTP, legacy SSE) open at once on one server (1 to 65535). */
  connections: number;
  /** Requests per second to one server, sustained. */
  ratePerSecond: number;
  /** Requests above that rate admitted at once (0 for none). */
  burst: number;
  /**
   * Requests per second for one tool, resource or prompt of one server: counted where the
   * request names it in the `Mcp-Name` header (protocol 2026-07-28), not for older clients.
   */
  toolRatePerSecond: number;
  /** Requests above the tool rate admitted at once (0 for none). */
  toolBurst: number;
}

/**
 * Per-principal defaults: a principal may use several addresses (each also under
 * {@link DEFAULT_CLIENT_LIMITS}), so its share of a server is a few clients' worth.
 */
export const DEFAULT_PRINCIPAL_LIMITS: Readonly<PrincipalLimits> = { connections: 128, ratePerSecond: 50, burst: 100, toolRatePerSecond: 20, toolBurst: 40 };

/** Checks `limits` and fills in defaults (see {@link clientLimits}). */
export function principalLimits(limits: Partial<PrincipalLimits> = {}): PrincipalLimits {
  return checkedLimits('principal limit', DEFAULT_PRINCIPAL_LIMITS, {
    connections: [1, 65535],
    ratePerSecond: [1, 1_000_000],
    burst: [0, 1_000_000],
    toolRatePerSecond: [1, 1_000_000],
    toolBurst: [0, 1_000_000],
  }, limits);
}

/**
 * The `geo` entries naming the proxies in front of the edge (addresses or CIDR ranges) whose
 * X-Forwarded-For then names the client the per-client limits count; empty when there are none
 * (the header is ignored).
 */
export function trustedProxyEntries(trustedProxies: readonly string[]): string {
  return trustedProxies
    .map((proxy) => {
      const [address, bits, extra] = proxy.split('/');
      const family = isIP(address ?? '');
      const max = family === 6 ? 128 : 32;
      const validBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max);
      if (family === 0 || !validBits || extra !== undefined) throw new Error(`a trusted proxy is an IP address or CIDR range, got ${JSON.stringify(proxy)}`);
      return `${proxy} 1;`;
    })
    .join(' ');
}

/** The listen queue each of the core's unix sockets asks for; the kernel caps it at `net.core.somaxconn`. */
export const CORE_BACKLOG = 65535;

/** The most unix sockets the core listens on (see {@link coreSockets}). */
export const MAX_CORE_SOCKETS = 16;

/**
 * How many unix sockets the edge-to-core hop needs so that a burst of requests never finds every
 * listen queue full: enough for the edge's client cap (each client connection has at most one
 * request crossing the hop) to fit in `queue` connections per socket, at most
 * {@link MAX_CORE_SOCKETS}. A unix socket with a full queue refuses connect() at once (EAGAIN)
 * instead of letting the client retry as TCP does, so without room nginx answers 502: 5,000
 * concurrent Streamable HTTP calls lost up to 77 through one socket whose queue the kernel capped
 * at 4,096 (bench/README.md, "Bursts"). `queue` is the effective listen queue: the backlog asked
 * for, capped by `net.core.somaxconn`.
 */
export function coreSockets(maxClients: number, queue: number): number {
  return Math.min(MAX_CORE_SOCKETS, Math.max(1, Math.ceil(maxClients / Math.max(1, queue))));
}

/**
 * The core's `listen` directives and the edge's `server` lines for `count` unix sockets in
 * `prefix` (`core.sock`, `core-2.sock`, ...), for the HTTMCP_CORE_LISTEN and HTTMCP_CORE_SERVERS
 * placeholders.
 */
export function coreSocketDirectives(prefix: string, count: number, backlog = CORE_BACKLOG): { listen: string; servers: string } {
  const paths = Array.from({ length: count }, (_, i) => `${prefix}/${i === 0 ? 'core.sock' : `core-${i + 1}.sock`}`);
  return {
    listen: paths.map((path) => `listen unix:${path} backlog=${backlog};`).join(' '),
    servers: paths.map((path) => `server unix:${path} max_fails=0;`).join(' '),
  };
}

/** The template's access log format: nginx's `combined`, then the Mcp-Method and Mcp-Name headers. */
export const ACCESS_LOG_FORMAT = 'httmcp';

/**
 * The value of the HTTMCP_ACCESS_LOG placeholder (`access_log` arguments): `off` when `path` is
 * unset, empty or `off`, else the file (or `/dev/stdout`) in the {@link ACCESS_LOG_FORMAT} format.
 */
export function accessLogDirective(path: string | undefined): string {
  const target = path?.trim() ?? '';
  if (target === '' || target === 'off') return 'off';
  if (/[\s;{}'"$]/.test(target)) throw new Error(`the access log is a file path without spaces, quotes, $, ; or braces, got ${JSON.stringify(path)}`);
  return `${target} ${ACCESS_LOG_FORMAT}`;
}

/** Who may open the operator console by default: this machine only. */
export const DEFAULT_CONSOLE_ALLOW: readonly string[] = ['127.0.0.1', '::1'];

/**
 * The console location's access rules: `allow` for each address or CIDR range (or `all`), then
 * `deny all`. An empty list closes the console to everyone.
 */
export function consoleAccess(allow: readonly string[] = DEFAULT_CONSOLE_ALLOW): string {
  const rules = allow.map((entry) => {
    if (entry === 'all') return 'allow all;';
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const validBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 6 ? 128 : 32));
    if (family === 0 || !validBits || extra !== undefined) throw new Error(`console access is an IP address, a CIDR range or "all", got ${JSON.stringify(entry)}`);
    return `allow ${entry};`;
  });
  return [...rules, 'deny all;'].join(' ');
}

/**
 * `HTTMCP_CONSOLE_ALLOW`: addresses or CIDR ranges separated by commas or spaces, `all`, or
 * `off` (nobody); unset or empty: {@link DEFAULT_CONSOLE_ALLOW}.
 */
export function consoleAllowFromEnv(value: string | undefined): readonly string[] {
  if (value === undefined || value.trim() === '') return DEFAULT_CONSOLE_ALLOW;
  if (value.trim() === 'off') return [];
  return value.split(/[\s,]+/).filter(Boolean);
}

/** The directory of the httmcp package (holds `nginx/`), from source or from `dist/`. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'nginx', 'nginx.conf.template'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find nginx/nginx.conf.template above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return dir;
}

/** Path of the one nginx config template. */
export function templatePath(): string {
  return join(packageRoot(), 'nginx', 'nginx.conf.template');
}

/**
 * Fills the template. Every placeholder must have a value, so a template and a renderer that
 * drift apart fail loudly instead of producing a config with a literal `${...}` in it.
 */
export function renderNginxConfig(values: NginxConfigValues, template = readFileSync(templatePath(), 'utf8')): string {
  const lookup = values as unknown as Record<string, string | undefined>;
  return template.replace(/\$\{(HTTMCP_[A-Z0-9_]+)\}/g, (_, name: string) => {
    const value = lookup[name];
    if (value === undefined) throw new Error(`nginx template placeholder \${${name}} has no value`);
    return value;
  });
}

/** The placeholder names a template uses (the Docker entrypoint passes the same list to envsubst). */
export function placeholders(template = readFileSync(templatePath(), 'utf8')): string[] {
  return [...new Set([...template.matchAll(/\$\{(HTTMCP_[A-Z0-9_]+)\}/g)].map((m) => m[1]!))].sort();
}

/**
 * {@link NginxConfigValues.HTTMCP_BACKEND_CREDENTIAL}. With authentication on, the edge's verdict
 * carries the principal and the backends never need the client's token, except to exchange it
 * for an API's (RFC 8693, OpenAPI `tokenExchange`): dropped at the edge, it is neither copied
 * through the core nor parsed by a backend on every call, and no backend process holds it.
 * Without authentication it passes (a session is then bound to a digest of the header).
 */
export function backendCredential(options: { authentication: boolean; backendsNeedToken: boolean }): string {
  return options.authentication && !options.backendsNeedToken ? 'proxy_set_header Authorization "";' : '';
}

/**
 * {@link NginxConfigValues.HTTMCP_CLIENT_HEADER_BUFFER}: the buffer the edge reads a request's
 * head (and the start of its body) into. nginx's 1k holds a tools/call without a token; a bearer
 * token (a JWT is 0.8 to 2 KB) overflows it, and then every request costs a second read, an
 * ioctl and, past 1k of headers, an 8k buffer the head is copied into, which a WebSocket or a
 * stream holds as long as it is open. 4k with authentication on; `override` (an nginx size,
 * `HTTMCP_CLIENT_HEADER_BUFFER`) wins.
 */
export function clientHeaderBuffer(authentication: boolean, override?: string): string {
  if (override !== undefined && override !== '') {
    if (!/^[1-9][0-9]*[kKmM]?$/.test(override)) throw new Error(`HTTMCP_CLIENT_HEADER_BUFFER must be an nginx size (4k, 8192), got ${JSON.stringify(override)}`);
    return override;
  }
  return authentication ? '4k' : '1k';
}

/**
 * {@link NginxConfigValues.HTTMCP_2026_AT_EDGE}: whether the edge sends 2026-07-28 requests
 * (and their streams) straight to the backend instead of through the core, one nginx hop less.
 * Only with authentication off: the per-principal limits, which the core counts, need the
 * auth verdict, which the edge has only after its own limits ran (nginx applies limit_req and
 * limit_conn once per request, before auth_request). Without authentication they count nothing.
 */
export function modernAtEdge(authentication: boolean): 'on' | 'off' {
  return authentication ? 'off' : 'on';
}
