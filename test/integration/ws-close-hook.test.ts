/**
 * A WebSocket client that leaves while one of its frames is still on nchan's upstream hop: nchan's
 * unsubscribe hook must still reach the backend, so the session's running handlers are aborted at
 * once. nchan queued the hook behind the frame's request and dropped it when the socket closed
 * (scripts/nchan-patches/07-unsubscribe-hook-behind-frame.patch); only the liveness sweep then
 * ended the session, seconds later. Here the sweep's interval is 30 s, so only the hook can explain
 * an abort within the wait below, and the inline budget is 2 s, so the `tools/call` frame's
 * upstream request is surely still open when the client closes.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import WebSocket from 'ws';
import type { Stack } from '../../src/index.js';
import { connectClient, startTestStack, workerCrashes } from '../helpers/stack.js';
import { blockingProbe } from '../helpers/blocking-probe.js';
import { waitFor } from '../helpers/wait.js';

const LIVENESS_MS = 30_000;
let stack: Stack;
/** A `block` tool that waits for its abort signal, and the tags of the calls it saw aborted. */
const { server: probe, aborted } = blockingProbe();

beforeAll(async () => {
  stack = await startTestStack({ servers: [probe], gateway: { livenessIntervalMs: LIVENESS_MS, inlineBudgetMs: 2_000 } });
});

afterAll(async () => {
  await stack?.stop();
});

/** A raw WebSocket session on the probe server, initialized. */
async function openRawSession(): Promise<WebSocket> {
  const socket = new WebSocket(stack.servers.probe!.replace(/^http/, 'ws'), 'mcp');
  const replies: unknown[] = [];
  socket.on('message', (data) => replies.push(JSON.parse(String(data))));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }));
  await waitFor(() => replies.length > 0, 'the initialize reply');
  socket.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
  return socket;
}

// Well under the sweep's interval: a prompt hook is milliseconds, the sweep 30 to 60 s.
const HOOK_WAIT_MS = 10_000;

test('an SDK client closing with a call still on the upstream hop aborts the call by the unsubscribe hook', async () => {
  const client: Client = await connectClient('websocket', stack.servers.probe!);
  const before = stack.gateway.stats().inflight;
  void client.callTool({ name: 'block', arguments: { tag: 'sdk-close' } }).catch(() => undefined);
  await waitFor(() => stack.gateway.stats().inflight === before + 1, 'the call in flight');
  await client.close();
  await waitFor(() => aborted.includes('sdk-close'), 'the handler to be aborted', HOOK_WAIT_MS);
  expect(stack.gateway.stats().inflight).toBe(before);
}, 30_000);

test.each([
  ['a close frame', (socket: WebSocket) => socket.close(1000)],
  ['a TCP reset', (socket: WebSocket) => socket.terminate()],
])('a raw client leaving with %s while its call is on the upstream hop gets the call aborted by the hook', async (how, leave) => {
  const tag = `raw-${how}`;
  const socket = await openRawSession();
  const before = stack.gateway.stats().inflight;
  socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'block', arguments: { tag } } }));
  await waitFor(() => stack.gateway.stats().inflight === before + 1, 'the call in flight');
  leave(socket);
  await waitFor(() => aborted.includes(tag), 'the handler to be aborted', HOOK_WAIT_MS);
  expect(stack.gateway.stats().inflight).toBe(before);
}, 30_000);

test('no nginx worker crashed', () => {
  expect(workerCrashes(stack)).toEqual([]);
});
