import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { MemoryTaskStore } from '../../src/tasks/memory-store.js';
import { RedisTaskStore } from '../../src/tasks/redis-store.js';
import { TaskLimitError, type NewTask, type TaskStore } from '../../src/tasks/store.js';
import { startRedis, type RedisTestServer } from '../helpers/redis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const id = () => randomBytes(16).toString('hex');

function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return {
    taskId: id(),
    principal: 'alice',
    ttlMs: 60_000,
    pollIntervalMs: 500,
    owner: 'owner-a',
    request: { name: 'slow', arguments: { list: [] } },
    maxPerPrincipal: 10,
    ...overrides,
  };
}

let redis: RedisTestServer;
const opened: TaskStore[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await redis.stop();
});

async function redisStore(): Promise<RedisTaskStore> {
  const store = await RedisTaskStore.connect({ url: redis.url, prefix: `t${id().slice(0, 6)}:` });
  opened.push(store);
  return store;
}

const kinds: Array<[string, () => Promise<TaskStore>]> = [
  [
    'MemoryTaskStore',
    async () => {
      const store = new MemoryTaskStore(50);
      opened.push(store);
      return store;
    },
  ],
  ['RedisTaskStore', redisStore],
];

describe.each(kinds)('%s', (_name, open) => {
  let store: TaskStore;
  beforeEach(async () => {
    store = await open();
    for (const owner of ['owner-a', 'owner-b', 'owner-c']) await store.heartbeat(owner, 60_000);
  });

  test('a created task is found at once by its principal, and by nobody else', async () => {
    const task = newTask();
    const created = await store.create(task);
    expect(created.status).toBe('working');
    const found = await store.get(task.taskId, 'alice');
    expect(found).toMatchObject({ taskId: task.taskId, status: 'working', ttlMs: 60_000, pollIntervalMs: 500, request: task.request });
    expect(Date.parse(found!.createdAt)).toBeGreaterThan(Date.now() - 10_000);
    expect(await store.get(task.taskId, 'mallory')).toBeUndefined();
    expect(await store.cancel(task.taskId, 'mallory')).toBeUndefined();
    expect(await store.answer(task.taskId, 'mallory', { k: 1 }, 'owner-b')).toBeUndefined();
    // Mallory's attempts changed nothing.
    expect((await store.get(task.taskId, 'alice'))!.status).toBe('working');
    expect(await store.get('no-such-task', 'alice')).toBeUndefined();
  });

  test('completion keeps the result (empty arrays included) and is final', async () => {
    const task = newTask();
    await store.create(task);
    const result = { content: [], structuredContent: { list: [], n: 1 }, isError: false };
    expect(await store.transition(task.taskId, { status: 'completed', result })).toBe(true);
    const done = await store.get(task.taskId, 'alice');
    expect(done).toMatchObject({ status: 'completed', result });
    expect(done!.owner).toBeUndefined();
    expect(done!.request).toBeUndefined();
    // The first terminal status wins.
    expect(await store.transition(task.taskId, { status: 'failed', error: { code: -32603, message: 'late' } })).toBe(false);
    expect((await store.cancel(task.taskId, 'alice'))!.status).toBe('completed');
  });

  test('failure keeps the JSON-RPC error; cancellation is final too', async () => {
    const failing = newTask();
    await store.create(failing);
    await store.transition(failing.taskId, { status: 'failed', error: { code: -32603, message: 'boom', data: { x: 1 } }, statusMessage: 'it broke' });
    expect(await store.get(failing.taskId, 'alice')).toMatchObject({ status: 'failed', statusMessage: 'it broke', error: { code: -32603, message: 'boom', data: { x: 1 } } });

    const cancelled = newTask();
    await store.create(cancelled);
    expect((await store.cancel(cancelled.taskId, 'alice'))!.status).toBe('cancelled');
    expect(await store.transition(cancelled.taskId, { status: 'completed', result: { content: [] } })).toBe(false);
    expect((await store.get(cancelled.taskId, 'alice'))!.status).toBe('cancelled');
  });

  test('input: partial answers keep the task waiting; the last answer resumes it for exactly one caller', async () => {
    const task = newTask();
    await store.create(task);
    const ask = (m: string) => ({ method: 'elicitation/create', params: { message: m, requestedSchema: { type: 'object', properties: {}, required: [] } } });
    await store.transition(task.taskId, { status: 'input_required', inputRequests: { a: ask('A?'), b: ask('B?') }, requestState: 'state-1' });
    const waiting = await store.get(task.taskId, 'alice');
    expect(waiting).toMatchObject({ status: 'input_required', requestState: 'state-1', inputRequests: { a: ask('A?'), b: ask('B?') } });
    expect(waiting!.owner).toBeUndefined();

    // Unknown keys are ignored, a known one is taken.
    const first = await store.answer(task.taskId, 'alice', { a: { action: 'accept', content: { x: [] } }, zzz: 1 }, 'owner-b');
    expect(first!.resume).toBe(false);
    expect(first!.record.status).toBe('input_required');
    expect(Object.keys(first!.record.inputRequests!)).toEqual(['b']);
    // Answering a key again does nothing.
    expect((await store.answer(task.taskId, 'alice', { a: { action: 'decline' } }, 'owner-b'))!.resume).toBe(false);

    const [one, two] = await Promise.all([
      store.answer(task.taskId, 'alice', { b: { action: 'accept' } }, 'owner-b'),
      store.answer(task.taskId, 'alice', { b: { action: 'accept' } }, 'owner-c'),
    ]);
    expect([one!.resume, two!.resume].filter(Boolean)).toHaveLength(1);
    const resumed = (one!.resume ? one : two)!.record;
    expect(resumed.status).toBe('working');
    expect(resumed.inputResponses).toEqual({ a: { action: 'accept', content: { x: [] } }, b: { action: 'accept' } });
    expect(resumed.request).toEqual(task.request);
  });

  test('a task is forgotten once its ttl has passed', async () => {
    const task = newTask({ ttlMs: 300 });
    await store.create(task);
    expect(await store.get(task.taskId, 'alice')).toBeDefined();
    await sleep(450);
    expect(await store.get(task.taskId, 'alice')).toBeUndefined();
  });

  test('a principal may store at most maxPerPrincipal tasks; expired ones make room; others are not affected', async () => {
    await store.create(newTask({ principal: 'bob', maxPerPrincipal: 2, ttlMs: 300 }));
    await store.create(newTask({ principal: 'bob', maxPerPrincipal: 2 }));
    await expect(store.create(newTask({ principal: 'bob', maxPerPrincipal: 2 }))).rejects.toBeInstanceOf(TaskLimitError);
    await store.create(newTask({ principal: 'carol', maxPerPrincipal: 2 }));
    await sleep(450);
    await store.create(newTask({ principal: 'bob', maxPerPrincipal: 2 }));
  });

  test('statuses reports the status of known ids only', async () => {
    const a = newTask();
    await store.create(a);
    await store.cancel(a.taskId, 'alice');
    const b = newTask();
    await store.create(b);
    const found = await store.statuses([a.taskId, b.taskId, 'gone']);
    expect([...found.entries()].sort()).toEqual([[a.taskId, 'cancelled'], [b.taskId, 'working']].sort());
  });
});

