/**
 * The Docker setup without a Docker engine: docker-compose.yml is validated by docker-compose,
 * and the nginx image's entrypoint (docker/nginx-entrypoint.sh) renders the one template and
 * runs THIS machine's Debian nginx+nchan (the same packages the image installs) in front of a
 * real backend, reached by official SDK clients.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { createExampleServers } from '../../examples/index.js';
import { deriveBackendKey } from '../../src/http/backend-guard.js';
import { createBackendHandler } from '../../src/http/node-handler.js';
import { Gateway } from '../../src/gateway.js';
import type { HTTMCP } from '../../src/server/httmcp.js';
import { connectionLimits, CORE_BACKLOG, coreSocketDirectives, coreSockets, DEFAULT_ALLOWED_HOSTS, DEFAULT_ALLOWED_ORIGINS, DEFAULT_CLIENT_LIMITS, DEFAULT_PRINCIPAL_LIMITS, packageRoot, renderNginxConfig, templatePath, type NginxConfigValues } from '../../src/stack/nginx-config.js';
import { freePort, LIMITS, listen } from '../../src/stack/stack.js';
import { trustedProxyEntries } from '../../src/stack/nginx-config.js';
import { connectClient, TRANSPORTS } from '../helpers/stack.js';

const root = packageRoot();
const entrypoint = join(root, 'docker', 'nginx-entrypoint.sh');
const healthcheck = join(root, 'docker', 'nginx-healthcheck.sh');
const isRoot = process.getuid?.() === 0;
/** The session secret the backends and (for the backend key) the nginx container share. */
const SECRET = 'docker-test-secret-0123456789abcdef';

/** The test's environment without any HTTMCP_* variable of its own, plus `overrides`. */
function scriptEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('HTTMCP_')));
  return { ...env, HTTMCP_TEMPLATE: templatePath(), HTTMCP_SESSION_SECRET: SECRET, ...overrides };
}

function runEntrypoint(overrides: Record<string, string>) {
  return spawnSync('bash', [entrypoint], { env: scriptEnv(overrides), encoding: 'utf8', timeout: 20_000 });
}

/** The core sockets the entrypoint renders for `maxClients` (same rule as the launcher). */
function coreDefaults(prefix: string, maxClients: number): Pick<NginxConfigValues, 'HTTMCP_CORE_LISTEN' | 'HTTMCP_CORE_SERVERS'> {
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
  const core = coreSocketDirectives(prefix, coreSockets(maxClients, Math.min(CORE_BACKLOG, somaxconn)));
  return { HTTMCP_CORE_LISTEN: core.listen, HTTMCP_CORE_SERVERS: core.servers };
}

const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'httmcp-docker-'));
  temps.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------ compose file
const compose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
const hasCompose = !compose.error && compose.status === 0;
if (!hasCompose && !process.env.CI) {
  // Outside CI only; `npm test` installs docker-compose (scripts/setup.mjs), and in CI a missing one fails below.
  console.warn('docker.test.ts: docker-compose is not installed; skipping the docker-compose.yml checks (apt-get install docker-compose)');
}

describe('docker-compose.yml', () => {
  const composeTest = hasCompose || process.env.CI ? test : test.skip;

  composeTest('docker-compose config -q accepts it', () => {
    expect(hasCompose).toBe(true);
    const result = spawnSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config', '-q'], { cwd: root, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  composeTest('only the public edge (8080) is published; the publish listener (8081) is not', () => {
    const result = spawnSync('docker-compose', ['-f', join(root, 'docker-compose.yml'), 'config'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, HTTMCP_SESSION_SECRET: 'a-secret-from-the-environment' },
    });
    expect(result.status).toBe(0);
    const published = [...result.stdout.matchAll(/published: '?(\d+)'?/g)].map((m) => m[1]);
    expect(published).toEqual(['8080']);
    expect(result.stdout).toMatch(/HTTMCP_PUBLISH_URL: http:\/\/nginx:8081/);
    // Same inline reply limit as the local launcher (below nginx's subrequest buffer).
    expect(result.stdout).toMatch(new RegExp(`HTTMCP_INLINE_REPLY_MAX: '${LIMITS.inlineReplyMax}'`));
    // The shared secret comes from the environment when set.
    expect(result.stdout).toMatch(/HTTMCP_SESSION_SECRET: a-secret-from-the-environment/);
  });
});

