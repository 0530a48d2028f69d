/**
 * The upstream API's connections are shared fairly, and no call holds one for long: through real
 * nginx+nchan, one client's many slow calls (replies trickling in) do not hold up another client's
 * quick call, a trickling reply is cut at the call's deadline, and a cancelled call (or a client
 * that leaves) closes its upstream request. Replies are held by the stand-in API until the test
 * releases them, so nothing here depends on timing.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ListToolsResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Stack } from '../../src/index.js';
import { OpenAPIMCP, type OpenAPIMCPOptions } from '../../src/openapi/index.js';
import { blowUpSpec } from '../fixtures/openapi/blow-up.js';
import { StandIn, type Recorded, type Reply } from '../fixtures/openapi/stand-in.js';
import { connectClient, startTestStack, TRANSPORTS, workerCrashes } from '../helpers/stack.js';
import { sleep, waitFor } from '../unit/support.js';

const SLOW_CALLS = 10;

function spec(): Record<string, unknown> {
  const get = (operationId: string, parameters: unknown[] = []) => ({ get: { operationId, parameters, responses: { '200': { description: 'ok' } } } });
  return {
    openapi: '3.0.3',
    info: { title: 'Slow API', version: '1' },
    paths: {
      '/slow/{n}': get('getSlow', [{ name: 'n', in: 'path', required: true, schema: { type: 'integer' } }]),
      '/quick': get('getQuick'),
      '/trickle': get('getTrickle'),
    },
  };
}

let api: StandIn;
let stack: Stack;
const clients: Client[] = [];

/** Slow requests the stand-in holds, in arrival order; each trickles a space every 100 ms until released. */
let held: Array<{ request: Recorded; release: () => void }> = [];

async function* trickle(until?: Promise<void>, last?: string): AsyncGenerator<string> {
  let done = false;
  void until?.then(() => (done = true));
  while (!done) {
    yield ' ';
    await sleep(100);
  }
  if (last !== undefined) yield last;
}

function respond(request: Recorded): Reply {
  if (request.url.startsWith('/slow/')) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    held.push({ request, release });
    return { headers: { 'content-type': 'application/json' }, stream: trickle(released, `{"slow":${request.url.slice(6)}}`) };
  }
  if (request.url === '/trickle') return { headers: { 'content-type': 'application/json' }, stream: trickle() };
  return { body: { quick: true } };
}

async function server(name: string, options: OpenAPIMCPOptions = {}): Promise<OpenAPIMCP> {
  return OpenAPIMCP.create(spec(), { name, baseUrl: api.url, validate: 'off', env: {}, ...options });
}

async function client(kind: (typeof TRANSPORTS)[number], name: string): Promise<Client> {
  const connected = await connectClient(kind, stack.servers[name]!);
  clients.push(connected);
  return connected;
}

/** Starts `count` slow calls; `settled` counts the finished ones. */
function slowCalls(from: Client, count: number): { results: Promise<CallToolResult[]>; settled: () => number } {
  let settled = 0;
  const calls = Array.from({ length: count }, (_, n) =>
    (from.callTool({ name: 'getSlow', arguments: { n } }, undefined, { timeout: 120_000 }) as Promise<CallToolResult>).finally(() => settled++),
  );
  return { results: Promise.all(calls), settled: () => settled };
}

/** Releases held slow replies as they arrive, until `count` have been released. */
async function releaseAll(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await waitFor(() => held.length > i, `slow request ${i + 1}`, 20_000);
    held[i]!.release();
  }
}

beforeAll(async () => {
  api = await StandIn.start(respond);
  stack = await startTestStack({
    servers: [
      await server('fair'), // the defaults: 64 connections per origin, 4 per client
      await server('tight', { connections: 4, connectionsPerClient: 4 }), // a pool one client can fill
      await server('deadline', { totalTimeoutMs: 1500 }),
      await OpenAPIMCP.create(blowUpSpec({ depth: 30, server: `${api.url}/api` }), { name: 'dag', validate: 'off' }),
    ],
  });
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await stack?.stop();
  await api?.close();
});

beforeEach(() => {
  api.reset(respond);
  held = [];
});