describe('RedisTaskStore across processes and restarts', () => {
  test('another store instance (another backend) sees the task, its status and its result', async () => {
    const prefix = `x${id().slice(0, 6)}:`;
    const a = await RedisTaskStore.connect({ url: redis.url, prefix });
    const b = await RedisTaskStore.connect({ url: redis.url, prefix });
    opened.push(a, b);
    await a.heartbeat('owner-a', 60_000);
    const task = newTask();
    await a.create(task);
    expect((await b.get(task.taskId, 'alice'))!.status).toBe('working');
    await a.transition(task.taskId, { status: 'completed', result: { content: [{ type: 'text', text: 'done' }] } });
    await a.close();
    expect(await b.get(task.taskId, 'alice')).toMatchObject({ status: 'completed', result: { content: [{ type: 'text', text: 'done' }] } });
  });

  test('a working task of an owner whose lease lapsed reads failed with a clear message; one released at shutdown at once', async () => {
    const store = await redisStore();
    await store.heartbeat('short-lived', 200);
    const task = newTask({ owner: 'short-lived' });
    await store.create(task);
    expect((await store.get(task.taskId, 'alice'))!.status).toBe('working');
    await sleep(350);
    const failed = await store.get(task.taskId, 'alice');
    expect(failed).toMatchObject({ status: 'failed', error: { code: -32603, data: { reason: 'owner_lost', owner: 'short-lived' } } });
    expect(failed!.error!.message).toMatch(/stopped before the task finished/);
    expect(failed!.statusMessage).toMatch(/stopped before it finished/);

    await store.heartbeat('clean', 60_000);
    const other = newTask({ owner: 'clean' });
    await store.create(other);
    await store.release('clean');
    expect((await store.get(other.taskId, 'alice'))!.status).toBe('failed');
  });

  test('a task waiting for input has no owner: it survives its creator and any backend resumes it', async () => {
    const store = await redisStore();
    await store.heartbeat('gone-soon', 150);
    await store.heartbeat('owner-a', 60_000);
    const task = newTask({ owner: 'gone-soon' });
    await store.create(task);
    await store.transition(task.taskId, { status: 'input_required', inputRequests: { q: { method: 'elicitation/create', params: {} } } });
    await sleep(300);
    expect((await store.get(task.taskId, 'alice'))!.status).toBe('input_required');
    const outcome = await store.answer(task.taskId, 'alice', { q: { action: 'accept' } }, 'owner-a');
    expect(outcome).toMatchObject({ resume: true, record: { status: 'working', owner: 'owner-a' } });
  });

  test('a backend process killed mid-task: another process reads the task failed once the lease lapses', async () => {
    const module = new URL('../../dist/src/tasks/redis-store.js', import.meta.url);
    if (!existsSync(module)) throw new Error('build first: npx tsc -p tsconfig.build.json');
    const prefix = `k${id().slice(0, 6)}:`;
    const taskId = id();
    const script = `
      const { RedisTaskStore } = await import(${JSON.stringify(module.href)});
      const store = await RedisTaskStore.connect({ url: ${JSON.stringify(redis.url)}, prefix: ${JSON.stringify(prefix)} });
      await store.heartbeat('doomed', 300);
      setInterval(() => store.heartbeat('doomed', 300), 100);
      await store.create({ taskId: ${JSON.stringify(taskId)}, principal: 'alice', ttlMs: 60000, pollIntervalMs: 500, owner: 'doomed', request: {}, maxPerPrincipal: 10 });
      process.stdout.write('created\\n');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('created') && resolve());
      child.once('exit', (code) => reject(new Error(`child exited ${code}`)));
    });
    const store = await RedisTaskStore.connect({ url: redis.url, prefix });
    opened.push(store);
    await sleep(400);
    // Alive and heartbeating: still working.
    expect((await store.get(taskId, 'alice'))!.status).toBe('working');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    await sleep(500);
    expect(await store.get(taskId, 'alice')).toMatchObject({ status: 'failed', error: { data: { reason: 'owner_lost', owner: 'doomed' } } });
  });
});
