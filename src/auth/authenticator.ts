import { ApiKeys, type ApiKeyEntry } from './api-keys.js';
import { Introspector, type IntrospectionOptions } from './introspection.js';
import { JwtVerifier, TokenRejected, type JwtVerifierOptions } from './jwt-verifier.js';
import type { Principal } from './principal.js';

/** How httmcp authenticates clients (see docs/auth.md). */
export interface AuthOptions {
  /**
   * The public origin clients use (`http://127.0.0.1:8080`, `https://mcp.example.com`): a server's
   * canonical URL, the audience its tokens must name (RFC 8707), is `{publicUrl}/mcp/{name}`.
   */
  publicUrl: string;
  /** JWT access tokens from these issuers. */
  jwt?: JwtVerifierOptions;
  /** Opaque tokens (anything that is not a JWT), by RFC 7662 introspection. */
  introspection?: IntrospectionOptions;
  /** Static API keys (sent as `Authorization: Bearer <key>`). */
  apiKeys?: ApiKeyEntry[];
  /** Scopes every request needs (and Protected Resource Metadata lists); default none. */
  requiredScopes?: string[];
  /** Longest time nginx may reuse a verdict, in seconds (default 60; never past the token's expiry). */
  verdictMaxAgeSeconds?: number;
  /** Longest token accepted, in bytes (default 8192; nginx's header buffers cap it too). */
  maxTokenBytes?: number;
  /**
   * The scope the operator console's data needs (`HTTMCP_CONSOLE_SCOPE`, default
   * {@link DEFAULT_CONSOLE_SCOPE}), in a token for this origin ({@link Authenticator.checkConsole}).
   */
  consoleScope?: string;
}

/** The scope of {@link AuthOptions.consoleScope} unless configured. */
export const DEFAULT_CONSOLE_SCOPE = 'httmcp:admin';

/** The answer for one request: who it is, or how to refuse it. */
export type Verdict =
  | { ok: true; principal: Principal; maxAgeSeconds: number }
  | { ok: false; status: 401 | 403; challenge: string; reason: string };

/**
 * Decides whether a request may reach a server: the `Authorization` header against the
 * configured JWT issuers and API keys, for the server's canonical URL as audience. Also
 * describes the servers as OAuth protected resources (RFC 9728).
 */
export class Authenticator {
  readonly publicUrl: string;
  private readonly jwt: JwtVerifier | undefined;
  private readonly apiKeys: ApiKeys | undefined;
  private readonly introspector: Introspector | undefined;
  private readonly authorizationServers: string[];
  private readonly requiredScopes: string[];
  private readonly verdictMaxAge: number;
  private readonly maxTokenBytes: number;
  /** See {@link AuthOptions.consoleScope}. */
  readonly consoleScope: string;

  constructor(options: AuthOptions) {
    const url = new URL(options.publicUrl);
    if (url.pathname !== '/' || url.search || url.hash) throw new Error(`the public URL is an origin (scheme://host:port), got ${options.publicUrl}`);
    this.publicUrl = url.origin;
    this.jwt = options.jwt ? new JwtVerifier(options.jwt) : undefined;
    this.apiKeys = options.apiKeys?.length ? new ApiKeys(options.apiKeys) : undefined;
    this.introspector = options.introspection ? new Introspector(options.introspection) : undefined;
    if (!this.jwt && !this.apiKeys && !this.introspector) throw new Error('authentication needs an issuer or API keys');
    this.authorizationServers = [...new Set([...(options.jwt?.issuers ?? []), ...(options.introspection ? [options.introspection.issuer] : [])])];
    this.requiredScopes = options.requiredScopes ?? [];
    this.verdictMaxAge = options.verdictMaxAgeSeconds ?? 60;
    this.maxTokenBytes = options.maxTokenBytes ?? 8192;
    this.consoleScope = options.consoleScope ?? DEFAULT_CONSOLE_SCOPE;
  }

  /** A server's canonical URL: the audience its tokens must carry. */
  resourceUrl(server: string): string {
    return `${this.publicUrl}/mcp/${server}`;
  }

