import type { McpServer } from '@modelcontextprotocol/server';
import { ErrorCode, LATEST_PROTOCOL_VERSION, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { Gateway } from '../../src/gateway.js';
import { HTTMCP } from '../../src/server/httmcp.js';
import { SessionHub, type Delivery, type SessionHubOptions, type Wire } from '../../src/session/session-hub.js';
import { captureLogger, FakePublisher, sleep, waitFor } from './support.js';
import { pino } from 'pino';
import { BackendMetrics } from '../../src/observability/metrics.js';
import { observeRequests } from '../../src/observability/request-observer.js';

const SESSION_A = 'AAAAAAAAAAAAAAAAAAAAAA.aaaaaaaaaaaaaaaaaaaaaa';
const SESSION_B = 'BBBBBBBBBBBBBBBBBBBBBB.bbbbbbbbbbbbbbbbbbbbbb';

type Json = Record<string, any>;

function rpc(id: RequestId, method: string, params?: Json): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
}
function callTool(id: RequestId, name: string, args: Json = {}, meta?: Json): string {
  return rpc(id, 'tools/call', { name, arguments: args, ...(meta === undefined ? {} : { _meta: meta }) });
}
function notification(method: string, params?: Json): string {
  return JSON.stringify({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) });
}
/** The text of a tools/call reply body. */
function replyText(body: Json): string {
  return (body.result as { content: Array<{ text: string }> }).content[0]!.text;
}
function bodyOf(delivery: Delivery): Json {
  if (delivery.kind !== 'reply' && delivery.kind !== 'invalid') throw new Error(`expected a body, got ${JSON.stringify(delivery)}`);
  return JSON.parse(delivery.body) as Json;
}

interface Harness {
  hub: SessionHub;
  publisher: FakePublisher;
  records: Array<Record<string, unknown>>;
  mcp: McpServer;
  started: string[];
  aborted: string[];
  seen: Array<{ sessionId: string | undefined; authorization: unknown }>;
  send(session: string, body: string, wire?: Wire, headers?: Json): Promise<Delivery>;
}

const hubs: SessionHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((hub) => hub.close()));
});

async function harness(options: Partial<SessionHubOptions> = {}): Promise<Harness> {
  const publisher = new FakePublisher();
  const { logger, records } = captureLogger();
  const hub = new SessionHub({ name: 'test', publisher: publisher.asPublisher(), logger, inlineBudgetMs: 25, ...options });
  hubs.push(hub);
  const started: string[] = [];
  const aborted: string[] = [];
  const seen: Harness['seen'] = [];
  const server = new HTTMCP({ name: 'hubtest', version: '1.0.0' })
    .tool('echo', { input: { text: z.string() } }, ({ text }) => text)
    .tool('slow', { input: { ms: z.number(), text: z.string() } }, async ({ ms, text }) => {
      await delay(ms);
      return text;
    })
    .tool(
      'block',
      { input: { tag: z.string() } },
      ({ tag }, ctx) =>
        new Promise<string>((resolve) => {
          started.push(tag);
          ctx.signal.addEventListener('abort', () => {
            aborted.push(tag);
            resolve(`aborted ${tag}`);
          });
        }),
    )
    .tool('big', { input: { size: z.number() } }, ({ size }) => 'x'.repeat(size))
    .tool('progress', { input: { thenMs: z.number().default(0) } }, async ({ thenMs }, ctx) => {
      await ctx.progress(1, 2, 'half');
      await delay(thenMs);
      return 'done';
    })
    .tool('ask', {}, async (_args, ctx) => {
      await ctx.extra.mcpReq.send({ method: 'ping' });
      return 'answered';
    })
    .tool('chatter', {}, async (_args, ctx) => {
      await ctx.log('info', 'info line');
      await ctx.log('error', 'error line');
      return 'logged';
    })
    .tool('whoami', {}, (_args, ctx) => {
      seen.push({ sessionId: ctx.sessionId, authorization: ctx.headers['authorization'] });
      return ctx.sessionId ?? 'none';
    });
  const mcp = await server.connect(hub);
  const send = (session: string, body: string, wire: Wire = 'websocket', headers: Json = {}) =>
    hub.receive({ session, wire, headers, body });
  return { hub, publisher, records, mcp, started, aborted, seen, send };
}

