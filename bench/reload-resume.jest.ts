/**
 * Not part of `npm test`: a reload under more clients than test/integration/reload.test.ts, to
 * count how often a resumed stream loses events (docs/operations.md, "nginx is reloaded").
 *   NODE_OPTIONS=--experimental-vm-modules npx jest --testMatch '<rootDir>/bench/*.jest.ts' bench/reload-resume.jest.ts
 * Env: N clients per transport (6), RETRY_MS the streams' `retry:` (the stack's default).
 * A failure prints each bad client's progress timeline and, for legacy SSE, the event ids it saw.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { createExampleServers } from '../examples/index.js';
import { resumingEventSourceFetch } from '../src/index.js';
import { connectClient, startTestStack } from '../test/helpers/stack.js';

const T0 = Date.now();
const traces: string[][] = [];
async function connectSse(url: string): Promise<Client> {
  const client = new Client({ name: 'reload-sse', version: '1.0.0' });
  const trace: string[] = [];
  traces.push(trace);
  const inner = resumingEventSourceFetch();
  const fetchTraced = (async (input: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    trace.push(`${Date.now() - T0} GET lei=${headers.get('last-event-id')}`);
    const res = await inner(input as string, init);
    trace.push(`${Date.now() - T0} status=${res.status}`);
    const copy = res.clone();
    void (async () => {
      const reader = copy.body!.getReader();
      const dec = new TextDecoder();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) { trace.push(`${Date.now() - T0} END`); break; }
          for (const line of dec.decode(value).split('\n')) {
            if (line.startsWith('id:')) trace.push(`${Date.now() - T0} ${line}`);
            else if (line.startsWith('data:')) trace.push(`${Date.now() - T0} ${line.slice(0, 90)}`);
          }
        }
      } catch (e) { trace.push(`${Date.now() - T0} ERR ${String(e)}`); }
    })();
    return res;
  }) as typeof fetch;
  await client.connect(new SSEClientTransport(new URL(url), { eventSourceInit: { fetch: fetchTraced } }));
  return client;
}

const N = Number(process.env.N ?? 6);
/** `retry:` of the streams (default: the stack's). */
const RETRY_MS = process.env.RETRY_MS ? Number(process.env.RETRY_MS) : undefined;
const STEPS = 30;
test(`reload with ${N} legacy SSE and ${N} Streamable HTTP clients mid-call`, async () => {
  const stack = await startTestStack({ servers: createExampleServers(), workerProcesses: 2, workerShutdownTimeout: '30s', sseRetryMs: RETRY_MS, gateway: { livenessIntervalMs: 10_000 } });
  const demo = stack.servers.demo!;
  const clients: Array<{ kind: string; client: Client }> = [];
  for (let i = 0; i < N; i++) clients.push({ kind: 'sse', client: await connectSse(demo) }, { kind: 'streamable', client: await connectClient('streamable', demo) });
  await delay(1500);
  const t0 = Date.now();
  const logs = clients.map(() => [] as string[]);
  const results = clients.map(({ client }, i) => {
    const progress: number[] = [];
    const transport = client.transport!;
    const forward = transport.onmessage!;
    transport.onmessage = (message, extra) => {
      if ('method' in message && message.method === 'notifications/progress') { progress.push((message.params as { progress: number }).progress); logs[i]!.push(`${Date.now() - t0}:${(message.params as { progress: number }).progress}`); }
      forward.call(transport, message, extra);
    };
    return client
      .callTool({ name: 'long_task', arguments: { steps: STEPS, stepMs: 100 } }, undefined, {
        timeout: 20_000,
        onprogress: () => undefined,
      })
      .then(() => ({ i, kind: clients[i]!.kind, progress, error: undefined as unknown }), (error: unknown) => ({ i, kind: clients[i]!.kind, progress, error: String(error) }));
  });
  await delay(1000);
  const reloadAt = Date.now() - t0;
  process.kill(stack.nginxPid, 'SIGHUP');
  const outcomes = await Promise.all(results);
  const bad = outcomes.filter((o) => o.error || o.progress.length !== STEPS || o.progress.some((p, k) => p !== k + 1));
  for (const o of bad) if (o.kind === 'sse') {
    const trace = traces[o.i / 2]!;
    const session = /id: ([^~]+)~/.exec(trace.join('\n'))?.[1];
    const info = session ? await stack.gateway.publisher.info(session) : undefined;
    console.log('TRACE', o.i, session, JSON.stringify(info), '\n' + trace.join('\n'));
  }
  console.log('STRESS reloadAt', reloadAt + t0 - T0, 'bad', JSON.stringify(bad.map((o) => ({ ...o, log: logs[o.i]!.join(' ') }))));
  if (bad.length) console.log(readFileSync(stack.errorLog, 'utf8').slice(-4000));
  await Promise.all(clients.map(({ client }) => client.close().catch(() => undefined)));
  await stack.stop();
  expect(bad).toEqual([]);
}, 60_000);
