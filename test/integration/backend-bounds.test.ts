/**
 * What one client can make the backend keep or run is bounded (issue 10, points 5 to 7), on a
 * real nginx+nchan stack: subscription and initialize floods get a clear JSON-RPC error past
 * their bounds and what the backend retains stays within them; requests past the in-flight
 * bounds are refused; a client that leaves, on any transport, has its running handlers aborted;
 * an over-long batch is refused, and other clients are served while a long legal one runs.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { z } from 'zod';
import { createExampleServers } from '../../examples/index.js';
import { HTTMCP, LIMIT_EXCEEDED, type Stack } from '../../src/index.js';
import { INITIALIZE_PARAMS, openStreamableSession, STREAMABLE_ACCEPT, WsClient } from '../helpers/raw-clients.js';
import { connectClient, startTestStack, workerCrashes } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const LIMITS = {
  batchLength: 1000,
  inflightPerSession: 5,
  inflightPerPrincipal: 8,
  inflightTotal: 40,
  subscriptionsPerSession: 20,
  subscriptionsPerPrincipal: 30,
  subscriptionsTotal: 60,
  subscriptionUriBytes: 1024,
  capabilitiesBytes: 2048,
  capabilitiesTotalBytes: 64 * 1024,
  trackedSessions: 200,
};

/** Handlers that have started, and those whose signal aborted, by tag. */
const started = new Set<string>();
const aborted = new Set<string>();

const probe = new HTTMCP({ name: 'probe', version: '1.0.0' })
  .tool('block', { input: { tag: z.string() } }, ({ tag }, ctx) => {
    started.add(tag);
    return new Promise<string>((resolve) => {
      ctx.signal.addEventListener('abort', () => {
        aborted.add(tag);
        resolve('aborted');
      });
    });
  });

let stack: Stack;
let url: string;

beforeAll(async () => {
  stack = await startTestStack({ servers: [...createExampleServers(), probe], gateway: { limits: LIMITS } });
  url = stack.servers.probe!;
});

afterAll(async () => {
  await stack?.stop();
});

type Json = Record<string, any>;

/** One JSON-RPC request on a Streamable HTTP session; the JSON reply (the exchange must be JSON). */
async function call(session: string, body: Json | Json[], headers: Record<string, string> = {}, version = '2025-06-18'): Promise<{ status: number; json: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', 'mcp-session-id': session, 'mcp-protocol-version': version, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** A Streamable HTTP session opened with `headers` (an Authorization header makes a principal). */
async function session(headers: Record<string, string> = {}, capabilities: Json = {}): Promise<{ status: number; session: string | null; json: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { ...INITIALIZE_PARAMS, capabilities } }),
  });
  return { status: res.status, session: res.headers.get('mcp-session-id'), json: await res.json() };
}

/** Opens the session's GET stream (server pushes); returns what closes it. */
async function listen(sessionId: string, headers: Record<string, string> = {}): Promise<() => void> {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18', ...headers },
    signal: controller.signal,
  });
  expect(res.status).toBe(200);
  void res.body!.getReader().read().catch(() => undefined);
  return () => controller.abort();
}

function subscribe(id: number, uri: string): Json {
  return { jsonrpc: '2.0', id, method: 'resources/subscribe', params: { uri } };
}

/** Starts `block` with `tag` on a Streamable HTTP session without waiting for it. */
function startBlock(sessionId: string, tag: string, headers: Record<string, string> = {}): { done: Promise<Response>; stop: () => void } {
  const controller = new AbortController();
  const done = fetch(url, {
    method: 'POST',
    headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: tag, method: 'tools/call', params: { name: 'block', arguments: { tag } } }),
    signal: controller.signal,
  });
  done.catch(() => undefined);
  return { done, stop: () => controller.abort() };
}


const limitError = (setting: string) => ({
  code: LIMIT_EXCEEDED,
  message: expect.stringContaining(setting),
  data: { limit: setting, value: expect.any(Number) },
});