describe('SessionHub: replies', () => {
  test('initialize is answered inline with the client\'s id', async () => {
    const h = await harness();
    const delivery = await h.send(
      SESSION_A,
      rpc('init-1', 'initialize', { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'c', version: '1' } }),
    );
    expect(delivery.kind).toBe('reply');
    const body = bodyOf(delivery);
    expect(body).toMatchObject({ jsonrpc: '2.0', id: 'init-1', result: { serverInfo: { name: 'hubtest', version: '1.0.0' } } });
    expect(h.publisher.calls).toEqual([]);
  });

  test.each<Wire>(['websocket', 'sse', 'streamable'])('a fast reply on %s is inline, with the original id', async (wire) => {
    const h = await harness();
    const delivery = await h.send(SESSION_A, callTool(7, 'echo', { text: 'hi' }), wire);
    expect(delivery.kind).toBe('reply');
    const body = bodyOf(delivery);
    expect(body.id).toBe(7);
    expect(replyText(body)).toBe('hi');
    expect(h.publisher.calls).toEqual([]);
    expect(h.hub.inflightCount).toBe(0);
  });

  test('string request ids are kept as strings', async () => {
    const h = await harness();
    const body = bodyOf(await h.send(SESSION_A, callTool('abc', 'echo', { text: 'x' })));
    expect(body.id).toBe('abc');
  });

  test('errors from the server reach the client with its id', async () => {
    const h = await harness();
    const body = bodyOf(await h.send(SESSION_A, rpc(3, 'no/such/method')));
    expect(body).toMatchObject({ id: 3, error: { code: ErrorCode.MethodNotFound } });
    expect(h.hub.inflightCount).toBe(0);
  });

  test.each<Wire>(['websocket', 'sse'])('a slow handler on %s releases the exchange with none and publishes its reply to the session', async (wire) => {
    const h = await harness({ inlineBudgetMs: 20 });
    const delivery = await h.send(SESSION_A, callTool(11, 'slow', { ms: 150, text: 'late' }), wire);
    expect(delivery).toEqual({ kind: 'none' });
    // Released before the handler finished: nothing published yet.
    expect(h.publisher.calls).toEqual([]);
    expect(h.hub.inflightCount).toBe(1);
    await waitFor(() => h.publisher.calls.length === 1, 'the reply to be published');
    const [call] = h.publisher.calls;
    expect(call).toMatchObject({ op: 'publish', channel: SESSION_A, event: 'message' });
    const body = h.publisher.published(SESSION_A)[0]!;
    expect(body.id).toBe(11);
    expect(replyText(body)).toBe('late');
    expect(h.hub.inflightCount).toBe(0);
  });

  test('a slow handler on Streamable HTTP gets a stream channel of its own, where its reply goes', async () => {
    const h = await harness({ inlineBudgetMs: 20 });
    const delivery = await h.send(SESSION_A, callTool('s-1', 'slow', { ms: 100, text: 'streamed' }), 'streamable');
    expect(delivery.kind).toBe('stream');
    const channel = (delivery as { channel: string }).channel;
    expect(channel.startsWith(`${SESSION_A}.`)).toBe(true);
    expect(channel).toMatch(/^[A-Za-z0-9_.-]+$/);
    await waitFor(() => h.publisher.published(channel).length === 1, 'the reply on the stream');
    const body = h.publisher.published(channel)[0]!;
    expect(body.id).toBe('s-1');
    expect(replyText(body)).toBe('streamed');
    // The stream opens with a priming event (no data) before the reply, so it can be resumed.
    expect(h.publisher.bodies(channel)[0]).toBe('');
    expect(h.publisher.bodies(channel)).toHaveLength(2);
    expect(h.publisher.published(SESSION_A)).toEqual([]);
    // Once read (the fake reports a subscriber), the stream is ended by deleting its channel.
    await waitFor(() => h.publisher.calls.some((c) => c.op === 'delete' && c.channel === channel), 'the stream channel to be deleted');
  });

  test('two slow Streamable HTTP requests of one session get different stream channels', async () => {
    const h = await harness({ inlineBudgetMs: 10 });
    const [one, two] = await Promise.all([
      h.send(SESSION_A, callTool(1, 'slow', { ms: 60, text: 'one' }), 'streamable'),
      h.send(SESSION_A, callTool(2, 'slow', { ms: 60, text: 'two' }), 'streamable'),
    ]);
    expect(one.kind).toBe('stream');
    expect(two.kind).toBe('stream');
    const channels = [(one as { channel: string }).channel, (two as { channel: string }).channel];
    expect(channels[0]).not.toBe(channels[1]);
    await waitFor(() => h.publisher.published().length === 2, 'both replies');
    expect(h.publisher.published(channels[0]).map((b) => b.id)).toEqual([1]);
    expect(h.publisher.published(channels[1]).map((b) => b.id)).toEqual([2]);
  });

  test('a reply larger than inlineReplyMax is published instead of inline', async () => {
    const h = await harness({ inlineReplyMax: 200, inlineBudgetMs: 1000 });
    const small = await h.send(SESSION_A, callTool(1, 'big', { size: 10 }));
    expect(small.kind).toBe('reply');
    const startedAt = Date.now();
    const large = await h.send(SESSION_A, callTool(2, 'big', { size: 1000 }));
    expect(large).toEqual({ kind: 'none' });
    expect(Date.now() - startedAt).toBeLessThan(900); // released at once, not after the budget
    await waitFor(() => h.publisher.published(SESSION_A).length === 1, 'the large reply');
    const body = h.publisher.published(SESSION_A)[0]!;
    expect(body.id).toBe(2);
    expect(replyText(body)).toHaveLength(1000);
  });

  test('on Streamable HTTP a reply larger than inlineReplyMax goes to a stream', async () => {
    const h = await harness({ inlineReplyMax: 200, inlineBudgetMs: 1000 });
    const delivery = await h.send(SESSION_A, callTool('big', 'big', { size: 1000 }), 'streamable');
    expect(delivery.kind).toBe('stream');
    const channel = (delivery as { channel: string }).channel;
    await waitFor(() => h.publisher.published(channel).length === 1, 'the large reply on the stream');
    expect(h.publisher.published(channel)[0]!.id).toBe('big');
  });

  // The error replacing an oversized reply must carry the client's id, or the client waits forever.
  test('a reply larger than publishMax becomes an error carrying the client\'s request id', async () => {
    const h = await harness({ publishMax: 300, inlineReplyMax: 10_000 });
    const delivery = await h.send(SESSION_A, callTool('client-id', 'big', { size: 1000 }));
    const body = bodyOf(delivery);
    expect(body.error).toMatchObject({ code: ErrorCode.InternalError });
    expect(body.error.message).toMatch(/exceeds the 300-byte limit/);
    expect(body.id).toBe('client-id');
  });

  test('a reply larger than publishMax is replaced by an internal error', async () => {
    const h = await harness({ publishMax: 300, inlineReplyMax: 10_000 });
    const body = bodyOf(await h.send(SESSION_A, callTool('client-id', 'big', { size: 1000 })));
    expect(body).toMatchObject({ jsonrpc: '2.0', error: { code: ErrorCode.InternalError } });
    expect(body.error.message).toMatch(/exceeds the 300-byte limit/);
    // Like every log line of a request: the server, the session, the client's request id and the tool.
    expect(h.records.find((r) => r.msg === 'message larger than the publish limit')).toMatchObject({ server: 'test', session: SESSION_A, request: 'client-id', tool: 'big' });
  });

  test('progress of a request answered within its budget is published before the inline reply', async () => {
    const h = await harness({ inlineBudgetMs: 1000 });
    const delivery = await h.send(SESSION_A, callTool(5, 'progress', {}, { progressToken: 'tok' }));
    // By the time the reply is handed back, the progress is already in the session.
    const published = h.publisher.published(SESSION_A);
    expect(published).toEqual([
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'tok', progress: 1, total: 2, message: 'half' } },
    ]);
    expect(delivery.kind).toBe('reply');
    expect(replyText(bodyOf(delivery))).toBe('done');
  });

  test('a Streamable HTTP request that sends progress is moved to a stream at once, progress then reply', async () => {
    const h = await harness({ inlineBudgetMs: 5000 });
    const startedAt = Date.now();
    const delivery = await h.send(SESSION_A, callTool(6, 'progress', { thenMs: 50 }, { progressToken: 7 }), 'streamable');
    expect(Date.now() - startedAt).toBeLessThan(2000);
    expect(delivery.kind).toBe('stream');
    const channel = (delivery as { channel: string }).channel;
    await waitFor(() => h.publisher.published(channel).length === 2, 'progress and reply on the stream');
    const [progress, reply] = h.publisher.published(channel);
    expect(progress).toMatchObject({ method: 'notifications/progress', params: { progressToken: 7, progress: 1 } });
    expect(reply!.id).toBe(6);
    expect(replyText(reply!)).toBe('done');
  });

  test('a failing publish is reported through the transport\'s onerror', async () => {
    const h = await harness({ inlineBudgetMs: 10 });
    const errors: Error[] = [];
    h.mcp.server.onerror = (error) => errors.push(error);
    h.publisher.failWith = new Error('nchan is down');
    await h.send(SESSION_A, callTool(1, 'slow', { ms: 40, text: 'x' }));
    await waitFor(() => errors.length > 0, 'onerror');
    expect(errors.some((e) => String(e.message).includes('nchan is down'))).toBe(true);
  });
});

