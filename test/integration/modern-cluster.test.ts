/**
 * A slow 2026-07-28 request on a cluster: two nginx+nchan nodes sharing Redis (nchan's Redis
 * store), each with its own backend. The request enters on node A, its progress and result are
 * to travel on an SSE stream nchan holds there (messages stored in Redis); the client closes
 * that stream on node A. The handler's signal must abort (nchan's unsubscribe hook, through
 * Redis), and nothing more of the request may be published on either node.
 */
import { jest } from '@jest/globals';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { HTTMCP, type Stack } from '../../src/index.js';
import { eventually } from '../helpers/cluster.js';
import { envelope, MODERN } from '../helpers/era-2026.js';
import { EventStream } from '../helpers/raw-clients.js';
import { startRedis, type RedisTestServer } from '../helpers/redis.js';
import { startTestStack, workerCrashes } from '../helpers/stack.js';

const SECRET = 'modern-cluster-test-secret-0123456789';

/** `node:tag` of `wait` calls that started, and of those whose signal aborted. */
const started: string[] = [];
const aborted: string[] = [];
/** `node:tag` of `wait` calls whose handler went on after the abort and returned. */
const returned: string[] = [];
/** Why each aborted `wait` call was aborted (its signal's reason), by `node:tag`. */
const reasons = new Map<string, string>();

function probeServer(node: string): HTTMCP {
  return new HTTMCP({ name: 'probe', version: '1.0.0' }).tool('wait', { input: { tag: z.string() } }, async ({ tag }, ctx) => {
    started.push(`${node}:${tag}`);
    // Progress first: the request moves to its nchan-held stream at once.
    await ctx.progress(1, 2, 'started');
    try {
      await delay(60_000, undefined, { signal: ctx.signal });
    } catch {
      reasons.set(`${node}:${tag}`, String(ctx.signal.reason));
      aborted.push(`${node}:${tag}`);
    }
    // A handler that ignores its signal still ends with a result: it must not be published.
    await ctx.progress(2, 2, 'after the abort').catch(() => undefined);
    returned.push(`${node}:${tag}`);
    return 'done';
  });
}

let redis: RedisTestServer;
let nodeA: Stack;
let nodeB: Stack;

beforeAll(async () => {
  redis = await startRedis();
  const gateway = { sessionSecret: SECRET };
  nodeA = await startTestStack({ servers: [probeServer('A')], redis: redis.url, gateway });
  nodeB = await startTestStack({ servers: [probeServer('B')], redis: redis.url, gateway });
});

afterAll(async () => {
  jest.restoreAllMocks();
  await nodeA?.stop();
  await nodeB?.stop();
  await redis?.stop();
});

/** A raw 2026 tools/call of `wait` on `url`, read as the SSE stream nchan holds for it. */
async function slowCall(url: string, tag: string): Promise<EventStream> {
  const controller = new AbortController();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'wait' },
    body: JSON.stringify({ jsonrpc: '2.0', id: tag, method: 'tools/call', params: { name: 'wait', arguments: { tag }, _meta: { ...envelope('cluster'), progressToken: tag } } }),
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
  return new EventStream(response, controller);
}

test('the client closes the stream of a slow 2026 request on node A: the handler aborts, nothing more is published on either node', async () => {
  /** Request-stream publishes (channel `m26.*`) of each node, with the time they were made. */
  const published: Array<{ node: string; channel: string; at: number; body: string }> = [];
  for (const [node, stack] of [['A', nodeA], ['B', nodeB]] as const) {
    const publisher = stack.gateway.publisher;
    const publish = publisher.publish.bind(publisher);
    jest.spyOn(publisher, 'publish').mockImplementation((channel: string, body: string, event?: string) => {
      if (channel.startsWith('m26.')) published.push({ node, channel, at: Date.now(), body });
      return publish(channel, body, event);
    });
  }

  const stream = await slowCall(nodeA.servers.probe!, 'closed-on-a');
  // The first progress came through nchan (Redis store) on node A's stream.
  const first = await stream.next((event) => event.data.includes('notifications/progress'));
  expect(JSON.parse(first.data)).toMatchObject({ method: 'notifications/progress', params: { progressToken: 'closed-on-a', progress: 1 } });
  expect(started).toEqual(['A:closed-on-a']);
  expect(nodeA.gateway.stats().retained).toMatchObject({ modernInflight: 1, modernStreams: 1 });
  expect(published.map((p) => p.node)).toEqual(['A']);

  const closedAt = Date.now();
  stream.close();
  // nchan's unsubscribe hook on node A reaches node A's backend well within one liveness
  // interval of the sweep (2 s in tests), which would catch it otherwise.
  await eventually(async () => aborted.includes('A:closed-on-a'), 10_000, 'the handler to see its signal abort');
  // By nchan's unsubscribe hook, not by the liveness sweep's "nobody is on the stream".
  expect(reasons.get('A:closed-on-a')).toContain('the client closed the stream');
  await eventually(async () => returned.includes('A:closed-on-a'), 5000, 'the handler to return');
  // Give a late publish every chance to show up.
  await delay(500);
  expect(published.filter((p) => p.at >= closedAt)).toEqual([]);
  expect(started).toEqual(['A:closed-on-a']);
  for (const stack of [nodeA, nodeB]) expect(stack.gateway.stats().retained).toMatchObject({ modernInflight: 0, modernStreams: 0 });
}, 30_000);

test('the same close while the request runs on node A and a second one runs on node B: only the closed one aborts', async () => {
  const onA = await slowCall(nodeA.servers.probe!, 'a-closed');
  const onB = await slowCall(nodeB.servers.probe!, 'b-open');
  try {
    await onA.next((event) => event.data.includes('notifications/progress'));
    await onB.next((event) => event.data.includes('notifications/progress'));
    onA.close();
    await eventually(async () => aborted.includes('A:a-closed'), 10_000, 'the closed request to abort');
    // Two liveness intervals: the sweep of node B finds its stream still has a client.
    await delay(4500);
    expect(aborted).not.toContain('B:b-open');
    expect(nodeB.gateway.stats().retained).toMatchObject({ modernInflight: 1, modernStreams: 1 });
  } finally {
    onB.close();
  }
  await eventually(async () => aborted.includes('B:b-open'), 10_000, 'the second request to abort once its stream closed');
}, 40_000);

test('no nginx worker died on either node', () => {
  expect(workerCrashes(nodeA)).toEqual([]);
  expect(workerCrashes(nodeB)).toEqual([]);
});
