/**
 * Slow 2026-07-28 requests on a cluster whose backends are shared: two nginx+nchan nodes on one
 * Redis, both balancing over two `httmcp backend` processes, the backends publishing through
 * node B. Requests enter on node A and their streams close there. Every request must end in the
 * backend that runs it, and nothing more of it may be published. nginx hashes a 2026 request by
 * a key of its own that names its stream, so the stream's unsubscribe hook reaches that backend
 * (nginx.conf.template, `$httmcp_balance_key`); before, requests went round robin and the hook to
 * any backend, leaving the request to the liveness sweep, which nchan's Redis store can fool.
 */
import { createExampleServers } from '../../examples/index.js';
import { freePort, type Stack } from '../../src/index.js';
import { BackendProcess, eventually, sleep } from '../helpers/cluster.js';
import { envelope, MODERN } from '../helpers/era-2026.js';
import { EventStream } from '../helpers/raw-clients.js';
import { startRedis, type RedisTestServer } from '../helpers/redis.js';
import { startTestStack, workerCrashes } from '../helpers/stack.js';

const SECRET = 'modern-cluster-backends-secret-0123456789';
const LIVENESS_MS = 1000;
/** Enough that both backends run some (nginx hashes each 2026 request by a random key). */
const REQUESTS = 12;

let redis: RedisTestServer;
let nodeA: Stack;
let nodeB: Stack;
const backends: BackendProcess[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const ports = [await freePort(), await freePort()];
  const upstreams = ports.map((port) => `127.0.0.1:${port}`);
  const gateway = { sessionSecret: SECRET };
  nodeA = await startTestStack({ servers: createExampleServers(), backends: upstreams, redis: redis.url, gateway });
  nodeB = await startTestStack({ servers: createExampleServers(), backends: upstreams, redis: redis.url, gateway, publishListen: `127.0.0.1:${await freePort()}` });
  for (const port of ports) backends.push(await new BackendProcess(port, nodeB.publishUrl, SECRET, { HTTMCP_LIVENESS_INTERVAL_MS: String(LIVENESS_MS) }).start());
}, 60_000);

afterAll(async () => {
  for (const backend of backends) await backend.kill();
  await nodeA?.stop();
  await nodeB?.stop();
  await redis?.stop();
});

/** 2026 requests running, and request streams open, in each backend (its `/healthz`). */
async function running(): Promise<Array<{ modernInflight: number; modernStreams: number }>> {
  return Promise.all(backends.map(async (backend) => ((await (await fetch(`${backend.url}/healthz`)).json()) as { retained: { modernInflight: number; modernStreams: number } }).retained));
}

async function published(): Promise<number> {
  let total = 0;
  for (const backend of backends) total += (await backend.metrics()).httmcp_publish_total;
  return total;
}

test('every slow 2026 request whose stream closes on node A ends, whichever backend the unsubscribe hook reached; nothing more is published', async () => {
  const streams: EventStream[] = [];
  // Several requests, so that with round robin some hooks land on the backend that does not run them.
  for (let i = 0; i < REQUESTS; i++) {
    const controller = new AbortController();
    const response = await fetch(nodeA.servers.demo!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'long_task' },
      body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'long_task', arguments: { steps: 600, stepMs: 100 }, _meta: { ...envelope('cluster'), progressToken: `p${i}` } } }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const stream = new EventStream(response, controller);
    streams.push(stream);
    // Its progress reaches node A's stream: the backend published through node B, Redis carried it.
    await stream.next((event) => event.data.includes('notifications/progress'), 10_000);
  }
  const before = await running();
  expect(before.reduce((sum, r) => sum + r.modernInflight, 0)).toBe(REQUESTS);
  // Both backends run some of them.
  expect(before.every((r) => r.modernInflight > 0)).toBe(true);

  for (const stream of streams) stream.close();
  // nginx hashed each request and its stream's unsubscribe hook by the same key, so the hook
  // reaches the backend running it (measured: all 12 ended 0.1 to 0.3 s after the close; with
  // the hook going to either backend, 1.8 to 2 s, the sweep's time, and now and then never:
  // nchan's Redis store can keep a channel's subscriber count at 1 after its client left).
  await eventually(async () => (await running()).every((r) => r.modernInflight === 0 && r.modernStreams === 0), 15_000, 'every request to end in both backends');
  // Publishes already on their way when the requests ended may still land; then nothing more.
  // (A long_task still running would publish its progress every 100 ms.)
  await sleep(2000);
  const after = await published();
  await sleep(1500);
  expect(await published()).toBe(after);
  for (const backend of backends) {
    expect(backend.alive).toBe(true);
    expect(backend.errorLines()).toEqual([]);
  }
}, 60_000);

test('no nginx worker died on either node', () => {
  expect(workerCrashes(nodeA)).toEqual([]);
  expect(workerCrashes(nodeB)).toEqual([]);
});