describe('SessionHub: sessions are kept apart', () => {
  test('two sessions may use the same request id at once', async () => {
    const h = await harness({ inlineBudgetMs: 10 });
    const [a, b] = await Promise.all([
      h.send(SESSION_A, callTool(1, 'slow', { ms: 60, text: 'for A' })),
      h.send(SESSION_B, callTool(1, 'slow', { ms: 30, text: 'for B' })),
    ]);
    expect(a).toEqual({ kind: 'none' });
    expect(b).toEqual({ kind: 'none' });
    await waitFor(() => h.publisher.published().length === 2, 'both replies');
    expect(h.publisher.published(SESSION_A).map((m) => [m.id, replyText(m)])).toEqual([[1, 'for A']]);
    expect(h.publisher.published(SESSION_B).map((m) => [m.id, replyText(m)])).toEqual([[1, 'for B']]);
  });

  test('two sessions with the same id inline', async () => {
    const h = await harness({ inlineBudgetMs: 1000 });
    const [a, b] = await Promise.all([
      h.send(SESSION_A, callTool(0, 'echo', { text: 'A' })),
      h.send(SESSION_B, callTool(0, 'echo', { text: 'B' })),
    ]);
    expect([bodyOf(a).id, replyText(bodyOf(a))]).toEqual([0, 'A']);
    expect([bodyOf(b).id, replyText(bodyOf(b))]).toEqual([0, 'B']);
  });

  test('one session reusing an id still in flight is refused; the id is free again once answered', async () => {
    const h = await harness({ inlineBudgetMs: 10 });
    expect(await h.send(SESSION_A, callTool(9, 'block', { tag: 'first' }))).toEqual({ kind: 'none' });
    const refused = await h.send(SESSION_A, callTool(9, 'echo', { text: 'again' }));
    expect(refused.kind).toBe('invalid');
    expect(bodyOf(refused)).toEqual({ jsonrpc: '2.0', id: 9, error: { code: ErrorCode.InvalidRequest, message: expect.stringMatching(/already in use/) } });
    // Another session is not affected.
    expect(await h.send(SESSION_B, callTool(9, 'block', { tag: 'other' }))).toEqual({ kind: 'none' });
    h.hub.sessionClosed(SESSION_A);
    const reused = await h.send(SESSION_A, callTool(9, 'echo', { text: 'reused' }));
    expect(replyText(bodyOf(reused))).toBe('reused');
  });

  test('ctx.sessionId and ctx.headers come from the forwarded message', async () => {
    const h = await harness();
    const body = bodyOf(await h.send(SESSION_B, callTool(1, 'whoami'), 'sse', { authorization: 'Bearer b' }));
    expect(replyText(body)).toBe(SESSION_B);
    expect(h.seen).toEqual([{ sessionId: SESSION_B, authorization: 'Bearer b' }]);
  });

  test('logging/setLevel applies to the session that sent it', async () => {
    const h = await harness({ inlineBudgetMs: 1000 });
    const set = await h.send(SESSION_A, rpc('lvl', 'logging/setLevel', { level: 'error' }));
    expect(bodyOf(set)).toEqual({ jsonrpc: '2.0', id: 'lvl', result: {} });
    expect(replyText(bodyOf(await h.send(SESSION_A, callTool(1, 'chatter'))))).toBe('logged');
    expect(replyText(bodyOf(await h.send(SESSION_B, callTool(1, 'chatter'))))).toBe('logged');
    const levels = (session: string) => h.publisher.published(session).map((m) => (m.params as { level: string }).level);
    expect(levels(SESSION_A)).toEqual(['error']);
    expect(levels(SESSION_B)).toEqual(['info', 'error']);
  });

  test('a client cannot override its session with an mcp-session-id header', async () => {
    const h = await harness();
    const body = bodyOf(await h.send(SESSION_A, callTool(1, 'whoami'), 'websocket', { 'mcp-session-id': SESSION_B }));
    expect(replyText(body)).toBe(SESSION_A);
  });
});

