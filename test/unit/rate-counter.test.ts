import { createClient } from 'redis';
import { PrincipalQuota } from '../../src/auth/principal-quota.js';
import { RedisRateCounter } from '../../src/auth/rate-counter.js';
import { freePort } from '../../src/index.js';
import { redisForSuite } from '../helpers/redis.js';

/** Per-principal call rates counted in a real redis-server (docs/auth.md, "Across a cluster"). */

const add = { kind: 'tool', name: 'add' };

/** Waits until the counter's connection is up (its first calls would take the local count). */
async function ready(counter: RedisRateCounter): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(counter as unknown as { client: { isReady: boolean } }).client.isReady) {
    if (Date.now() > deadline) throw new Error('the counter did not connect to Redis');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('RedisRateCounter (real redis-server)', () => {
  const redis = redisForSuite();
  const counters: RedisRateCounter[] = [];
  afterAll(async () => {
    await Promise.all(counters.map((c) => c.close()));
  });
  function counter(options: Partial<ConstructorParameters<typeof RedisRateCounter>[0]> = {}, url = redis().url): RedisRateCounter {
    // A generous timeout: on a loaded machine a round trip can take 100 ms, and a fallback would
    // count locally where these tests count in Redis.
    const made = new RedisRateCounter({ url, toolRatePerSecond: 1, toolBurst: 3, ratePerSecond: 1, burst: 100, timeoutMs: 5000, fallback: new PrincipalQuota({ toolRatePerSecond: 1, toolBurst: 1 }), ...options });
    counters.push(made);
    return made;
  }

  test('two counters on one Redis share one budget per principal, server and tool; keys expire', async () => {
    const [a, b] = [counter(), counter()];
    await Promise.all([ready(a), ready(b)]);
    const verdicts = [];
    const started = Date.now();
    for (let i = 0; i < 10; i++) verdicts.push(await (i % 2 === 0 ? a : b).takeCall('p1', 'demo', add));
    const elapsed = Date.now() - started;
    // Burst 3 (+1) admitted at once, whichever counter; then 1 a second (one budget, not two).
    const admitted = verdicts.filter((v) => v === undefined).length;
    expect(admitted).toBeGreaterThanOrEqual(4);
    expect(admitted).toBeLessThanOrEqual(4 + Math.ceil(elapsed / 1000));
    const refused = verdicts.find((v) => v !== undefined);
    expect(refused).toMatchObject({ limit: 'rate', retryAfterSeconds: 1, message: expect.stringContaining('tool add') as string });
    // Another tool, server and principal each have their own.
    expect(await a.takeCall('p1', 'demo', { kind: 'tool', name: 'divide' })).toBeUndefined();
    expect(await a.takeCall('p1', 'notes', add)).toBeUndefined();
    expect(await b.takeCall('p2', 'demo', add)).toBeUndefined();
    expect(a.fallbacks + b.fallbacks).toBe(0);
    // Every key expires: an idle principal costs nothing.
    const client = createClient({ url: redis().url });
    await client.connect();
    try {
      const keys = await client.keys('httmcp:rate:*');
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        const ttl = await client.pTTL(key);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(10_000);
      }
    } finally {
      await client.close();
    }
  });

  test("the server's rate counts every tool of the principal together", async () => {
    const c = counter({ ratePerSecond: 1, burst: 2, toolBurst: 100 });
    await ready(c);
    const verdicts = [];
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) verdicts.push(await c.takeCall('p3', 'demo', { kind: 'tool', name }));
    expect(verdicts.filter((v) => v === undefined).length).toBeLessThanOrEqual(4);
    expect(verdicts.at(-1)).toMatchObject({ limit: 'rate', message: expect.stringContaining('to this server') as string });
  });

  test('a Redis that forgot the script (restart, SCRIPT FLUSH) gets it again: no call falls back', async () => {
    const c = counter({ toolBurst: 100 });
    await ready(c);
    expect(await c.takeCall('p6', 'demo', add)).toBeUndefined();
    const client = createClient({ url: redis().url });
    await client.connect();
    try {
      await client.scriptFlush();
      expect(await c.takeCall('p6', 'demo', add)).toBeUndefined();
    } finally {
      await client.close();
    }
    expect(await c.takeCall('p6', 'demo', add)).toBeUndefined();
    expect(c.fallbacks).toBe(0);
  });

  test('the settings: HTTMCP_RATE_STORE names the Redis, off keeps the count in the process', async () => {
    const { Gateway } = await import('../../src/gateway.js');
    const env = { HTTMCP_PUBLISH_URL: 'http://127.0.0.1:1', HTTMCP_PUBLIC_URL: 'http://127.0.0.1:1', HTTMCP_SESSION_SECRET: 'x'.repeat(32), HTTMCP_API_KEYS: `ci:${'a'.repeat(64)}` };
    const shared = Gateway.fromEnv({ ...env, HTTMCP_RATE_STORE: redis().url, HTTMCP_RATE_STORE_TIMEOUT_MS: '70', HTTMCP_PRINCIPAL_RATE: '7' });
    const local = Gateway.fromEnv({ ...env, HTTMCP_RATE_STORE: 'off' });
    try {
      expect(shared.rates).toBeInstanceOf(RedisRateCounter);
      expect((shared.rates as RedisRateCounter).ratePerSecond).toBe(7);
      expect(local.rates).toBe(local.quota);
    } finally {
      await shared.close();
      await local.close();
    }
  });

  test('Redis unreachable: every call is counted by the local fallback (fail-open to the per-node limit)', async () => {
    const c = counter({}, `redis://127.0.0.1:${await freePort()}`);
    const verdicts = [];
    for (let i = 0; i < 5; i++) verdicts.push(await c.takeCall('p4', 'demo', add));
    // The fallback's own limit: 1 a second, burst 1.
    expect(verdicts.slice(0, 2)).toEqual([undefined, undefined]);
    expect(verdicts.at(-1)).toMatchObject({ limit: 'rate', message: expect.stringContaining('tool add') as string });
    expect(c.fallbacks).toBe(5);
  });

  test('Redis too slow: past the timeout the call is answered by the local count', async () => {
    const c = counter({ timeoutMs: 50 });
    await ready(c);
    const sleeper = createClient({ url: redis().url });
    await sleeper.connect();
    try {
      // A script that keeps Redis busy for 2 s (DEBUG SLEEP is not allowed by default), sent
      // 300 ms before the call so that it runs first however loaded this machine is.
      const busy = "local s = redis.call('TIME') repeat local n = redis.call('TIME') until (n[1] - s[1]) * 1000000 + (n[2] - s[2]) > 2000000 return 1";
      const sleeping = sleeper.eval(busy, { keys: [], arguments: [] });
      await new Promise((r) => setTimeout(r, 300));
      expect(await c.takeCall('p5', 'demo', add)).toBeUndefined();
      // Redis answered well past 50 ms: the local count took the call.
      expect(c.fallbacks).toBe(1);
      await sleeping;
    } finally {
      await sleeper.close();
    }
  });
});