  /** Where a server's Protected Resource Metadata is (RFC 9728 section 3.1: path inserted). */
  metadataUrl(server: string): string {
    return `${this.publicUrl}/.well-known/oauth-protected-resource/mcp/${server}`;
  }

  /**
   * A server's Protected Resource Metadata; without `server`, the origin's (the root form, for
   * clients that look there first: it names the same authorization servers).
   */
  protectedResourceMetadata(server?: string): Record<string, unknown> {
    return {
      resource: server === undefined ? this.publicUrl : this.resourceUrl(server),
      authorization_servers: this.authorizationServers,
      bearer_methods_supported: ['header'],
      ...(this.requiredScopes.length ? { scopes_supported: this.requiredScopes } : {}),
      resource_name: server === undefined ? 'httmcp' : `httmcp ${server}`,
    };
  }

  /** The verdict on one request's `Authorization` header for `server`. Never throws. */
  check(server: string, authorization: string | undefined): Promise<Verdict> {
    return this.checkFor({ audience: this.resourceUrl(server), metadata: this.metadataUrl(server), scopes: this.requiredScopes }, authorization);
  }

  /**
   * The verdict on a request for the operator console's data: a token for this origin (the
   * root protected resource, {@link publicUrl}) carrying {@link consoleScope} (and the scopes
   * every request needs). Never throws.
   */
  checkConsole(authorization: string | undefined): Promise<Verdict> {
    const metadata = `${this.publicUrl}/.well-known/oauth-protected-resource`;
    return this.checkFor({ audience: this.publicUrl, metadata, scopes: [...this.requiredScopes, this.consoleScope] }, authorization);
  }

  private async checkFor(target: VerdictTarget, authorization: string | undefined): Promise<Verdict> {
    const token = bearerToken(authorization);
    if (token === undefined) {
      // RFC 6750 section 3.1: no error code when the request carried no credentials.
      return this.refuse(target, 401, authorization === undefined ? undefined : 'invalid_request', authorization === undefined ? 'no token' : 'not a bearer token');
    }
    if (Buffer.byteLength(token) > this.maxTokenBytes) return this.refuse(target, 401, 'invalid_token', 'token too long');
    let principal: Principal | undefined;
    let reason = 'invalid token';
    if (this.apiKeys) principal = this.apiKeys.verify(token);
    if (!principal && this.jwt && JwtVerifier.looksLikeJwt(token)) {
      try {
        principal = await this.jwt.verify(token, target.audience);
      } catch (error) {
        reason = error instanceof TokenRejected ? error.message : 'token could not be verified';
      }
    }
    if (!principal && this.introspector && !JwtVerifier.looksLikeJwt(token)) {
      try {
        principal = await this.introspector.verify(token, target.audience);
      } catch (error) {
        reason = error instanceof TokenRejected ? error.message : 'token could not be verified';
      }
    }
    if (!principal) return this.refuse(target, 401, 'invalid_token', reason);
    const missing = target.scopes.filter((scope) => !principal.scopes.includes(scope));
    if (missing.length) return this.refuse(target, 403, 'insufficient_scope', `missing scope ${missing.join(' ')}`);
    const now = Math.floor(Date.now() / 1000);
    const remaining = principal.expiresAt === undefined ? this.verdictMaxAge : principal.expiresAt - now;
    return { ok: true, principal, maxAgeSeconds: Math.max(0, Math.min(this.verdictMaxAge, remaining)) };
  }

  private refuse(target: VerdictTarget, status: 401 | 403, error: string | undefined, reason: string): Verdict {
    const params: string[] = [];
    if (error) params.push(`error="${error}"`);
    if (error && error !== 'insufficient_scope') params.push(`error_description="${reason.replace(/["\\]/g, '')}"`);
    if (target.scopes.length) params.push(`scope="${target.scopes.join(' ')}"`);
    params.push(`resource_metadata="${target.metadata}"`);
    return { ok: false, status, challenge: `Bearer ${params.join(', ')}`, reason };
  }
}

/** What a verdict is for: the audience a token must name, its metadata URL, the scopes it needs. */
interface VerdictTarget {
  audience: string;
  metadata: string;
  scopes: readonly string[];
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 6750 syntax). */
function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization ?? '');
  return match?.[1];
}
