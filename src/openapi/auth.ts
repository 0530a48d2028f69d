import { request as httpRequest, type Dispatcher } from 'undici';
import type { SecurityRequirement, SecuritySchemeSpec } from './model.js';

/**
 * A credential for one security scheme of the spec:
 * - apiKey schemes: the key (a string, or `{ value }`);
 * - HTTP bearer (and OAuth2 with a token you already have): the token (a string, or `{ token }`);
 * - HTTP basic: `{ username, password }` (or the string `user:password`);
 * - OAuth2 client credentials: `{ clientId, clientSecret, scopes?, tokenUrl? }`.
 */
export type Credential =
  | string
  | { value: string }
  | { token: string }
  | { username: string; password: string }
  | { clientId: string; clientSecret: string; scopes?: string[]; tokenUrl?: string };

/**
 * A credential the MCP client brings with each session: the value of one of its request
 * headers (for WebSocket, of its handshake) is used for `scheme`. For `authorization` headers
 * the `Bearer `/`Basic ` prefix is handled.
 */
export interface SessionCredential {
  /** Header of the MCP client's request, case-insensitive (`x-api-key`, `authorization`). */
  header: string;
  /** Security scheme of the spec it fills. */
  scheme: string;
}

export interface AuthOptions {
  /** Credentials by security scheme name. */
  credentials?: Record<string, Credential>;
  /**
   * Environment variables to read credentials from when `credentials` has none: for scheme
   * `petstore_auth`, `${envPrefix}PETSTORE_AUTH` (uppercased, other characters as `_`). Holds the
   * key or token, `user:password` for basic, `clientId:clientSecret` for OAuth2 client credentials.
   * Default prefix `HTTMCP_AUTH_`.
   */
  env?: NodeJS.ProcessEnv;
  envPrefix?: string;
  sessionCredentials?: SessionCredential[];
  /** Dispatcher for OAuth2 token requests (default: undici's global one). */
  dispatcher?: Dispatcher;
  /** Timeout of a token request; default 10 s. */
  tokenTimeoutMs?: number;
}

/** Where credentials go on one request; filled by {@link Authenticator.apply}. */
export interface AuthTarget {
  headers: Record<string, string>;
  query: string[];
  cookies: string[];
  /** Query parameter names whose values are secrets (redacted in messages). */
  secretQuery: string[];
}

interface CachedToken {
  token: string;
  expires: number;
}

/**
 * Applies the spec's security requirements to requests: picks the first alternative whose
 * schemes all have a credential (per-session header, then configuration, then environment),
 * and puts each credential where its scheme says. OAuth2 client-credentials tokens are fetched
 * once and cached until shortly before they expire (or until the API answers 401).
 */
export class Authenticator {
  private readonly tokens = new Map<string, CachedToken | Promise<CachedToken>>();
  private readonly env: NodeJS.ProcessEnv;
  private readonly prefix: string;

  constructor(
    private readonly schemes: ReadonlyMap<string, SecuritySchemeSpec>,
    private readonly options: AuthOptions = {},
  ) {
    this.env = options.env ?? process.env;
    this.prefix = options.envPrefix ?? 'HTTMCP_AUTH_';
  }

