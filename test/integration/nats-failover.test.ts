/**
 * Two real `httmcp nats` processes serving the example servers in one queue group: discovery
 * lists both, and one is killed with SIGKILL while calls run on it, without a failed call.
 */
import { spawnSync } from 'node:child_process';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import type { NatsConnection } from 'nats';
import { discoverNatsServers } from '../../src/transports/index.js';
import {
  TRANSPORTS_CLI,
  connectNats,
  connectNatsClient,
  startNatsCli,
  startNatsServer,
  stopProcess,
  type NatsCliProcess,
  type NatsTestServer,
} from '../helpers/nats.js';
import { waitFor } from '../helpers/wait.js';

let nats: NatsTestServer;
let nc: NatsConnection;
let processes: NatsCliProcess[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connectNats(nats.url);
  processes = await Promise.all([startNatsCli(['--url', nats.url]), startNatsCli(['--url', nats.url])]);
});

afterAll(async () => {
  for (const p of processes) await stopProcess(p.child, 'SIGKILL');
  await nc?.close();
  await nats?.stop();
});

function text(result: unknown): string {
  return (result as { content: { text: string }[] }).content[0]!.text;
}

test('each process prints its subjects, and discovery lists both processes of each server', async () => {
  for (const p of processes) {
    expect(p.info.servers.map((s) => s.name)).toEqual(['demo', 'notes', 'everything']);
    expect(p.info.servers[0]).toMatchObject({ subject: 'mcp.service.demo.request', queue: 'httmcp' });
  }
  const demo = await discoverNatsServers(nc, { name: 'demo' });
  expect(demo.map((d) => d.worker).sort()).toEqual(processes.map((p) => p.info.servers[0]!.worker).sort());
  for (const instance of demo) expect(instance.tools).toEqual(['add', 'divide', 'sleep', 'long_task']);
  const all = await discoverNatsServers(nc);
  expect(all.map((d) => d.name)).toEqual(['demo', 'demo', 'everything', 'everything', 'notes', 'notes']);
});

test('SIGKILL of a process with calls in flight: every call still succeeds, on the survivor', async () => {
  const { client, transport } = await connectNatsClient(nc, 'demo', { transport: { livenessIntervalMs: 250 } });
  const sleeps = Array.from({ length: 8 }, () => client.callTool({ name: 'sleep', arguments: { ms: 1500 } }));
  const progress: Progress[] = [];
  const long = client.callTool({ name: 'long_task', arguments: { steps: 10, stepMs: 150 } }, undefined, { onprogress: (p) => progress.push(p) });
  await waitFor(() => transport.inflight.length === 9 && transport.inflight.every((r) => r.worker !== undefined), 'nine calls taken by workers', 10_000);

  // Kill the process handling the most calls.
  const byWorker = new Map<string, number>();
  for (const r of transport.inflight) byWorker.set(r.worker!, (byWorker.get(r.worker!) ?? 0) + 1);
  const busiest = [...byWorker.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const victim = processes.find((p) => p.info.servers[0]!.worker === busiest)!;
  const survivor = processes.find((p) => p !== victim)!;

  // Quick calls keep coming while the process dies.
  const quick: Promise<unknown>[] = [];
  const ticker = setInterval(() => quick.push(client.callTool({ name: 'add', arguments: { a: quick.length, b: 1 } })), 20);
  await new Promise((r) => setTimeout(r, 300));
  victim.child.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 700));
  clearInterval(ticker);

  const results = await Promise.allSettled([...sleeps, long, ...quick]);
  const failed = results.filter((r) => r.status === 'rejected');
  expect(failed).toEqual([]);
  for (const r of await Promise.all(sleeps)) expect(text(r)).toBe('slept 1500 ms');
  expect(text(await long)).toBe('finished 10 steps');
  expect(quick.length).toBeGreaterThan(20);
  (await Promise.all(quick)).forEach((r, i) => expect(text(r)).toBe(String(i + 1)));
  // A long task re-run from the start reports its progress again; the last report is its end.
  expect(progress.at(-1)).toMatchObject({ progress: 10, total: 10 });

  // The dead process is gone from discovery; the survivor serves on.
  const demo = await discoverNatsServers(nc, { name: 'demo' });
  expect(demo.map((d) => d.worker)).toEqual([survivor.info.servers[0]!.worker]);
  expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 2 } })).toEqual({ content: [{ type: 'text', text: '4' }] });
  await client.close();
  processes = [survivor];
});

test('SIGTERM lets a running call finish, then the process exits 0', async () => {
  const [last] = processes;
  const { client, transport } = await connectNatsClient(nc, 'demo');
  const call = client.callTool({ name: 'sleep', arguments: { ms: 800 } });
  await waitFor(() => transport.inflight[0]?.worker !== undefined, 'a worker to take the call', 10_000);
  const exit = stopProcess(last!.child, 'SIGTERM');
  expect(text(await call)).toBe('slept 800 ms');
  expect(await exit).toBe(0);
  await client.close();
  processes = [];
});

test('the command fails clearly on an unknown server name or an unreachable NATS', () => {
  const unknown = spawnSync(process.execPath, [TRANSPORTS_CLI, 'nats', '--url', nats.url, '--server', 'nope'], { encoding: 'utf8' });
  expect(unknown.status).toBe(1);
  expect(unknown.stderr).toContain('no server named "nope"; the module has: demo, notes, everything');
  const unreachable = spawnSync(process.execPath, [TRANSPORTS_CLI, 'nats', '--url', 'nats://127.0.0.1:1'], { encoding: 'utf8' });
  expect(unreachable.status).toBe(1);
  expect(unreachable.stderr).toContain('cannot reach NATS at nats://127.0.0.1:1');
});