describe('resources/subscribe flood', () => {
  test('a session gets a clear error past its bound, and a huge URI is refused', async () => {
    const { session: id } = await session();
    const replies = [];
    for (let i = 0; i < 25; i++) replies.push((await call(id!, subscribe(i, `probe://item/${i}`))).json);
    expect(replies.slice(0, 20).every((r) => JSON.stringify(r.result) === '{}')).toBe(true);
    for (const reply of replies.slice(20)) expect(reply.error).toMatchObject({ ...limitError('HTTMCP_MAX_SUBSCRIPTIONS_PER_SESSION'), message: expect.stringMatching(/at most 20/) });
    // Subscribing again to a URI it holds is not a new subscription.
    expect((await call(id!, subscribe(99, 'probe://item/3'))).json.result).toEqual({});

    const huge = await call(id!, subscribe(100, `probe://${'x'.repeat(2 * 1024 * 1024)}`));
    expect(huge.json.error).toMatchObject(limitError('HTTMCP_MAX_SUBSCRIPTION_URI'));
    // Unsubscribing frees room.
    expect((await call(id!, { jsonrpc: '2.0', id: 101, method: 'resources/unsubscribe', params: { uri: 'probe://item/0' } })).json.result).toEqual({});
    expect((await call(id!, subscribe(102, 'probe://item/new'))).json.result).toEqual({});
    await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': id!, 'mcp-protocol-version': '2025-06-18' } });
  });

  test('many sessions of one principal, then of anyone, reach the per-principal and total bounds; abandoned sessions are reclaimed', async () => {
    const auth = { authorization: 'Bearer flooder' };
    const sessions = await Promise.all(Array.from({ length: 3 }, () => session(auth)));
    // Every session listens on its GET stream, as a client that wants notifications does.
    const streams = await Promise.all(sessions.map((s) => listen(s.session!, auth)));
    const errors: Json[] = [];
    let n = 0;
    for (const s of sessions) {
      for (let i = 0; i < 15; i++) {
        const reply = (await call(s.session!, subscribe(n, `probe://p/${n++}`), auth)).json;
        if (reply.error) errors.push(reply.error);
      }
    }
    expect(errors).toHaveLength(45 - 30);
    for (const error of errors) expect(error).toMatchObject(limitError('HTTMCP_MAX_SUBSCRIPTIONS_PER_PRINCIPAL'));

    // Anonymous sessions fill the server's total; past it everyone is refused, nothing is kept.
    const anonymous = await Promise.all(Array.from({ length: 5 }, () => session()));
    const anonymousStreams = await Promise.all(anonymous.map((s) => listen(s.session!)));
    const totals: Json[] = [];
    for (const s of anonymous) {
      for (let i = 0; i < 15; i++) {
        const reply = (await call(s.session!, subscribe(n, `probe://a/${n++}`))).json;
        if (reply.error) totals.push(reply.error);
      }
    }
    expect(totals.length).toBe(5 * 15 - (LIMITS.subscriptionsTotal - 30));
    for (const error of totals) expect(error).toMatchObject(limitError('HTTMCP_MAX_SUBSCRIPTIONS'));
    expect(stack.gateway.stats().retained.subscriptions).toBe(LIMITS.subscriptionsTotal);

    // The anonymous clients leave without DELETE (nobody on their stream any more): when the
    // total is reached again, their subscriptions are reclaimed and a newcomer gets in.
    for (const stop of anonymousStreams) stop();
    await new Promise((r) => setTimeout(r, 1200)); // reclaims run at most once a second
    const newcomer = await session();
    const stopNewcomer = await listen(newcomer.session!);
    expect((await call(newcomer.session!, subscribe(n, 'probe://new'))).json.result).toEqual({});
    expect(stack.gateway.stats().retained.subscriptions).toBe(31);

    for (const stop of [...streams, stopNewcomer]) stop();
    for (const s of [...sessions, newcomer]) {
      await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': s.session!, 'mcp-protocol-version': '2025-06-18', ...(sessions.includes(s) ? auth : {}) } });
    }
    expect(stack.gateway.stats().retained.subscriptions).toBe(0);
  });
});

