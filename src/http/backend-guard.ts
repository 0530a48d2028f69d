import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';

/**
 * The header nginx adds to every request it sends a backend (`proxy_set_header` in each upstream
 * location of nginx/nginx.conf.template). A client's own header of that name never gets through:
 * `proxy_set_header` replaces it.
 */
export const BACKEND_KEY_HEADER = 'x-httmcp-backend-key';

/**
 * The name nginx sends as `Host` to a backend: the upstream's name (`proxy_pass
 * http://httmcp_backend`), since no backend location sets Host.
 */
export const BACKEND_UPSTREAM_HOST = 'httmcp_backend';

/**
 * The key nginx proves itself with to the backends, derived from the session secret they share
 * (`HTTMCP_SESSION_SECRET`), so there is no second secret to distribute. SHA-256 of a label and
 * the secret rather than an HMAC so the nginx image can derive it with coreutils alone
 * (docker/nginx-entrypoint.sh: `printf 'httmcp backend key\n%s' "$secret" | sha256sum`); the key
 * reveals nothing about the secret, and session ids are HMACs, so no hash of the secret is ever
 * accepted in place of a MAC.
 */
export function deriveBackendKey(sessionSecret: string): string {
  return createHash('sha256').update(`httmcp backend key\n${sessionSecret}`, 'utf8').digest('hex');
}

/** Why the backend refused a request that did not come from nginx. */
export interface GuardRefusal {
  status: 403;
  reason: string;
}

/**
 * Refuses what did not come through nginx: the edge checks Host and Origin and then adds the
 * backend key, so a request without the key went around the edge (a local process, or a page in
 * a browser that found the backend's port: DNS rebinding). Browser traffic is refused outright
 * (any `Origin`, or a `Host` that names something other than this backend: a rebinding page's
 * requests carry its own host name). `requireKey` is false for the monitoring routes
 * (`/healthz`, `/metrics`), which change nothing and which probes call directly.
 */
export function checkBackendRequest(headers: IncomingHttpHeaders, key: string, requireKey: boolean): GuardRefusal | undefined {
  if (headers.origin !== undefined) return { status: 403, reason: 'browser requests are refused here: clients connect through nginx' };
  if (!ownHost(headers.host)) return { status: 403, reason: `Host ${JSON.stringify(headers.host)} is not this backend: clients connect through nginx` };
  if (requireKey && !sameKey(headers[BACKEND_KEY_HEADER], key)) {
    return { status: 403, reason: 'missing or wrong backend key: clients connect through nginx, which shares HTTMCP_SESSION_SECRET with the backend' };
  }
  return undefined;
}

/**
 * Names only nginx and local probes use: the upstream name nginx sends, `localhost`, and IP
 * literals. A DNS-rebinding page can only send a host name it controls, never one of these.
 */
function ownHost(host: string | undefined): boolean {
  if (host === undefined) return true; // not a browser: browsers always send Host
  if (host === BACKEND_UPSTREAM_HOST) return true; // what nginx sends on every request
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return name === BACKEND_UPSTREAM_HOST || name.toLowerCase() === 'localhost' || isIP(name) !== 0;
}

/**
 * Constant-time comparison of two keys of the public length (a SHA-256 in hex,
 * {@link deriveBackendKey}; a length check first hides nothing): every character is compared
 * whatever the earlier ones were. Done on the strings, because every request carries the key:
 * `timingSafeEqual` would need a Buffer of the given key per request.
 */
function sameKey(given: string | string[] | undefined, key: string): boolean {
  if (typeof given !== 'string' || given.length !== key.length) return false;
  let difference = 0;
  for (let i = 0; i < key.length; i++) difference |= given.charCodeAt(i) ^ key.charCodeAt(i);
  return difference === 0;
}
