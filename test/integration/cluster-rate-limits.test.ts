import WebSocket from 'ws';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { hashApiKey, HTTMCP, type Stack } from '../../src/index.js';
import { freePort } from '../../src/stack/stack.js';
import { envelope, postModern, replyOf } from '../helpers/era-2026.js';
import { INITIALIZE_PARAMS, openStreamableSession, STREAMABLE_ACCEPT } from '../helpers/raw-clients.js';
import { startRedis, type RedisTestServer } from '../helpers/redis.js';
import { startTestStack } from '../helpers/stack.js';

/**
 * Per-principal call rates across a cluster (docs/auth.md, "Across a cluster"): two complete
 * nodes (nginx+nchan and a backend each) on one Redis with one session secret. One principal
 * calling one tool through both nodes gets one budget, not one per node; another principal keeps
 * its own. Counts with generous margins, never timings.
 */

const SECRET = 'cluster-rate-secret-0123456789abcdef';
const KEYS = {
  flooder: 'key-of-the-flooder-0123456789',
  neighbour: 'key-of-the-neighbour-012345678',
  modern: 'key-of-the-modern-fan-01234567',
  ws: 'key-of-the-ws-fan-01234567890',
  sse: 'key-of-the-sse-fan-0123456789',
  batch: 'key-of-the-batch-fan-012345678',
};
const RATE = 2;
const BURST = 4;

function probeServer(calls: string[]): HTTMCP {
  return new HTTMCP({ name: 'probe', version: '1.0.0' }).tool('whoami', { description: 'who is calling' }, (_args, ctx) => {
    calls.push(ctx.auth?.subject ?? '?');
    return ctx.auth?.subject ?? null;
  });
}

/** What one node is: its stack and its server's URL. */
interface Node {
  stack: Stack;
  probe: string;
}

async function startNode(redisUrl: string, calls: string[], gateway: Record<string, unknown> = {}): Promise<Node> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const stack = await startTestStack({
    port,
    servers: [probeServer(calls)],
    redis: redisUrl,
    auth: { publicUrl: base, apiKeys: Object.entries(KEYS).map(([subject, key]) => ({ subject, sha256: hashApiKey(key) })) },
    // The server's rate out of the way: the tool's is what this file is about.
    principalLimits: { ratePerSecond: 1000, burst: 1000, toolRatePerSecond: RATE, toolBurst: BURST },
    gateway: { sessionSecret: SECRET, ...gateway },
  });
  return { stack, probe: `${base}/mcp/probe` };
}

/** The most calls one budget admits over `ms`: the burst, one more, the rate over the time, and a margin of 2. */
const budget = (ms: number) => BURST + 1 + Math.ceil((RATE * ms) / 1000) + 2;

type Answer = { status: number; retryAfter: string | null; body: string };

async function callTool(probe: string, key: string, session: string, id: number): Promise<Answer> {
  const response = await fetch(probe, {
    method: 'POST',
    headers: {
      accept: STREAMABLE_ACCEPT,
      'content-type': 'application/json',
      authorization: `Bearer ${key}`,
      'mcp-session-id': session,
      'mcp-protocol-version': '2025-06-18',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
  });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.text() };
}

