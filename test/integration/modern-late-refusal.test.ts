/**
 * A 2026-07-28 refusal raised after the inline budget, through a real nginx+nchan stack: the
 * status hold (src/http/status-hold.ts) keeps the HTTP exchange of a request that has sent
 * nothing yet, so a late `-32021` still answers HTTP 400 as the spec requires; a request that
 * sent progress first has its stream already, and its error arrives there; a request slower than
 * the hold still moves to a stream nchan holds, and the backend holds nothing for it.
 *
 * No test depends on how fast anything runs: tools wait on gates the test opens, and the test
 * watches the gateway's own counts (`modernHeld`, `modernStreams`) to know where a request is.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { HTTMCP, type Stack } from '../../src/index.js';
import { envelope, postModern } from '../helpers/era-2026.js';
import { startTestStack, workerCrashes } from '../helpers/stack.js';
import { withWaitTool } from '../helpers/wait-tool.js';

/** Handlers of `wait` that saw their signal abort. */
const aborted: string[] = [];
/** Gates the tools wait on, by tag; the test opens them. */
const gates = new Map<string, () => void>();

function gate(tag: string): Promise<void> {
  return new Promise((resolve) => gates.set(tag, resolve));
}

function open(tag: string): void {
  const resolve = gates.get(tag);
  if (!resolve) throw new Error(`no tool waits on gate ${tag}`);
  resolve();
}

function createLateServer(): HTTMCP {
  const tag = { input: { tag: z.string() } };
  return withWaitTool(new HTTMCP({ name: 'late', version: '1.0.0' }), aborted)
    .tool('refuse_late', tag, async ({ tag }, ctx) => {
      await gate(tag);
      // The client declared no sampling: the SDK refuses the input request with -32021.
      await ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }], maxTokens: 5 });
      return 'unreachable';
    })
    .tool('progress_then_refuse', tag, async ({ tag }, ctx) => {
      await ctx.progress(1, 2, 'started');
      await gate(tag);
      await ctx.elicit({ message: 'Continue?', requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } } } });
      return 'unreachable';
    })
    .tool('refuse_at_once', {}, async (_args, ctx) => {
      await ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }], maxTokens: 5 });
      return 'unreachable';
    })
    .tool('gated', tag, async ({ tag }) => {
      await gate(tag);
      return `opened ${tag}`;
    });
}

async function eventually(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

/** The JSON-RPC messages of an SSE response body. */
function events(text: string): Array<Record<string, any>> {
  return text
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .map((line) => JSON.parse(line.slice(5)));
}

describe('a long status hold (inline budget 20 ms, hold 30 s, one held at a time)', () => {
  let stack: Stack;
  let url: string;
  const retained = () => stack.gateway.stats().retained;

  beforeAll(async () => {
    stack = await startTestStack({ servers: [createLateServer()], gateway: { inlineBudgetMs: 20, statusHoldMs: 30_000, statusHoldMax: 1 } });
    url = stack.servers.late!;
  });

  afterAll(async () => {
    for (const resolve of gates.values()) resolve();
    await stack?.stop();
  });

  test('a tool that refuses after the inline budget, before any output, answers HTTP 400 with -32021', async () => {
    const sent = postModern(url, 'tools/call', { name: 'refuse_late', arguments: { tag: 'r1' } }, envelope('late'));
    // Past the inline budget, still running, nothing sent: its exchange is held.
    await eventually(() => retained().modernHeld === 1, 'the request to be held past the inline budget');
    expect(retained()).toMatchObject({ modernInflight: 1, modernStreams: 0 });
    open('r1');
    const { response, id } = await sent;
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    const body = await response.json();
    expect(body).toMatchObject({ id, error: { code: -32021, data: { requiredCapabilities: { sampling: {} } } } });
    expect(retained()).toMatchObject({ modernHeld: 0, modernInflight: 0, modernStreams: 0 });
  });

  test('a tool that reports progress and then refuses has its stream already: the error arrives on it', async () => {
    const sent = postModern(url, 'tools/call', { name: 'progress_then_refuse', arguments: { tag: 'p1' } }, { ...envelope('late'), progressToken: 'p1' });
    // The progress moved it to its stream at once: the 200 comes before the gate opens.
    const { response, id } = await sent;
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(retained()).toMatchObject({ modernHeld: 0, modernStreams: 1 });
    open('p1');
    const messages = events(await response.text());
    expect(messages[0]).toMatchObject({ method: 'notifications/progress', params: { progressToken: 'p1', progress: 1 } });
    expect(messages.find((message) => message.id === id)).toMatchObject({ error: { code: -32021, data: { requiredCapabilities: { elicitation: {} } } } });
    await eventually(() => retained().modernStreams === 0, 'the finished stream to be forgotten');
    expect(retained()).toMatchObject({ modernHeld: 0, modernInflight: 0 });
  });

  test('past the most held at once, a request moves to its stream at the inline budget as before', async () => {
    const first = postModern(url, 'tools/call', { name: 'gated', arguments: { tag: 'm1' } }, envelope('late'));
    await eventually(() => retained().modernHeld === 1, 'the first request to be held');
    // The hold is full: the second one gets its stream (200) while the first is still held.
    const second = await postModern(url, 'tools/call', { name: 'gated', arguments: { tag: 'm2' } }, envelope('late'));
    expect(second.response.status).toBe(200);
    expect(second.response.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(retained()).toMatchObject({ modernHeld: 1, modernInflight: 2, modernStreams: 1 });
    open('m1');
    open('m2');
    const held = await first;
    expect(held.response.status).toBe(200);
    expect(held.response.headers.get('content-type')).toMatch(/application\/json/);
    expect(await held.response.json()).toMatchObject({ id: held.id, result: { content: [{ text: 'opened m1' }] } });
    expect(events(await second.response.text()).find((message) => message.id === second.id)).toMatchObject({ result: { content: [{ text: 'opened m2' }] } });
    await eventually(() => retained().modernStreams === 0, 'the finished stream to be forgotten');
    expect(retained()).toMatchObject({ modernHeld: 0, modernInflight: 0 });
  });

  test('a client that leaves while its request is held cancels it: the handler sees its signal abort', async () => {
    const controller = new AbortController();
    const sent = fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'wait' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'wait', arguments: { tag: 'held-left' }, _meta: envelope('late') } }),
      signal: controller.signal,
    }).catch((error: unknown) => error);
    await eventually(() => retained().modernHeld === 1, 'the request to be held past the inline budget');
    controller.abort();
    await sent;
    await eventually(() => aborted.includes('held-left'), 'the handler to see its signal abort');
    expect(retained()).toMatchObject({ modernHeld: 0, modernInflight: 0, modernStreams: 0 });
    expect(workerCrashes(stack)).toEqual([]);
  });
});

