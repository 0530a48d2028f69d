import { existsSync, readFileSync } from 'node:fs';
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
  return { workerConnections, maxClients: Math.max(1, Math.floor((workers * perWorker) / 5)), backendKeepalive };
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
