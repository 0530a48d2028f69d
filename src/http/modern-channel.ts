import { randomBytes } from 'node:crypto';
import type { Headers } from './modern-transport.js';

/**
 * The header in which nginx names the key it hashed a 2026-07-28 request by (`m26.` and its
 * connection and request numbers; nginx.conf.template, `$httmcp_balance_key`). nginx sets it
 * itself, so a client's own header of that name never reaches the backend.
 */
export const BALANCE_KEY_HEADER = 'x-httmcp-balance-key';

/**
 * `m26.` and one part that nginx's hook location accepts in a request stream's name (its
 * `[A-Za-z0-9_-]+`): `{connection}-{request}` now, 32 hex digits of `$request_id` before.
 */
const BALANCE_KEY = /^m26\.[A-Za-z0-9_-]{1,64}$/;

/**
 * The nchan channel of a 2026-era request's stream: three dot-separated parts, as nginx's
 * unsubscribe hook location expects of request streams, which hashes the hook to a backend by
 * the first two. With the key nginx balanced the request by (`m26.{request id}.{random}`) the
 * hook reaches the backend that runs the request, whichever backend nginx picks for others;
 * without one (a backend not behind httmcp's nginx) `m26.{random}.s`, whose hook may reach
 * another backend, and the liveness sweep ends the request. The random part keeps the name
 * unguessable either way.
 */
export function modernChannel(headers: Headers): string {
  const key = headers[BALANCE_KEY_HEADER];
  const random = randomBytes(12).toString('base64url');
  return typeof key === 'string' && BALANCE_KEY.test(key) ? `${key}.${random}` : `m26.${random}.s`;
}

/** Whether `channel` is a 2026-era request's stream (the `m26` prefix; 2025 session streams start with their session). */
export function isModernChannel(channel: string): boolean {
  return channel.startsWith('m26.');
}
