/**
 * Redis (nchan's shared store; run without persistence, like the tests' helper) restarts under a
 * two-node cluster. What recovers on its own, what is lost, and what existing sessions see.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Stack } from '../../src/index.js';
import { eventually, sleep, startTwoNodes, stopTwoNodes } from '../helpers/cluster.js';
import { INITIALIZE_PARAMS, openEventStream, openStreamableSession, STREAMABLE_ACCEPT } from '../helpers/raw-clients.js';
import type { RedisTestServer } from '../helpers/redis.js';
import { callToolWithProgress, connectClient, TRANSPORTS, workerCrashes, type TransportKind } from '../helpers/stack.js';

const SECRET = 'faults-redis-secret-0123456789abcdef';
const VERSION = '2025-06-18';

let redis: RedisTestServer;
let nodeA: Stack;
let nodeB: Stack;
const cleanup: Array<() => unknown> = [];

beforeAll(async () => {
  ({ redis, nodeA, nodeB } = await startTwoNodes(SECRET));
}, 30_000);

afterAll(() => stopTwoNodes({ redis, nodeA, nodeB }, cleanup));

const note = (n: number) => JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: { n } } });

async function tryAdd(client: Client, a: number): Promise<string> {
  try {
    const result = await client.callTool({ name: 'add', arguments: { a, b: 1 } }, undefined, { timeout: 4000 });
    return JSON.stringify(result.content);
  } catch (error) {
    return `error: ${(error as Error).message}`;
  }
}

test('Redis restart: nodes recover on their own; stored messages are lost; open sessions on every transport survive', async () => {
  const existing = new Map<TransportKind, Client>();
  for (const kind of TRANSPORTS) {
    const client = await connectClient(kind, nodeA.servers.demo!);
    cleanup.push(() => client.close());
    existing.set(kind, client);
    expect(await tryAdd(client, 1)).toBe('[{"type":"text","text":"2"}]');
  }
  const closed = new Set<string>();
  for (const [kind, client] of existing) {
    const prev = client.onclose;
    client.onclose = () => {
      closed.add(kind);
      prev?.();
    };
  }
  // A message in a session's buffer (what a reconnecting SSE client would replay).
  const session = await openStreamableSession(nodeA.servers.demo!, VERSION);
  await nodeB.gateway.publisher.publish(session, note(1));
  const before = await nodeB.gateway.publisher.info(session);
  console.log('before restart, channel info', before);

  const restartedAt = Date.now();
  // Where the time goes when the machine is busy (a run once outlasted the test's timeout).
  const step = (label: string) => console.log(`faults-redis step ${label} at ${Date.now() - restartedAt} ms`);
  await redis.restart();

  // During nchan's reconnect to Redis: what an existing session's call gets (logged, measured).
  const during = await Promise.all([...existing].map(async ([kind, client]) => `${kind}: ${await tryAdd(client, 3)}`));
  console.log('calls right after the restart', during);

  // New sessions and calls on both nodes work again without any manual action.
  await eventually(async () => {
    for (const node of [nodeA, nodeB]) {
      const client = await connectClient('websocket', node.servers.demo!);
      try {
        if ((await tryAdd(client, 5)) !== '[{"type":"text","text":"6"}]') return false;
      } finally {
        await client.close();
      }
    }
    return true;
  }, 30_000, 'new sessions to work after the Redis restart', 250);
  const recoveredMs = Date.now() - restartedAt;
  console.log(`new sessions work ${recoveredMs} ms after the restart began`);

  // Lost: every stored message (Redis ran without persistence). The channel is gone and a
  // fresh GET stream of that session replays nothing; the client is not told.
  step('info');
  expect(await nodeB.gateway.publisher.info(session)).toBeUndefined();
  step('replay');
  const replay = await openEventStream(nodeB.servers.demo!, { 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
  cleanup.push(() => replay.close());
  expect(replay.response.status).toBe(200);
  await sleep(500);
  expect(replay.events).toEqual([]);

  // Not lost: the existing sessions of every transport. Their connections stayed open and their
  // next calls, including a long task whose progress and result are published, succeed.
  step('existing-loop');
  for (const [kind, client] of existing) {
    expect([kind, closed.has(kind)]).toEqual([kind, false]);
    // nchan may drop and redo its Redis connection once more right after recovering (seen when
    // the machine is busy); a session that works again within a few calls has survived.
    await eventually(async () => (await tryAdd(client, 10)) === '[{"type":"text","text":"11"}]', 15_000, `the ${kind} session's next call to work`, 0);
  step('long-task');
    const { result, progress } = await callToolWithProgress(client, 'long_task', { steps: 2, stepMs: 50 }, { timeout: 5000 });
    expect(result.content).toEqual([{ type: 'text', text: 'finished 2 steps' }]);
    expect(progress).toEqual([1, 2]);
  }
  // A session's traffic still crosses nodes through the new Redis: published at B, seen at A.
  // Each attempt is bounded: once, on a busy machine, nchan (redoing its Redis connection again)
  // held the stream's response past the test's timeout.
  step('live');
  let attempt = 0;
  await eventually(async () => {
    attempt++;
    const opening = openEventStream(nodeA.servers.demo!, { 'mcp-session-id': session, 'mcp-protocol-version': VERSION });
    const live = await Promise.race([opening, sleep(5000).then(() => undefined)]);
    if (!live) {
      void opening.then((late) => late.close(), () => undefined);
      throw new Error(`attempt ${attempt}: no response to the GET stream in 5 s`);
    }
    cleanup.push(() => live.close());
    await sleep(200);
    await nodeB.gateway.publisher.publish(session, note(attempt + 1));
    step(`live-next ${attempt}`);
    await live.next((e) => e.data === note(attempt + 1));
    return true;
  }, 40_000, 'a message published at B to reach a stream at A', 250);
  expect(workerCrashes(nodeA)).toEqual([]);
  expect(workerCrashes(nodeB)).toEqual([]);
}, 120_000);
