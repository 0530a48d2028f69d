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
  HTTMCP_PREFIX: string;
  HTTMCP_ERROR_LOG: string;
  HTTMCP_NGINX_LOG_LEVEL: string;
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

/** Connections a worker needs besides sessions: listeners, keep-alive caches, publish pools. */
const CONNECTION_RESERVE = 256;

/**
 * Connection limits for `workers` nginx workers that may each open `nofile` files: every worker
 * may use all but a reserve of them for connections; after the connections no session owns
 * (listeners, the keep-alive caches to core and backend, each backend's publish pool), the edge
 * admits a fifth as clients (a session holds at most four connections; see the template).
 */
export function connectionLimits(nofile: number, workers: number): { workerConnections: number; maxClients: number } {
  const workerConnections = nofile > 4096 ? nofile - 1024 : Math.floor(nofile / 2);
  return { workerConnections, maxClients: Math.max(1, Math.floor((workers * (workerConnections - CONNECTION_RESERVE)) / 5)) };
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