test('an idle WebSocket that closes gives its subscriptions back (nchan\'s unsubscribe hook reaches the backend)', async () => {
  const before = stack.gateway.stats();
  const ws = await WsClient.open(url);
  await ws.request('init', 'initialize', INITIALIZE_PARAMS);
  for (let i = 0; i < 5; i++) expect(await ws.request(`s${i}`, 'resources/subscribe', { uri: `probe://ws/${i}` })).toMatchObject({ result: {} });
  expect(stack.gateway.stats().retained.subscriptions).toBe(before.retained.subscriptions! + 5);
  ws.close();
  // Nothing of it is running, so no liveness sweep looks at it: only the hook can tell.
  await waitFor(() => stack.gateway.stats().sessionsClosed > before.sessionsClosed, 'the hook to reach the backend');
  expect(stack.gateway.stats().retained.subscriptions).toBe(before.retained.subscriptions);
});

describe('initialize flood', () => {
  test('capabilities past the bound are refused; what is kept stays within the count and byte budgets', async () => {
    const big = await session({}, { experimental: { blob: { data: 'x'.repeat(1024 * 1024) } } });
    expect(big.json.error).toMatchObject(limitError('HTTMCP_MAX_CLIENT_CAPABILITIES'));

    // 400 sessions that each declare ~1.5 KB of capabilities: at most trackedSessions are kept,
    // in at most the byte budget.
    const capabilities = { sampling: {}, experimental: { pad: { data: 'y'.repeat(1500) } } };
    for (let round = 0; round < 8; round++) {
      const results = await Promise.all(Array.from({ length: 50 }, () => session({}, capabilities)));
      expect(results.every((r) => r.status === 200 && r.json.result?.serverInfo?.name === 'probe')).toBe(true);
    }
    const { retained } = stack.gateway.stats();
    expect(retained.capabilities).toBeLessThanOrEqual(LIMITS.trackedSessions);
    expect(retained.capabilitiesBytes).toBeLessThanOrEqual(LIMITS.capabilitiesTotalBytes);
    expect(retained.capabilities).toBeGreaterThan(10);
  });
});

describe('in-flight work', () => {
  test('past the per-session and per-principal bounds a request is refused with the limit named; others still run', async () => {
    const { session: a } = await session();
    const blocks = Array.from({ length: 5 }, (_, i) => startBlock(a!, `a-${i}`));
    await waitFor(() => [0, 1, 2, 3, 4].every((i) => started.has(`a-${i}`)), 'five handlers running');
    const sixth = await call(a!, { jsonrpc: '2.0', id: 'a-5', method: 'tools/call', params: { name: 'block', arguments: { tag: 'a-5' } } });
    expect(sixth.status).toBe(200);
    expect(sixth.json).toMatchObject({ id: 'a-5', error: limitError('HTTMCP_MAX_INFLIGHT_PER_SESSION') });
    expect(started.has('a-5')).toBe(false);
    // Another session is not affected.
    const other = await openStreamableSession(stack.servers.demo!);
    const res = await fetch(stack.servers.demo!, {
      method: 'POST',
      headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', 'mcp-session-id': other, 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } }),
    });
    expect(await res.json()).toMatchObject({ result: { content: [{ text: '3' }] } });

    // One principal over two sessions: 8 in all.
    const auth = { authorization: 'Bearer busy' };
    const [p1, p2] = await Promise.all([session(auth), session(auth)]);
    const principalBlocks = [
      ...Array.from({ length: 5 }, (_, i) => startBlock(p1.session!, `p1-${i}`, auth)),
      ...Array.from({ length: 3 }, (_, i) => startBlock(p2.session!, `p2-${i}`, auth)),
    ];
    await waitFor(() => stack.gateway.stats().inflight >= 13, 'thirteen handlers running');
    const ninth = await call(p2.session!, { jsonrpc: '2.0', id: 'p2-3', method: 'tools/call', params: { name: 'block', arguments: { tag: 'p2-3' } } }, auth);
    expect(ninth.json).toMatchObject({ id: 'p2-3', error: limitError('HTTMCP_MAX_INFLIGHT_PER_PRINCIPAL') });

    // DELETE ends a session's running work: every handler's signal aborts.
    for (const s of [{ id: a!, headers: {} }, { id: p1.session!, headers: auth }, { id: p2.session!, headers: auth }]) {
      const res = await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': s.id, 'mcp-protocol-version': '2025-06-18', ...s.headers } });
      expect(res.status).toBe(200);
    }
    await waitFor(() => [...started].filter((t) => /^(a|p1|p2)-/.test(t)).every((t) => aborted.has(t)), 'every handler aborted');
    for (const b of [...blocks, ...principalBlocks]) b.stop();
    await waitFor(() => stack.gateway.stats().inflight === 0, 'nothing in flight');
  });
});

