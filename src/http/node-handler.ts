import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Gateway } from '../gateway.js';
import type { HTTMCP } from '../server/httmcp.js';
import type { Answer, NchanEndpoint } from './endpoint.js';
import { checkBackendRequest } from './backend-guard.js';
import { answer, answerBody, readBody, TOO_LARGE, writeAnswer } from './io.js';
import { CONSOLE_PATH, createConsoleRoutes, type ConsoleOptions } from '../console/console-api.js';
import { createAuthRoutes } from './auth-endpoint.js';

const SERVER_PATH = /^\/mcp\/([A-Za-z0-9_-]+)(?:\/([A-Za-z0-9_.-]+)\/(message|post|closed))?$/;

/**
 * The backend as a plain node:http listener: every server's endpoint plus `/healthz` and `/metrics`, with no
 * framework between nginx and the SDK. This is what `httmcp start` and `httmcp backend` run.
 * It serves only nginx: requests without the backend key, with an Origin or with a foreign Host
 * get 403 ({@link checkBackendRequest}).
 */
export function createBackendHandler(servers: HTTMCP[], gateway: Gateway, consoleOptions: ConsoleOptions = {}): RequestListener {
  const endpoints = new Map<string, NchanEndpoint>();
  for (const server of servers) {
    if (endpoints.has(server.name)) throw new Error(`two servers are named ${JSON.stringify(server.name)}; names are URL segments and must differ`);
    endpoints.set(server.name, server.endpoint(gateway));
  }
  const onError = (error: unknown) => gateway.logger.error({ err: error }, 'request failed');
  const consoleRoutes = createConsoleRoutes(servers, gateway, consoleOptions);

  /** The verdict for nginx's auth_request and Protected Resource Metadata, when auth is on. */
  const authRoutes = gateway.auth && createAuthRoutes(gateway.auth, (server) => endpoints.has(server), gateway.logger);

  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const path = url.includes('?') ? url.slice(0, url.indexOf('?')) : url;
    const monitoring = path === '/healthz' || path === '/metrics';
    const refusal = checkBackendRequest(req.headers, gateway.backendKey, !monitoring);
    if (refusal) return writeAnswer(res, { status: refusal.status, headers: { 'content-type': 'text/plain' }, body: `${refusal.reason}\n` });
    if (path === '/healthz') {
      return writeAnswer(res, {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ok: true, servers: [...endpoints.keys()], ...gateway.stats() }),
      });
    }
    if (path === '/metrics') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return writeAnswer(res, { status: 405, headers: { allow: 'GET, HEAD' } });
      // prom-client's registry of this backend (src/observability/metrics.ts).
      return void answer(res, async () => ({ status: 200, headers: { 'content-type': gateway.metrics.contentType }, body: await gateway.metrics.text() }), onError);
    }
    // The operator console, behind nginx's /console/ (its allow-list) like every other route.
    if (path.startsWith(CONSOLE_PATH)) return void answer(res, () => consoleRoutes(path, req, res), onError);
    const match = SERVER_PATH.exec(path);
    const endpoint = match ? endpoints.get(match[1]!) : undefined;
    if (!match || !endpoint) {
      if (authRoutes?.(path, req, res)) return;
      return writeAnswer(res, { status: 404, headers: { 'content-type': 'text/plain' }, body: 'not found' });
    }
    const [, , session, hop] = match;

    if (session === undefined) {
      switch (req.method) {
        case 'GET':
          return void answer(res, () => endpoint.open(req.headers), onError);
        case 'DELETE':
          return void answer(res, () => endpoint.terminate(req.headers), onError);
        case 'POST':
          return void answerBody(req, res, endpoint.maxMessageBytes, postOnServerUrl, endpoint, onError);
        default:
          return writeAnswer(res, { status: 405, headers: { allow: 'GET, POST, DELETE' } });
      }
    }
    if (req.method !== 'POST') return writeAnswer(res, { status: 405, headers: { allow: 'POST' } });
    if (hop === 'closed') return void answer(res, () => endpoint.closed(session, req.headers), onError);
    if (hop === 'post') {
      return void answer(res, async () => endpoint.legacyPost(session, req.headers, await readBody(req, endpoint.maxMessageBytes)), onError);
    }
    return void answerBody(req, res, endpoint.maxMessageBytes, messageOfSession, { endpoint, session }, onError);
  };
}

/** A POST on a server's URL (Streamable HTTP, 2026-07-28): see {@link answerBody}. */
function postOnServerUrl(endpoint: NchanEndpoint, body: string | typeof TOO_LARGE, req: IncomingMessage, res: ServerResponse): Promise<Answer> | Answer {
  return body === TOO_LARGE ? endpoint.tooLarge(false) : endpoint.post(req.headers, body, res);
}

/** A message of a WebSocket session that nchan forwards: see {@link answerBody}. */
function messageOfSession(to: { endpoint: NchanEndpoint; session: string }, body: string | typeof TOO_LARGE, req: IncomingMessage): Promise<Answer> | Answer {
  return body === TOO_LARGE ? to.endpoint.tooLarge(true) : to.endpoint.message(to.session, req.headers, body);
}
