/**
 * Multi-round-trip input (ctx.elicit / sample / roots) and the Tasks extension over WebSocket,
 * through a real nginx+nchan stack, on both eras (docs/transports.md, "WebSocket and protocol
 * 2026-07-28"; docs/mrtr.md):
 * - a socket pinned to 2026-07-28: `input_required` with a signed `requestState`, the retry on
 *   the same socket, tampered or foreign state refused; a task tool answered `resultType: task`,
 *   polled, cancelled and bound to the socket's principal with `tasks/*` on the socket;
 * - a 2025 WebSocket session: the same handlers send real server-to-client requests, and a task
 *   tool is a plain call.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { ElicitRequestSchema, ListRootsRequestSchema, CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { HTTMCP, TASKS_EXTENSION_ID, type Stack } from '../../src/index.js';
import { tamperedState } from '../helpers/era-2026.js';
import { MODERN } from '../helpers/era-2026.js';
import { WsClient } from '../helpers/raw-clients.js';
import { connectClient, startTestStack, workerCrashes } from '../helpers/stack.js';

const NAME_SCHEMA = { type: 'object' as const, properties: { name: { type: 'string' as const } }, required: ['name'] };
/** Handler runs per tool (re-runs are visible; refused retries add none). */
const runs: Record<string, number> = {};
/** Labels of task runs whose signal aborted. */
const aborted: string[] = [];

function createServer(): HTTMCP {
  return new HTTMCP({ name: 'wsinput', version: '1.0.0', requestTimeoutMs: 10_000 })
    .tool('greet', {}, async (_args, ctx) => {
      runs.greet = (runs.greet ?? 0) + 1;
      const answer = await ctx.elicit({ message: 'What is your name?', requestedSchema: NAME_SCHEMA }, { key: 'user_name' });
      return answer.action === 'accept' ? `Hello, ${String(answer.content?.name)}!` : `(${answer.action})`;
    })
    .tool('survey', {}, async (_args, ctx) => {
      const [model, roots] = await Promise.all([ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: 'Capital of France?' } }], maxTokens: 20 }), ctx.roots()]);
      const text = model.content.type === 'text' ? model.content.text : '';
      return `${text} / ${roots.roots.map((root) => root.uri).join(',')}`;
    })
    .tool('confirm_job', { task: 'optional' }, async (_args, ctx) => {
      const answer = await ctx.elicit({ message: 'Run the job?', requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } }, { key: 'confirm' });
      return answer.content?.ok === true ? 'job ran' : 'job skipped';
    })
    .tool('slow_compute', { task: 'optional', input: { seconds: z.number(), label: z.string() } }, async ({ seconds, label }, ctx) => {
      try {
        await delay(seconds * 1000, undefined, { signal: ctx.signal });
      } catch {
        aborted.push(label);
        throw new Error('aborted');
      }
      return `computed ${label}`;
    });
}

const ALL_CAPABILITIES = { elicitation: { form: {} }, sampling: {}, roots: {}, extensions: { [TASKS_EXTENSION_ID]: {} } };

function meta(capabilities: Record<string, unknown> = ALL_CAPABILITIES): Record<string, unknown> {
  return {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientCapabilities': capabilities,
    'io.modelcontextprotocol/clientInfo': { name: 'ws-input', version: '1.0.0' },
  };
}

type Reply = { id: unknown; result?: Record<string, any>; error?: { code: number; message: string; data?: any } };

