/**
 * One nginx node of a two-node cluster (one Redis, shared session secret) is stopped while
 * clients are connected to it. What each kind of client sees, and how it gets back:
 *  - Streamable HTTP: the session id is good on node B; a raw GET stream resumed there with
 *    `Last-Event-ID` gets exactly the messages published while it was away (nchan's Redis buffer);
 *  - legacy SSE: a stream resumed on node B with its `Last-Event-ID` (which names its session)
 *    continues the same session and gets exactly what it missed;
 *  - WebSocket: the connection ends; a new client on node B works (new session).
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Client as SdkClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Stack } from '../../src/index.js';
import { eventually, sleep, startTwoNodes, stopTwoNodes } from '../helpers/cluster.js';
import { INITIALIZE_PARAMS, openEventStream, openStreamableSession, STREAMABLE_ACCEPT, type EventStream } from '../helpers/raw-clients.js';
import type { RedisTestServer } from '../helpers/redis.js';
import { callToolWithProgress, connectClient, TRANSPORTS, workerCrashes } from '../helpers/stack.js';

const SECRET = 'faults-node-secret-0123456789abcdef';
const VERSION = '2025-06-18';

let redis: RedisTestServer;
let nodeA: Stack;
let nodeB: Stack;
let nodeAStopped = false;
/** Everything a test opened, closed in afterAll even when the test failed half way. */
const cleanup: Array<() => unknown> = [];

beforeAll(async () => {
  ({ redis, nodeA, nodeB } = await startTwoNodes(SECRET));
}, 30_000);

afterAll(() => stopTwoNodes({ redis, nodeA, nodeB }, cleanup, nodeAStopped ? [nodeA] : []));

/** A Streamable HTTP session opened by hand on `base` (`http://.../mcp/demo`); returns its id. */
function getStream(base: string, session: string, lastEventId?: string): Promise<EventStream> {
  return openEventStream(base, {
    'mcp-session-id': session,
    'mcp-protocol-version': VERSION,
    ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
  });
}

const note = (n: number) => JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: { n } } });

test('node A stops: clients reconnect to node B; a Streamable GET stream resumes there with Last-Event-ID and misses nothing', async () => {
  // SDK clients of every transport on node A, and a raw GET stream of a Streamable session.
  const onA: Client[] = [];
  for (const kind of TRANSPORTS) onA.push(await connectClient(kind, nodeA.servers.demo!));
  for (const client of onA) cleanup.push(() => client.close());
  const wsClosed = new Promise<void>((resolve) => (onA[0]!.onclose = () => resolve()));
  const session = await openStreamableSession(nodeA.servers.demo!, VERSION);
  const streamA = await getStream(nodeA.servers.demo!, session);
  cleanup.push(() => streamA.close());
  expect(streamA.response.status).toBe(200);

  // m1 is published through node B (its backend's publisher), delivered on node A via Redis.
  await nodeB.gateway.publisher.publish(session, note(1));
  const first = await streamA.next((e) => e.data === note(1));
  // The GET stream subscribes to two channels (session + broadcast), so its ids are nchan's
  // multiplexed form, e.g. `1795284492:[0],-`, not the single-channel `time:counter`.
  expect(first.id).toMatch(/^\d+:/);
  // A legacy SSE stream on node A, by hand: its event ids name its session.
  const legacyA = await openEventStream(nodeA.servers.demo!);
  cleanup.push(() => legacyA.close());
  const legacySession = (await legacyA.next((e) => e.event === 'endpoint')).data.split('/').at(-1)!;
  await nodeB.gateway.publisher.publish(legacySession, note(1));
  const legacyFirst = await legacyA.next((e) => e.data === note(1));
  expect(legacyFirst.id).toMatch(new RegExp(`^${legacySession.replace('.', '\\.')}~\\d+:`));

  await nodeA.stop();
  nodeAStopped = true;
  await eventually(async () => streamA.ended, 5000, 'the stream on node A to end');
  await wsClosed; // the WebSocket client is told at once (onclose)

  // While the reader is away: two messages through node B.
  await nodeB.gateway.publisher.publish(session, note(2));
  await nodeB.gateway.publisher.publish(session, note(3));

  // Resume on node B with the last id seen: exactly m2, m3 (no duplicate m1, no gap).
  const resumed = await getStream(nodeB.servers.demo!, session, first.id);
  cleanup.push(() => resumed.close());
  expect(resumed.response.status).toBe(200);
  await resumed.next((e) => e.data === note(3));
  await sleep(300); // anything extra would arrive right behind
  expect(resumed.events.map((e) => e.data)).toEqual([note(2), note(3)]);
  resumed.close();

  // The legacy SSE client comes back on node B (same URL behind a balancer) with only its
  // Last-Event-ID: the same session, exactly what it missed.
  await nodeB.gateway.publisher.publish(legacySession, note(2));
  await nodeB.gateway.publisher.publish(legacySession, note(3));
  const legacyB = await openEventStream(nodeB.servers.demo!, { 'last-event-id': legacyFirst.id! });
  cleanup.push(() => legacyB.close());
  await legacyB.next((e) => e.data === note(3));
  await sleep(300);
  expect(legacyB.events.map((e) => e.data)).toEqual([note(2), note(3)]);
  legacyB.close();

  // Without Last-Event-ID the stream replays the whole buffer (first_message oldest): the id
  // is what makes the resume exact.
  const fresh = await getStream(nodeB.servers.demo!, session);
  cleanup.push(() => fresh.close());
  await fresh.next((e) => e.data === note(3));
  await sleep(300);
  expect(fresh.events.map((e) => e.data)).toEqual([note(1), note(2), note(3)]);
  fresh.close();

  // The Streamable session id is good on node B: an SDK client resumes it there without a new
  // initialize (same secret, stateless backend).
  const resumedClient = new SdkClient({ name: 'resume', version: '1.0.0' });
  cleanup.push(() => resumedClient.close());
  await resumedClient.connect(new StreamableHTTPClientTransport(new URL(nodeB.servers.demo!), { sessionId: session }));
  expect(await resumedClient.callTool({ name: 'add', arguments: { a: 20, b: 22 } })).toEqual({ content: [{ type: 'text', text: '42' }] });
  await resumedClient.close();

  // The SDK clients that were on node A: their next request fails (node A is gone).
  for (const client of onA) {
    await expect(client.callTool({ name: 'add', arguments: { a: 1, b: 1 } }, undefined, { timeout: 3000 })).rejects.toThrow();
  }
  await Promise.all(onA.map((c) => c.close().catch(() => undefined)));

  // New clients on node B work on every transport, including a long task (late publishes).
  for (const kind of TRANSPORTS) {
    const client = await connectClient(kind, nodeB.servers.demo!);
    cleanup.push(() => client.close());
    const { result, progress } = await callToolWithProgress(client, 'long_task', { steps: 2, stepMs: 50 });
    expect(result.content).toEqual([{ type: 'text', text: 'finished 2 steps' }]);
    expect(progress).toEqual([1, 2]);
    await client.close();
  }
  expect(workerCrashes(nodeA)).toEqual([]);
  expect(workerCrashes(nodeB)).toEqual([]);
}, 40_000);
