/**
 * Tasks and the principal that created them, through a real nginx+nchan stack with API-key
 * authentication (the edge's verdict): a task's handler rounds count against that principal's
 * in-flight bound and are its own for `principalOf` (the key of per-principal bounds), a
 * principal's tools/list and calls of task tools honour its scopes, and a round run again after
 * `tasks/update` (on another stack on the same Redis, after the first one stopped) sees the
 * principal as `ctx.auth`, with its per-tool scopes checked again, while Redis holds neither the
 * client's key nor its principal. docs/operations.md, "Tasks"; docs/auth.md.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { createClient } from 'redis';
import { z } from 'zod';
import { hashApiKey, HTTMCP, requestAuthInfo, TASKS_EXTENSION_ID, type Stack, type StackOptions } from '../../src/index.js';
import { principalKey } from '../../src/auth/principal.js';
import { freePort } from '../../src/stack/stack.js';
import { MODERN, postModern, replyOf, type ModernReply } from '../helpers/era-2026.js';
import { redisForSuite } from '../helpers/redis.js';
import { WsClient } from '../helpers/raw-clients.js';
import { startTestStack } from '../helpers/stack.js';

/** Shared by both stacks of a deployment: `requestState` is signed with a key derived from it. */
const SECRET = 'a-session-secret-of-this-test-0123456789abcdef';

const KEYS = {
  alice: 'key-of-alice-0123456789abcdef',
  /** Alice again, with a key that lacks the `jobs:run` scope (a downgraded credential). */
  aliceNarrow: 'key-of-alice-narrow-0123456789',
  bob: 'key-of-bob-0123456789abcdefgh',
};

/** Handlers of `hold_job` wait for this to be resolved. */
let release: () => void = () => {};
let held = new Promise<void>((resolve) => (release = resolve));

/** What `principalOf` (the key of per-principal bounds, e.g. OpenAPI's fair share) said per tool run. */
const principalsSeen: Array<{ tool: string | undefined; principal: string }> = [];

/** An HTTMCP server that notes, for every handler it runs, whom its per-principal bounds count. */
class Jobs extends HTTMCP {
  override context(...args: Parameters<HTTMCP['context']>): ReturnType<HTTMCP['context']> {
    const [extra, server, tool] = args;
    principalsSeen.push({ tool, principal: this.principalOf(extra, server) });
    return super.context(...args);
  }
}

function fixtures(): HTTMCP {
  return new Jobs({ name: 'jobs', version: '1.0.0' })
    .tool('whoami', {}, (_args, ctx) => ctx.auth?.subject ?? 'anonymous')
    .tool('hold_job', { task: 'optional' }, async (_args, ctx) => {
      await held;
      return `held for ${ctx.auth?.subject ?? 'anonymous'}`;
    })
    .tool('confirm_job', { task: 'optional', scopes: ['jobs:run'], input: { label: z.string() } }, async ({ label }, ctx) => {
      const answer = await ctx.elicit({ message: `Run ${label}?`, requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } }, { key: 'confirm' });
      const info = requestAuthInfo(ctx);
      return {
        label,
        ok: answer.content?.['ok'] === true,
        subject: ctx.auth?.subject ?? null,
        issuer: ctx.auth?.issuer ?? null,
        scopes: ctx.auth?.scopes ?? null,
        authInfoClientId: info?.clientId ?? null,
        token: info?.token ?? null,
      };
    });
}

/** The `_meta` envelope of a 2026 request that declares the tasks extension and elicitation. */
function envelope(): Record<string, unknown> {
  return {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientInfo': { name: 'tasks-principal-test', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': { extensions: { [TASKS_EXTENSION_ID]: {} }, elicitation: {} },
  };
}

/** A stack that accepts the keys above (alice's full key grants `jobs:run`). */
async function startJobsStack(options: Partial<StackOptions> = {}): Promise<{ stack: Stack; url: string }> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const stack = await startTestStack({
    ...options,
    port,
    servers: [fixtures()],
    auth: {
      publicUrl: base,
      apiKeys: [
        { subject: 'alice', sha256: hashApiKey(KEYS.alice), scopes: ['jobs:run'] },
        { subject: 'alice', sha256: hashApiKey(KEYS.aliceNarrow), scopes: [] },
        { subject: 'bob', sha256: hashApiKey(KEYS.bob), scopes: ['jobs:run'] },
      ],
    },
  });
  return { stack, url: `${base}/mcp/jobs` };
}

/** One 2026-era request with `key`, declaring the tasks extension and elicitation. */
async function rpc(url: string, key: string, method: string, params: Record<string, unknown>): Promise<ModernReply> {
  const { response, id } = await postModern(url, method, params, envelope(), `Bearer ${key}`);
  if (response.status !== 200) {
    await response.text();
    return { status: response.status };
  }
  return replyOf(response, id);
}