describe('a client that leaves has its running handlers aborted', () => {
  test('WebSocket closed', async () => {
    const ws = await WsClient.open(url);
    await ws.request('init', 'initialize', INITIALIZE_PARAMS);
    ws.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'block', arguments: { tag: 'leave-ws' } } });
    await waitFor(() => started.has('leave-ws'), 'the handler to start');
    ws.ws.terminate();
    await waitFor(() => aborted.has('leave-ws'), 'the handler to be aborted', 8000);
  });

  test('legacy SSE stream closed', async () => {
    const client = new Client({ name: 'leaver', version: '1' });
    await client.connect(new SSEClientTransport(new URL(url)));
    void client.callTool({ name: 'block', arguments: { tag: 'leave-sse' } }).catch(() => undefined);
    await waitFor(() => started.has('leave-sse'), 'the handler to start');
    await client.close();
    // No resume within a liveness interval (2 s in tests): the sweep ends the session.
    await waitFor(() => aborted.has('leave-sse'), 'the handler to be aborted', 8000);
  });

  test('Streamable HTTP request stream closed', async () => {
    const { session: id } = await session();
    const block = startBlock(id!, 'leave-streamable');
    const res = await block.done;
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = res.body!.getReader();
    await reader.read(); // the stream is open: the priming event or nchan's opening comment
    await waitFor(() => started.has('leave-streamable'), 'the handler to start');
    block.stop();
    // nchan's unsubscribe hook, then a liveness interval without the client coming back.
    await waitFor(() => aborted.has('leave-streamable'), 'the handler to be aborted', 8000);
  });

  test('Streamable HTTP request stream closed after a liveness sweep saw its client on it', async () => {
    // The attack benchmark's miss (issue 10, point 6): a sweep that finds the client on its
    // stream leaves the rest to nchan's unsubscribe hook, so a hook the backend never gets kept
    // the request running for as long as it ran.
    const { session: id } = await session();
    const block = startBlock(id!, 'leave-watched-streamable');
    const res = await block.done;
    const reader = res.body!.getReader();
    await reader.read();
    await waitFor(() => started.has('leave-watched-streamable'), 'the handler to start');
    await new Promise((r) => setTimeout(r, 5000)); // two sweeps (2 s in tests) see the client
    expect(aborted.has('leave-watched-streamable')).toBe(false);
    block.stop();
    await waitFor(() => aborted.has('leave-watched-streamable'), 'the handler to be aborted', 8000);
  });

  test('a Streamable HTTP client that resumes its stream in time keeps its request', async () => {
    const { session: id } = await session();
    const block = startBlock(id!, 'resume-streamable');
    const res = await block.done;
    const reader = res.body!.getReader();
    let text = '';
    while (!/id: \S+/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    const lastEventId = /id: (\S+)/.exec(text)![1]!;
    block.stop();
    const resumed = await fetch(url, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': id!, 'mcp-protocol-version': '2025-06-18', 'last-event-id': lastEventId },
    });
    expect(resumed.status).toBe(200);
    const resumedReader = resumed.body!.getReader();
    void resumedReader.read().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 5000)); // more than two liveness intervals
    expect(aborted.has('resume-streamable')).toBe(false);
    await fetch(url, { method: 'DELETE', headers: { 'mcp-session-id': id!, 'mcp-protocol-version': '2025-06-18' } });
    await waitFor(() => aborted.has('resume-streamable'), 'the handler to be aborted by DELETE');
    await resumedReader.cancel().catch(() => undefined);
  });
});

