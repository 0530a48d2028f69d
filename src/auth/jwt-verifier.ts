import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import type { Principal } from './principal.js';

/** Settings of {@link JwtVerifier}. */
export interface JwtVerifierOptions {
  /** Issuers whose tokens are accepted (`iss`, exactly as the issuer writes it). */
  issuers: string[];
  /** Signature algorithms accepted (default: asymmetric ones only; `none` never is). */
  algorithms?: string[];
  /** Clock skew allowed on `exp`, `nbf` and `iat`, in seconds (default 30). */
  clockToleranceSeconds?: number;
  /** Timeout of each discovery and JWKS fetch, in ms (default 5000). */
  fetchTimeoutMs?: number;
  /** How long fetched keys are used before they are fetched again, in ms (default 10 min). */
  jwksMaxAgeMs?: number;
  /** Least time between two JWKS fetches (an unknown `kid` triggers one), in ms (default 30 s). */
  jwksCooldownMs?: number;
  /** fetch to use for discovery (tests; default global fetch). */
  fetch?: typeof fetch;
}

/** Asymmetric JWS algorithms: a shared-secret (HS*) key must never be a JWKS the issuer publishes. */
export const DEFAULT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** Why a token was refused: a short description safe to show the client and to log (never the token). */
export class TokenRejected extends Error {
  override readonly name = 'TokenRejected';
}

/** The authorization server's metadata fields this module uses. */
export interface ServerMetadata {
  issuer: string;
  jwks_uri?: string;
  introspection_endpoint?: string;
}

/**
 * Verifies JWT access tokens: signature against the issuer's JWKS (found through its RFC 8414
 * or OpenID discovery document; keys cached and re-fetched on an unknown `kid`, with a timeout),
 * `iss` on the allow-list, `aud` equal to the resource's canonical URL (RFC 8707), `exp`/`nbf`
 * with a small leeway, and the algorithm on an allow-list.
 */
export class JwtVerifier {
  private readonly issuers: Set<string>;
  private readonly algorithms: string[];
  private readonly clockTolerance: number;
  private readonly fetchTimeoutMs: number;
  private readonly jwksMaxAgeMs: number;
  private readonly jwksCooldownMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly keySets = new Map<string, Promise<ReturnType<typeof createRemoteJWKSet>>>();

  constructor(options: JwtVerifierOptions) {
    if (options.issuers.length === 0) throw new Error('JwtVerifier needs at least one issuer');
    this.issuers = new Set(options.issuers);
    this.algorithms = (options.algorithms ?? DEFAULT_ALGORITHMS).filter((alg) => alg.toLowerCase() !== 'none');
    if (this.algorithms.length === 0) throw new Error('JwtVerifier needs at least one algorithm other than none');
    this.clockTolerance = options.clockToleranceSeconds ?? 30;
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 5000;
    this.jwksMaxAgeMs = options.jwksMaxAgeMs ?? 600_000;
    this.jwksCooldownMs = options.jwksCooldownMs ?? 30_000;
    this.fetchFn = options.fetch ?? fetch;
  }

  /** The issuers on the allow-list (for Protected Resource Metadata). */
  get authorizationServers(): string[] {
    return [...this.issuers];
  }

  /** True when `token` looks like a JWS (three base64url parts): otherwise it may be opaque. */
  static looksLikeJwt(token: string): boolean {
    return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(token);
  }

  /**
   * The principal of `token`, when it is valid for `audience`.
   * @throws {@link TokenRejected} with a description safe to log and to show the client.
   */
  async verify(token: string, audience: string): Promise<Principal> {
    let alg: string | undefined;
    let issuer: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      issuer = decodeJwt(token).iss;
    } catch {
      throw new TokenRejected('malformed token');
    }
    if (alg === undefined || !this.algorithms.includes(alg)) throw new TokenRejected(`algorithm ${String(alg)} is not accepted`);
    if (typeof issuer !== 'string' || !this.issuers.has(issuer)) throw new TokenRejected('issuer is not trusted');
    const keys = await this.keySet(issuer);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer,
        audience,
        algorithms: this.algorithms,
        clockTolerance: this.clockTolerance,
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      throw new TokenRejected(describe(error));
    }
    return principalOf(payload, issuer);
  }

  /** The issuer's JWKS, found once through its metadata; a failed discovery is retried next time. */
  private keySet(issuer: string): Promise<ReturnType<typeof createRemoteJWKSet>> {
    let keys = this.keySets.get(issuer);
    if (!keys) {
      keys = this.discover(issuer).then((metadata) => {
        if (!metadata.jwks_uri) throw new TokenRejected('the issuer publishes no jwks_uri');
        return createRemoteJWKSet(new URL(metadata.jwks_uri), {
          timeoutDuration: this.fetchTimeoutMs,
          cooldownDuration: this.jwksCooldownMs,
          cacheMaxAge: this.jwksMaxAgeMs,
        });
      });
      keys.catch(() => this.keySets.delete(issuer));
      this.keySets.set(issuer, keys);
    }
    return keys.catch((error: unknown) => {
      throw error instanceof TokenRejected ? error : new TokenRejected('the issuer\'s keys could not be fetched');
    });
  }

  /** RFC 8414 metadata (path inserted after the well-known prefix), else OpenID discovery. */
  async discover(issuer: string): Promise<ServerMetadata> {
    return discoverAuthorizationServer(issuer, this.fetchFn, this.fetchTimeoutMs);
  }
}

/**
 * The authorization server metadata of `issuer`: RFC 8414's `/.well-known/oauth-authorization-server`
 * (with the issuer's path inserted), else OpenID Connect's `/.well-known/openid-configuration`.
 * The document must name the same issuer (RFC 8414 section 3.3), or it is not used.
 */
export async function discoverAuthorizationServer(issuer: string, fetchFn: typeof fetch = fetch, timeoutMs = 5000): Promise<ServerMetadata> {
  const base = new URL(issuer);
  const path = base.pathname.replace(/\/$/, '');
  const candidates = [
    new URL(`/.well-known/oauth-authorization-server${path}`, base),
    new URL(`${path}/.well-known/openid-configuration`, base),
    new URL(`/.well-known/openid-configuration${path}`, base),
  ];
  for (const url of candidates) {
    let response: Response;
    try {
      response = await fetchFn(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
    } catch {
      continue;
    }
    if (!response.ok) continue;
    const metadata = (await response.json().catch(() => undefined)) as ServerMetadata | undefined;
    if (metadata && metadata.issuer === issuer) return metadata;
  }
  throw new TokenRejected('the issuer\'s metadata could not be fetched');
}

function principalOf(payload: JWTPayload, issuer: string): Principal {
  const scope = payload.scope ?? payload.scp;
  const scopes = typeof scope === 'string' ? scope.split(' ').filter(Boolean) : Array.isArray(scope) ? scope.filter((s): s is string => typeof s === 'string') : [];
  const clientId = typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : undefined;
  const subject = payload.sub ?? clientId;
  if (!subject) throw new TokenRejected('token has neither sub nor client_id');
  return { issuer, subject, clientId, scopes, expiresAt: payload.exp };
}

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'token expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'token is for another audience';
    if (error.claim === 'nbf') return 'token is not valid yet';
    return `token claim ${error.claim} is invalid`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (error instanceof errors.JWKSNoMatchingKey) return 'no key of the issuer matches the token';
  if (error instanceof errors.JWKSTimeout) return 'the issuer\'s keys could not be fetched in time';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'algorithm is not accepted';
  if (error instanceof errors.JOSEError) return 'invalid token';
  return 'token could not be verified';
}
