import { request as httpRequest, type Dispatcher } from 'undici';

/**
 * RFC 8693 token exchange for an OpenAPI server's upstream calls: the MCP client's access token
 * (verified by the edge, audience: this gateway) is exchanged at the authorization server for a
 * token whose audience is the API, so the API sees the user without ever receiving the client's
 * own token (MCP security best practices: no token passthrough).
 */
export interface TokenExchangeOptions {
  /** The security scheme of the spec the exchanged token fills (an `oauth2` or `http` bearer scheme). */
  scheme: string;
  /** The authorization server's token endpoint. */
  tokenUrl: string;
  /** This gateway's client at the authorization server (client_secret_basic). */
  clientId: string;
  clientSecret: string;
  /** `audience` of the token asked for (the API's identifier, as the authorization server knows it). */
  audience?: string;
  /** `resource` of the token asked for (RFC 8707: the API's URL). */
  resource?: string;
  /** Scopes asked for (default: whatever the authorization server gives). */
  scopes?: string[];
  /** Exchanged tokens kept (one per principal; least recently made dropped first); default 10,000. */
  cacheSize?: number;
  /** Timeout of an exchange; default 10 s. */
  timeoutMs?: number;
  dispatcher?: Dispatcher;
}

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

interface Exchanged {
  token: string;
  expires: number;
  /** The subject token it was exchanged for: a new token of the same principal exchanges again. */
  subject: string;
}

/** Exchanges and caches tokens per principal until shortly before they expire. */
export class TokenExchanger {
  private readonly cache = new Map<string, Promise<Exchanged>>();

  constructor(readonly options: TokenExchangeOptions) {}

  /** A token for the API on behalf of `principal` (a stable key), whose current token is `subjectToken`. */
  async token(principal: string, subjectToken: string, signal?: AbortSignal): Promise<string> {
    const cached = this.cache.get(principal);
    if (cached) {
      const hit = await cached.catch(() => undefined);
      if (hit && hit.subject === subjectToken && hit.expires > Date.now()) return hit.token;
      if (this.cache.get(principal) === cached) this.cache.delete(principal);
    }
    const pending = this.exchange(subjectToken, signal);
    this.cache.set(principal, pending);
    const limit = this.options.cacheSize ?? 10_000;
    // Map order is insertion order: the first key is the oldest exchange.
    while (this.cache.size > limit) this.cache.delete(this.cache.keys().next().value!);
    try {
      return (await pending).token;
    } catch (error) {
      if (this.cache.get(principal) === pending) this.cache.delete(principal);
      throw error;
    }
  }

  private async exchange(subjectToken: string, signal?: AbortSignal): Promise<Exchanged> {
    const { options } = this;
    const form = new URLSearchParams({ grant_type: GRANT, subject_token: subjectToken, subject_token_type: ACCESS_TOKEN, requested_token_type: ACCESS_TOKEN });
    if (options.audience !== undefined) form.set('audience', options.audience);
    if (options.resource !== undefined) form.set('resource', options.resource);
    if (options.scopes?.length) form.set('scope', options.scopes.join(' '));
    const basic = Buffer.from(`${encodeURIComponent(options.clientId)}:${encodeURIComponent(options.clientSecret)}`).toString('base64');
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
    const response = await httpRequest(options.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: `Basic ${basic}` },
      body: form.toString(),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
    const text = await response.body.text();
    // The answer is not shown: it may hold a token. The error code is.
    if (response.statusCode < 200 || response.statusCode >= 300) {
      const code = /"error"\s*:\s*"([A-Za-z0-9_.-]{1,64})"/.exec(text)?.[1];
      throw new Error(`token exchange at ${options.tokenUrl} refused: HTTP ${response.statusCode}${code ? ` ${code}` : ''}`);
    }
    let body: { access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`token exchange at ${options.tokenUrl}: the answer is not JSON`);
    }
    if (typeof body.access_token !== 'string' || body.access_token === '') throw new Error(`token exchange at ${options.tokenUrl}: no access_token`);
    const lifetime = Number(body.expires_in ?? 300);
    const seconds = Number.isFinite(lifetime) && lifetime > 0 ? lifetime : 300;
    // Renewed 30 s (or a tenth of a short lifetime) before it runs out.
    return { token: body.access_token, expires: Date.now() + (seconds - Math.min(30, seconds / 10)) * 1000, subject: subjectToken };
  }
}
