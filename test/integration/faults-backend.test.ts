/**
 * Faults on the backend side, with real processes on 127.0.0.1:
 *  - two backends behind two nginx nodes on one Redis, one backend SIGKILLed and restarted;
 *  - the publish endpoint down (nothing listens) or slow (accepts, never answers).
 * Each test asserts what the client sees, and what `/metrics` and the log say.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createExampleServers } from '../../examples/index.js';
import { freePort, type Stack } from '../../src/index.js';
import { BackendProcess, eventually, parsePrometheus } from '../helpers/cluster.js';
import { startRedis, type RedisTestServer } from '../helpers/redis.js';
import { callToolWithProgress, connectClient, startTestStack, TRANSPORTS, workerCrashes } from '../helpers/stack.js';

const SECRET = 'faults-backend-secret-0123456789abcdef';
const ADD = (a: number, b: number) => ({ content: [{ type: 'text', text: String(a + b) }] });

describe('two backends behind two nodes, one killed', () => {
  let redis: RedisTestServer;
  let nodeA: Stack;
  let nodeB: Stack;
  let backendA: BackendProcess;
  let backendB: BackendProcess;
  const clients: Client[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const [pa, pb] = [await freePort(), await freePort()];
    const backends = [`127.0.0.1:${pa}`, `127.0.0.1:${pb}`];
    // The backends' secret: nginx proves itself to them with a key derived from the secret.
    const gateway = { sessionSecret: SECRET };
    nodeA = await startTestStack({ servers: createExampleServers(), backends, redis: redis.url, gateway, publishListen: `127.0.0.1:${await freePort()}` });
    nodeB = await startTestStack({ servers: createExampleServers(), backends, redis: redis.url, gateway, publishListen: `127.0.0.1:${await freePort()}` });
    // Each backend publishes through a different node; Redis carries it to the other.
    backendA = await new BackendProcess(pa, nodeA.publishUrl, SECRET).start();
    backendB = await new BackendProcess(pb, nodeB.publishUrl, SECRET).start();
  }, 30_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await backendA?.kill();
    await backendB?.kill();
    await nodeA?.stop();
    await nodeB?.stop();
    await redis?.stop();
  });

  test('every session on every transport keeps working when one backend is SIGKILLed, and after it is back', async () => {
    // Sessions on every transport, spread over both nodes, until each backend serves at least one
    // (consistent hashing places a session by its id, and the ring need not split 50/50). A
    // long_task publishes through the backend that ran it, which tells where a session lives.
    const onA: Client[] = [];
    const published = async () => [(await backendA.metrics()).httmcp_publish_total, (await backendB.metrics()).httmcp_publish_total];
    for (let i = 0; clients.length < TRANSPORTS.length * 3 || onA.length === 0 || onA.length === clients.length; i++) {
      if (i >= 30) throw new Error(`30 sessions and still not on both backends (${onA.length} on A)`);
      const kind = TRANSPORTS[i % TRANSPORTS.length]!;
      const client = await connectClient(kind, (i % 2 ? nodeB : nodeA).servers.demo!);
      clients.push(client);
      const [a0] = await published();
      expect((await client.callTool({ name: 'long_task', arguments: { steps: 1, stepMs: 1 } })).content).toEqual([{ type: 'text', text: 'finished 1 steps' }]);
      const [a1] = await published();
      if (a1! > a0!) onA.push(client);
    }
    console.log(`${clients.length} sessions, ${onA.length} of them on backend A`);
    for (const [i, client] of clients.entries()) expect(await client.callTool({ name: 'add', arguments: { a: i, b: 1 } })).toEqual(ADD(i, 1));
    const beforeKill = (await backendB.metrics()).httmcp_publish_total;

    await backendA.kill('SIGKILL');

    // The next request of every session succeeds on backend B: nginx moves on to the next
    // upstream when a connection is refused, and the session holds no state in the backend.
    for (const [i, client] of clients.entries()) {
      expect(await client.callTool({ name: 'add', arguments: { a: i, b: 2 } })).toEqual(ADD(i, 2));
      const { result, progress } = await callToolWithProgress(client, 'long_task', { steps: 2, stepMs: 60 });
      expect(result.content).toEqual([{ type: 'text', text: 'finished 2 steps' }]);
      expect(progress).toEqual([1, 2]);
    }
    // Backend B did every long task's publishing: progress 2x + log 2x (+ the result when it is
    // not inline) per session.
    expect((await backendB.metrics()).httmcp_publish_total - beforeKill).toBeGreaterThanOrEqual(clients.length * 4);

    // Back on the same port. nginx marked it down after the failed connect (max_fails=1,
    // fail_timeout=10s by default) and sends it nothing until that expires; then consistent
    // hashing sends its sessions to it again. Every call in between succeeds on backend B.
    await backendA.start();
    expect((await backendA.metrics()).httmcp_publish_total).toBe(0); // a new process
    const restarted = Date.now();
    let round = 0;
    const waited = await eventually(async () => {
      round++;
      for (const [i, client] of clients.entries()) {
        expect(await client.callTool({ name: 'add', arguments: { a: i, b: round } })).toEqual(ADD(i, round));
        const result = await client.callTool({ name: 'long_task', arguments: { steps: 1, stepMs: 20 } });
        expect(result.content).toEqual([{ type: 'text', text: 'finished 1 steps' }]);
      }
      // The restarted process serves its sessions again: a long_task publishes a log line.
      return (await backendA.metrics()).httmcp_publish_total > 0;
    }, 20_000, 'traffic on the restarted backend', 500);
    console.log(`restarted backend got traffic again after ${Date.now() - restarted} ms (${waited} ms of polling, ${round} rounds)`);
    const metricsA = await backendA.metrics();
    expect(metricsA.httmcp_publish_failures_total).toBe(0);
    expect(backendB.alive).toBe(true);
    expect(workerCrashes(nodeA)).toEqual([]);
    expect(workerCrashes(nodeB)).toEqual([]);
  }, 45_000);
});

describe('the publish endpoint down or slow', () => {
  let stackDown: Stack;
  let stackSlow: Stack;
  let down: BackendProcess;
  let slow: BackendProcess;
  let blackhole: Server;
  const held: Socket[] = [];

  beforeAll(async () => {
    // Down: nothing listens on the port the backend publishes to.
    const deadPort = await freePort();
    const downPort = await freePort();
    stackDown = await startTestStack({ servers: createExampleServers(), backends: [`127.0.0.1:${downPort}`], gateway: { sessionSecret: SECRET } });
    down = await new BackendProcess(downPort, `http://127.0.0.1:${deadPort}`, SECRET).start();
    // Slow: a listener that accepts connections and never answers.
    blackhole = createServer((socket) => void held.push(socket));
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', () => r()));
    const holePort = (blackhole.address() as { port: number }).port;
    const slowPort = await freePort();
    stackSlow = await startTestStack({ servers: createExampleServers(), backends: [`127.0.0.1:${slowPort}`], gateway: { sessionSecret: SECRET } });
    slow = await new BackendProcess(slowPort, `http://127.0.0.1:${holePort}`, SECRET, { HTTMCP_PUBLISH_TIMEOUT_MS: '500' }).start();
  }, 30_000);

  afterAll(async () => {
    await down?.kill();
    await slow?.kill();
    for (const socket of held) socket.destroy();
    blackhole?.close();
    await stackDown?.stop();
    await stackSlow?.stop();
  });

  test('/metrics is Prometheus text with the publish counters', async () => {
    const res = await fetch(`${down.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of ['httmcp_publish_total', 'httmcp_publish_retries_total', 'httmcp_publish_failures_total', 'httmcp_inflight_requests', 'httmcp_sessions_closed_total']) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} (counter|gauge)$`, 'm'));
      expect(text).toMatch(new RegExp(`^${name} \\d+$`, 'm'));
    }
    expect(parsePrometheus(text).httmcp_publish_failures_total).toBe(0);
  });

  test.each(['websocket', 'streamable'] as const)('publish listener down (%s): inline replies work, a late result is retried 4 times, counted, logged; the client times out', async (kind) => {
    const before = await down.metrics();
    const client = await connectClient(kind, stackDown.servers.demo!);
    try {
      // Fast replies travel back on nginx's own hop, not through the publish listener.
      expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).toEqual(ADD(2, 3));
      // A long task's progress and result must be published: they never reach the client.
      const started = Date.now();
      await expect(client.callTool({ name: 'long_task', arguments: { steps: 1, stepMs: 100 } }, undefined, { timeout: 3000 })).rejects.toThrow(/timed out/i);
      expect(Date.now() - started).toBeLessThan(5000);
      const after = await down.metrics();
      // 4 attempts per publish (3 retries, 50+100+200 ms): log message + result at least.
      expect(after.httmcp_publish_failures_total - before.httmcp_publish_failures_total).toBeGreaterThanOrEqual(1);
      expect(after.httmcp_publish_retries_total - before.httmcp_publish_retries_total).toBeGreaterThanOrEqual(3);
      expect(after.httmcp_inflight_requests).toBe(0); // nothing left hanging in the backend
      expect(down.errorLines().some((line) => line.msg === 'publish failed')).toBe(true);
      // The session still works for what does not need a publish; the backend did not crash.
      expect(await client.callTool({ name: 'add', arguments: { a: 4, b: 5 } })).toEqual(ADD(4, 5));
      expect(down.alive).toBe(true);
    } finally {
      await client.close().catch(() => undefined);
    }
    expect(workerCrashes(stackDown)).toEqual([]);
  }, 20_000);

  test('publish listener that never answers: each attempt times out (HTTMCP_PUBLISH_TIMEOUT_MS), failure counted within the bound', async () => {
    const client = await connectClient('websocket', stackSlow.servers.demo!);
    try {
      expect(await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } })).toEqual(ADD(1, 1));
      const started = Date.now();
      void client.callTool({ name: 'long_task', arguments: { steps: 1, stepMs: 50 } }, undefined, { timeout: 15_000 }).catch(() => undefined);
      // 4 attempts x 500 ms + 350 ms of backoff per publish; the first publish (progress) is
      // counted failed after about 2.4 s, not after undici's default 4 x 300 s.
      const waited = await eventually(async () => (await slow.metrics()).httmcp_publish_failures_total >= 1, 8000, 'a counted publish failure');
      expect(Date.now() - started).toBeLessThan(8000);
      expect(waited).toBeGreaterThan(1500);
      // The request's later messages (log, result) fail the same way, one after the other, and
      // the request is finally forgotten: nothing hangs forever.
      await eventually(async () => (await slow.metrics()).httmcp_inflight_requests === 0, 12_000, 'no request in flight');
      expect(slow.errorLines().some((line) => line.msg === 'publish failed')).toBe(true);
      expect(slow.alive).toBe(true);
    } finally {
      await client.close().catch(() => undefined);
    }
    expect(workerCrashes(stackSlow)).toEqual([]);
  }, 30_000);
});
