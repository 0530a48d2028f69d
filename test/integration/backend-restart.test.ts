import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { createExampleServers } from '../../examples/index.js';
import { freePort, type Stack } from '../../src/index.js';
import { callToolWithProgress, connectClient, startTestStack, TRANSPORTS, workerCrashes } from '../helpers/stack.js';

const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
const SECRET = 'restart-test-secret-0123456789abcdef';

let stack: Stack;
let backendPort: number;
let backend: ChildProcess;

/** `httmcp backend` in its own process, so it can be killed and started again. */
async function startBackend(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'backend', '--listen', `127.0.0.1:${backendPort}`, '--publish-url', stack.publishUrl], {
    env: { ...process.env, HTTMCP_SESSION_SECRET: SECRET, HTTMCP_LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await fetch(`http://127.0.0.1:${backendPort}/healthz`).then((r) => r.ok, () => false);
    if (up) return child;
    if (Date.now() > deadline) throw new Error('backend did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopped(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

beforeAll(async () => {
  backendPort = await freePort();
  // The backend's secret: nginx proves itself to it with a key derived from the secret.
  stack = await startTestStack({ servers: createExampleServers(), backends: [`127.0.0.1:${backendPort}`], gateway: { sessionSecret: SECRET } });
  backend = await startBackend();
});

afterAll(async () => {
  backend?.kill('SIGKILL');
  await stack?.stop();
});

test('open sessions on every transport keep working after the backend is killed and restarted', async () => {
  const clients: Client[] = [];
  for (const kind of TRANSPORTS) clients.push(await connectClient(kind, stack.servers.demo!));
  for (const client of clients) {
    expect(await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).toEqual({ content: [{ type: 'text', text: '3' }] });
  }

  backend.kill('SIGKILL'); // no goodbye: nothing of the old process survives but the clients' nginx connections
  await stopped(backend);
  backend = await startBackend();

  // Same session ids, a new process: every session's next request works, including a long task
  // whose progress and late result are published by the new process.
  for (const [i, client] of clients.entries()) {
    expect(await client.callTool({ name: 'add', arguments: { a: i, b: 10 } })).toEqual({ content: [{ type: 'text', text: String(10 + i) }] });
    const { result, progress } = await callToolWithProgress(client, 'long_task', { steps: 2, stepMs: 80 });
    expect(result.content).toEqual([{ type: 'text', text: 'finished 2 steps' }]);
    expect(progress).toEqual([1, 2]);
  }
  await Promise.all(clients.map((c) => c.close()));
  expect(workerCrashes(stack)).toEqual([]);
});