// ------------------------------------------------------------------------------ rendering
describe('nginx image entrypoint: rendering', () => {
  test('with no overrides it renders exactly what the Node renderer gives for the container defaults', () => {
    const prefix = tempDir();
    const result = runEntrypoint({ HTTMCP_PREFIX: prefix, HTTMCP_RENDER_ONLY: '1' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(join(prefix, 'nginx.conf'));

    const hard = spawnSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
    const nofile = hard === 'unlimited' ? 1_048_576 : Math.min(Number(hard), 1_048_576);
    // Typed as the interface, so a new placeholder makes this test name its container default.
    const containerDefaults: NginxConfigValues = {
      HTTMCP_NCHAN_MODULE: '/usr/lib/nginx/modules/ngx_nchan_module.so',
      HTTMCP_HEADERS_MORE_MODULE: '/usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so',
      HTTMCP_WORKER_PROCESSES: 'auto',
      HTTMCP_USER_DIRECTIVE: isRoot ? 'user www-data;' : '',
      HTTMCP_WORKER_NOFILE: String(nofile),
      HTTMCP_WORKER_CONNECTIONS: String(connectionLimits(nofile, availableParallelism()).workerConnections),
      HTTMCP_MAX_CLIENTS: String(connectionLimits(nofile, availableParallelism()).maxClients),
      HTTMCP_CLIENT_CONNECTIONS: String(DEFAULT_CLIENT_LIMITS.connections),
      HTTMCP_CLIENT_RATE: String(DEFAULT_CLIENT_LIMITS.ratePerSecond),
      HTTMCP_CLIENT_BURST: String(DEFAULT_CLIENT_LIMITS.burst),
      HTTMCP_PRINCIPAL_CONNECTIONS: String(DEFAULT_PRINCIPAL_LIMITS.connections),
      HTTMCP_PRINCIPAL_RATE: String(DEFAULT_PRINCIPAL_LIMITS.ratePerSecond),
      HTTMCP_PRINCIPAL_BURST: String(DEFAULT_PRINCIPAL_LIMITS.burst),
      HTTMCP_PRINCIPAL_TOOL_RATE: String(DEFAULT_PRINCIPAL_LIMITS.toolRatePerSecond),
      HTTMCP_PRINCIPAL_TOOL_BURST: String(DEFAULT_PRINCIPAL_LIMITS.toolBurst),
      HTTMCP_TRUSTED_PROXY_ENTRIES: '',
      HTTMCP_BACKEND_KEEPALIVE: String(connectionLimits(nofile, availableParallelism()).backendKeepalive),
      HTTMCP_PREFIX: prefix,
      HTTMCP_ERROR_LOG: 'stderr',
      HTTMCP_NGINX_LOG_LEVEL: 'notice',
      HTTMCP_WORKER_SHUTDOWN_TIMEOUT: LIMITS.workerShutdownTimeout,
      HTTMCP_ACCESS_LOG: 'off',
      HTTMCP_PUBLIC_LISTEN: '0.0.0.0:8080',
      HTTMCP_PUBLISH_LISTEN: '0.0.0.0:8081',
      HTTMCP_BACKEND_SERVERS: 'server backend:3000;',
      HTTMCP_ALLOWED_ORIGINS: DEFAULT_ALLOWED_ORIGINS,
      HTTMCP_ALLOWED_HOSTS: DEFAULT_ALLOWED_HOSTS,
      HTTMCP_MESSAGE_BUFFER_LENGTH: String(LIMITS.messageBufferLength),
      HTTMCP_MESSAGE_TIMEOUT: LIMITS.messageTimeout,
      HTTMCP_SSE_RETRY_MS: String(LIMITS.sseRetryMs),
      HTTMCP_SUBREQUEST_BUFFER: LIMITS.subrequestBuffer,
      HTTMCP_MAX_BODY: LIMITS.maxBody,
      HTTMCP_MAX_PUBLISH: LIMITS.maxPublish,
      HTTMCP_REDIS_UPSTREAM: '',
      HTTMCP_REDIS_PASS: '',
      HTTMCP_LISTEN_KEEP: '0',
      HTTMCP_AUTH_REQUEST: 'off',
      HTTMCP_BACKEND_CREDENTIAL: '',
      HTTMCP_CLIENT_HEADER_BUFFER: '1k',
      // What the backends with the same session secret expect (src/http/backend-guard.ts).
      HTTMCP_BACKEND_KEY: deriveBackendKey(SECRET),
      HTTMCP_INSTANCE_ID: '',
      ...coreDefaults(prefix, connectionLimits(nofile, availableParallelism()).maxClients),
      HTTMCP_CONSOLE_ACCESS: 'allow 127.0.0.1; allow ::1; deny all;',
      HTTMCP_2026_AT_EDGE: 'on',
    };
    expect(readFileSync(join(prefix, 'nginx.conf'), 'utf8')).toBe(renderNginxConfig(containerDefaults));
    // The config holds the backend key; the prefix is for the workers' group only.
    expect(statSync(join(prefix, 'nginx.conf')).mode & 0o777).toBe(0o600);
    expect(statSync(prefix).mode & 0o777).toBe(isRoot ? 0o750 : statSync(prefix).mode & 0o777);
    if (isRoot) expect(statSync(prefix).gid).toBe(Number(spawnSync('id', ['-g', 'www-data'], { encoding: 'utf8' }).stdout));
  });

  test('without the session secret (or a backend key) it stops, saying what to set', () => {
    const prefix = tempDir();
    const result = runEntrypoint({ HTTMCP_PREFIX: prefix, HTTMCP_RENDER_ONLY: '1', HTTMCP_SESSION_SECRET: '' });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/set HTTMCP_SESSION_SECRET/);
  });

  test('nginx $variables survive and overrides land where the launcher puts them', () => {
    const prefix = tempDir();
    const result = runEntrypoint({
      HTTMCP_PREFIX: prefix,
      HTTMCP_RENDER_ONLY: '1',
      HTTMCP_CONFIG: join(prefix, 'conf', 'custom.conf'),
      HTTMCP_BACKEND_SERVERS: 'server 10.0.0.1:3000; server 10.0.0.2:3000;',
      HTTMCP_ALLOWED_ORIGINS: '^https://app\\.example\\.com$',
      HTTMCP_USER_DIRECTIVE: '',
    });
    expect(result.status).toBe(0);
    const config = readFileSync(join(prefix, 'conf', 'custom.conf'), 'utf8');
    expect(config).toContain('server 10.0.0.1:3000; server 10.0.0.2:3000;');
    expect(config).toContain('"~^https://app\\.example\\.com$"     1;');
    expect(config).toContain('nchan_channel_id $upstream_http_x_httmcp_stream;');
    expect(config).toContain('proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;');
    expect(config).not.toMatch(/^\s*user /m);
  });

  test('per-client limits and trusted proxies from the environment; a malformed proxy stops it', () => {
    const prefix = tempDir();
    const result = runEntrypoint({
      HTTMCP_PREFIX: prefix,
      HTTMCP_RENDER_ONLY: '1',
      HTTMCP_CLIENT_CONNECTIONS: '300',
      HTTMCP_CLIENT_RATE: '100',
      HTTMCP_CLIENT_BURST: '0',
      HTTMCP_PRINCIPAL_RATE: '9',
      HTTMCP_PRINCIPAL_TOOL_BURST: '3',
      HTTMCP_TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.7 fd00::/8',
    });
    expect(result.stderr).toBe('');
    const config = readFileSync(join(prefix, 'nginx.conf'), 'utf8');
    expect(config).toContain('limit_conn httmcp_per_client 300;');
    expect(config).toContain('rate=100r/s;');
    expect(config).toContain('limit_req zone=httmcp_client_rate burst=0 nodelay;');
    expect(config).toContain('zone=httmcp_principal_rate:10m rate=9r/s;');
    expect(config).toContain('limit_req zone=httmcp_principal_tool_rate burst=3 nodelay;');
    expect(config).toContain(`default  0;\n        ${trustedProxyEntries(['10.0.0.0/8', '192.168.1.7', 'fd00::/8'])}\n`);

    for (const [name, value] of [
      ['HTTMCP_TRUSTED_PROXIES', '10.0.0.1; include /etc/passwd'],
      ['HTTMCP_CLIENT_RATE', '20r/s'],
      ['HTTMCP_PRINCIPAL_TOOL_RATE', '-1'],
    ]) {
      const bad = runEntrypoint({ HTTMCP_PREFIX: tempDir(), HTTMCP_RENDER_ONLY: '1', [name!]: value! });
      expect([name, bad.status]).toEqual([name, 1]);
      expect(bad.stderr).toContain(name);
    }
  });

  test('authentication: HTTMCP_OAUTH_ISSUER or HTTMCP_API_KEYS turns auth_request on, nothing turns it off', () => {
    const render = (env: Record<string, string>) => {
      const prefix = tempDir();
      expect(runEntrypoint({ HTTMCP_PREFIX: prefix, HTTMCP_RENDER_ONLY: '1', ...env }).status).toBe(0);
      return readFileSync(join(prefix, 'nginx.conf'), 'utf8');
    };
    expect(render({ HTTMCP_OAUTH_ISSUER: 'https://kc.example.com/realms/mcp' })).toMatch(/^\s*auth_request \/_httmcp\/auth;$/m);
    expect(render({ HTTMCP_API_KEYS: `ci:${'0'.repeat(64)}` })).toMatch(/^\s*auth_request \/_httmcp\/auth;$/m);
    const off = render({ HTTMCP_OAUTH_ISSUER: '', HTTMCP_API_KEYS: '' });
    expect(off).toMatch(/^\s*auth_request off;$/m);
    expect(off).not.toMatch(/auth_request \/_httmcp/);
  });

  test('an empty value for a required setting falls back to the default (an empty Origin regex would allow all)', () => {
    const prefix = tempDir();
    const result = runEntrypoint({ HTTMCP_PREFIX: prefix, HTTMCP_RENDER_ONLY: '1', HTTMCP_ALLOWED_ORIGINS: '' });
    expect(result.status).toBe(0);
    expect(readFileSync(join(prefix, 'nginx.conf'), 'utf8')).toContain(`"~${DEFAULT_ALLOWED_ORIGINS}"`);
  });

  test('a placeholder with no value stops it, naming the variable', () => {
    const prefix = tempDir();
    const template = join(prefix, 'grown.conf.template');
    writeFileSync(template, readFileSync(templatePath(), 'utf8') + '\n# ${HTTMCP_NEW_SETTING}\n');
    const result = runEntrypoint({ HTTMCP_PREFIX: prefix, HTTMCP_TEMPLATE: template });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/no value for template placeholder\(s\): HTTMCP_NEW_SETTING/);
  });

  test('a ${HTTMCP_ left after rendering (malformed placeholder) stops it', () => {
    const prefix = tempDir();
    const template = join(prefix, 'bad.conf.template');
    writeFileSync(template, readFileSync(templatePath(), 'utf8') + '\nworker_priority ${HTTMCP_lower};\n');
    const result = runEntrypoint({ HTTMCP_PREFIX: prefix, HTTMCP_TEMPLATE: template, HTTMCP_BACKEND_SERVERS: 'server 127.0.0.1:9;' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/worker_priority \$\{HTTMCP_lower\};/);
    expect(result.stderr).toMatch(/still hold/);
  });

  test('a config nginx rejects stops it before nginx starts', () => {
    const prefix = tempDir();
    const result = runEntrypoint({
      HTTMCP_PREFIX: prefix,
      HTTMCP_BACKEND_SERVERS: 'server 127.0.0.1:9;',
      HTTMCP_PUBLIC_LISTEN: '127.0.0.1:9',
      HTTMCP_MAX_BODY: 'lots',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/nginx rejected/);
    expect(result.stderr).toMatch(/client_max_body_size/);
  });
});

// ------------------------------------------------------------------------------ serving
describe('nginx image entrypoint: serving SDK clients with this machine\'s Debian nginx+nchan', () => {
  let prefix: string;
  let publicPort: number;
  let nginx: ChildProcess | undefined;
  let nginxExit: Promise<void>;
  let nginxStderr = '';
  let backend: Server;
  let gateway: Gateway;
  let servers: HTTMCP[];
  let url: string;

  beforeAll(async () => {
    prefix = tempDir();
    publicPort = await freePort();
    const publishPort = await freePort();
    const logger = pino({ level: process.env.HTTMCP_TEST_LOG ?? 'silent' });
    gateway = new Gateway({ publishUrl: `http://127.0.0.1:${publishPort}`, sessionSecret: SECRET, inlineReplyMax: LIMITS.inlineReplyMax, logger });
    servers = createExampleServers();
    backend = await listen(createBackendHandler(servers, gateway));
    const backendPort = (backend.address() as AddressInfo).port;

    // Everything else stays at the container defaults (workers auto, user www-data when root,
    // error log on stderr, the limits).
    nginx = spawn('bash', [entrypoint], {
      env: scriptEnv({
        HTTMCP_PREFIX: prefix,
        HTTMCP_PUBLIC_LISTEN: `127.0.0.1:${publicPort}`,
        HTTMCP_PUBLISH_LISTEN: `127.0.0.1:${publishPort}`,
        HTTMCP_BACKEND_SERVERS: `server 127.0.0.1:${backendPort};`,
      }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    nginx.stderr!.on('data', (chunk: Buffer) => (nginxStderr += chunk.toString()));
    nginxExit = new Promise((resolve) => nginx!.once('exit', () => resolve()));
    url = `http://127.0.0.1:${publicPort}`;

    const deadline = Date.now() + 15_000;
    for (;;) {
      if (nginx.exitCode !== null || nginx.signalCode !== null) throw new Error(`the entrypoint exited:\n${nginxStderr}`);
      const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`nginx did not answer /healthz within 15 s:\n${nginxStderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 30_000);

  afterAll(async () => {
    if (nginx && nginx.exitCode === null && nginx.signalCode === null) {
      // SIGQUIT: graceful stop, as the image's STOPSIGNAL; SIGKILL if it lingers.
      nginx.kill('SIGQUIT');
      const timer = setTimeout(() => nginx?.kill('SIGKILL'), 5000);
      await nginxExit;
      clearTimeout(timer);
    }
    if (backend) {
      backend.closeAllConnections();
      await new Promise<void>((resolve) => backend.close(() => resolve()));
    }
    for (const server of servers ?? []) await server.unmount();
    await gateway?.close();
  });

  test('the entrypoint execs nginx in the foreground (the container\'s PID 1 is the nginx master)', () => {
    // nginx retitles itself: "nginx: master process nginx -e stderr -p ... -c ... -g daemon off;"
    const title = readFileSync(`/proc/${nginx!.pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    expect(title).toBe(`nginx: master process nginx -e stderr -p ${prefix} -c ${join(prefix, 'nginx.conf')} -g daemon off;`);
  });

  (isRoot ? test : test.skip)('workers run as www-data and still reach core.sock (prefix stays traversable)', async () => {
    // From /proc (minimal CI images have no `ps`): the master's children and their real uid.
    const wwwData = spawnSync('id', ['-u', 'www-data'], { encoding: 'utf8' }).stdout.trim();
    const workerUids = () => {
      const found: string[] = [];
      for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
        let status: string;
        try {
          status = readFileSync(`/proc/${pid}/status`, 'utf8');
        } catch {
          continue; // gone meanwhile
        }
        if (/^PPid:\s+(\d+)$/m.exec(status)?.[1] !== String(nginx!.pid)) continue;
        found.push(/^Uid:\s+(\d+)/m.exec(status)![1]!);
      }
      return found;
    };
    // A worker is root from its fork until it switches user, and /healthz may have been answered
    // by another worker meanwhile (workers auto): give each a moment to finish starting.
    let uids = workerUids();
    for (const deadline = Date.now() + 5000; uids.some((uid) => uid !== wwwData) && Date.now() < deadline; uids = workerUids()) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(uids.length).toBeGreaterThan(0);
    expect(new Set(uids)).toEqual(new Set([wwwData]));
  });

  test('the image healthcheck passes against it, and fails on a closed port', async () => {
    const ok = spawnSync('bash', [healthcheck], { env: scriptEnv({ HTTMCP_PUBLIC_LISTEN: `127.0.0.1:${publicPort}` }), encoding: 'utf8' });
    expect(ok.status).toBe(0);
    const closed = await freePort();
    const bad = spawnSync('bash', [healthcheck], { env: scriptEnv({ HTTMCP_PUBLIC_LISTEN: `0.0.0.0:${closed}` }), encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
  });

  test('the publish listener is not routed from the public edge', async () => {
    expect((await fetch(`${url}/pub/anything`, { method: 'POST', body: 'x' })).status).toBe(404);
    expect((await fetch(`${url}/status`)).status).toBe(404);
  });

  describe.each(TRANSPORTS)('%s', (kind) => {
    let client: Client;

    beforeAll(async () => {
      client = await connectClient(kind, `${url}/mcp/demo`);
    });

    afterAll(async () => {
      await client?.close();
    });

    test('initialize, then the demo `add` tool', async () => {
      expect(client.getServerVersion()).toEqual({ name: 'demo', version: '1.0.0' });
      expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } })).toEqual({ content: [{ type: 'text', text: '42' }] });
    });

    test('a long task: progress and the late result come through the publish listener (TCP)', async () => {
      const before = gateway.stats().published;
      const progress: Progress[] = [];
      const result = await client.callTool({ name: 'long_task', arguments: { steps: 3, stepMs: 30 } }, undefined, {
        onprogress: (p) => progress.push(p),
      });
      expect(result).toEqual({ content: [{ type: 'text', text: 'finished 3 steps' }] });
      expect(progress.map((p) => p.progress)).toEqual([1, 2, 3]);
      expect(gateway.stats().published).toBeGreaterThan(before);
      expect(gateway.stats().failed).toBe(0);
    });
  });

  test('no nginx worker crashed', () => {
    expect(nginxStderr).not.toMatch(/exited on signal|worker process \d+ exited with code [^0]/);
    expect(nginxStderr).not.toMatch(/\[(emerg|alert|crit)\]/);
  });
});
