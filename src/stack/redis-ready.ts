import { setTimeout as delay } from 'node:timers/promises';
import { NchanStatusReader } from '../nchan/status.js';
import type { Logger } from '../log.js';

/** How long {@link waitForRedisStore} waits by default: nchan connects in well under a second. */
export const REDIS_READY_TIMEOUT_MS = 10_000;

/**
 * Waits until every nginx worker is connected to nchan's Redis store (`redis connected servers`
 * of `nchan_stub_status` at least `workers`). nginx answers `/healthz` before its workers have
 * connected; until they have, nchan answers a subscriber with 503 (seen for the first
 * subscriptions/listen stream right after a start with two workers, 3 starts in 8). Gives up after
 * `timeoutMs` with a warning: an unreachable Redis is nchan's to reconnect to, not a reason to
 * refuse to start. Resolves whether it was reached.
 */
export async function waitForRedisStore(publishUrl: string, workers: number, logger: Logger, timeoutMs = REDIS_READY_TIMEOUT_MS): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const nchan = new NchanStatusReader({ publishUrl, timeoutMs: 1000, cacheMs: 0 });
  let connected: unknown;
  try {
    for (;;) {
      connected = await nchan.read().then((status) => status.get('redis connected servers'), () => undefined);
      if (typeof connected === 'number' && connected >= workers) return true;
      if (Date.now() >= deadline) break;
      await delay(25);
    }
  } finally {
    await nchan.close();
  }
  logger.warn({ connected, workers }, "nchan's workers are not all connected to Redis yet: streams opened until they are get 503");
  return false;
}
