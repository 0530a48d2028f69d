/**
 * The Tasks extension (io.modelcontextprotocol/tasks) of 2026-07-28 through a real nginx+nchan
 * stack: HTTMCP tools with the `task` option, raw 2026 requests (lifecycle, cancel, principal
 * binding), and tasks that outlive the stack that ran them (Redis store). The conformance suite's
 * `tasks-*` scenarios run against examples/everything.ts in conformance.test.ts.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { HTTMCP, TASKS_EXTENSION_ID, type Stack } from '../../src/index.js';
import { MODERN, postModern, replyOf, type ModernReply } from '../helpers/era-2026.js';
import { redisForSuite } from '../helpers/redis.js';
import { connectClient, startTestStack } from '../helpers/stack.js';


/** Handlers of slow_compute that saw their signal abort. */
const aborted: string[] = [];

function fixtures(): HTTMCP {
  return new HTTMCP({ name: 'tasks', version: '1.0.0' })
    .tool('greet', { input: { name: z.string() } }, ({ name }) => `Hello, ${name}!`)
    .tool('slow_compute', { task: 'optional', input: { seconds: z.number(), label: z.string().optional() } }, async ({ seconds, label }, ctx) => {
      try {
        await delay(seconds * 1000, undefined, { signal: ctx.signal });
      } catch {
        aborted.push(label ?? '');
        throw new Error('aborted');
      }
      return `computed ${label ?? ''} after ${seconds}s`;
    })
    .tool('confirm_job', { task: 'optional' }, async (_args, ctx) => {
      const answer = await ctx.elicit({ message: 'Run the job?', requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } }, { key: 'confirm' });
      return answer.content?.['ok'] === true ? 'job ran' : 'job skipped';
    })
    .tool('failing_job', { task: 'required' }, async () => {
      await delay(300);
      return { content: [{ type: 'text', text: 'the job failed' }], isError: true };
    })
    .tool('protocol_error_job', { task: 'optional' }, async () => {
      await delay(100);
      throw new ProtocolError(ProtocolErrorCode.InternalError, 'the job crashed');
    });
}

/** One 2026-era request as a client sends it: standard headers, envelope, JSON or SSE answer. */
async function rpc(url: string, method: string, params: Record<string, unknown>, options: { authorization?: string; capabilities?: object } = {}): Promise<ModernReply> {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientInfo': { name: 'tasks-test', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': options.capabilities ?? { extensions: { [TASKS_EXTENSION_ID]: {} }, elicitation: {} },
  };
  const { response, id } = await postModern(url, method, params, meta, options.authorization);
  return replyOf(response, id);
}

async function until(url: string, taskId: string, done: (status: string) => boolean, options: { authorization?: string } = {}): Promise<Record<string, any>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const reply = await rpc(url, 'tasks/get', { taskId }, options);
    if (!reply.result) throw new Error(`tasks/get failed: ${JSON.stringify(reply)}`);
    if (done(reply.result['status'])) return reply.result;
    if (Date.now() > deadline) throw new Error(`task still ${reply.result['status']}`);
    await delay(50);
  }
}
const terminal = (s: string) => ['completed', 'failed', 'cancelled'].includes(s);

