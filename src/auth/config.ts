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
  }
  if (apiKeys.length) options.apiKeys = apiKeys;
  const scopes = list(env.HTTMCP_OAUTH_SCOPES);
  if (scopes.length) options.requiredScopes = scopes;
  if (env.HTTMCP_AUTH_VERDICT_MAX_AGE) {
    const seconds = Number(env.HTTMCP_AUTH_VERDICT_MAX_AGE);
    if (!Number.isInteger(seconds) || seconds < 0) throw new Error('HTTMCP_AUTH_VERDICT_MAX_AGE must be a whole number of seconds');
    options.verdictMaxAgeSeconds = seconds;
  }
  return options;
}

function list(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/).filter(Boolean);
}
