import { randomBytes } from 'node:crypto';
import {
  McpServer,
  ProtocolError,
  ProtocolErrorCode,
  acceptedContent,
  inputRequired,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type RequestId,
  type Transport,
} from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';
import { Tasks, TASKS_EXTENSION_ID, type TasksOptions, type TaskSupport } from '../../src/tasks/extension.js';
import { MemoryTaskStore } from '../../src/tasks/memory-store.js';
import { RedisTaskStore } from '../../src/tasks/redis-store.js';
import { resolveTaskSettings, type TaskSettings } from '../../src/tasks/settings.js';
import type { TaskStore } from '../../src/tasks/store.js';
import { redisForSuite } from '../helpers/redis.js';

// The extension on a bare SDK v2 McpServer pinned to 2026-07-28 through the public
// `serveStdio(factory, { transport, legacy: 'reject' })` entry, fed by a multiplexing transport
// like the one src/http serves it with (each request under an id of its own, facts by id).

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Facts {
  principal: string;
}

/** The transport below the extension: one "HTTP exchange" per request, its reply by promise. */
class Mux implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private readonly waiting = new Map<number, { resolve: (m: JSONRPCMessage) => void; facts: Facts }>();
  private next = 1;
  async start(): Promise<void> {}
  async close(): Promise<void> {}
  async send(message: JSONRPCMessage): Promise<void> {
    if ('method' in message) return;
    const pending = typeof message.id === 'number' ? this.waiting.get(message.id) : undefined;
    if (!pending) return;
    this.waiting.delete(message.id as number);
    pending.resolve(message);
  }
  /** Cancels the latest request (what the HTTP layer does when its client goes away). */
  cancelLast(): void {
    const id = this.next - 1;
    this.waiting.delete(id);
    this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason: 'client left' } });
  }
  facts(id: RequestId): Facts | undefined {
    return typeof id === 'number' ? this.waiting.get(id)?.facts : undefined;
  }
  request(request: Omit<JSONRPCRequest, 'id' | 'jsonrpc'>, facts: Facts): Promise<JSONRPCMessage> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, { resolve, facts });
      this.onmessage?.({ jsonrpc: '2.0', id, ...request } as JSONRPCRequest);
    });
  }
}

const tasksOf = new WeakMap<McpServer, Tasks<Facts>>();

/** The conformance suite's fixtures (tasks-* scenarios of 0.2.0-alpha.12), plus one with an output schema. */
function buildServer(runs: { slowAborted: number }): McpServer {
  const server = new McpServer({ name: 'tasks-test', version: '1.0.0' });
  server.registerTool('greet', { inputSchema: z.object({ name: z.string() }) }, async ({ name }) => ({ content: [{ type: 'text', text: `Hello, ${name}!` }] }));
  server.registerTool('slow_compute', { inputSchema: z.object({ seconds: z.number(), label: z.string().optional() }) }, async ({ seconds, label }, ctx) => {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, seconds * 1000);
      ctx.mcpReq.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        runs.slowAborted++;
        reject(new Error('aborted'));
      });
    });
    return { content: [{ type: 'text', text: `computed ${label ?? ''} after ${seconds}s` }] };
  });
  server.registerTool('failing_job', { inputSchema: z.object({}) }, async () => {
    await sleep(100);
    return { content: [{ type: 'text', text: 'the job failed' }], isError: true };
  });
  server.registerTool('protocol_error_job', { inputSchema: z.object({}) }, async (_args, ctx) => {
    const error = new ProtocolError(ProtocolErrorCode.InternalError, 'the job crashed');
    // What httmcp's tool wrapper does for every handler that throws a ProtocolError.
    tasksOf.get(server)?.protocolError(ctx.mcpReq.id, error);
    throw error;
  });
  const confirm = z.object({ confirm: z.boolean() });
  server.registerTool('confirm_delete', { inputSchema: z.object({ filename: z.string() }) }, async ({ filename }, ctx) => {
    const answer = acceptedContent(ctx.mcpReq.inputResponses, 'confirm', confirm);
    if (answer === undefined) {
      return inputRequired({ inputRequests: { confirm: inputRequired.elicit({ message: `Delete ${filename}?`, requestedSchema: confirm }) } });
    }
    return { content: [{ type: 'text', text: answer.confirm ? `deleted ${filename}` : 'kept' }] };
  });
  const named = z.object({ name: z.string() });
  server.registerTool('multi_input', { inputSchema: z.object({}) }, async (_args, ctx) => {
    const first = acceptedContent(ctx.mcpReq.inputResponses, 'first', named);
    const second = acceptedContent(ctx.mcpReq.inputResponses, 'second', named);
    if (!first || !second) {
      return inputRequired({
        inputRequests: {
          ...(first ? {} : { first: inputRequired.elicit({ message: 'First name?', requestedSchema: named }) }),
          ...(second ? {} : { second: inputRequired.elicit({ message: 'Second name?', requestedSchema: named }) }),
        },
      });
    }
    return { content: [{ type: 'text', text: `${first.name} and ${second.name}` }] };
  });
  server.registerTool('sum', { inputSchema: z.object({ a: z.number(), b: z.number() }), outputSchema: z.object({ sum: z.number() }) }, async ({ a, b }) => ({
    content: [{ type: 'text', text: String(a + b) }],
    structuredContent: { sum: a + b },
  }));
  server.registerTool('big', { inputSchema: z.object({}) }, async () => ({ content: [{ type: 'text', text: 'x'.repeat(4096) }] }));
  // Not a task tool: asks for a name in the call itself, then becomes a task.
  server.registerTool('later', { inputSchema: z.object({}) }, async (_args, ctx) => {
    const answer = acceptedContent(ctx.mcpReq.inputResponses, 'who', named);
    if (!answer) return inputRequired({ inputRequests: { who: inputRequired.elicit({ message: 'Name?', requestedSchema: named }) } });
    const detached = await tasksOf.get(server)!.detach(ctx.mcpReq.id, server);
    await sleep(100);
    return { content: [{ type: 'text', text: `${detached ? 'task' : 'plain'} for ${answer.name}` }] };
  });
  return server;
}

