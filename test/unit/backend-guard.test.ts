import { spawnSync } from 'node:child_process';
import { BACKEND_KEY_HEADER, checkBackendRequest, deriveBackendKey } from '../../src/http/backend-guard.js';

const SECRET = 'guard-test-secret-0123456789abcdef';
const KEY = deriveBackendKey(SECRET);

test('the key is what the nginx image derives with coreutils (docker/nginx-entrypoint.sh)', () => {
  const shell = spawnSync('sh', ['-c', `printf 'httmcp backend key\\n%s' "$S" | sha256sum | cut -d' ' -f1`], { env: { ...process.env, S: SECRET }, encoding: 'utf8' });
  expect(shell.stdout.trim()).toBe(KEY);
  expect(deriveBackendKey(`${SECRET}x`)).not.toBe(KEY);
});

test.each([
  ['as nginx sends it', { host: 'httmcp_backend', [BACKEND_KEY_HEADER]: KEY }, true, undefined],
  ['an IP literal with port', { host: '10.0.0.5:3000', [BACKEND_KEY_HEADER]: KEY }, true, undefined],
  ['an IPv6 literal', { host: '[::1]:3000', [BACKEND_KEY_HEADER]: KEY }, true, undefined],
  ['localhost', { host: 'LocalHost:3000', [BACKEND_KEY_HEADER]: KEY }, true, undefined],
  ['no key', { host: 'httmcp_backend' }, true, /backend key/],
  ['a wrong key', { host: 'httmcp_backend', [BACKEND_KEY_HEADER]: deriveBackendKey('another-secret-0123456789') }, true, /backend key/],
  ['a key of another length', { host: 'httmcp_backend', [BACKEND_KEY_HEADER]: 'x' }, true, /backend key/],
  ['any Origin, even with the key', { host: 'httmcp_backend', origin: 'http://localhost:8080', [BACKEND_KEY_HEADER]: KEY }, true, /browser/],
  ['a rebinding host name', { host: 'rebind.example:3000', [BACKEND_KEY_HEADER]: KEY }, true, /not this backend/],
  ['a name ending like an IP', { host: 'evil.127.0.0.1.example', [BACKEND_KEY_HEADER]: KEY }, true, /not this backend/],
  ['a probe without key where none is needed', { host: '127.0.0.1:3000' }, false, undefined],
  ['a rebinding probe', { host: 'rebind.example' }, false, /not this backend/],
])('%s', (_label, headers, requireKey, refused) => {
  const refusal = checkBackendRequest(headers, KEY, requireKey);
  if (refused === undefined) expect(refusal).toBeUndefined();
  else expect(refusal).toEqual({ status: 403, reason: expect.stringMatching(refused) });
});

test.each([
  ['the last character changed', `${KEY.slice(0, -1)}${KEY.endsWith('0') ? '1' : '0'}`],
  ['the first character changed', `${KEY.startsWith('0') ? '1' : '0'}${KEY.slice(1)}`],
  ['upper case hex', KEY.toUpperCase()],
  ['non-ASCII of the same length', `${KEY.slice(0, -1)}\u00e9`],
  ['a UTF-16 character of the same length', `${KEY.slice(0, -1)}\u0161`],
])('a key of the right length but %s is refused', (_label, given) => {
  expect(given).toHaveLength(KEY.length);
  expect(checkBackendRequest({ host: 'httmcp_backend', [BACKEND_KEY_HEADER]: given }, KEY, true)).toEqual({ status: 403, reason: expect.stringMatching(/backend key/) });
});