describe('tasks through nginx+nchan (memory store)', () => {
  let stack: Stack;
  let url: string;
  beforeAll(async () => {
    stack = await startTestStack({ servers: [fixtures()] });
    url = stack.servers.tasks!;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('a task tool answers resultType task at once; the result is polled with tasks/get; a 2025 client gets a plain call', async () => {
    const created = await rpc(url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 0.5, label: 'nginx' } });
    expect(created.status).toBe(200);
    expect(created.result).toMatchObject({ resultType: 'task', status: 'working', ttlMs: 3_600_000 });
    const done = await until(url, created.result!['taskId'], terminal);
    expect(done).toMatchObject({ resultType: 'complete', status: 'completed', result: { content: [{ type: 'text', text: 'computed nginx after 0.5s' }] } });
    const plain = await rpc(url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 0 } }, { capabilities: {} });
    expect(plain.result).toMatchObject({ resultType: 'complete', content: [{ type: 'text' }] });
    const legacy = await connectClient('streamable', url);
    try {
      expect(await legacy.callTool({ name: 'slow_compute', arguments: { seconds: 0.1, label: '2025' } })).toMatchObject({ content: [{ type: 'text', text: 'computed 2025 after 0.1s' }] });
    } finally {
      await legacy.close();
    }
  });

  test('cancel aborts the handler; other principals get "not found"; a required task tool refuses clients without the extension', async () => {
    const alice = { authorization: 'Bearer alice' };
    const created = await rpc(url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 60, label: 'cancel-me' } }, alice);
    const taskId = created.result!['taskId'] as string;
    const mallory = await rpc(url, 'tasks/get', { taskId }, { authorization: 'Bearer mallory' });
    expect(mallory.error).toMatchObject({ code: -32602 });
    expect((await rpc(url, 'tasks/cancel', { taskId }, { authorization: 'Bearer mallory' })).error?.code).toBe(-32602);
    expect((await until(url, taskId, () => true, alice))['status']).toBe('working');
    expect((await rpc(url, 'tasks/cancel', { taskId }, alice)).result).toMatchObject({ resultType: 'complete' });
    expect((await until(url, taskId, terminal, alice))['status']).toBe('cancelled');
    const deadline = Date.now() + 3000;
    while (!aborted.includes('cancel-me') && Date.now() < deadline) await delay(25);
    expect(aborted).toContain('cancel-me');

    const refused = await rpc(url, 'tools/call', { name: 'failing_job', arguments: {} }, { capabilities: {} });
    expect(refused.status).toBe(400);
    expect(refused.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { extensions: { [TASKS_EXTENSION_ID]: {} } } } });
  });

  test('ctx.elicit inside a task parks it in input_required; tasks/update answers it and the task completes', async () => {
    const created = await rpc(url, 'tools/call', { name: 'confirm_job', arguments: {} });
    const taskId = created.result!['taskId'] as string;
    expect(await until(url, taskId, (s) => s !== 'working')).toMatchObject({ status: 'input_required', inputRequests: { confirm: { method: 'elicitation/create' } } });
    expect((await rpc(url, 'tasks/update', { taskId, inputResponses: { confirm: { action: 'accept', content: { ok: true } } } })).result).toMatchObject({ resultType: 'complete' });
    expect(await until(url, taskId, terminal)).toMatchObject({ status: 'completed', result: { content: [{ type: 'text', text: 'job ran' }] } });
  });

  test('a protocol error thrown by a handler fails its task; a tool error completes it with isError', async () => {
    const crash = await rpc(url, 'tools/call', { name: 'protocol_error_job', arguments: {} });
    expect(await until(url, crash.result!['taskId'], terminal)).toMatchObject({ status: 'failed', error: { code: -32603, message: 'the job crashed' } });
    const failing = await rpc(url, 'tools/call', { name: 'failing_job', arguments: {} });
    expect(await until(url, failing.result!['taskId'], terminal)).toMatchObject({ status: 'completed', result: { isError: true } });
  });
});

describe('tasks in Redis outlive the stack that ran them', () => {
  const redis = redisForSuite();

  test('a completed task is read from the next stack; a task running when its stack stopped reads failed', async () => {
    const first = await startTestStack({ servers: [fixtures()], redis: redis().url });
    let done: string;
    let running: string;
    try {
      const url = first.servers.tasks!;
      const quick = await rpc(url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 0.2, label: 'kept' } });
      done = quick.result!['taskId'];
      await until(url, done, terminal);
      running = (await rpc(url, 'tools/call', { name: 'slow_compute', arguments: { seconds: 60, label: 'lost' } })).result!['taskId'];
    } finally {
      await first.stop();
    }
    const second = await startTestStack({ servers: [fixtures()], redis: redis().url });
    try {
      const url = second.servers.tasks!;
      expect(await until(url, done, () => true)).toMatchObject({ status: 'completed', result: { content: [{ text: 'computed kept after 0.2s' }] } });
      expect(await until(url, running, () => true)).toMatchObject({ status: 'failed', error: { code: -32603, data: { reason: 'owner_lost' } } });
    } finally {
      await second.stop();
    }
  });
});