describe('SessionHub: cancellation', () => {
  test('notifications/cancelled aborts the right handler of the right session only', async () => {
    const h = await harness({ inlineBudgetMs: 10 });
    await h.send(SESSION_A, callTool(5, 'block', { tag: 'A5' }));
    await h.send(SESSION_A, callTool(6, 'block', { tag: 'A6' }));
    await h.send(SESSION_B, callTool(5, 'block', { tag: 'B5' }));
    await waitFor(() => h.started.length === 3, 'three handlers');
    expect(h.hub.inflightCount).toBe(3);

    expect(await h.send(SESSION_A, notification('notifications/cancelled', { requestId: 5, reason: 'user' }))).toEqual({ kind: 'none' });
    await waitFor(() => h.aborted.length === 1, 'an abort');
    await sleep(20);
    expect(h.aborted).toEqual(['A5']);
    expect(h.hub.inflightCount).toBe(2);

    await h.send(SESSION_B, notification('notifications/cancelled', { requestId: 5 }));
    await waitFor(() => h.aborted.length === 2, 'the second abort');
    expect(h.aborted).toEqual(['A5', 'B5']);
    // The SDK sends nothing for a cancelled request, and the hub publishes nothing either.
    await sleep(30);
    expect(h.publisher.published()).toEqual([]);
  });

  test('a cancel for an id the session does not have is ignored', async () => {
    const h = await harness({ inlineBudgetMs: 10 });
    await h.send(SESSION_A, callTool(5, 'block', { tag: 'A5' }));
    await waitFor(() => h.started.length === 1, 'the handler');
    expect(await h.send(SESSION_B, notification('notifications/cancelled', { requestId: 5 }))).toEqual({ kind: 'none' });
    expect(await h.send(SESSION_A, notification('notifications/cancelled', { requestId: '5' }))).toEqual({ kind: 'none' });
    expect(await h.send(SESSION_A, notification('notifications/cancelled', { requestId: 99 }))).toEqual({ kind: 'none' });
    await sleep(30);
    expect(h.aborted).toEqual([]);
    expect(h.hub.inflightCount).toBe(1);
  });

  test('cancelling a request whose exchange is still open releases it with none', async () => {
    const h = await harness({ inlineBudgetMs: 10_000 });
    const pending = h.send(SESSION_A, callTool('x', 'block', { tag: 'pending' }), 'streamable');
    await waitFor(() => h.started.length === 1, 'the handler');
    await h.send(SESSION_A, notification('notifications/cancelled', { requestId: 'x' }));
    await expect(pending).resolves.toEqual({ kind: 'none' });
    await waitFor(() => h.aborted.length === 1, 'the abort');
  });

  test('cancelling a Streamable HTTP request already on a stream ends that stream', async () => {
    const h = await harness({ inlineBudgetMs: 10 });
    const delivery = await h.send(SESSION_A, callTool(1, 'block', { tag: 'streamed' }), 'streamable');
    expect(delivery.kind).toBe('stream');
    const channel = (delivery as { channel: string }).channel;
    await h.send(SESSION_A, notification('notifications/cancelled', { requestId: 1 }));
    await waitFor(() => h.publisher.calls.some((c) => c.op === 'delete' && c.channel === channel), 'the stream to be deleted');
    expect(h.aborted).toEqual(['streamed']);
  });

  test('sessionClosed aborts every handler of that session and no other', async () => {
    const h = await harness({ inlineBudgetMs: 10 });
    await h.send(SESSION_A, callTool(1, 'block', { tag: 'A1' }));
    await h.send(SESSION_A, callTool(2, 'block', { tag: 'A2' }), 'streamable');
    await h.send(SESSION_B, callTool(1, 'block', { tag: 'B1' }));
    await waitFor(() => h.started.length === 3, 'three handlers');
    h.hub.sessionClosed(SESSION_A);
    await waitFor(() => h.aborted.length === 2, 'two aborts');
    await sleep(20);
    expect([...h.aborted].sort()).toEqual(['A1', 'A2']);
    expect(h.hub.inflightCount).toBe(1);
    h.hub.sessionClosed(SESSION_A); // nothing left: no effect
    h.hub.sessionClosed('unknown-session');
    await sleep(20);
    expect(h.aborted).toHaveLength(2);
  });

  test('sessionClosed releases exchanges still waiting inline', async () => {
    const h = await harness({ inlineBudgetMs: 10_000 });
    const one = h.send(SESSION_A, callTool(1, 'block', { tag: 'one' }));
    const two = h.send(SESSION_A, callTool(2, 'block', { tag: 'two' }), 'sse');
    await waitFor(() => h.started.length === 2, 'the handlers');
    h.hub.sessionClosed(SESSION_A);
    await expect(Promise.all([one, two])).resolves.toEqual([{ kind: 'none' }, { kind: 'none' }]);
  });
});