  /** The environment variable read for `scheme`. */
  envName(scheme: string): string {
    return `${this.prefix}${scheme.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
  }

  /**
   * Applies the first satisfiable alternative of `requirements` to `target`. Returns the schemes
   * that are missing a credential when none is satisfiable (the request is then sent without).
   */
  async apply(
    requirements: readonly SecurityRequirement[],
    target: AuthTarget,
    clientHeaders: Record<string, string | string[] | undefined>,
    signal?: AbortSignal,
    overrides?: Record<string, Credential>,
  ): Promise<{ used: string[]; missing: string[] }> {
    if (requirements.length === 0) return { used: [], missing: [] };
    const missing = new Set<string>();
    // Alternatives with credentials first; an empty one (`{}`: auth optional) when none can be met.
    for (const alternative of requirements) {
      const names = Object.keys(alternative);
      if (names.length === 0) continue;
      const found = names.map((name) => [name, overrides?.[name] ?? this.credential(name, clientHeaders)] as const);
      const lacking = found.filter(([name, credential]) => credential === undefined || !this.schemes.has(name));
      if (lacking.length > 0) {
        for (const [name] of lacking) missing.add(name);
        continue;
      }
      for (const [name, credential] of found) await this.put(name, credential!, alternative[name] ?? [], target, signal);
      return { used: names, missing: [] };
    }
    if (requirements.some((alternative) => Object.keys(alternative).length === 0)) return { used: [], missing: [] };
    return { used: [], missing: [...missing] };
  }

  /** Forgets cached OAuth2 tokens of `schemes` (after the API refused one). */
  invalidate(schemes: readonly string[]): void {
    for (const [key] of this.tokens) if (schemes.some((s) => key.startsWith(`${s}\u0000`))) this.tokens.delete(key);
  }

  private credential(name: string, clientHeaders: Record<string, string | string[] | undefined>): Credential | undefined {
    for (const session of this.options.sessionCredentials ?? []) {
      if (session.scheme !== name) continue;
      const raw = clientHeaders[session.header.toLowerCase()];
      const value = Array.isArray(raw) ? raw[0] : raw;
      if (value !== undefined && value !== '') return this.fromHeader(name, value);
    }
    const configured = this.options.credentials?.[name];
    if (configured !== undefined) return configured;
    const fromEnv = this.env[this.envName(name)];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  }

  private fromHeader(name: string, value: string): Credential {
    const scheme = this.schemes.get(name);
    if (scheme?.type === 'http' && scheme.scheme === 'basic') {
      const match = /^basic\s+(.+)$/i.exec(value);
      if (match) {
        const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
        const at = decoded.indexOf(':');
        return at < 0 ? { username: decoded, password: '' } : { username: decoded.slice(0, at), password: decoded.slice(at + 1) };
      }
      return value;
    }
    if (scheme?.type === 'apiKey') return { value };
    return { token: value.replace(/^bearer\s+/i, '') };
  }

  private async put(name: string, credential: Credential, scopes: string[], target: AuthTarget, signal?: AbortSignal): Promise<void> {
    const scheme = this.schemes.get(name)!;
    switch (scheme.type) {
      case 'apiKey': {
        const value = secretOf(credential);
        if (scheme.in === 'header') target.headers[scheme.name.toLowerCase()] = value;
        else if (scheme.in === 'query') {
          target.query.push(`${encodeURIComponent(scheme.name)}=${encodeURIComponent(value)}`);
          target.secretQuery.push(scheme.name);
        } else target.cookies.push(`${encodeURIComponent(scheme.name)}=${encodeURIComponent(value)}`);
        return;
      }
      case 'http': {
        if (scheme.scheme === 'basic') {
          const { username, password } = basicOf(credential);
          target.headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
        } else {
          const label = scheme.scheme === 'bearer' || scheme.scheme === '' ? 'Bearer' : scheme.scheme;
          target.headers.authorization = `${label} ${secretOf(credential)}`;
        }
        return;
      }
      case 'oauth2': {
        let client = typeof credential === 'object' && 'clientId' in credential ? credential : undefined;
        // A string `clientId:clientSecret` (as the environment holds it) for a client-credentials flow.
        if (typeof credential === 'string' && scheme.clientCredentialsTokenUrl !== undefined && credential.includes(':')) {
          const at = credential.indexOf(':');
          client = { clientId: credential.slice(0, at), clientSecret: credential.slice(at + 1) };
        }
        const token = client
          ? await this.clientCredentialsToken(name, scheme.clientCredentialsTokenUrl, client, scopes, signal)
          : secretOf(credential);
        target.headers.authorization = `Bearer ${token}`;
        return;
      }
      default:
        throw new Error(`security scheme ${name} (${scheme.type}) is not supported; configure the header yourself`);
    }
  }

  private async clientCredentialsToken(
    name: string,
    specTokenUrl: string | undefined,
    credential: { clientId: string; clientSecret: string; scopes?: string[]; tokenUrl?: string },
    requiredScopes: string[],
    signal?: AbortSignal,
  ): Promise<string> {
    const tokenUrl = credential.tokenUrl ?? specTokenUrl;
    if (tokenUrl === undefined) throw new Error(`security scheme ${name} has no client-credentials token URL: configure tokenUrl`);
    const scopes = credential.scopes ?? requiredScopes;
    const key = `${name}\u0000${scopes.join(' ')}`;
    const cached = this.tokens.get(key);
    if (cached !== undefined) {
      const token = await cached;
      if (token.expires > Date.now()) return token.token;
      if (this.tokens.get(key) === cached) this.tokens.delete(key);
    }
    const pending = this.fetchToken(name, tokenUrl, credential, scopes, signal);
    this.tokens.set(key, pending);
    try {
      const token = await pending;
      this.tokens.set(key, token);
      return token.token;
    } catch (error) {
      this.tokens.delete(key);
      throw error;
    }
  }

  private async fetchToken(
    name: string,
    tokenUrl: string,
    credential: { clientId: string; clientSecret: string },
    scopes: string[],
    signal?: AbortSignal,
  ): Promise<CachedToken> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (scopes.length > 0) form.set('scope', scopes.join(' '));
    const basic = Buffer.from(`${encodeURIComponent(credential.clientId)}:${encodeURIComponent(credential.clientSecret)}`).toString('base64');
    const timeout = AbortSignal.timeout(this.options.tokenTimeoutMs ?? 10_000);
    const response = await httpRequest(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: `Basic ${basic}` },
      body: form.toString(),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      ...(this.options.dispatcher ? { dispatcher: this.options.dispatcher } : {}),
    });
    const text = await response.body.text();
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw new Error(`the OAuth2 token endpoint of ${name} answered HTTP ${response.statusCode}: ${text.slice(0, 300)}`);
    }
    let body: { access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`the OAuth2 token endpoint of ${name} did not answer JSON`);
    }
    if (typeof body.access_token !== 'string') throw new Error(`the OAuth2 token endpoint of ${name} sent no access_token`);
    const lifetime = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in ?? 3600);
    // Renew 30 s (or a tenth of a short lifetime) before it runs out.
    const margin = Math.min(30, lifetime / 10);
    return { token: body.access_token, expires: Date.now() + Math.max(0, (Number.isFinite(lifetime) ? lifetime : 3600) - margin) * 1000 };
  }
}

function secretOf(credential: Credential): string {
  if (typeof credential === 'string') return credential;
  if ('value' in credential) return credential.value;
  if ('token' in credential) return credential.token;
  if ('username' in credential) return `${credential.username}:${credential.password}`;
  throw new Error('an OAuth2 client credential cannot be used as a key or token');
}

function basicOf(credential: Credential): { username: string; password: string } {
  if (typeof credential === 'object' && 'username' in credential) return credential;
  const text = secretOf(credential);
  const at = text.indexOf(':');
  return at < 0 ? { username: text, password: '' } : { username: text.slice(0, at), password: text.slice(at + 1) };
}
