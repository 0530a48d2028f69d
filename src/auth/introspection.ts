import { createHash } from 'node:crypto';
import { BoundedMap } from '../util/bounded-map.js';
import { discoverAuthorizationServer, TokenRejected } from './jwt-verifier.js';
import type { Principal } from './principal.js';

/** Settings of {@link Introspector} (RFC 7662). */
export interface IntrospectionOptions {
  /** The issuer whose tokens these are; its metadata names the endpoint when `url` is not given. */
  issuer: string;
  /** The introspection endpoint (default: `introspection_endpoint` of the issuer's metadata). */
  url?: string;
  /** This resource server's credentials at the authorization server (client_secret_basic). */
  clientId: string;
  clientSecret: string;
  /** Timeout of each introspection request, in ms (default 5000). */
  timeoutMs?: number;
  /** Longest reuse of an answer, in seconds (default 60; never past the token's `exp`). */
  cacheSeconds?: number;
  /** Answers kept at most (default 10,000; the oldest go first). */
  cacheEntries?: number;
  fetch?: typeof fetch;
}

/** How long a refusal is remembered (a flood of one bad token asks the server once per this). */
const REFUSAL_CACHE_SECONDS = 5;

interface Cached {
  until: number;
  principal?: Principal;
  reason?: string;
}

/**
 * Opaque access tokens, checked by RFC 7662 token introspection at the authorization server:
 * `active`, the audience equal to the resource's canonical URL, `exp`, and the issuer. Answers
 * are cached (bounded, keyed by a digest of the token, never the token itself).
 */
export class Introspector {
  private readonly options: IntrospectionOptions;
  private readonly cache: BoundedMap<string, Cached>;
  private readonly fetchFn: typeof fetch;
  private endpoint: Promise<string> | undefined;

  constructor(options: IntrospectionOptions) {
    this.options = options;
    this.cache = new BoundedMap(options.cacheEntries ?? 10_000);
    this.fetchFn = options.fetch ?? fetch;
  }

  /**
   * The principal of `token` for `audience`.
   * @throws {@link TokenRejected} with a description safe to log and show.
   */
  async verify(token: string, audience: string): Promise<Principal> {
    const key = createHash('sha256').update(audience).update('\0').update(token).digest('base64url');
    const now = Date.now() / 1000;
    const cached = this.cache.get(key);
    if (cached && cached.until > now) {
      if (cached.principal) return cached.principal;
      throw new TokenRejected(cached.reason ?? 'invalid token');
    }
    try {
      const principal = await this.introspect(token, audience);
      const until = Math.min(now + (this.options.cacheSeconds ?? 60), principal.expiresAt ?? Number.POSITIVE_INFINITY);
      this.cache.set(key, { until, principal });
      return principal;
    } catch (error) {
      const reason = error instanceof TokenRejected ? error.message : 'token could not be introspected';
      // A failure to reach the server is not remembered: the next request tries again.
      if (error instanceof TokenRejected) this.cache.set(key, { until: now + REFUSAL_CACHE_SECONDS, reason });
      throw new TokenRejected(reason);
    }
  }

  private async introspect(token: string, audience: string): Promise<Principal> {
    const url = await this.endpointUrl();
    const { clientId, clientSecret } = this.options;
    const response = await this.fetchFn(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
      redirect: 'error',
    });
    if (!response.ok) throw new Error(`introspection answered ${response.status}`);
    const claims = (await response.json()) as Record<string, unknown>;
    if (claims.active !== true) throw new TokenRejected('token is not active');
    const aud = claims.aud;
    if (!(aud === audience || (Array.isArray(aud) && aud.includes(audience)))) throw new TokenRejected('token is for another audience');
    if (claims.iss !== undefined && claims.iss !== this.options.issuer) throw new TokenRejected('issuer is not trusted');
    const exp = typeof claims.exp === 'number' ? claims.exp : undefined;
    if (exp !== undefined && exp <= Date.now() / 1000) throw new TokenRejected('token expired');
    const tokenClient = typeof claims.client_id === 'string' ? claims.client_id : undefined;
    const subject = typeof claims.sub === 'string' ? claims.sub : tokenClient;
    if (!subject) throw new TokenRejected('token has neither sub nor client_id');
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
    return { issuer: this.options.issuer, subject, clientId: tokenClient, scopes, expiresAt: exp };
  }

  private endpointUrl(): Promise<string> {
    if (this.options.url) return Promise.resolve(this.options.url);
    this.endpoint ??= discoverAuthorizationServer(this.options.issuer, this.fetchFn, this.options.timeoutMs ?? 5000).then((metadata) => {
      if (!metadata.introspection_endpoint) throw new TokenRejected('the issuer publishes no introspection_endpoint');
      return metadata.introspection_endpoint;
    });
    this.endpoint.catch(() => (this.endpoint = undefined));
    return this.endpoint;
  }
}