describe('SessionHub: its request observer (per-tool metrics without a transport layer)', () => {
  test('told of each request at its end: inline and published replies, errors, cancellations, and what close leaves', async () => {
    const h = await harness({ inlineBudgetMs: 10_000, inlineReplyMax: 4096 });
    const metrics = new BackendMetrics({ figures: () => ({ inflight: 0, sessionsClosed: 0, published: 0, retried: 0, failed: 0 }) });
    h.hub.observer = observeRequests({ server: 'test', metrics, hasTool: (name) => ['echo', 'block', 'big'].includes(name), logger: pino({ level: 'silent' }), tracing: false });
    const count = async (tool: string, outcome: string) => {
      const line = (await metrics.text()).split('\n').find((l) => l.startsWith(`httmcp_tool_calls_total{server="test",tool="${tool}",outcome="${outcome}"}`));
      return line === undefined ? 0 : Number(line.split(' ').pop());
    };

    expect(replyText(bodyOf(await h.send(SESSION_A, callTool(1, 'echo', { text: 'hi' }))))).toBe('hi');
    expect(await count('echo', 'ok')).toBe(1);
    // Published (larger than inlineReplyMax): counted once nchan took it.
    expect(await h.send(SESSION_A, callTool(2, 'big', { size: 10_000 }))).toEqual({ kind: 'none' });
    await waitFor(() => h.publisher.published().length === 1, 'the published reply');
    await waitFor(() => metrics.tally('test', 'big', true).calls.ok === 1, 'the published call counted');
    expect(await count('big', 'ok')).toBe(1);
    expect(bodyOf(await h.send(SESSION_A, callTool(3, 'nope')))).toHaveProperty('error');
    expect(await count('_unknown', 'error')).toBe(1);

    void h.send(SESSION_A, callTool(4, 'block', { tag: 'cancelled' }));
    void h.send(SESSION_B, callTool(5, 'block', { tag: 'left running' }));
    await waitFor(() => h.started.length === 2, 'the blocked handlers');
    expect(await metrics.text()).toContain('httmcp_tool_calls_in_flight{server="test",tool="block"} 2\n');
    await h.send(SESSION_A, notification('notifications/cancelled', { requestId: 4 }));
    expect(await count('block', 'cancelled')).toBe(1);
    await h.hub.close();
    expect(await count('block', 'cancelled')).toBe(2);
    expect(await metrics.text()).toContain('httmcp_tool_calls_in_flight{server="test",tool="block"} 0\n');
    expect(await metrics.text()).toMatch(/httmcp_tool_call_duration_seconds_count\{server="test",tool="echo",outcome="ok"\} 1\n/);
  });
});