async function until(url: string, key: string, taskId: string, done: (status: string) => boolean): Promise<Record<string, any>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const reply = await rpc(url, key, 'tasks/get', { taskId });
    // Past the principal's in-flight bound while its rounds finish: asked again.
    if (reply.error?.code === -32029 && Date.now() < deadline) {
      await delay(50);
      continue;
    }
    if (!reply.result) throw new Error(`tasks/get failed: ${JSON.stringify(reply)}`);
    if (done(reply.result['status'])) return reply.result;
    if (Date.now() > deadline) throw new Error(`task still ${reply.result['status']}`);
    await delay(50);
  }
}
const terminal = (s: string) => ['completed', 'failed', 'cancelled'].includes(s);
const textOf = (task: Record<string, any>) => JSON.parse(task['result']['content'][0]['text']);

describe('task rounds count against the principal that created the task', () => {
  let stack: Stack;
  let url: string;
  beforeAll(async () => {
    ({ stack, url } = await startJobsStack({ gateway: { limits: { inflightPerPrincipal: 2 } } }));
  });
  afterAll(async () => {
    release();
    await stack?.stop();
  });

  test("alice's running task rounds hold her in-flight bound; bob is unaffected; the bound frees when they finish", async () => {
    held = new Promise<void>((resolve) => (release = resolve));
    const tasks: string[] = [];
    for (let i = 0; i < 2; i++) {
      const created = await rpc(url, KEYS.alice, 'tools/call', { name: 'hold_job', arguments: {} });
      expect(created.result).toMatchObject({ resultType: 'task', status: 'working' });
      tasks.push(created.result!['taskId']);
    }
    // Both of alice's slots are held by her rounds, though no request of hers is open.
    const refused = await rpc(url, KEYS.alice, 'tools/call', { name: 'whoami', arguments: {} });
    expect(refused.error).toMatchObject({ code: -32029, data: { limit: 'HTTMCP_MAX_INFLIGHT_PER_PRINCIPAL', value: 2 } });
    expect((await rpc(url, KEYS.alice, 'tools/call', { name: 'hold_job', arguments: {} })).error).toMatchObject({ code: -32029 });
    // Bob's bound is his own.
    expect((await rpc(url, KEYS.bob, 'tools/call', { name: 'whoami', arguments: {} })).result).toMatchObject({ content: [{ text: 'bob' }] });
    const bobs = await rpc(url, KEYS.bob, 'tools/call', { name: 'hold_job', arguments: {} });
    expect(bobs.result).toMatchObject({ resultType: 'task' });

    // The rounds are alice's for the per-principal bounds too (not anonymous): her digest.
    const keyOf = (subject: string) => principalKey({ issuer: 'api-key', subject, clientId: undefined, scopes: [], expiresAt: undefined });
    const rounds = principalsSeen.filter((seen) => seen.tool === 'hold_job').map((seen) => seen.principal);
    expect(rounds.sort()).toEqual([keyOf('alice'), keyOf('alice'), keyOf('bob')].sort());

    release();
    for (const taskId of [...tasks]) expect(await until(url, KEYS.alice, taskId, terminal)).toMatchObject({ status: 'completed', result: { content: [{ text: 'held for alice' }] } });
    expect(await until(url, KEYS.bob, bobs.result!['taskId'], terminal)).toMatchObject({ status: 'completed', result: { content: [{ text: 'held for bob' }] } });
    // Finished rounds gave their slots back.
    expect((await rpc(url, KEYS.alice, 'tools/call', { name: 'whoami', arguments: {} })).result).toMatchObject({ content: [{ text: 'alice' }] });
  });

  test("a 2026 principal's tools/list shows only the task tools its scopes allow, and a call of another is refused before any task is made", async () => {
    const listed = await rpc(url, KEYS.aliceNarrow, 'tools/list', {});
    expect(listed.result!['tools'].map((t: { name: string }) => t.name).sort()).toEqual(['hold_job', 'whoami']);
    const full = await rpc(url, KEYS.alice, 'tools/list', {});
    expect(full.result!['tools'].map((t: { name: string }) => t.name).sort()).toEqual(['confirm_job', 'hold_job', 'whoami']);
    const call = await rpc(url, KEYS.aliceNarrow, 'tools/call', { name: 'confirm_job', arguments: { label: 'narrow' } });
    expect(call.status).toBe(403);
  });

  test('on a WebSocket pinned to 2026 (no edge check per frame), a task tool the principal may not call is refused, not made a task', async () => {
    const narrow = await WsClient.open(url, { headers: { authorization: `Bearer ${KEYS.aliceNarrow}` } });
    const full = await WsClient.open(url, { headers: { authorization: `Bearer ${KEYS.alice}` } });
    try {
      const params = { name: 'confirm_job', arguments: { label: 'ws' }, _meta: envelope() };
      const refused = (await narrow.request(1, 'tools/call', params)) as { result?: unknown; error?: { code: number; data?: unknown } };
      expect(refused.result).toBeUndefined();
      expect(refused.error).toMatchObject({ code: -32600, data: { error: 'insufficient_scope', scope: 'jobs:run' } });
      const listed = (await narrow.request(2, 'tools/list', { _meta: envelope() })) as { result: { tools: Array<{ name: string }> } };
      expect(listed.result.tools.map((t) => t.name).sort()).toEqual(['hold_job', 'whoami']);
      const allowed = (await full.request(1, 'tools/call', params)) as { result?: Record<string, unknown> };
      expect(allowed.result).toMatchObject({ resultType: 'task', status: 'working' });
    } finally {
      narrow.close();
      full.close();
    }
  });
});

