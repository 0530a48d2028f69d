import { z } from 'zod';
import { HTTMCP } from '../../src/index.js';

/**
 * A server named `probe` whose `block` tool waits until its abort signal fires, and the tags of
 * the calls it saw aborted: what the tests of "a client that leaves cancels its work" observe.
 */
export function blockingProbe(): { server: HTTMCP; aborted: string[] } {
  const aborted: string[] = [];
  const server = new HTTMCP({ name: 'probe', version: '1.0.0' }).tool(
    'block',
    { input: { tag: z.string() } },
    ({ tag }, ctx) =>
      new Promise<string>((resolve) => {
        ctx.signal.addEventListener('abort', () => {
          aborted.push(tag);
          resolve('aborted');
        });
      }),
  );
  return { server, aborted };
}