const SUPPORT: Record<string, TaskSupport> = {
  slow_compute: 'optional',
  failing_job: 'required',
  protocol_error_job: 'optional',
  confirm_delete: 'optional',
  multi_input: 'optional',
  sum: 'optional',
  big: 'optional',
};

interface Backend {
  mux: Mux;
  tasks: Tasks<Facts>;
  runs: { slowAborted: number };
  close(): Promise<void>;
}

function startBackend(store: TaskStore, settings: Partial<TaskSettings> = {}, checks: Pick<TasksOptions<Facts>, 'admit' | 'authorize'> = {}): Backend {
  const mux = new Mux();
  const runs = { slowAborted: 0 };
  const tasks = new Tasks<Facts>({
    store,
    settings: resolveTaskSettings({ leaseMs: 600, ...settings }),
    taskSupport: (name) => SUPPORT[name],
    factsOf: (id) => mux.facts(id),
    serverInfo: { name: 'tasks-test', version: '1.0.0' },
    ...checks,
  });
  const server = buildServer(runs);
  tasksOf.set(server, tasks);
  tasks.install(server);
  const handle = serveStdio(() => server, { transport: tasks.wrap(mux), legacy: 'reject' });
  return {
    mux,
    tasks,
    runs,
    close: async () => {
      await tasks.close();
      await handle.close();
    },
  };
}

const WITH_TASKS = { extensions: { [TASKS_EXTENSION_ID]: {} }, elicitation: {} };
const WITHOUT = { elicitation: {} };

/** A 2026 client of one principal. */
function client(backend: () => Backend, principal: string, capabilities: object = WITH_TASKS) {
  const call = async (method: string, params: Record<string, unknown> = {}) => {
    const reply = await backend().mux.request(
      {
        method,
        params: {
          ...params,
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientInfo': { name: 'test', version: '1' },
            'io.modelcontextprotocol/clientCapabilities': capabilities,
          },
        },
      },
      { principal },
    );
    return reply as { result?: Record<string, any>; error?: { code: number; message: string; data?: any } };
  };
  return {
    call,
    async result(method: string, params: Record<string, unknown> = {}) {
      const reply = await call(method, params);
      if (reply.error) throw Object.assign(new Error(reply.error.message), reply.error);
      return reply.result!;
    },
    async until(taskId: string, done: (status: string) => boolean, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const task = await this.result('tasks/get', { taskId });
        if (done(task['status'])) return task;
        if (Date.now() > deadline) throw new Error(`task ${taskId} still ${task['status']}`);
        await sleep(25);
      }
    },
  };
}