test(`${SLOW_CALLS} slow, trickling calls of one client leave the pool to others: another client's quick call completes while they all still run`, async () => {
  const greedy = await client('websocket', 'fair');
  const other = await client('streamable', 'fair');
  const slow = slowCalls(greedy, SLOW_CALLS);
  await waitFor(() => held.length === 4, 'the greedy client to hold its 4 connections');

  const quick = (await other.callTool({ name: 'getQuick', arguments: {} })) as CallToolResult;
  expect(quick).toEqual({ content: [{ type: 'text', text: '{"quick":true}' }] });
  expect(slow.settled()).toBe(0);
  // The greedy client had 4 requests at the API (its share), the rest waited their turn.
  expect(api.requests.map((r) => r.url).sort()).toEqual(['/quick', '/slow/0', '/slow/1', '/slow/2', '/slow/3']);
  expect(api.abandoned).toEqual([]);

  // Once released, every queued call of the greedy client is served too.
  await releaseAll(SLOW_CALLS);
  const results = await slow.results;
  expect(results.map((r) => (r.content[0] as { text: string }).text.trim()).sort()).toEqual(Array.from({ length: SLOW_CALLS }, (_, n) => `{"slow":${n}}`).sort());
}, 60_000);

test('with the pool full, a freed connection goes to the client with the fewest calls running, not to the longest queue', async () => {
  const greedy = await client('websocket', 'tight');
  const other = await client('sse', 'tight');
  const slow = slowCalls(greedy, 8);
  await waitFor(() => held.length === 4, 'the greedy client to fill the pool');
  let quickDone = false;
  const quick = (other.callTool({ name: 'getQuick', arguments: {} }) as Promise<CallToolResult>).then((r) => ((quickDone = true), r));
  // The other client's call waits for a connection: the pool is full.
  await sleep(300);
  expect(quickDone).toBe(false);
  expect(api.requests).toHaveLength(4);

  held[0]!.release();
  expect(await quick).toEqual({ content: [{ type: 'text', text: '{"quick":true}' }] });
  // One slow call done, seven still pending; and the API saw the quick request before the fifth slow one.
  await waitFor(() => slow.settled() === 1, 'the released slow call');
  expect(slow.settled()).toBe(1);
  await waitFor(() => api.requests.length >= 6, 'the fifth slow request');
  const urls = api.requests.map((r) => r.url);
  expect([urls.slice(0, 4).sort(), urls.slice(4, 6)]).toEqual([['/slow/0', '/slow/1', '/slow/2', '/slow/3'], ['/quick', '/slow/4']]);

  await releaseAll(8);
  expect(await slow.results).toHaveLength(8);
}, 60_000);

test("a reply that trickles in forever is cut at the call's deadline with a clear tool error, and its connection is closed", async () => {
  const caller = await client('websocket', 'deadline');
  const result = (await caller.callTool({ name: 'getTrickle', arguments: {} })) as CallToolResult;
  expect(result).toEqual({
    isError: true,
    content: [{ type: 'text', text: `GET ${api.url}/trickle: the call was cut at its deadline of 1500 ms: the API had not sent its whole reply by then` }],
  });
  await waitFor(() => api.abandoned.some((r) => r.url === '/trickle'), 'the stand-in to see the connection closed');
}, 30_000);

describe.each(TRANSPORTS)('%s', (kind) => {
  test('a cancelled call closes its upstream request', async () => {
    const caller = await client(kind, 'fair');
    const cancel = new AbortController();
    const call = caller.callTool({ name: 'getSlow', arguments: { n: 7 } }, undefined, { signal: cancel.signal });
    await waitFor(() => held.length === 1, 'the slow request at the API');
    cancel.abort();
    await expect(call).rejects.toThrow();
    await waitFor(() => api.abandoned.some((r) => r.url === '/slow/7'), 'the stand-in to see the connection closed', 10_000);
  }, 30_000);
});

test('a client that leaves has its upstream request closed', async () => {
  const caller = await client('websocket', 'fair');
  void caller.callTool({ name: 'getSlow', arguments: { n: 8 } }).catch(() => undefined);
  await waitFor(() => held.length === 1, 'the slow request at the API');
  await caller.close();
  await waitFor(() => api.abandoned.some((r) => r.url === '/slow/8'), 'the stand-in to see the connection closed', 15_000);
}, 30_000);

test('the blow-up spec (a DAG of 30 levels of shared schemas) lists through nginx+nchan in bounded pages and its calls are validated', async () => {
  const caller = await client('websocket', 'dag');
  let cursor: string | undefined;
  let tools = 0;
  let bytes = 0;
  do {
    const page = await caller.request({ method: 'tools/list', params: cursor === undefined ? {} : { cursor } }, ListToolsResultSchema);
    tools += page.tools.length;
    bytes += JSON.stringify(page).length;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  expect(tools).toBe(40);
  expect(bytes).toBeLessThan(1_000_000);
  const bad = (await caller.callTool({ name: 'putThing0', arguments: { id: 1, next0: { next1: { label: 5 } } } })) as CallToolResult;
  expect(bad).toEqual({ isError: true, content: [{ type: 'text', text: 'Invalid arguments for putThing0:\n- next0.next1.label: must be string' }] });
  expect(api.requests).toEqual([]);
  expect(workerCrashes(stack)).toEqual([]);
}, 30_000);
