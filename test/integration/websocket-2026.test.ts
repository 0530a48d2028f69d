/**
 * WebSocket and the 2026-07-28 era through a real nginx+nchan stack (src/http/socket-era.ts):
 * a connection's opening message pins its era; 2026 requests, their progress and their results
 * travel on the connection's own channel; mixed-era messages get the decided errors.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { createDemoServer } from '../../examples/demo.js';
import { HTTMCP, type Stack } from '../../src/index.js';
import { INITIALIZE_PARAMS, WsClient } from '../helpers/raw-clients.js';
import { startTestStack, workerCrashes } from '../helpers/stack.js';
import { envelope, MODERN } from '../helpers/era-2026.js';
import { waitFor } from '../helpers/wait.js';
import { withWaitTool } from '../helpers/wait-tool.js';

const ENVELOPE = envelope('raw-ws');

/** Tags of `wait` calls whose signal aborted. */
const aborted: string[] = [];

function createProbeServer(): HTTMCP {
  const server = new HTTMCP({ name: 'wsprobe', version: '1.0.0' })
    .tool('count', { input: { to: z.number().int() } }, async ({ to }, ctx) => {
      for (let i = 1; i <= to; i++) {
        await ctx.progress(i, to, `step ${i}`);
        await delay(20);
      }
      return `counted to ${to}`;
    })
    .tool('add', { input: { a: z.number(), b: z.number() } }, ({ a, b }) => a + b);
  return withWaitTool(server, aborted);
}

/** A 2026 request frame: the envelope in `params._meta`, plus whatever `meta` adds. */
function modern(id: number | string, method: string, params: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): object {
  return { jsonrpc: '2.0', id, method, params: { ...params, _meta: { ...ENVELOPE, ...meta } } };
}

const byId = (id: unknown) => (message: unknown) => typeof message === 'object' && message !== null && (message as { id?: unknown }).id === id;