const terminal = (s: string) => ['completed', 'failed', 'cancelled'].includes(s);

const redis = redisForSuite();

const stores: Array<[string, () => Promise<TaskStore>]> = [
  ['memory store', async () => new MemoryTaskStore()],
  ['Redis store', () => RedisTaskStore.connect({ url: redis().url, prefix: `e${randomBytes(4).toString('hex')}:` })],
];

describe.each(stores)('tasks extension on a pinned 2026 instance (%s)', (_name, openStore) => {
  let store: TaskStore;
  let backend: Backend;
  beforeEach(async () => {
    store = await openStore();
    backend = startBackend(store, { maxPerPrincipal: 5, maxResultBytes: 2048 });
  });
  afterEach(async () => {
    await backend.close();
    await store.close();
  });
  const alice = () => client(() => backend, 'alice');

  test('server/discover advertises the extension (and no v1 tasks slot)', async () => {
    const discovered = await alice().result('server/discover');
    expect(discovered['capabilities'].extensions).toEqual({ [TASKS_EXTENSION_ID]: {} });
    expect(discovered['capabilities'].tasks).toBeUndefined();
  });

  test('a task tool answers a flat CreateTaskResult at once; tasks/get sees it working, then completed with the result inlined', async () => {
    const c = alice();
    const created = await c.result('tools/call', { name: 'slow_compute', arguments: { seconds: 0.3, label: 'a' } });
    expect(created).toMatchObject({ resultType: 'task', status: 'working', ttlMs: 3_600_000, pollIntervalMs: 1000 });
    expect(created['taskId']).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(created['task'] ?? created['result'] ?? created['error'] ?? created['inputRequests'] ?? created['requestState']).toBeUndefined();
    expect(Date.parse(created['createdAt'])).not.toBeNaN();
    const working = await c.result('tasks/get', { taskId: created['taskId'] });
    expect(working).toMatchObject({ resultType: 'complete', taskId: created['taskId'], status: 'working' });
    expect(working['result']).toBeUndefined();
    const done = await c.until(created['taskId'], terminal);
    expect(done).toMatchObject({ status: 'completed', result: { content: [{ type: 'text', text: 'computed a after 0.3s' }] } });
    expect(done['result']._meta).toBeUndefined();
    expect(done['result'].resultType).toBeUndefined();
  });

  test('a plain tool stays plain; a legacy `task` param promotes nothing', async () => {
    const greeting = await alice().result('tools/call', { name: 'greet', arguments: { name: 'World' }, task: { ttl: 60000 } });
    expect(greeting).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'Hello, World!' }] });
    expect(greeting['taskId']).toBeUndefined();
  });

  test('tool errors complete with isError; protocol errors fail with the JSON-RPC error; output schemas still apply', async () => {
    const c = alice();
    const failing = await c.result('tools/call', { name: 'failing_job', arguments: {} });
    expect(await c.until(failing['taskId'], terminal)).toMatchObject({ status: 'completed', result: { isError: true } });
    const crashing = await c.result('tools/call', { name: 'protocol_error_job', arguments: {} });
    const failed = await c.until(crashing['taskId'], terminal);
    expect(failed).toMatchObject({ status: 'failed', error: { code: -32603, message: 'the job crashed' } });
    expect(failed['result']).toBeUndefined();
    const sum = await c.result('tools/call', { name: 'sum', arguments: { a: 2, b: 3 } });
    expect(await c.until(sum['taskId'], terminal)).toMatchObject({ status: 'completed', result: { structuredContent: { sum: 5 } } });
  });

  test('tasks/cancel acks empty, the handler is aborted and the task settles cancelled; cancelling again acks the same', async () => {
    const c = alice();
    const created = await c.result('tools/call', { name: 'slow_compute', arguments: { seconds: 60 } });
    await sleep(50);
    const ack = await c.result('tasks/cancel', { taskId: created['taskId'] });
    expect(Object.keys(ack).filter((k) => k !== '_meta')).toEqual(['resultType']);
    expect(ack['resultType']).toBe('complete');
    expect((await c.result('tasks/get', { taskId: created['taskId'] }))['status']).toBe('cancelled');
    await sleep(50);
    expect(backend.runs.slowAborted).toBe(1);
    expect(backend.tasks.running).toBe(0);
    expect((await c.result('tasks/cancel', { taskId: created['taskId'] }))['resultType']).toBe('complete');
  });

  test('input_required inside a task: tasks/get shows the requests, tasks/update answers them (partially too), the task completes', async () => {
    const c = alice();
    const created = await c.result('tools/call', { name: 'confirm_delete', arguments: { filename: 'a.txt' } });
    const waiting = await c.until(created['taskId'], (s) => s !== 'working');
    expect(waiting).toMatchObject({ status: 'input_required', inputRequests: { confirm: { method: 'elicitation/create' } } });
    expect(waiting['requestState']).toBeUndefined();
    // Unknown keys are acked and ignored.
    expect((await c.result('tasks/update', { taskId: created['taskId'], inputResponses: { nope: {} } }))['resultType']).toBe('complete');
    expect((await c.result('tasks/get', { taskId: created['taskId'] }))['status']).toBe('input_required');
    const ack = await c.result('tasks/update', { taskId: created['taskId'], inputResponses: { confirm: { action: 'accept', content: { confirm: true } } } });
    expect(Object.keys(ack).filter((k) => k !== '_meta')).toEqual(['resultType']);
    expect(await c.until(created['taskId'], terminal)).toMatchObject({ status: 'completed', result: { content: [{ text: 'deleted a.txt' }] } });

    const multi = await c.result('tools/call', { name: 'multi_input', arguments: {} });
    const both = await c.until(multi['taskId'], (s) => s !== 'working');
    expect(Object.keys(both['inputRequests']).sort()).toEqual(['first', 'second']);
    await c.result('tasks/update', { taskId: multi['taskId'], inputResponses: { first: { action: 'accept', content: { name: 'Ada' } } } });
    const partial = await c.result('tasks/get', { taskId: multi['taskId'] });
    expect(partial['status']).toBe('input_required');
    expect(Object.keys(partial['inputRequests'])).toEqual(['second']);
    await c.result('tasks/update', { taskId: multi['taskId'], inputResponses: { second: { action: 'accept', content: { name: 'Grace' } } } });
    expect(await c.until(multi['taskId'], terminal)).toMatchObject({ status: 'completed', result: { content: [{ text: 'Ada and Grace' }] } });
  });

  test('without the extension: tasks/* answer -32021, optional task tools run plain, required ones answer -32021', async () => {
    const plain = client(() => backend, 'alice', WITHOUT);
    for (const method of ['tasks/get', 'tasks/update', 'tasks/cancel']) {
      const reply = await plain.call(method, { taskId: 'x', inputResponses: {} });
      expect(reply.error?.code).toBe(-32021);
    }
    const sync = await plain.result('tools/call', { name: 'slow_compute', arguments: { seconds: 0 } });
    expect(sync).toMatchObject({ resultType: 'complete', content: [{ type: 'text' }] });
    expect(sync['taskId']).toBeUndefined();
    const required = await plain.call('tools/call', { name: 'failing_job', arguments: {} });
    expect(required.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { extensions: { [TASKS_EXTENSION_ID]: {} } } } });
  });

  test('tasks are bound to their principal: another principal gets "not found" and cannot cancel or answer', async () => {
    const created = await alice().result('tools/call', { name: 'confirm_delete', arguments: { filename: 'b.txt' } });
    await alice().until(created['taskId'], (s) => s !== 'working');
    const mallory = client(() => backend, 'mallory');
    for (const [method, extra] of [
      ['tasks/get', {}],
      ['tasks/cancel', {}],
      ['tasks/update', { inputResponses: { confirm: { action: 'accept', content: { confirm: true } } } }],
    ] as const) {
      const reply = await mallory.call(method, { taskId: created['taskId'], ...extra });
      expect(reply.error).toMatchObject({ code: -32602, message: 'Failed to retrieve task: Task not found' });
    }
    expect((await alice().result('tasks/get', { taskId: created['taskId'] }))['status']).toBe('input_required');
    expect((await alice().call('tasks/get', { taskId: 'unknown-task' })).error?.code).toBe(-32602);
  });

  test('bounds: stored tasks per principal (optional tools fall back to a plain call), result size', async () => {
    const c = client(() => backend, 'bounded');
    for (let i = 0; i < 5; i++) await c.result('tools/call', { name: 'slow_compute', arguments: { seconds: 0 } });
    const plain = await c.result('tools/call', { name: 'slow_compute', arguments: { seconds: 0 } });
    expect(plain['resultType']).toBe('complete');
    const refused = await c.call('tools/call', { name: 'failing_job', arguments: {} });
    expect(refused.error).toMatchObject({ code: -32029, data: { limit: 'HTTMCP_MAX_TASKS_PER_PRINCIPAL' } });
    // Another principal is not affected.
    const big = await alice().result('tools/call', { name: 'big', arguments: {} });
    const failed = await alice().until(big['taskId'], terminal);
    expect(failed).toMatchObject({ status: 'failed', error: { code: -32029, data: { limit: 'HTTMCP_MAX_TASK_RESULT_BYTES' } } });
  });

  test('a handler that asked for input in the call itself can turn it into a task (detach); without the extension it stays plain', async () => {
    const c = alice();
    const first = await c.result('tools/call', { name: 'later', arguments: {} });
    expect(first).toMatchObject({ resultType: 'input_required', inputRequests: { who: { method: 'elicitation/create' } } });
    const second = await c.result('tools/call', { name: 'later', arguments: {}, inputResponses: { who: { action: 'accept', content: { name: 'Alice' } } } });
    expect(second).toMatchObject({ resultType: 'task', status: 'working' });
    expect(await c.until(second['taskId'], terminal)).toMatchObject({ status: 'completed', result: { content: [{ text: 'task for Alice' }] } });
    const plain = client(() => backend, 'alice', WITHOUT);
    const sync = await plain.result('tools/call', { name: 'later', arguments: {}, inputResponses: { who: { action: 'accept', content: { name: 'Bob' } } } });
    expect(sync).toMatchObject({ resultType: 'complete', content: [{ text: 'plain for Bob' }] });
  });

  test('nothing is kept per request after its reply or its cancellation', async () => {
    const c = alice();
    await c.result('tools/call', { name: 'greet', arguments: { name: 'x' } });
    const created = await c.result('tools/call', { name: 'slow_compute', arguments: { seconds: 0 } });
    await c.until(created['taskId'], terminal);
    // A plain call cancelled by its client (as the HTTP layer does when the stream closes).
    const plain = client(() => backend, 'alice', WITHOUT);
    void plain.call('tools/call', { name: 'slow_compute', arguments: { seconds: 60 } });
    await sleep(50);
    expect(backend.tasks.tracked).toBe(1);
    backend.mux.cancelLast();
    await sleep(50);
    expect(backend.tasks.tracked).toBe(0);
    expect(backend.tasks.running).toBe(0);
  });

  test('tasks/list and tasks/result do not exist (-32601)', async () => {
    expect((await alice().call('tasks/list')).error?.code).toBe(-32601);
    expect((await alice().call('tasks/result', { taskId: 'x' })).error?.code).toBe(-32601);
  });
});