describe('MRTR and tasks over WebSocket, through nginx+nchan', () => {
  let stack: Stack;
  let url: string;
  const sockets: WsClient[] = [];
  let nextId = 1;

  beforeAll(async () => {
    stack = await startTestStack({ servers: [createServer()] });
    url = stack.servers.wsinput!;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await stack?.stop();
  });

  async function open(authorization?: string): Promise<WsClient> {
    const socket = await WsClient.open(url, authorization ? { headers: { authorization } } : {});
    sockets.push(socket);
    return socket;
  }

  /** A 2026 request on `ws`: the envelope in `_meta`, plus what `params` has. */
  function rpc(ws: WsClient, method: string, params: Record<string, unknown> = {}, capabilities?: Record<string, unknown>): Promise<Reply> {
    const id = nextId++;
    const { _meta, ...rest } = params as { _meta?: Record<string, unknown> };
    return ws.request(id, method, { ...rest, _meta: { ...meta(capabilities), ...(_meta ?? {}) } }) as Promise<Reply>;
  }

  async function until(ws: WsClient, taskId: string, done: (status: string) => boolean): Promise<Record<string, any>> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const reply = await rpc(ws, 'tasks/get', { taskId });
      if (!reply.result) throw new Error(`tasks/get failed: ${JSON.stringify(reply)}`);
      if (done(reply.result['status'])) return reply.result;
      if (Date.now() > deadline) throw new Error(`task still ${reply.result['status']}`);
      await delay(50);
    }
  }
  const terminal = (s: string) => ['completed', 'failed', 'cancelled'].includes(s);

  test('2026 socket: ctx.elicit answers input_required with a signed state; the retry on the same socket gets the result', async () => {
    const ws = await open();
    const before = runs.greet ?? 0;
    const first = await rpc(ws, 'tools/call', { name: 'greet', arguments: {} });
    expect(first.result).toMatchObject({ resultType: 'input_required', inputRequests: { user_name: { method: 'elicitation/create', params: { message: 'What is your name?' } } } });
    const requestState = first.result!['requestState'] as string;
    expect(typeof requestState).toBe('string');
    const inputResponses = { user_name: { action: 'accept', content: { name: 'Alice' } } };
    const second = await rpc(ws, 'tools/call', { name: 'greet', arguments: {}, inputResponses, requestState });
    expect(second.result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'Hello, Alice!' }] });
    expect(runs.greet! - before).toBe(2);

    // Sampling and roots in one round.
    const asked = await rpc(ws, 'tools/call', { name: 'survey', arguments: {} });
    expect(asked.result?.['resultType']).toBe('input_required');
    const keys = Object.keys(asked.result!['inputRequests'] as object);
    const methods = Object.values(asked.result!['inputRequests'] as Record<string, { method: string }>).map((r) => r.method).sort();
    expect(methods).toEqual(['roots/list', 'sampling/createMessage']);
    const answers = Object.fromEntries(
      keys.map((key) =>
        (asked.result!['inputRequests'] as Record<string, { method: string }>)[key]!.method === 'roots/list'
          ? [key, { roots: [{ uri: 'file:///work', name: 'work' }] }]
          : [key, { role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'test-model', stopReason: 'endTurn' }],
      ),
    );
    const done = await rpc(ws, 'tools/call', { name: 'survey', arguments: {}, inputResponses: answers, requestState: asked.result!['requestState'] });
    expect(done.result).toMatchObject({ resultType: 'complete', content: [{ text: 'Paris / file:///work' }] });
  });

  test('2026 socket, the official v2 client pinned to 2026-07-28 (on the v1 SDK\'s WebSocket transport: v2 ships none): it answers input_required itself', async () => {
    const client = new ClientV2({ name: 'ws-v2', version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } }, capabilities: { elicitation: { form: {} }, sampling: {}, roots: {} } });
    const asked: string[] = [];
    client.setRequestHandler('elicitation/create', (request) => {
      asked.push(request.params.message);
      return { action: 'accept', content: { name: 'Vera' } };
    });
    client.setRequestHandler('sampling/createMessage', () => ({ role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'test-model', stopReason: 'endTurn' }));
    client.setRequestHandler('roots/list', () => ({ roots: [{ uri: 'file:///v2', name: 'v2' }] }));
    await client.connect(new WebSocketClientTransport(new URL(url.replace(/^http/, 'ws'))));
    try {
      expect(client.getProtocolEra()).toBe('modern');
      expect(await client.callTool({ name: 'greet', arguments: {} })).toMatchObject({ content: [{ type: 'text', text: 'Hello, Vera!' }] });
      expect(asked).toEqual(['What is your name?']);
      expect(await client.callTool({ name: 'survey', arguments: {} })).toMatchObject({ content: [{ text: 'Paris / file:///v2' }] });
    } finally {
      await client.close();
    }
  });

  test('2026 socket: a tampered state, or one minted for another principal, is refused before the handler runs', async () => {
    const alice = await open('Bearer alice-token');
    const first = await rpc(alice, 'tools/call', { name: 'greet', arguments: {} });
    const requestState = first.result!['requestState'] as string;
    const inputResponses = { user_name: { action: 'accept', content: { name: 'Mallory' } } };
    const before = runs.greet ?? 0;
    const flipped = tamperedState(requestState);
    const tampered = await rpc(alice, 'tools/call', { name: 'greet', arguments: {}, inputResponses, requestState: flipped });
    expect(tampered.error).toMatchObject({ code: -32602 });
    // Another principal's socket (another Authorization at the handshake) cannot use Alice's state.
    const bob = await open('Bearer bob-token');
    const foreign = await rpc(bob, 'tools/call', { name: 'greet', arguments: {}, inputResponses, requestState });
    expect(foreign.error).toMatchObject({ code: -32602 });
    expect(runs.greet ?? 0).toBe(before);
    // Alice's own retry still works.
    const own = await rpc(alice, 'tools/call', { name: 'greet', arguments: {}, inputResponses: { user_name: { action: 'accept', content: { name: 'Alice' } } }, requestState });
    expect(own.result).toMatchObject({ content: [{ text: 'Hello, Alice!' }] });
  });

  test('2026 socket: a task tool answers resultType task; tasks/get polls it, tasks/cancel aborts it, another principal finds nothing', async () => {
    const ws = await open('Bearer carol-token');
    const created = await rpc(ws, 'tools/call', { name: 'slow_compute', arguments: { seconds: 0.3, label: 'ws-quick' } });
    expect(created.result).toMatchObject({ resultType: 'task', status: 'working' });
    expect(await until(ws, created.result!['taskId'], terminal)).toMatchObject({ status: 'completed', result: { content: [{ type: 'text', text: 'computed ws-quick' }] } });

    const long = await rpc(ws, 'tools/call', { name: 'slow_compute', arguments: { seconds: 60, label: 'ws-cancel' } });
    const taskId = long.result!['taskId'] as string;
    const other = await open('Bearer dave-token');
    expect((await rpc(other, 'tasks/get', { taskId })).error).toMatchObject({ code: -32602 });
    expect((await rpc(ws, 'tasks/cancel', { taskId })).result).toMatchObject({ resultType: 'complete' });
    expect((await until(ws, taskId, terminal))['status']).toBe('cancelled');
    const deadline = Date.now() + 3000;
    while (!aborted.includes('ws-cancel') && Date.now() < deadline) await delay(25);
    expect(aborted).toContain('ws-cancel');
    // The task outlives the socket that created it: another socket of the same principal reads it.
    ws.close();
    const again = await open('Bearer carol-token');
    expect(await until(again, taskId, () => true)).toMatchObject({ status: 'cancelled' });
    // A task that asks for input parks in input_required; tasks/update on the socket answers it.
    const asking = await rpc(again, 'tools/call', { name: 'confirm_job', arguments: {} });
    const askingId = asking.result!['taskId'] as string;
    expect(await until(again, askingId, (s) => s !== 'working')).toMatchObject({ status: 'input_required', inputRequests: { confirm: { method: 'elicitation/create' } } });
    expect((await rpc(again, 'tasks/update', { taskId: askingId, inputResponses: { confirm: { action: 'accept', content: { ok: true } } } })).result).toMatchObject({ resultType: 'complete' });
    expect(await until(again, askingId, terminal)).toMatchObject({ status: 'completed', result: { content: [{ text: 'job ran' }] } });
    // Without the extension declared, the same tool is a plain call.
    const plain = await rpc(again, 'tools/call', { name: 'slow_compute', arguments: { seconds: 0, label: 'plain' } }, { elicitation: { form: {} } });
    expect(plain.result).toMatchObject({ resultType: 'complete', content: [{ text: 'computed plain' }] });
  });

  test('2025 WebSocket session (v1 client): the same handlers send real requests to the client; a task tool is a plain call', async () => {
    const client: Client = await connectClient('websocket', url, { elicitation: { form: {} }, sampling: {}, roots: {} });
    try {
      const asked: string[] = [];
      client.setRequestHandler(ElicitRequestSchema, (request) => {
        asked.push(request.params.message);
        return { action: 'accept', content: { name: 'Bob' } };
      });
      client.setRequestHandler(CreateMessageRequestSchema, () => ({ role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'test-model', stopReason: 'endTurn' }));
      client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: 'file:///home', name: 'home' }] }));
      const before = runs.greet ?? 0;
      expect(await client.callTool({ name: 'greet', arguments: {} })).toMatchObject({ content: [{ type: 'text', text: 'Hello, Bob!' }] });
      expect(runs.greet! - before).toBe(1);
      expect(asked).toEqual(['What is your name?']);
      expect(await client.callTool({ name: 'survey', arguments: {} })).toMatchObject({ content: [{ text: 'Paris / file:///home' }] });
      expect(await client.callTool({ name: 'slow_compute', arguments: { seconds: 0.1, label: 'ws-2025' } })).toMatchObject({ content: [{ type: 'text', text: 'computed ws-2025' }] });
    } finally {
      await client.close();
    }
  });

  test('no nginx worker died', () => {
    expect(workerCrashes(stack)).toEqual([]);
  });
});
