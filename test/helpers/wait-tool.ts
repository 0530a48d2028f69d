import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import type { HTTMCP } from '../../src/index.js';

/**
 * Adds a `wait` tool to `server`: it holds its call for up to a minute and, when the call's
 * signal aborts before that (the client cancelled or left), records the call's `tag` in `aborted`.
 */
export function withWaitTool(server: HTTMCP, aborted: string[]): HTTMCP {
  return server.tool('wait', { input: { tag: z.string() } }, async ({ tag }, ctx) => {
    try {
      await delay(60_000, undefined, { signal: ctx.signal });
    } catch {
      aborted.push(tag);
    }
    return 'done';
  });
}