describe('tasks across backends (Redis store)', () => {
  test('a task created on one backend is read, answered and cancelled from another; a dead backend\'s running task reads failed', async () => {
    const prefix = `m${randomBytes(4).toString('hex')}:`;
    const storeA = await RedisTaskStore.connect({ url: redis().url, prefix });
    const storeB = await RedisTaskStore.connect({ url: redis().url, prefix });
    const a = startBackend(storeA);
    const b = startBackend(storeB);
    try {
      const onA = client(() => a, 'alice');
      const onB = client(() => b, 'alice');
      // Created on A, completed on A, read on B.
      const quick = await onA.result('tools/call', { name: 'slow_compute', arguments: { seconds: 0.1, label: 'q' } });
      expect(await onB.until(quick['taskId'], terminal)).toMatchObject({ status: 'completed', result: { content: [{ text: 'computed q after 0.1s' }] } });

      // Waiting for input on A; answered on B, which runs the next round.
      const asking = await onA.result('tools/call', { name: 'confirm_delete', arguments: { filename: 'c.txt' } });
      await onB.until(asking['taskId'], (s) => s === 'input_required');
      await onB.result('tasks/update', { taskId: asking['taskId'], inputResponses: { confirm: { action: 'accept', content: { confirm: false } } } });
      expect(await onA.until(asking['taskId'], terminal)).toMatchObject({ status: 'completed', result: { content: [{ text: 'kept' }] } });

      // Running on A, cancelled through B: A's handler is aborted within a heartbeat.
      const long = await onA.result('tools/call', { name: 'slow_compute', arguments: { seconds: 60 } });
      await onB.result('tasks/cancel', { taskId: long['taskId'] });
      expect((await onA.result('tasks/get', { taskId: long['taskId'] }))['status']).toBe('cancelled');
      const deadline = Date.now() + 3000;
      while (a.runs.slowAborted === 0 && Date.now() < deadline) await sleep(25);
      expect(a.runs.slowAborted).toBe(1);

      // Running on A when A goes away (its lease ends): B reads it failed, with why.
      const orphan = await onA.result('tools/call', { name: 'slow_compute', arguments: { seconds: 60 } });
      await a.close();
      const failed = await onB.until(orphan['taskId'], terminal);
      expect(failed).toMatchObject({ status: 'failed', error: { code: -32603, data: { reason: 'owner_lost' } } });
    } finally {
      await a.close();
      await b.close();
      await storeA.close();
      await storeB.close();
    }
  });
});