describe('a task run again from Redis on another stack sees its principal', () => {
  const redis = redisForSuite();

  test('created on one stack, answered on the next: ctx.auth is alice, her scopes apply, bob never sees the task', async () => {
    const first = await startJobsStack({ redis: redis().url, gateway: { sessionSecret: SECRET } });
    let taskId: string;
    let narrowId: string;
    try {
      const created = await rpc(first.url, KEYS.alice, 'tools/call', { name: 'confirm_job', arguments: { label: 'restart' } });
      taskId = created.result!['taskId'];
      expect(await until(first.url, KEYS.alice, taskId, (s) => s !== 'working')).toMatchObject({ status: 'input_required' });
      const narrow = await rpc(first.url, KEYS.alice, 'tools/call', { name: 'confirm_job', arguments: { label: 'downgraded' } });
      narrowId = narrow.result!['taskId'];
      await until(first.url, KEYS.alice, narrowId, (s) => s !== 'working');
      // What Redis keeps of alice: the digest her tasks are bound to, never her key or principal.
      const redisClient = createClient({ url: redis().url });
      await redisClient.connect();
      try {
        const dump: string[] = [];
        for (const key of await redisClient.keys('*')) {
          dump.push(key);
          if ((await redisClient.type(key)) === 'hash') dump.push(...Object.values(await redisClient.hGetAll(key)));
        }
        const stored = dump.join('\n');
        expect(stored).toContain(taskId);
        for (const secret of [KEYS.alice, KEYS.aliceNarrow, hashApiKey(KEYS.alice), 'jobs:run', '"alice"']) expect(stored).not.toContain(secret);
      } finally {
        await redisClient.close();
      }
    } finally {
      await first.stack.stop();
    }
    const second = await startJobsStack({ redis: redis().url, gateway: { sessionSecret: SECRET } });
    try {
      // Another principal: "not found", as for an unknown id, on get, update and cancel.
      expect((await rpc(second.url, KEYS.bob, 'tasks/get', { taskId })).error).toMatchObject({ code: -32602 });
      expect((await rpc(second.url, KEYS.bob, 'tasks/update', { taskId, inputResponses: { confirm: { action: 'accept', content: { ok: false } } } })).error).toMatchObject({ code: -32602 });
      expect((await rpc(second.url, KEYS.bob, 'tasks/cancel', { taskId })).error).toMatchObject({ code: -32602 });

      expect((await rpc(second.url, KEYS.alice, 'tasks/update', { taskId, inputResponses: { confirm: { action: 'accept', content: { ok: true } } } })).result).toMatchObject({ resultType: 'complete' });
      const done = await until(second.url, KEYS.alice, taskId, terminal);
      expect(done).toMatchObject({ status: 'completed' });
      expect(textOf(done)).toEqual({ label: 'restart', ok: true, subject: 'alice', issuer: 'api-key', scopes: ['jobs:run'], authInfoClientId: 'alice', token: '' });

      // Alice again, with a key that lost the tool's scope: the round is refused, not run.
      expect((await rpc(second.url, KEYS.aliceNarrow, 'tasks/update', { taskId: narrowId, inputResponses: { confirm: { action: 'accept', content: { ok: true } } } })).result).toMatchObject({ resultType: 'complete' });
      expect(await until(second.url, KEYS.alice, narrowId, terminal)).toMatchObject({ status: 'failed', error: { data: { error: 'insufficient_scope', scope: 'jobs:run' } } });
    } finally {
      await second.stack.stop();
    }
  });
});
