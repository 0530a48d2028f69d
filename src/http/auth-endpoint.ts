import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authenticator } from '../auth/authenticator.js';
import { encodePrincipal, principalKey, PRINCIPAL_HEADER } from '../auth/principal.js';
import type { Logger } from '../log.js';
import type { Answer, Headers } from './endpoint.js';
import { answer, writeAnswer } from './io.js';

/**
 * The backend path nginx's auth_request asks for a verdict: `/_httmcp/auth`, the server named in
 * {@link AUTH_SERVER_HEADER} (what the edge sends), or `/_httmcp/auth/{server}`.
 */
export const AUTH_PATH = /^\/_httmcp\/auth(?:\/([A-Za-z0-9_-]*))?$/;

/**
 * The server a verdict is for, set by the edge's `/_httmcp/auth` location (never a client's: nginx
 * drops a client's header of a name it sets). A header rather than a path segment, so that the
 * edge's proxy_pass has no variable to evaluate and parse on each request.
 */
export const AUTH_SERVER_HEADER = 'x-httmcp-auth-server';

/** The server a verdict request is for: its path's segment, else {@link AUTH_SERVER_HEADER}, else ''. */
export function verdictServer(pathServer: string | undefined, headers: Headers): string {
  if (pathServer !== undefined) return pathServer;
  const named = headers[AUTH_SERVER_HEADER];
  return (Array.isArray(named) ? named[0] : named) ?? '';
}

/** Protected Resource Metadata paths (RFC 9728): per server (path inserted) and the root form. */
export const METADATA_PATH = /^\/\.well-known\/oauth-protected-resource(?:\/mcp\/([A-Za-z0-9_-]+))?$/;

/** How long nginx may reuse a refusal (seconds): long enough to absorb a flood of one bad token. */
const REFUSAL_MAX_AGE = 5;

/**
 * The verdict nginx caches: 200 with the principal in trusted headers, for at most the token's
 * remaining life (`Cache-Control: max-age`, which nginx's proxy_cache honours), or 401/403 with
 * the challenge the client is shown. Refusals are logged with the reason, never the credential.
 */
export async function verdictAnswer(auth: Authenticator, server: string, headers: Headers, logger: Logger): Promise<Answer> {
  const authorization = headers.authorization;
  const verdict = await auth.check(server, Array.isArray(authorization) ? authorization[0] : authorization);
  if (verdict.ok) {
    return {
      status: 200,
      headers: {
        [PRINCIPAL_HEADER]: encodePrincipal(verdict.principal),
        // For nginx's own use (rate limits per principal), without the subject's name.
        'x-httmcp-principal-key': principalKey(verdict.principal),
        'cache-control': verdict.maxAgeSeconds > 0 ? `max-age=${verdict.maxAgeSeconds}` : 'no-store',
        // No body, said so: nginx then reads each cached hit without setting up chunked decoding.
        'content-length': '0',
      },
    };
  }
  if (authorization !== undefined) logger.info({ server, status: verdict.status, reason: verdict.reason }, 'refused a request: bad credentials');
  return {
    status: verdict.status,
    headers: { 'www-authenticate': verdict.challenge, 'cache-control': `max-age=${REFUSAL_MAX_AGE}`, 'content-length': '0' },
  };
}

/**
 * The verdict for a URL that names no server of this backend: 401 without metadata (auth_request
 * passes only 401 and 403 on; anything else would be a 500 for the client).
 */
export function noServerVerdict(): Answer {
  return { status: 401, headers: { 'www-authenticate': 'Bearer', 'cache-control': `max-age=${REFUSAL_MAX_AGE}` } };
}

/** A server's (or, without `server`, the origin's) Protected Resource Metadata document. */
export function metadataAnswer(auth: Authenticator, server: string | undefined): Answer {
  return {
    status: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'max-age=3600' },
    body: JSON.stringify(auth.protectedResourceMetadata(server)),
  };
}

/**
 * Serves the verdict and metadata routes on a request whose path is `path`, and says whether it
 * did; false means the path is neither (or metadata of a server `serves` does not know), for the
 * adapter to route on. Called with the request already admitted by the backend guard.
 */
export type AuthRoutes = (path: string, req: IncomingMessage, res: ServerResponse) => boolean;

/** Whether `path` is one of the routes {@link createAuthRoutes} serves (cheap: two anchored regexes). */
export function isAuthRoutePath(path: string): boolean {
  return AUTH_PATH.test(path) || METADATA_PATH.test(path);
}

/**
 * The verdict for nginx's auth_request and the Protected Resource Metadata, as both adapters serve
 * them (node-handler.ts, router.ts; any framework whose response is Node's `ServerResponse`):
 * `serves` says which server names exist here. A verdict for a name that does not exist is a
 * 401 without metadata ({@link noServerVerdict}), never a 404, which nginx would turn into a 500.
 */
export function createAuthRoutes(auth: Authenticator, serves: (server: string) => boolean, logger: Logger): AuthRoutes {
  const onError = (error: unknown) => logger.error({ err: error }, 'request failed');
  return (path, req, res) => {
    const verdict = AUTH_PATH.exec(path);
    if (verdict) {
      // nginx caches the verdict's headers and parses them again on every request it serves
      // from that cache: no Date, which nothing reads there (a cached verdict's age is the cache's own).
      res.sendDate = false;
      const server = verdictServer(verdict[1], req.headers);
      if (!serves(server)) writeAnswer(res, withoutKeepAliveHeaders(res, noServerVerdict()));
      else void answer(res, async () => withoutKeepAliveHeaders(res, await verdictAnswer(auth, server, req.headers, logger)), onError);
      return true;
    }
    const metadata = METADATA_PATH.exec(path);
    if (!metadata || (metadata[1] !== undefined && !serves(metadata[1]))) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') writeAnswer(res, { status: 405, headers: { allow: 'GET, HEAD' } });
    else writeAnswer(res, metadataAnswer(auth, metadata[1]));
    return true;
  };
}

/**
 * `answer`, to be written without Node's `Connection: keep-alive` and `Keep-Alive: timeout=…`
 * lines: they restate HTTP/1.1's default, nginx's upstream ignores them (its own keepalive_timeout
 * governs), and a cached verdict's header lines are parsed again on every request the cache
 * answers. Only while Node keeps the connection open: when it means to close it, it still says
 * `Connection: close`. Called right before the answer is written, when that is decided.
 */
function withoutKeepAliveHeaders<A>(res: ServerResponse, answer: A): A {
  if (res.shouldKeepAlive && !res.headersSent) res.removeHeader('connection');
  return answer;
}