describe('task rounds and their principal', () => {
  test("every round takes a slot of its principal (admit) and gives it back when it ends or is cancelled; a refused round fails its task, a refused answer leaves it waiting", async () => {
    const store = new MemoryTaskStore();
    const held = new Map<string, number>();
    const refusal = { code: -32029, message: 'Limit reached: too many requests running for this client', data: { limit: 'HTTMCP_MAX_INFLIGHT_PER_PRINCIPAL', value: 1 } };
    const backend = startBackend(store, {}, {
      admit: (facts) => {
        const principal = facts?.principal ?? '';
        if ((held.get(principal) ?? 0) >= 1) return refusal;
        held.set(principal, (held.get(principal) ?? 0) + 1);
        return () => held.set(principal, held.get(principal)! - 1);
      },
      authorize: (request) => ((request.params as { name?: string }).name === 'big' ? { code: -32600, message: 'Forbidden: tool big needs scope big (insufficient_scope)' } : undefined),
    });
    try {
      const alice = client(() => backend, 'alice');
      const bob = client(() => backend, 'bob');
      // A task waiting for input holds no slot.
      const asking = await alice.result('tools/call', { name: 'confirm_delete', arguments: { filename: 'd.txt' } });
      await alice.until(asking['taskId'], (s) => s === 'input_required');
      expect(held.get('alice')).toBe(0);
      const running = await alice.result('tools/call', { name: 'slow_compute', arguments: { seconds: 60 } });
      expect(held.get('alice')).toBe(1);
      // An answer that would start a round past the bound is refused; the task keeps waiting for it.
      const answer = { taskId: asking['taskId'], inputResponses: { confirm: { action: 'accept', content: { confirm: true } } } };
      expect((await alice.call('tasks/update', answer)).error).toMatchObject(refusal);
      expect(await alice.result('tasks/get', { taskId: asking['taskId'] })).toMatchObject({ status: 'input_required' });
      // Alice's second round is refused: its task fails with the bound's error, nothing runs.
      const second = await alice.result('tools/call', { name: 'slow_compute', arguments: { seconds: 0.1 } });
      expect(await alice.until(second['taskId'], terminal)).toMatchObject({ status: 'failed', error: refusal });
      // Bob's slot is his own.
      const bobs = await bob.result('tools/call', { name: 'slow_compute', arguments: { seconds: 0.1, label: 'bob' } });
      expect(await bob.until(bobs['taskId'], terminal)).toMatchObject({ status: 'completed' });
      expect(held.get('bob')).toBe(0);
      // A cancelled round gives its slot back at once.
      await alice.result('tasks/cancel', { taskId: running['taskId'] });
      expect(held.get('alice')).toBe(0);
      await alice.result('tasks/update', answer);
      expect(await alice.until(asking['taskId'], terminal)).toMatchObject({ status: 'completed', result: { content: [{ text: 'deleted d.txt' }] } });
      expect(held.get('alice')).toBe(0);
      // A call authorize refuses gets the error, and no task is made.
      const forbidden = await alice.call('tools/call', { name: 'big', arguments: {} });
      expect(forbidden.error).toMatchObject({ code: -32600 });
      expect(forbidden.result).toBeUndefined();
      expect(store.size).toBe(4);
    } finally {
      await backend.close();
      await store.close();
    }
  });
});
