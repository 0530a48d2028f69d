import { cacheHintFromEnv, checkCacheHint, serverCacheHints, tighten } from '../../src/server/cache-hints.js';
import { HTTMCP } from '../../src/index.js';

describe('cache hints', () => {
  test('per operation, field by field over the server-wide hint', () => {
    const hints = serverCacheHints({ ttlMs: 1000, cacheScope: 'public' }, { 'resources/read': { cacheScope: 'private' } });
    expect(hints?.['tools/list']).toEqual({ ttlMs: 1000, cacheScope: 'public' });
    expect(hints?.['resources/read']).toEqual({ ttlMs: 1000, cacheScope: 'private' });
    expect(serverCacheHints(undefined, undefined)).toBeUndefined();
  });

  test('bad hints are refused where they are written', () => {
    expect(() => checkCacheHint({ ttlMs: -1 }, 'x')).toThrow(RangeError);
    expect(() => checkCacheHint({ ttlMs: 1.5 }, 'x')).toThrow(/integer/);
    expect(() => checkCacheHint({ ttlMs: 2 * 24 * 3600 * 1000 }, 'x')).toThrow(RangeError);
    expect(() => checkCacheHint({ cacheScope: 'shared' as never }, 'x')).toThrow(/public/);
    expect(() => serverCacheHints(undefined, { 'tools/call': { ttlMs: 1 } } as never)).toThrow(/no cacheable result/);
    expect(() => new HTTMCP({ name: 'bad', version: '1', cacheHint: { ttlMs: -5 } })).toThrow(RangeError);
    expect(() => new HTTMCP({ name: 'bad', version: '1' }).tool('t', { cacheHint: { cacheScope: 'everyone' as never } }, () => 'x')).toThrow(/bad: tool t/);
  });

  test('the environment sets the server-wide hint', () => {
    expect(cacheHintFromEnv({})).toBeUndefined();
    expect(cacheHintFromEnv({ HTTMCP_CACHE_TTL_MS: '5000' })).toEqual({ ttlMs: 5000 });
    expect(cacheHintFromEnv({ HTTMCP_CACHE_TTL_MS: '0', HTTMCP_CACHE_SCOPE: 'public' })).toEqual({ ttlMs: 0, cacheScope: 'public' });
    expect(() => cacheHintFromEnv({ HTTMCP_CACHE_TTL_MS: '5s' })).toThrow(/HTTMCP_CACHE_TTL_MS/);
    expect(() => cacheHintFromEnv({ HTTMCP_CACHE_SCOPE: 'shared' })).toThrow(RangeError);
  });

  test('tightening takes the shorter life and the narrower scope', () => {
    expect(tighten({ ttlMs: 1000, cacheScope: 'public' }, { ttlMs: 10 })).toEqual({ ttlMs: 10, cacheScope: 'public' });
    expect(tighten({ ttlMs: 10, cacheScope: 'public' }, { ttlMs: 1000, cacheScope: 'private' })).toEqual({ ttlMs: 10, cacheScope: 'private' });
    expect(tighten({ ttlMs: 10, cacheScope: 'private' }, { cacheScope: 'public' })).toEqual({ ttlMs: 10, cacheScope: 'private' });
  });
});