describe('per-principal rates across two nodes on one Redis (real nginx+nchan, two backends)', () => {
  let redis: RedisTestServer;
  let nodes: Node[] = [];
  const calls: string[] = [];

  const timeoutSetting = process.env.HTTMCP_RATE_STORE_TIMEOUT_MS;
  beforeAll(async () => {
    // A generous timeout: on a loaded machine a round trip can take 100 ms, and a call counted
    // on its node meanwhile would blur what this file asserts.
    process.env.HTTMCP_RATE_STORE_TIMEOUT_MS = '5000';
    redis = await startRedis();
    nodes = [await startNode(redis.url, calls), await startNode(redis.url, calls)];
  });
  afterAll(async () => {
    if (timeoutSetting === undefined) delete process.env.HTTMCP_RATE_STORE_TIMEOUT_MS;
    else process.env.HTTMCP_RATE_STORE_TIMEOUT_MS = timeoutSetting;
    for (const node of nodes) await node.stack.stop();
    await redis?.stop();
  });

  test('one principal calling one tool through node A and node B alternately gets one budget, not two; another principal meanwhile keeps its own', async () => {
    const [a, b] = nodes as [Node, Node];
    const flooder = [await openStreamableSession(a.probe, '2025-06-18', { authorization: `Bearer ${KEYS.flooder}` }), await openStreamableSession(b.probe, '2025-06-18', { authorization: `Bearer ${KEYS.flooder}` })];
    const neighbour = [await openStreamableSession(a.probe, '2025-06-18', { authorization: `Bearer ${KEYS.neighbour}` }), await openStreamableSession(b.probe, '2025-06-18', { authorization: `Bearer ${KEYS.neighbour}` })];
    const before = calls.length;
    const started = Date.now();
    const answers: Answer[] = [];
    const neighbours: Answer[] = [];
    for (let i = 0; i < 30; i++) {
      const node = i % 2;
      answers.push(await callTool(nodes[node]!.probe, KEYS.flooder, flooder[node]!, 100 + i));
      // The neighbour's calls, as many as its burst, in the middle of the flood.
      if (i >= 10 && i < 10 + BURST + 1) neighbours.push(await callTool(nodes[node]!.probe, KEYS.neighbour, neighbour[node]!, 500 + i));
    }
    const elapsed = Date.now() - started;
    const served = answers.filter((x) => x.status === 200);
    const limited = answers.filter((x) => x.status === 429);
    expect(served.length + limited.length).toBe(answers.length);
    // Counted per node, each node would admit its own burst and more: at least 2 * (BURST + 1).
    expect(served.length).toBeGreaterThanOrEqual(BURST + 1);
    expect(served.length).toBeLessThanOrEqual(budget(elapsed));
    // Refused through either node, with Retry-After and the JSON-RPC error naming the tool.
    for (const node of [0, 1]) expect(answers.some((x, i) => i % 2 === node && x.status === 429)).toBe(true);
    for (const refused of limited) {
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
      const body = JSON.parse(refused.body) as { id: number; error: { data: Record<string, unknown> } };
      expect(body).toEqual({
        jsonrpc: '2.0',
        id: body.id,
        error: { code: -32000, message: expect.stringContaining('tool whoami') as string, data: { limit: 'rate', per: 'principal', name: 'whoami', retryAfterSeconds: Number(refused.retryAfter) } },
      });
    }
    // The neighbour was not limited by the flooder's budget, and refused calls reached no handler.
    expect(neighbours.map((x) => x.status)).toEqual(Array(BURST + 1).fill(200));
    expect(calls.length - before).toBe(served.length + neighbours.length);
    for (const node of nodes) expect(node.stack.gateway.stats().rateFallbacks).toBe(0);
  });

  test('2026-07-28 requests (Mcp-Name, no session) through both nodes share the budget too', async () => {
    const started = Date.now();
    const replies = [];
    for (let i = 0; i < 24; i++) {
      const { response, id } = await postModern(nodes[i % 2]!.probe, 'tools/call', { name: 'whoami', arguments: {} }, envelope(), `Bearer ${KEYS.modern}`);
      const retryAfter = response.headers.get('retry-after');
      replies.push({ ...(await replyOf(response, id)), retryAfter });
    }
    const elapsed = Date.now() - started;
    const served = replies.filter((r) => r.status === 200 && r.result);
    const limited = replies.filter((r) => r.status === 429);
    expect(served.length + limited.length).toBe(replies.length);
    expect(served.length).toBeGreaterThanOrEqual(BURST + 1);
    expect(served.length).toBeLessThanOrEqual(budget(elapsed));
    for (const refused of limited) {
      expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
      // nginx's per-node zone (a first line) or the cluster-wide count (which names the tool).
      expect(refused.error).toMatchObject({ code: -32000, data: { limit: 'rate', per: 'principal' } });
    }
  });

  test('WebSocket frames through both nodes share the budget; refused calls get the JSON-RPC error and the sockets stay open', async () => {
    const sockets = await Promise.all(nodes.map(async (node) => {
      const ws = new WebSocket(node.probe.replace(/^http/, 'ws'), 'mcp', { headers: { authorization: `Bearer ${KEYS.ws}` } });
      const replies = new Map<number, { result?: unknown; error?: { data?: Record<string, unknown> } }>();
      ws.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString('utf8')) as { id?: number; result?: unknown; error?: { data?: Record<string, unknown> } };
        if (typeof message.id === 'number') replies.set(message.id, message);
      });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const waitFor = async (id: number) => {
        while (!replies.has(id)) await new Promise((r) => setTimeout(r, 10));
        return replies.get(id)!;
      };
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INITIALIZE_PARAMS }));
      await waitFor(1);
      ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
      return { ws, waitFor };
    }));
    const started = Date.now();
    const replies = [];
    for (let i = 0; i < 24; i++) {
      const socket = sockets[i % 2]!;
      socket.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 10 + i, method: 'tools/call', params: { name: 'whoami', arguments: {} } }));
      replies.push(await socket.waitFor(10 + i));
    }
    const elapsed = Date.now() - started;
    const served = replies.filter((r) => r.result);
    expect(served.length).toBeGreaterThanOrEqual(BURST + 1);
    expect(served.length).toBeLessThanOrEqual(budget(elapsed));
    const refused = replies.filter((r) => r.error);
    expect(refused.length).toBe(replies.length - served.length);
    expect(refused[0]!.error!.data).toMatchObject({ limit: 'rate', per: 'principal', name: 'whoami' });
    for (const socket of sockets) {
      expect(socket.ws.readyState).toBe(WebSocket.OPEN);
      socket.ws.close();
    }
  });

  test('legacy SSE POSTs through both nodes share the budget; refused calls get the JSON-RPC error on the event stream', async () => {
    const authorization = `Bearer ${KEYS.sse}`;
    const clients = await Promise.all(nodes.map(async (node) => {
      const client = new Client({ name: 'sse-fan', version: '1.0.0' });
      await client.connect(new SSEClientTransport(new URL(node.probe), {
        requestInit: { headers: { authorization } },
        eventSourceInit: { fetch: (input, init) => fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers)), authorization } }) },
      }));
      return client;
    }));
    const started = Date.now();
    const outcomes: Array<{ served: boolean; data?: unknown }> = [];
    for (let i = 0; i < 24; i++) {
      try {
        await clients[i % 2]!.callTool({ name: 'whoami', arguments: {} });
        outcomes.push({ served: true });
      } catch (error) {
        if (!(error instanceof McpError)) throw error;
        outcomes.push({ served: false, data: error.data });
      }
    }
    const elapsed = Date.now() - started;
    const served = outcomes.filter((o) => o.served).length;
    expect(served).toBeGreaterThanOrEqual(BURST + 1);
    expect(served).toBeLessThanOrEqual(budget(elapsed));
    expect(outcomes.find((o) => !o.served)!.data).toMatchObject({ limit: 'rate', per: 'principal', name: 'whoami' });
    for (const client of clients) await client.close();
  });

  test('batches (protocol 2025-03-26) through both nodes: each call counts against the one budget', async () => {
    const authorization = `Bearer ${KEYS.batch}`;
    const started = Date.now();
    const replies: Array<{ result?: unknown; error?: { data?: unknown } }> = [];
    for (const node of nodes) {
      const session = await openStreamableSession(node.probe, '2025-03-26', { authorization });
      const response = await fetch(node.probe, {
        method: 'POST',
        headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', authorization, 'mcp-session-id': session, 'mcp-protocol-version': '2025-03-26' },
        body: JSON.stringify(Array.from({ length: 8 }, (_, i) => ({ jsonrpc: '2.0', id: 200 + i, method: 'tools/call', params: { name: 'whoami', arguments: {} } }))),
      });
      expect(response.status).toBe(200);
      replies.push(...((await response.json()) as typeof replies));
    }
    const elapsed = Date.now() - started;
    const served = replies.filter((r) => r.result).length;
    expect(replies).toHaveLength(16);
    expect(served).toBeGreaterThanOrEqual(BURST + 1);
    expect(served).toBeLessThanOrEqual(budget(elapsed));
    expect(replies.find((r) => r.error)!.error!.data).toMatchObject({ limit: 'rate', per: 'principal', name: 'whoami' });
  });
});

