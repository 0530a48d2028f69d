import { createHash } from 'node:crypto';

/**
 * Who a verified request comes from, as the edge's verdict says. It reaches handlers as
 * `ctx.auth` and binds session ids: never the client's token itself.
 */
export interface Principal {
  /** The authorization server that vouched for the subject (`iss`), or `api-key`. */
  readonly issuer: string;
  /** The user or service (`sub`; for an API key, its configured name). */
  readonly subject: string;
  /** The OAuth client the token was issued to (`client_id`, `azp`), when the token says. */
  readonly clientId: string | undefined;
  /** Scopes the token grants. */
  readonly scopes: readonly string[];
  /** When the credential expires, in seconds since the epoch (undefined: it does not). */
  readonly expiresAt: number | undefined;
}

/**
 * The trusted header that carries the verdict's principal from nginx to the backend. nginx
 * sets it from the auth endpoint's answer and overwrites whatever a client sent under this name.
 */
export const PRINCIPAL_HEADER = 'x-httmcp-principal';

interface WirePrincipal {
  iss: string;
  sub: string;
  cid?: string;
  scp: string[];
  exp?: number;
}

/** The principal as one header value (base64url JSON: no characters nginx or HTTP mangle). */
export function encodePrincipal(principal: Principal): string {
  const wire: WirePrincipal = { iss: principal.issuer, sub: principal.subject, scp: [...principal.scopes] };
  if (principal.clientId !== undefined) wire.cid = principal.clientId;
  if (principal.expiresAt !== undefined) wire.exp = principal.expiresAt;
  return Buffer.from(JSON.stringify(wire), 'utf8').toString('base64url');
}

/** The principal of a trusted header value, or undefined when it is absent or malformed. */
export function decodePrincipal(value: string | undefined): Principal | undefined {
  if (!value || value.length > 16_384) return undefined;
  try {
    const wire = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Partial<WirePrincipal>;
    if (typeof wire.iss !== 'string' || typeof wire.sub !== 'string' || !Array.isArray(wire.scp)) return undefined;
    // Frozen: one decoded principal is shared by every request that carries the same header.
    return Object.freeze({
      issuer: wire.iss,
      subject: wire.sub,
      clientId: typeof wire.cid === 'string' ? wire.cid : undefined,
      scopes: Object.freeze(wire.scp.filter((s): s is string => typeof s === 'string')),
      expiresAt: typeof wire.exp === 'number' ? wire.exp : undefined,
    });
  } catch {
    return undefined;
  }
}

/**
 * What a session id is bound to: the issuer and subject, not the token, so a refreshed token
 * keeps its session and another subject's token cannot use it.
 */
export function principalKey(principal: Principal): string {
  return createHash('sha256').update(principal.issuer).update('\0').update(principal.subject).digest('base64url');
}

/**
 * A copy of a request's headers without the client's credential and the edge's principal header:
 * what a handler may see once the edge has authenticated the client. A plain loop, because rest
 * destructuring with a computed key takes V8's slow generic path on every request.
 */
export function withoutCredentials<V>(headers: Record<string, V>): Record<string, V> {
  const copy: Record<string, V> = {};
  for (const name in headers) {
    if (name !== 'authorization' && name !== PRINCIPAL_HEADER) copy[name] = headers[name]!;
  }
  return copy;
}