describe('SessionHub: bad client messages', () => {
  test('invalid JSON is a parse error -32700 with id null', async () => {
    const h = await harness();
    for (const body of ['{', 'not json', '', '{"jsonrpc":"2.0",}']) {
      const delivery = await h.send(SESSION_A, body);
      expect(delivery.kind).toBe('invalid');
      expect(bodyOf(delivery)).toEqual({ jsonrpc: '2.0', id: null, error: { code: ErrorCode.ParseError, message: expect.any(String) } });
    }
  });

  test('JSON that is not JSON-RPC 2.0 is an invalid request -32600, with the id when it is usable', async () => {
    const h = await harness();
    const cases: Array<[string, RequestId | null]> = [
      ['{"hello":"world"}', null],
      ['"a string"', null],
      ['42', null],
      ['null', null],
      ['{"jsonrpc":"1.0","id":3,"method":"tools/list"}', 3],
      ['{"id":"abc","method":"tools/list"}', 'abc'],
      ['{"jsonrpc":"2.0","id":{"nested":1},"method":"tools/list"}', null],
      ['{"jsonrpc":"2.0","id":1,"method":42}', 1],
    ];
    for (const [body, id] of cases) {
      const delivery = await h.send(SESSION_A, body);
      expect(delivery.kind).toBe('invalid');
      expect(bodyOf(delivery)).toEqual({ jsonrpc: '2.0', id, error: { code: ErrorCode.InvalidRequest, message: expect.any(String) } });
    }
    expect(h.hub.inflightCount).toBe(0);
  });

  test('batches are refused with -32600', async () => {
    const h = await harness();
    for (const body of [`[${callTool(1, 'echo', { text: 'a' })},${callTool(2, 'echo', { text: 'b' })}]`, '[]']) {
      const delivery = await h.send(SESSION_A, body);
      expect(delivery.kind).toBe('invalid');
      expect(bodyOf(delivery)).toEqual({
        jsonrpc: '2.0',
        id: null,
        error: { code: ErrorCode.InvalidRequest, message: expect.stringMatching(/batch/i) },
      });
    }
    expect(h.hub.inflightCount).toBe(0);
  });
});

