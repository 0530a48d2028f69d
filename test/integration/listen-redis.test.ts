/**
 * `subscriptions/listen` (MCP 2026-07-28) with nchan's Redis store: the race between a stream's
 * stored acknowledgement (fetched from Redis when the stream attaches) and live events on the
 * shared channels, hammered; and two nginx nodes sharing Redis, where one publish on node A
 * reaches listen streams on both nodes.
 */
import { jest } from '@jest/globals';
import { z } from 'zod';
import { ListenFanout } from '../../src/listen/index.js';
import { hammerAckOrder, messages, nextSecond, openListen, startListenStack, SUBSCRIPTION_ID, type ListenStack } from '../helpers/listen.js';
import type { EventStream } from '../helpers/raw-clients.js';
import { startRedis, type RedisTestServer } from '../helpers/redis.js';
import { workerCrashes } from '../helpers/stack.js';

let redis: RedisTestServer;
let nodeA: ListenStack;
let nodeB: ListenStack;

beforeAll(async () => {
  redis = await startRedis();
  nodeA = await startListenStack({ redis: redis.url });
  nodeB = await startListenStack({ redis: redis.url });
});

// Each test counts the events of its new streams: none from the test before (see nextSecond).
beforeEach(nextSecond);

afterAll(async () => {
  await nodeA?.stop();
  await nodeB?.stop();
  await redis?.stop();
});

test('the ack always comes first: 200 streams attach while list_changed is published back to back', async () => {
  const fanout = new ListenFanout('demo', nodeA.stack.gateway.publisher, nodeA.stack.gateway.logger);
  const run = await hammerAckOrder(nodeA.stack.servers.demo!, () => fanout.listChanged('tools'), 20, 10);
  // For the record (docs/design/2026-07-28.md, Appendix A).
  process.stdout.write(`ack order, Redis store: ${JSON.stringify({ ...run, violations: run.violations.length })}\n`);
  expect(run.violations).toEqual([]);
  expect(run.streams).toBe(200);
  expect(run.events).toBeGreaterThanOrEqual(400);
}, 120_000);

test('the same race across nodes: streams on node B, events published on node A', async () => {
  const fanout = new ListenFanout('demo', nodeA.stack.gateway.publisher, nodeA.stack.gateway.logger);
  const run = await hammerAckOrder(nodeB.stack.servers.demo!, () => fanout.listChanged('tools'), 10, 10);
  process.stdout.write(`ack order, Redis store, across nodes: ${JSON.stringify({ ...run, violations: run.violations.length })}\n`);
  expect(run.violations).toEqual([]);
  expect(run.streams).toBe(100);
}, 120_000);

test('one publish on node A reaches listen streams on both nodes, each with its own id', async () => {
  const streams: EventStream[] = [];
  try {
    const onA = await openListen(nodeA.stack.servers.demo!, 'on-a', { toolsListChanged: true, resourceSubscriptions: ['notes://c'] });
    const onB = await openListen(nodeB.stack.servers.demo!, 'on-b', { toolsListChanged: true, resourceSubscriptions: ['notes://c'] });
    streams.push(onA, onB);
    for (const stream of streams) await stream.next((e) => e.data.includes('acknowledged'));
    const published: string[] = [];
    for (const node of [nodeA, nodeB]) {
      const publisher = node.stack.gateway.publisher;
      const publish = publisher.publish.bind(publisher);
      jest.spyOn(publisher, 'publish').mockImplementation((channel: string, body: string, event?: string) => {
        if (!channel.startsWith('httmcp.broadcast.')) published.push(`${node === nodeA ? 'A' : 'B'} ${channel.split('.')[1]}`);
        return publish(channel, body, event);
      });
    }
    // Node A's server changes: its backend publishes once, to node A's nchan.
    nodeA.demo.tool('cluster_added', { input: { x: z.number() } }, ({ x }) => x);
    await nodeA.demo.resourceUpdated('notes://c');
    for (const [stream, id] of [[onA, 'on-a'], [onB, 'on-b']] as const) {
      await stream.next((e) => e.data.includes('resources/updated'));
      await stream.next((e) => e.data.includes('tools/list_changed'));
      expect(messages(stream).map((m) => [m.method, m.params._meta?.[SUBSCRIPTION_ID]])).toEqual([
        ['notifications/subscriptions/acknowledged', id],
        ...[
          ['notifications/tools/list_changed', id],
          ['notifications/resources/updated', id],
        ].sort((x, y) => messages(stream).findIndex((m) => m.method === x[0]) - messages(stream).findIndex((m) => m.method === y[0])),
      ]);
    }
    expect(published.sort()).toEqual(['A list', 'A res']);
  } finally {
    for (const stream of streams) stream.close();
    jest.restoreAllMocks();
  }
});

test('no nginx worker died on either node', () => {
  expect(workerCrashes(nodeA.stack)).toEqual([]);
  expect(workerCrashes(nodeB.stack)).toEqual([]);
});
