import type { Authenticator } from '../auth/authenticator.js';
import { encodePrincipal, principalKey, PRINCIPAL_HEADER } from '../auth/principal.js';
import type { Logger } from '../log.js';
import type { Answer, Headers } from './endpoint.js';

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