describe('SessionHub: server-to-client requests', () => {
  test('only the session the request was sent to may answer it', async () => {
    const h = await harness({ inlineBudgetMs: 10 });
    expect(await h.send(SESSION_A, callTool('q', 'ask'))).toEqual({ kind: 'none' });
    await waitFor(() => h.publisher.published(SESSION_A).length === 1, 'the ping to reach session A');
    const ping = h.publisher.published(SESSION_A)[0]!;
    expect(ping).toMatchObject({ jsonrpc: '2.0', method: 'ping' });
    const pingId = ping.id as RequestId;

    // Session B answers A's ping: dropped, logged, and A's handler keeps waiting.
    const wrong = await h.send(SESSION_B, JSON.stringify({ jsonrpc: '2.0', id: pingId, result: {} }));
    expect(wrong).toEqual({ kind: 'none' });
    expect(h.records.some((r) => r.msg === 'dropped a response to no request of this session' && r.session === SESSION_B)).toBe(true);
    await sleep(30);
    expect(h.publisher.published(SESSION_A)).toHaveLength(1);
    expect(h.publisher.published(SESSION_B)).toEqual([]);
    expect(h.hub.inflightCount).toBe(1);

    // Session A answers: the tool completes and its reply reaches A with A's id.
    expect(await h.send(SESSION_A, JSON.stringify({ jsonrpc: '2.0', id: pingId, result: {} }))).toEqual({ kind: 'none' });
    await waitFor(() => h.publisher.published(SESSION_A).length === 2, 'the tool reply');
    const reply = h.publisher.published(SESSION_A)[1]!;
    expect(reply.id).toBe('q');
    expect(replyText(reply)).toBe('answered');

    // A second answer to the same request is dropped too.
    await h.send(SESSION_A, JSON.stringify({ jsonrpc: '2.0', id: pingId, result: {} }));
    expect(h.records.filter((r) => r.msg === 'dropped a response to no request of this session')).toHaveLength(2);
  });

  test('a response to a request nobody sent is dropped', async () => {
    const h = await harness();
    expect(await h.send(SESSION_A, JSON.stringify({ jsonrpc: '2.0', id: 12345, result: {} }))).toEqual({ kind: 'none' });
    expect(await h.send(SESSION_A, JSON.stringify({ jsonrpc: '2.0', id: 12345, error: { code: -1, message: 'x' } }))).toEqual({ kind: 'none' });
    expect(h.records.filter((r) => r.msg === 'dropped a response to no request of this session')).toHaveLength(2);
  });
});