test('a message nested past HTTMCP_MAX_JSON_DEPTH is refused before it is parsed, on WebSocket and Streamable HTTP', async () => {
  const deep = (id: number) =>
    `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"add","arguments":{"a":${'['.repeat(300_000)}${']'.repeat(300_000)},"b":1}}}`;
  const expected = { jsonrpc: '2.0', id: null, error: limitError('HTTMCP_MAX_JSON_DEPTH') };
  const ws = await WsClient.open(stack.servers.demo!);
  await ws.initialize();
  expect(await ws.exchange(deep(1))).toMatchObject(expected);
  expect(await ws.request('after', 'ping')).toMatchObject({ id: 'after', result: {} });
  ws.close();
  const id = await openStreamableSession(stack.servers.demo!);
  const res = await fetch(stack.servers.demo!, {
    method: 'POST',
    headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' },
    body: deep(2),
  });
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject(expected);
});

describe('batches', () => {
  test('a batch past HTTMCP_MAX_BATCH is refused with the limit named, and nothing of it runs', async () => {
    const id = await openStreamableSession(stack.servers.demo!, '2025-03-26');
    const pings = Array.from({ length: 60_000 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' }));
    const res = await fetch(stack.servers.demo!, {
      method: 'POST',
      headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', 'mcp-session-id': id },
      body: JSON.stringify(pings),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: limitError('HTTMCP_MAX_BATCH') });
  });

  test('while a long legal batch is handled, another client\'s calls are answered', async () => {
    // A batch's requests run at once, so its length is bounded by the in-flight bounds too:
    // a stack that allows 20,000 of both.
    const big = await startTestStack({ gateway: { limits: { batchLength: 20_000, inflightPerSession: 20_000, inflightTotal: 40_000 } } });
    const demo = big.servers.demo!;
    const id = await openStreamableSession(demo, '2025-03-26');
    const control = await connectClient('websocket', demo);
    try {
      const pings = Array.from({ length: 20_000 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' }));
      let batchDone = false;
      const batch = fetch(demo, {
        method: 'POST',
        headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', 'mcp-session-id': id },
        body: JSON.stringify(pings),
      }).then(async (res) => {
        batchDone = true;
        return { status: res.status, json: (await res.json()) as Json[] };
      });
      const sums: string[] = [];
      while (!batchDone && sums.length < 50) {
        const result = await control.callTool({ name: 'add', arguments: { a: sums.length, b: 1 } });
        sums.push((result.content as Array<{ text: string }>)[0]!.text);
      }
      const { status, json } = await batch;
      expect(status).toBe(200);
      expect(json).toHaveLength(20_000);
      expect(json.every((reply, i) => reply.id === i && JSON.stringify(reply.result) === '{}')).toBe(true);
      expect(sums.length).toBeGreaterThan(0);
      expect(sums).toEqual(sums.map((_, i) => String(i + 1)));
    } finally {
      await control.close();
      await big.stop();
    }
  });
});

test('no nginx worker crashed', () => {
  expect(workerCrashes(stack)).toEqual([]);
});
