import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Client, InMemoryTransport, type Prompt, type Resource, type ResourceTemplateType as ResourceTemplate, type Tool } from '@modelcontextprotocol/client';
import type { Authenticator } from '../auth/authenticator.js';
import type { Gateway } from '../gateway.js';
import type { HTTMCP } from '../server/httmcp.js';
import type { Answer } from '../http/endpoint.js';
import { packageRoot } from '../stack/nginx-config.js';
import { NginxLogWatcher } from './nginx-log.js';

/** What the console knows beyond the gateway. */
export interface ConsoleOptions {
  /** nginx's error log, when this backend runs next to nginx (`httmcp start`): worker restarts. */
  nginxErrorLog?: string;
}

/**
 * Where the backend serves the console. nginx maps the public `/console/` here, for the addresses
 * the console is open to only (HTTMCP_CONSOLE_ALLOW), and adds the backend key like for any hop.
 */
export const CONSOLE_PATH = '/_httmcp/console/';

/** One server as the console lists it. */
export interface ConsoleServer {
  name: string;
  url: string;
  tools: Tool[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  prompts: Prompt[];
  /** Scopes a tool needs when authentication is on, by tool (declared with `scopes`). */
  toolScopes: Record<string, readonly string[]>;
}

/** The page's files (in the package's `console/` directory), read once. */
const FILES: Record<string, string> = {
  '': 'text/html; charset=utf-8',
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

/** How long a server's catalog is served from memory (it changes only when the code adds tools). */
const CATALOG_TTL_MS = 5000;

/**
 * The console's routes on the backend: the static page and two read-only JSON documents,
 * `api/catalog` (the servers with their tools, resources and prompts and their schemas) and
 * `api/state` (calls, per-tool counters, the gateway's stats and nchan's status). Nothing here
 * changes anything: the page tries tools through the public MCP endpoint, like any client.
 */
export function createConsoleRoutes(
  servers: HTTMCP[],
  gateway: Gateway,
  options: ConsoleOptions = {},
): (path: string, req: IncomingMessage, res: ServerResponse) => Promise<Answer> {
  const startedAt = Date.now();
  const nginxLog = options.nginxErrorLog ? new NginxLogWatcher(options.nginxErrorLog) : undefined;
  const files = new Map<string, string>();
  let catalog: { at: number; value: Promise<ConsoleServer[]> } | undefined;

  const json = (value: unknown): Answer => ({
    status: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(value),
  });

  return async (path, req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, headers: { allow: 'GET, HEAD' } };
    const name = path.slice(CONSOLE_PATH.length);
    if (name.startsWith('api/') && gateway.auth) {
      // With authentication on, the data needs a token with the admin scope. The page itself
      // (no data) stays reachable from the allowed addresses: a browser sends no bearer token
      // when it opens a page; the page sends the one pasted into it.
      const refusal = await adminRefusal(gateway.auth, req.headers.authorization, gateway);
      if (refusal) return refusal;
    }
    if (name === 'api/catalog') {
      if (!catalog || Date.now() - catalog.at > CATALOG_TTL_MS) {
        const value = Promise.all(servers.map(describe));
        catalog = { at: Date.now(), value };
        value.catch(() => (catalog = undefined));
      }
      return json(await catalog.value);
    }
    if (name === 'api/state') {
      // nchan's labels as keys ("stored messages"), sizes in bytes; or why it could not be read.
      const nchan = await gateway.nchanStatus.read().then(Object.fromEntries, (error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }));
      return json({
        now: Date.now(),
        backend: { pid: process.pid, startedAt, uptimeSeconds: Math.round(process.uptime()), rssBytes: process.memoryUsage.rss() },
        gateway: gateway.stats(),
        nchan,
        nginx: nginxLog ? nginxLog.read() : null,
        calls: gateway.calls.snapshot(),
        open: gateway.open.snapshot(),
        auth: gateway.auth ? { consoleScope: gateway.auth.consoleScope } : null,
      });
    }
    const type = FILES[name];
    if (type === undefined) return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'not found\n' };
    const file = name === '' ? 'index.html' : name;
    let body = files.get(file);
    if (body === undefined) files.set(file, (body = readFileSync(join(packageRoot(), 'console', file), 'utf8')));
    return {
      status: 200,
      headers: {
        'content-type': type,
        'cache-control': 'no-cache',
        // The page runs only its own files and talks only to this origin.
        'content-security-policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        'x-content-type-options': 'nosniff',
      },
      body,
    };
  };
}

/** Pages of a list the console reads at most: a server that keeps returning cursors does not hold it forever. */
const MAX_PAGES = 100;

/** 401/403 with the challenge when `authorization` is not a token with the console's scope. */
async function adminRefusal(auth: Authenticator, authorization: string | undefined, gateway: Gateway): Promise<Answer | undefined> {
  const verdict = await auth.checkConsole(authorization);
  if (verdict.ok) return undefined;
  if (authorization !== undefined) gateway.logger.info({ status: verdict.status, reason: verdict.reason }, 'refused a console request: bad credentials');
  return {
    status: verdict.status,
    headers: { 'content-type': 'application/json', 'www-authenticate': verdict.challenge, 'cache-control': 'no-store' },
    body: JSON.stringify({ error: verdict.status === 403 ? 'insufficient_scope' : 'unauthorized', scope: auth.consoleScope, reason: verdict.reason }),
  };
}

/**
 * A server's tools, resources and prompts as a client sees them, through the SDK's public API
 * over an in-memory transport (every page of every list: the client walks them).
 */
async function describe(server: HTTMCP): Promise<ConsoleServer> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const mcp = await server.connect(serverSide);
  // The 2025 handshake straight away: connect() serves that era (no server/discover probe).
  const client = new Client({ name: 'httmcp-console', version: '1.0.0' }, { versionNegotiation: { mode: 'legacy' }, listMaxPages: MAX_PAGES });
  try {
    await client.connect(clientSide);
    return {
      name: server.name,
      url: `/mcp/${server.name}`,
      tools: (await client.listTools()).tools,
      resources: (await client.listResources()).resources,
      resourceTemplates: (await client.listResourceTemplates()).resourceTemplates,
      prompts: (await client.listPrompts()).prompts,
      toolScopes: Object.fromEntries(server.toolScopes),
    };
  } finally {
    await client.close();
    await mcp.close();
  }
}
