#!/usr/bin/env node
// Reproducer for nginx reloads under load (docs/operations.md, "Reloading nginx").
//
//   npm run build && node bench/nginx-reload.mjs [--clients 4] [--workers 2] [--tool long|quick]
//        [--kinds sse,streamable,websocket] [--shutdown-timeout 10s] [--after 5000]
//
// Starts a stack (the nchan module the launcher picks, or HTTMCP_NCHAN_MODULE), connects
// --clients official SDK clients per kind, and has each call a tool in a loop: `long` is a
// long_task of 10 x 300 ms with progress, `quick` a sleep of 0 ms (answered inline). After 1.5 s
// it sends SIGHUP to the nginx master (what `nginx -s reload` does), keeps calling for --after ms,
// and prints per kind the calls answered and the failures (with the first error of each client),
// and the worker exits from nginx's error log. A WebSocket client whose socket closes reconnects.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import WebSocket from 'ws';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { startStack, resumingEventSourceFetch } from '../dist/src/index.js';
import { createExampleServers } from '../dist/examples/index.js';

globalThis.WebSocket ??= WebSocket;
const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '4' },
    workers: { type: 'string', default: '2' },
    tool: { type: 'string', default: 'long' },
    kinds: { type: 'string', default: 'sse,streamable,websocket' },
    'shutdown-timeout': { type: 'string', default: '10s' },
    after: { type: 'string', default: '5000' },
  },
});

const stack = await startStack({
  servers: createExampleServers(),
  port: 0,
  workerProcesses: args.workers === 'auto' ? 'auto' : Number(args.workers),
  workerShutdownTimeout: args['shutdown-timeout'],
  logger: pino({ level: 'silent' }),
});
const url = stack.servers.demo;
const transport = (kind) =>
  kind === 'websocket'
    ? new WebSocketClientTransport(new URL(url.replace(/^http/, 'ws')))
    : kind === 'sse'
      ? new SSEClientTransport(new URL(url), { eventSourceInit: { fetch: resumingEventSourceFetch() } })
      : new StreamableHTTPClientTransport(new URL(url));
async function connect(kind) {
  const client = new Client({ name: `reload-${kind}`, version: '1.0.0' });
  client.onerror = () => undefined;
  await client.connect(transport(kind));
  return client;
}
const call = (client) =>
  args.tool === 'long'
    ? client.callTool({ name: 'long_task', arguments: { steps: 10, stepMs: 300 } }, undefined, { timeout: 20_000 })
    : client.callTool({ name: 'sleep', arguments: { ms: 0 } }, undefined, { timeout: 5_000 });

const runs = [];
for (const kind of args.kinds.split(',')) {
  for (let i = 0; i < Number(args.clients); i++) runs.push({ kind, client: await connect(kind), answered: 0, failed: 0, errors: [], reconnects: 0 });
}
let stop = false;
const loops = runs.map(async (run) => {
  while (!stop) {
    try {
      await call(run.client);
      run.answered++;
    } catch (error) {
      run.failed++;
      if (run.errors.length < 1) run.errors.push(String(error).slice(0, 120));
      if (run.kind === 'websocket') {
        await run.client.close().catch(() => undefined);
        run.client = await connect(run.kind).catch(() => run.client);
        run.reconnects++;
      }
    }
  }
});
await new Promise((r) => setTimeout(r, 1500));
const logBefore = readFileSync(stack.errorLog, 'utf8').length;
process.kill(stack.nginxPid, 'SIGHUP');
await new Promise((r) => setTimeout(r, Number(args.after)));
stop = true;
await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 25_000))]);
const summary = {};
for (const run of runs) {
  const s = (summary[run.kind] ??= { answered: 0, failed: 0, reconnects: 0, errors: [] });
  s.answered += run.answered;
  s.failed += run.failed;
  s.reconnects += run.reconnects;
  s.errors.push(...run.errors);
}
const exits = readFileSync(stack.errorLog, 'utf8').slice(logBefore).split('\n').filter((line) => /worker process \d+ exited/.test(line));
console.log(JSON.stringify({ workers: args.workers, tool: args.tool, ...summary, workerExits: exits.map((line) => line.replace(/^.*worker process \d+ /, '')) }, null, 1));
await Promise.all(runs.map((run) => run.client.close().catch(() => undefined)));
await stack.stop();
