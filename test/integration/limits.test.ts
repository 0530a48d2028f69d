import WebSocket from 'ws';
import type { Stack } from '../../src/index.js';
import { startTestStack, workerCrashes } from '../helpers/stack.js';

/**
 * Regression: when an nginx worker runs out of connections, nchan's WebSocket upstream code
 * trips an assertion (websocket.c, `d->subrequest`) and the worker dies with every session on it.
 * Seen with 2,500 WebSocket sessions each running a long call on one worker. The edge now admits
 * at most a fifth of the worker connections (after a reserve) as clients and answers 429 past
 * that (the status of every connection limit at the edge). Here in small: 2,000 files -> 1,000 worker connections -> (1,000 - 256) / 5 = 148 clients.
 */
let stack: Stack;

beforeAll(async () => {
  stack = await startTestStack({ maxOpenFiles: 2000 });
});

afterAll(async () => {
  await stack?.stop();
});

/** Opens a raw WebSocket session; resolves with it, or with the HTTP status that refused it. */
function open(url: string): Promise<WebSocket | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), 'mcp', { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('error', () => resolve(-1));
  });
}

function call(ws: WebSocket, id: number, method: string, params: object): Promise<{ id: number; result?: unknown; error?: unknown }> {
  return new Promise((resolve, reject) => {
    const onMessage = (data: WebSocket.RawData) => {
      const message = JSON.parse(data.toString()) as { id?: number };
      if (message.id !== id) return;
      ws.off('message', onMessage);
      resolve(message as { id: number });
    };
    ws.on('message', onMessage);
    ws.once('close', (code) => reject(new Error(`closed ${code}`)));
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  });
}

test('more clients than connections allow: the excess gets 429, the admitted all finish, no worker dies', async () => {
  const attempts = await Promise.all(Array.from({ length: 200 }, () => open(stack.servers.demo!)));
  const sessions = attempts.filter((a): a is WebSocket => typeof a !== 'number');
  const refused = attempts.filter((a) => typeof a === 'number');
  expect(sessions).toHaveLength(148);
  expect(refused).toEqual(Array(52).fill(429));
  const initialize = { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'limits', version: '1' } };
  await Promise.all(sessions.map((ws) => call(ws, 0, 'initialize', initialize)));
  // Every admitted session runs a long call at once: each needs an upstream connection too.
  const results = await Promise.all(sessions.map((ws) => call(ws, 1, 'tools/call', { name: 'sleep', arguments: { ms: 500 } })));
  expect(results.every((r) => JSON.stringify(r.result).includes('slept 500 ms'))).toBe(true);
  for (const ws of sessions) ws.close();
  expect(workerCrashes(stack)).toEqual([]);
});