describe('per-principal rates with the rate store unreachable (fail-open to the per-node limit)', () => {
  let redis: RedisTestServer;
  let node: Node;
  const calls: string[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    // nchan keeps its Redis; only the rate store points at a port nothing listens on.
    node = await startNode(redis.url, calls, { sharedRates: { url: `redis://127.0.0.1:${await freePort()}`, timeoutMs: 50 } });
  });
  afterAll(async () => {
    await node?.stack.stop();
    await redis?.stop();
  });

  test("calls are served and limited by the node's own count; the fallbacks are counted in /metrics", async () => {
    const session = await openStreamableSession(node.probe, '2025-06-18', { authorization: `Bearer ${KEYS.flooder}` });
    const started = Date.now();
    const answers: Answer[] = [];
    for (let i = 0; i < 20; i++) answers.push(await callTool(node.probe, KEYS.flooder, session, 100 + i));
    const elapsed = Date.now() - started;
    const served = answers.filter((x) => x.status === 200);
    expect(served.length).toBeGreaterThanOrEqual(BURST + 1);
    expect(served.length).toBeLessThanOrEqual(budget(elapsed));
    const limited = answers.filter((x) => x.status === 429);
    expect(limited.length).toBe(answers.length - served.length);
    expect(JSON.parse(limited[0]!.body)).toMatchObject({ error: { data: { limit: 'rate', per: 'principal', name: 'whoami', retryAfterSeconds: 1 } } });
    expect(node.stack.gateway.stats().rateFallbacks).toBe(20);
    const metrics = await node.stack.gateway.metrics.text();
    expect(metrics).toMatch(/^httmcp_rate_store_fallbacks_total 20$/m);
  });
});
