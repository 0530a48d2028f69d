/**
 * The server side of one client's NATS session, without NATS: a real SDK server (from HTTMCP)
 * on a NatsSession, fed messages as the service would, with what it publishes recorded.
 */
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { HTTMCP } from '../../src/server/httmcp.js';
import { NatsSession } from '../../src/transports/index.js';
import { waitFor } from './support.js';

function setup(maxInflight?: number) {
  const published: { subject: string; message: JSONRPCMessage }[] = [];
  const seen: { capabilities: unknown; sessionId: string | undefined }[] = [];
  const server = new HTTMCP({ name: 'unit', version: '1.0.0' })
    .tool('caps', {}, (_args, ctx) => {
      seen.push({ capabilities: mcp?.server.getClientCapabilities(), sessionId: ctx.sessionId });
      return 'ok';
    })
    .tool('log', { input: { level: z.enum(['info', 'error']) } }, async ({ level }, ctx) => {
      await ctx.log(level, `at ${level}`);
      return 'logged';
    })
    .tool('wait', {}, (_args, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('aborted'))));
  const session = new NatsSession('client-1', 'mcp.response.client-1', (subject, message) => published.push({ subject, message }), undefined, maxInflight);
  let mcp: Awaited<ReturnType<HTTMCP['connect']>> | undefined;
  const ready = server.connect(session).then((m) => (mcp = m));
  session.after(ready);
  return { session, published, seen, ready };
}

const hello = {
  protocolVersion: '2025-06-18',
  clientInfo: { name: 'far-away', version: '9.9.9' },
  capabilities: { sampling: {}, roots: { listChanged: true } },
};

test('a first message other than initialize is served after a replayed, silent initialize', async () => {
  const { session, published, seen } = setup();
  await session.receive({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'caps', arguments: {} } }, hello, {});
  await waitFor(() => published.length === 1, 'the reply');
  // Only the reply to the client's own request was published: the replay's reply was swallowed.
  expect(published).toEqual([{ subject: 'mcp.response.client-1', message: { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'ok' }] } } }]);
  expect(seen).toEqual([{ capabilities: hello.capabilities, sessionId: 'client-1' }]);
  expect(session.replayed).toBe(true);
});

test("a session opened by the client's own initialize is not replayed", async () => {
  const { session, published } = setup();
  await session.receive(
    { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } },
    {},
    {},
  );
  await waitFor(() => published.length === 1, 'the initialize result');
  expect(published[0]!.message).toMatchObject({ id: 0, result: { protocolVersion: '2025-06-18', serverInfo: { name: 'unit' } } });
  expect(session.replayed).toBe(false);
});

test('the log level in the headers is applied before the message, and again when it changes', async () => {
  const { session, published } = setup();
  await session.receive({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'log', arguments: { level: 'info' } } }, { ...hello, logLevel: 'error' }, {});
  await waitFor(() => published.length === 1, 'the reply');
  expect(published.map((p) => p.message)).toEqual([{ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'logged' }] } }]);
  await session.receive({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'log', arguments: { level: 'info' } } }, { ...hello, logLevel: 'info' }, {});
  await waitFor(() => published.length === 3, 'the log message and the reply');
  expect(published[1]!.message).toMatchObject({ method: 'notifications/message', params: { level: 'info', data: 'at info' } });
});

test('in-flight requests are counted until answered or cancelled, and close aborts what runs', async () => {
  const { session, published } = setup();
  await session.receive({ jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'wait', arguments: {} } }, hello, {});
  await session.receive({ jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'wait', arguments: {} } }, hello, {});
  expect(session.inflightCount).toBe(2);
  expect(session.busy).toBe(true);
  await session.receive({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'a', reason: 'no' } }, {}, {});
  expect(session.inflightCount).toBe(1);
  await session.close();
  expect(session.busy).toBe(false);
  await new Promise((r) => setTimeout(r, 20));
  // Cancelled and aborted requests get no reply (the SDK sends none), and nothing follows close.
  expect(published).toEqual([]);
  await session.receive({ jsonrpc: '2.0', id: 'c', method: 'ping' }, hello, {});
  expect(published).toEqual([]);
});

test('requests past the per-session in-flight bound are answered with -32029 at once', async () => {
  const { session, published } = setup(2);
  for (let id = 1; id <= 3; id++) await session.receive({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'wait', arguments: {} } }, hello, {});
  await waitFor(() => published.length === 1, 'the refusal');
  expect(published[0]!.message).toMatchObject({ id: 3, error: { code: -32029, data: { limit: 'HTTMCP_MAX_INFLIGHT_PER_SESSION', value: 2 } } });
  expect(session.inflightCount).toBe(2);
  await session.close();
});
