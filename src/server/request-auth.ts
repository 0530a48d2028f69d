import type { AuthInfo } from '@modelcontextprotocol/server';
import type { Context } from './types.js';

/**
 * The `AuthInfo` of 2026-07-28 requests, by the handler context made for them. The SDK's
 * `serveStdio` entry, which serves the 2026 era, hands handlers no transport facts
 * (`ctx.extra.http` is undefined there), so httmcp's exchange table is the only place that
 * knows a 2026 request's `AuthInfo`; the context records it here when it is made.
 */
const modernAuthInfo = new WeakMap<Context, AuthInfo>();

/** @internal Records the `AuthInfo` of the 2026-era request `context` was made for. */
export function rememberRequestAuthInfo(context: Context, info: AuthInfo): void {
  modernAuthInfo.set(context, info);
}

/**
 * The SDK-shaped `AuthInfo` of the request a handler serves, on every era and transport: the
 * transport's own on a 2025 session, httmcp's exchange table on a 2026 request. Undefined when
 * authentication is off. Its `token` is empty; `bearerOfAuthInfo` (src/auth/auth-info.ts) gives
 * the client's token to the one feature that needs it (RFC 8693 token exchange).
 */
export function requestAuthInfo(context: Context): AuthInfo | undefined {
  return context.extra.http?.authInfo ?? modernAuthInfo.get(context);
}