describe('a short status hold (inline budget 20 ms, hold 200 ms)', () => {
  let stack: Stack;
  let url: string;
  const retained = () => stack.gateway.stats().retained;

  beforeAll(async () => {
    stack = await startTestStack({ servers: [createLateServer()], gateway: { inlineBudgetMs: 20, statusHoldMs: 200 } });
    url = stack.servers.late!;
  });

  afterAll(async () => {
    for (const resolve of gates.values()) resolve();
    await stack?.stop();
  });

  test('a tool slower than the hold streams its result on a stream nchan holds; the backend holds no exchange for it', async () => {
    // The gate opens only once the stream is there, whenever the hold ends.
    const { response, id } = await postModern(url, 'tools/call', { name: 'gated', arguments: { tag: 's1' } }, envelope('late'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect(retained()).toMatchObject({ modernHeld: 0, modernInflight: 1, modernStreams: 1 });
    open('s1');
    const reply = events(await response.text()).find((message) => message.id === id);
    expect(reply).toMatchObject({ result: { content: [{ type: 'text', text: 'opened s1' }] } });
    await eventually(() => retained().modernStreams === 0, 'the finished stream to be forgotten');
    expect(retained()).toMatchObject({ modernHeld: 0, modernInflight: 0 });
  });

  test('a refusal after the hold ended arrives on the stream (the status is 200 by then)', async () => {
    const { response, id } = await postModern(url, 'tools/call', { name: 'refuse_late', arguments: { tag: 's2' } }, envelope('late'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    open('s2');
    expect(events(await response.text()).find((message) => message.id === id)).toMatchObject({ error: { code: -32021 } });
  });

  test('closing the stream of a request that outlived the hold cancels it', async () => {
    const controller = new AbortController();
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'wait' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'wait', arguments: { tag: 'stream-closed' }, _meta: envelope('late') } }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    controller.abort();
    await eventually(() => aborted.includes('stream-closed'), 'the handler to see its signal abort');
    expect(retained()).toMatchObject({ modernHeld: 0, modernInflight: 0, modernStreams: 0 });
    expect(workerCrashes(stack)).toEqual([]);
  });
});

describe('no status hold, and an inline budget of 0 ms', () => {
  let stack: Stack;
  let url: string;

  beforeAll(async () => {
    stack = await startTestStack({ servers: [createLateServer()], gateway: { inlineBudgetMs: 0, statusHoldMs: 0 } });
    url = stack.servers.late!;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  test('a question the client declared no capability for is refused in the same turn: HTTP 400 even with no budget at all', async () => {
    // No requestState is signed for it (a thread-pool round trip the budget's timer would win).
    for (let i = 0; i < 5; i++) {
      const { response, id } = await postModern(url, 'tools/call', { name: 'refuse_at_once', arguments: {} }, envelope('late'));
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ id, error: { code: -32021, data: { requiredCapabilities: { sampling: {} } } } });
    }
  });

  test('the same question from a client that declared sampling still gets input_required with a signed state', async () => {
    const { response, id } = await postModern(url, 'tools/call', { name: 'refuse_at_once', arguments: {} }, { ...envelope('late'), 'io.modelcontextprotocol/clientCapabilities': { sampling: {} } });
    const messages: Array<Record<string, any>> = (response.headers.get('content-type') ?? '').includes('text/event-stream')
      ? events(await response.text())
      : [(await response.json()) as Record<string, any>];
    expect(response.status).toBe(200);
    const reply = messages.find((message) => message.id === id);
    expect(reply).toMatchObject({ result: { resultType: 'input_required', inputRequests: { 'sample-1': { method: 'sampling/createMessage' } } } });
    expect(typeof reply!.result.requestState).toBe('string');
  });
});
