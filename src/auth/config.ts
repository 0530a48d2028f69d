import { parseApiKeys } from './api-keys.js';
import type { AuthOptions } from './authenticator.js';

/**
 * Authentication settings from the environment, or undefined when none is configured (auth is
 * off by default). `publicUrl` is the origin clients use, when the environment does not say
 * (`HTTMCP_PUBLIC_URL`).
 *
 * - `HTTMCP_OAUTH_ISSUER`: issuer URL(s), comma-separated: JWT access tokens from them are accepted
 * - `HTTMCP_API_KEYS`: `subject:sha256hex[:scopes]`, comma-separated
 * - `HTTMCP_OAUTH_SCOPES`: scopes every request needs (space- or comma-separated)
 * - `HTTMCP_OAUTH_ALGORITHMS`: accepted JWS algorithms (default: RS*, PS*, ES*, EdDSA)
 * - `HTTMCP_AUTH_VERDICT_MAX_AGE`: seconds nginx may reuse a verdict (default 60)
 * - `HTTMCP_AUTH_MAX_TOKEN_BYTES`: longest token accepted (default 8192)
 * - `HTTMCP_CONSOLE_SCOPE`: the scope the operator console's data needs (default `httmcp:admin`)
 * - `HTTMCP_OAUTH_CLOCK_TOLERANCE`: seconds of clock skew allowed on exp/nbf (default 30)
 * - `HTTMCP_OAUTH_FETCH_TIMEOUT_MS`: timeout of discovery and JWKS fetches (default 5000)
 * - `HTTMCP_OAUTH_JWKS_MAX_AGE_MS`, `HTTMCP_OAUTH_JWKS_COOLDOWN_MS`: key cache life (default
 *   600000) and least time between two JWKS fetches (default 30000)
 * - `HTTMCP_OAUTH_INTROSPECTION_CLIENT_ID`, `HTTMCP_OAUTH_INTROSPECTION_CLIENT_SECRET`: with
 *   these, opaque tokens are introspected (RFC 7662) at the first issuer's endpoint
 *   (`HTTMCP_OAUTH_INTROSPECTION_URL` to name it; `HTTMCP_OAUTH_INTROSPECTION_CACHE`, entries,
 *   default 10000)
 */
export function authFromEnv(env: NodeJS.ProcessEnv, publicUrl?: string): AuthOptions | undefined {
  const issuers = list(env.HTTMCP_OAUTH_ISSUER);
  const apiKeys = env.HTTMCP_API_KEYS ? parseApiKeys(env.HTTMCP_API_KEYS) : [];
  if (issuers.length === 0 && apiKeys.length === 0) return undefined;
  const url = env.HTTMCP_PUBLIC_URL || publicUrl;
  if (!url) throw new Error('authentication is on: set HTTMCP_PUBLIC_URL to the origin clients use (it makes each server\'s token audience)');
  const options: AuthOptions = { publicUrl: url };
  if (issuers.length) {
    const algorithms = list(env.HTTMCP_OAUTH_ALGORITHMS);
    options.jwt = { issuers, ...(algorithms.length ? { algorithms } : {}) };
    const tolerance = whole(env, 'HTTMCP_OAUTH_CLOCK_TOLERANCE');
    if (tolerance !== undefined) options.jwt.clockToleranceSeconds = tolerance;
    const timeout = whole(env, 'HTTMCP_OAUTH_FETCH_TIMEOUT_MS');
    if (timeout !== undefined) options.jwt.fetchTimeoutMs = timeout;
    const maxAge = whole(env, 'HTTMCP_OAUTH_JWKS_MAX_AGE_MS');
    if (maxAge !== undefined) options.jwt.jwksMaxAgeMs = maxAge;
    const cooldown = whole(env, 'HTTMCP_OAUTH_JWKS_COOLDOWN_MS');
    if (cooldown !== undefined) options.jwt.jwksCooldownMs = cooldown;
  }
  if (apiKeys.length) options.apiKeys = apiKeys;
  const clientId = env.HTTMCP_OAUTH_INTROSPECTION_CLIENT_ID;
  const clientSecret = env.HTTMCP_OAUTH_INTROSPECTION_CLIENT_SECRET;
  if (clientId && clientSecret && issuers[0]) {
    const cacheEntries = whole(env, 'HTTMCP_OAUTH_INTROSPECTION_CACHE');
    options.introspection = {
      issuer: issuers[0],
      clientId,
      clientSecret,
      ...(env.HTTMCP_OAUTH_INTROSPECTION_URL ? { url: env.HTTMCP_OAUTH_INTROSPECTION_URL } : {}),
      ...(options.jwt?.fetchTimeoutMs === undefined ? {} : { timeoutMs: options.jwt.fetchTimeoutMs }),
      ...(cacheEntries === undefined ? {} : { cacheEntries }),
    };
  }
  const scopes = list(env.HTTMCP_OAUTH_SCOPES);
  if (scopes.length) options.requiredScopes = scopes;
  const verdictMaxAge = whole(env, 'HTTMCP_AUTH_VERDICT_MAX_AGE');
  if (verdictMaxAge !== undefined) options.verdictMaxAgeSeconds = verdictMaxAge;
  const maxTokenBytes = whole(env, 'HTTMCP_AUTH_MAX_TOKEN_BYTES');
  if (maxTokenBytes !== undefined) options.maxTokenBytes = maxTokenBytes;
  const consoleScope = env.HTTMCP_CONSOLE_SCOPE?.trim();
  if (consoleScope) {
    if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(consoleScope)) throw new Error(`HTTMCP_CONSOLE_SCOPE must be one scope (RFC 6749 scope-token), got ${JSON.stringify(consoleScope)}`);
    options.consoleScope = consoleScope;
  }
  return options;
}

function whole(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole non-negative number, got ${JSON.stringify(raw)}`);
  return value;
}

function list(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/).filter(Boolean);
}