describe('SessionHub: other messages', () => {
  test('client notifications reach the server and are answered with none', async () => {
    const h = await harness();
    let initialized = 0;
    h.mcp.server.oninitialized = () => {
      initialized++;
    };
    expect(await h.send(SESSION_A, notification('notifications/initialized'))).toEqual({ kind: 'none' });
    await waitFor(() => initialized === 1, 'oninitialized');
  });

  test('push publishes a message to a session', async () => {
    const h = await harness();
    await h.hub.push(SESSION_B, { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'hello' } });
    expect(h.publisher.calls).toEqual([
      { op: 'publish', channel: SESSION_B, event: 'message', body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'hello' } }) },
    ]);
  });

  test('a server message tied to no request goes to the server\'s broadcast channel, once', async () => {
    const h = await harness();
    await h.mcp.server.sendToolListChanged();
    expect(h.publisher.calls.map((call) => ('body' in call ? { ...call, body: JSON.parse(call.body) } : call))).toEqual([
      { op: 'publish', channel: 'httmcp.broadcast.test', event: 'message', body: { method: 'notifications/tools/list_changed', jsonrpc: '2.0' } },
    ]);
  });

  test('close ends the connected server', async () => {
    const h = await harness();
    let closed = 0;
    h.mcp.server.onclose = () => {
      closed++;
    };
    await h.hub.close();
    expect(closed).toBe(1);
    expect(h.hub.inflightCount).toBe(0);
  });
});

describe('HTTMCP mounted on a gateway', () => {
  test('ctx.push reaches the session through the publisher, also after the handler returned', async () => {
    const { logger } = captureLogger();
    const gateway = new Gateway({ publishUrl: 'http://127.0.0.1:9', sessionSecret: 'x'.repeat(32), logger, inlineBudgetMs: 1000 });
    const realPublisher = gateway.publisher;
    const publisher = new FakePublisher();
    Object.defineProperty(gateway, 'publisher', { value: publisher.asPublisher() });
    let hub: SessionHub | undefined;
    const createHub = gateway.createHub.bind(gateway);
    gateway.createHub = (name: string) => (hub = createHub(name));

    let later: Promise<void> | undefined;
    const server = new HTTMCP({ name: 'pusher', version: '1' }).tool('later', {}, (_args, ctx) => {
      later = delay(20).then(() => ctx.push({ method: 'notifications/message', params: { level: 'info', data: 'done later' } }));
      return 'started';
    });
    server.mount(gateway);
    expect(hub).toBeDefined();
    try {
      const delivery = await hub!.receive({ session: SESSION_A, wire: 'websocket', headers: {}, body: callTool(1, 'later') });
      expect(replyText(bodyOf(delivery))).toBe('started');
      await later;
      expect(publisher.published(SESSION_A)).toEqual([
        { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'done later' } },
      ]);
    } finally {
      await server.unmount();
      await realPublisher.close();
    }
  });
});