describe('WebSocket and 2026-07-28 through nginx+nchan', () => {
  let stack: Stack;
  let url: string;
  const sockets: WsClient[] = [];

  beforeAll(async () => {
    stack = await startTestStack({ servers: [createDemoServer(), createProbeServer()] });
    url = stack.servers.wsprobe!;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await stack?.stop();
  });

  async function open(at = url): Promise<WsClient> {
    const socket = await WsClient.open(at);
    sockets.push(socket);
    return socket;
  }

  test('a 2026 tools/call streams its progress and its result on the socket', async () => {
    const ws = await open();
    ws.send(modern(1, 'tools/call', { name: 'count', arguments: { to: 3 } }, { progressToken: 'p1' }));
    const reply = (await ws.next(byId(1))) as { result: { content: Array<{ text: string }>; resultType?: string; _meta?: Record<string, unknown> } };
    expect(reply.result.content[0]!.text).toBe('counted to 3');
    expect(reply.result.resultType).toBe('complete');
    expect(reply.result._meta?.['io.modelcontextprotocol/serverInfo']).toMatchObject({ name: 'wsprobe' });
    const progress = ws.received.filter((m) => (m as { method?: string }).method === 'notifications/progress').map((m) => (m as { params: { progress: number; progressToken: unknown } }).params);
    expect(progress.map((p) => p.progress)).toEqual([1, 2, 3]);
    expect(progress.every((p) => p.progressToken === 'p1')).toBe(true);
    // Progress before the result, in order.
    expect(ws.received.findIndex(byId(1))).toBeGreaterThan(ws.received.findIndex((m) => (m as { method?: string }).method === 'notifications/progress'));
    // More requests on the same pinned socket, quick ones answered inline, ids the client's own.
    ws.send(modern('two', 'tools/call', { name: 'add', arguments: { a: 2, b: 3 } }));
    expect(await ws.next(byId('two'))).toMatchObject({ result: { content: [{ type: 'text', text: '5' }] } });
    expect(await (ws.send(modern(3, 'server/discover')), ws.next(byId(3)))).toMatchObject({ result: { supportedVersions: expect.arrayContaining([MODERN]) } });
  });

  test('a 2025 session on a WebSocket is unchanged', async () => {
    const ws = await open(stack.servers.demo!);
    await ws.initialize();
    expect(await ws.request(2, 'tools/list')).toMatchObject({ id: 2, result: { tools: expect.any(Array) } });
    const listed = (await ws.request(3, 'tools/list')) as { result: Record<string, unknown> };
    expect(listed.result.ttlMs).toBeUndefined();
    expect(await ws.request(4, 'ping')).toEqual({ jsonrpc: '2.0', id: 4, result: {} });
  });

  test('a 2026 message on a 2025 WebSocket gets -32022 with the 2025 versions; the session goes on', async () => {
    const ws = await open(stack.servers.demo!);
    await ws.initialize();
    ws.send(modern(7, 'tools/list'));
    const refused = (await ws.next(byId(7))) as { error: { code: number; data: { supported: string[] } } };
    expect(refused.error.code).toBe(-32022);
    expect(refused.error.data.supported).toContain('2025-11-25');
    expect(refused.error.data.supported).not.toContain(MODERN);
    expect(await ws.request(8, 'ping')).toEqual({ jsonrpc: '2.0', id: 8, result: {} });
  });

  test('a 2025 message on a 2026 WebSocket gets -32602; the socket goes on in 2026', async () => {
    const ws = await open();
    ws.send(modern(1, 'tools/list'));
    await ws.next(byId(1));
    const init = (await ws.request('init', 'initialize', INITIALIZE_PARAMS)) as { error: { code: number; message: string } };
    expect(init.error.code).toBe(-32602);
    expect(((await ws.request(2, 'tools/list')) as { error: { code: number } }).error.code).toBe(-32602);
    // 2026 methods that were removed, and listen (served by POST only), are not found.
    ws.send(modern(3, 'ping'));
    expect(((await ws.next(byId(3))) as { error: { code: number } }).error.code).toBe(-32601);
    ws.send(modern(5, 'subscriptions/listen', { notifications: { toolsListChanged: true } }));
    expect(await ws.next(byId(5))).toMatchObject({ error: { code: -32601, message: expect.stringContaining('send it by POST') } });
    ws.send(modern(4, 'tools/call', { name: 'add', arguments: { a: 1, b: 1 } }));
    expect(await ws.next(byId(4))).toMatchObject({ result: { content: [{ text: '2' }] } });
  });

  test('an unknown version is refused with -32022 and pins nothing: the socket may still initialize', async () => {
    const ws = await open(stack.servers.demo!);
    ws.send({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { ...ENVELOPE, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } });
    const refused = (await ws.next(byId(1))) as { error: { code: number; data: { supported: string[] } } };
    expect(refused.error).toMatchObject({ code: -32022, data: { supported: [MODERN] } });
    await ws.initialize();
  });

  test('notifications/cancelled and closing the socket abort 2026 handlers', async () => {
    const ws = await open();
    ws.send(modern(1, 'tools/call', { name: 'wait', arguments: { tag: 'cancelled' } }));
    await delay(300);
    ws.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, reason: 'test' } });
    await waitFor(() => aborted.includes('cancelled'), 'the handler to be aborted', 10_000);
    ws.send(modern(2, 'tools/call', { name: 'wait', arguments: { tag: 'closed' } }));
    await delay(300);
    ws.close();
    await waitFor(() => aborted.includes('closed'), 'the handler to be aborted', 10_000);
    // Nothing was answered for the cancelled request.
    expect(ws.received.some(byId(1))).toBe(false);
  });

  test('an error echoing a huge client id is published, not answered on nchan\'s hop', async () => {
    const ws = await open(stack.servers.demo!);
    await ws.initialize();
    const id = 'x'.repeat(200_000);
    ws.send(modern(id, 'tools/list'));
    const refused = (await ws.next(byId(id), 10_000)) as { error: { code: number } };
    expect(refused.error.code).toBe(-32022);
    const pinned = await open();
    pinned.send(modern(1, 'tools/list'));
    await pinned.next(byId(1));
    pinned.send({ jsonrpc: '2.0', id, method: 'tools/list' });
    expect(((await pinned.next(byId(id), 10_000)) as { error: { code: number } }).error.code).toBe(-32602);
  });

  test('no nginx worker died', () => {
    expect(workerCrashes(stack)).toEqual([]);
  });
});
