/**
 * A stack on nchan's Redis store is started only once every nginx worker is connected to Redis
 * (src/stack/redis-ready.ts). nginx answers /healthz before that, and until then nchan answers
 * subscribers with 503: the first subscriptions/listen stream opened right after a start with two
 * workers got 503 in 3 of 8 starts before the stack waited for it.
 */
import { createEverythingServer } from '../../examples/everything.js';
import { openListen } from '../helpers/listen.js';
import { startRedis, type RedisTestServer } from '../helpers/redis.js';
import { startTestStack } from '../helpers/stack.js';

let redis: RedisTestServer;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.stop();
});

test('a listen stream opened right after each of 10 starts (two workers) gets its acknowledgement, not 503', async () => {
  const seen: Array<{ status: number; acknowledged: boolean }> = [];
  for (let start = 0; start < 10; start++) {
    const stack = await startTestStack({ workerProcesses: 2, servers: [createEverythingServer()], redis: redis.url });
    try {
      // At once: the stack says it started, so a client may come now.
      const stream = await openListen(stack.servers.everything!, `start-${start}`, { toolsListChanged: true });
      const acknowledged = await stream
        .next((event) => event.data.includes('notifications/subscriptions/acknowledged'))
        .then(() => true, () => false);
      stream.close();
      seen.push({ status: stream.response.status, acknowledged });
    } finally {
      await stack.stop();
    }
  }
  expect(seen).toEqual(Array.from({ length: 10 }, () => ({ status: 200, acknowledged: true })));
}, 120_000);
