import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createExampleServers } from '../../examples/index.js';
import { freePort, type Stack } from '../../src/index.js';
import { startRedis, type RedisTestServer } from '../helpers/redis.js';
import { callToolWithProgress, connectClient, startTestStack, TRANSPORTS, workerCrashes } from '../helpers/stack.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const SECRET = 'cluster-test-secret-0123456789abcdef';

let redis: RedisTestServer;
let nodeA: Stack;
let nodeB: Stack;
let backend: ChildProcess;

/** `httmcp backend` publishing through `publishUrl`. */
async function startBackend(port: number, publishUrl: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'backend', '--listen', `127.0.0.1:${port}`, '--publish-url', publishUrl], {
    env: { ...process.env, HTTMCP_SESSION_SECRET: SECRET, HTTMCP_LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const deadline = Date.now() + 10_000;
  while (!(await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline) throw new Error('backend did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

beforeAll(async () => {
  redis = await startRedis();
  const backendPort = await freePort();
  const backends = [`127.0.0.1:${backendPort}`];
  // The backend's secret: nginx proves itself to it with a key derived from the secret.
  const gateway = { sessionSecret: SECRET };
  nodeA = await startTestStack({ servers: createExampleServers(), backends, redis: redis.url, gateway });
  nodeB = await startTestStack({ servers: createExampleServers(), backends, redis: redis.url, gateway, publishListen: `127.0.0.1:${await freePort()}` });
  // The backend publishes through node B only; clients below connect to node A only.
  backend = await startBackend(backendPort, nodeB.publishUrl);
});

afterAll(async () => {
  backend?.kill('SIGKILL');
  await nodeA?.stop();
  await nodeB?.stop();
  await redis?.stop();
});

test.each(TRANSPORTS)('%s on node A gets what the backend published through node B (Redis)', async (kind) => {
  const client = await connectClient(kind, nodeA.servers.demo!);
  try {
    expect(await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).toEqual({ content: [{ type: 'text', text: '3' }] });
    const { result, progress } = await callToolWithProgress(client, 'long_task', { steps: 3, stepMs: 100 });
    expect(result.content).toEqual([{ type: 'text', text: 'finished 3 steps' }]);
    expect(progress).toEqual([1, 2, 3]);
  } finally {
    await client.close();
  }
});

test("node B's nchan stores in Redis (nchan_redis_pass in every location, not ignored)", async () => {
  // At http or server level nchan ignores nchan_redis_pass and reports 0 commands sent.
  const status = await fetch(`${nodeB.publishUrl}/status`).then((r) => r.text());
  const sent = Number(/total redis commands sent: (\d+)/.exec(status)?.[1] ?? '0');
  expect(sent).toBeGreaterThan(0);
  expect(workerCrashes(nodeA)).toEqual([]);
  expect(workerCrashes(nodeB)).toEqual([]);
});
