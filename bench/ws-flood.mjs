#!/usr/bin/env node
// One WebSocket floods `ping` frames through nchan's upstream hop: what it costs everyone else.
//
//   npm run build && HTTMCP_NCHAN_MODULE=/path/to/ngx_nchan_module.so node bench/ws-flood.mjs \
//        [--frames 20000] [--rounds 2] [--sessions 300] [--max-open-files N] [--control-calls 200]
//
// 1. Latency: a control client (Streamable HTTP, one call at a time) calls `add` while one
//    WebSocket floods --frames pings and stays open; prints its p50/p99/max and failures, and
//    how many pings the flooder got answered (it waits for all, or 5 s without one, then closes).
// 2. Capacity: how many of --sessions concurrent legacy SSE sessions a fresh client opens, before
//    step 1 and after --rounds of "send --frames pings and close at once" (the leak of issue 10:
//    nchan kept a worker connection per frame still queued when the socket closed), polled for
//    up to 10 s after the attack.
// nginx's worker deaths ("exited on signal") and "worker_connections are not enough" are counted
// from the error log. Prints one JSON line.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { pino } from 'pino';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startStack } from '../dist/src/index.js';
import { createExampleServers } from '../dist/examples/index.js';

const { values: args } = parseArgs({
  options: {
    frames: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '2' },
    sessions: { type: 'string', default: '300' },
    'max-open-files': { type: 'string' },
    'control-calls': { type: 'string', default: '200' },
  },
});
const FRAMES = Number(args.frames);
const SESSIONS = Number(args.sessions);

const stack = await startStack({
  servers: createExampleServers(), port: 0, workerProcesses: 1, logger: pino({ level: 'silent' }),
  ...(args['max-open-files'] ? { maxOpenFiles: Number(args['max-open-files']) } : {}),
});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const ping = (id) => `{"jsonrpc":"2.0","id":${id},"method":"ping"}`;

async function openSession(controllers) {
  const controller = new AbortController();
  controllers.push(controller);
  const timer = setTimeout(() => controller.abort(), 5000);
  try {
    const response = await fetch(stack.servers.demo, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    if (response.status !== 200) return false;
    const reader = response.body.getReader();
    let text = '';
    while (!text.includes('event: endpoint')) {
      const { value, done } = await reader.read();
      if (done) return false;
      text += Buffer.from(value).toString();
    }
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

async function capacity() {
  const controllers = [];
  const opened = await Promise.all(Array.from({ length: SESSIONS }, () => openSession(controllers)));
  for (const controller of controllers) controller.abort();
  await sleep(300);
  return opened.filter(Boolean).length;
}

function openWebSocket() {
  const ws = new WebSocket(stack.servers.demo.replace(/^http/, 'ws'), 'mcp', { perMessageDeflate: false });
  ws.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

const result = { module: process.env.HTTMCP_NCHAN_MODULE ?? '(launcher default)', frames: FRAMES, rounds: Number(args.rounds), sessions: SESSIONS };
result.capacityBefore = await capacity();
const flooder = await openWebSocket();
let answered = 0;
flooder.on('message', () => answered++);
for (let id = 0; id < FRAMES; id++) flooder.send(ping(id));
const control = new Client({ name: 'bench-control', version: '1.0.0' });
const latencies = [];
let failures = 0;
try {
  await control.connect(new StreamableHTTPClientTransport(new URL(stack.servers.demo)));
  for (let i = 0; i < Number(args['control-calls']); i++) {
    const started = performance.now();
    try {
      await control.callTool({ name: 'add', arguments: { a: i, b: 1 } });
      latencies.push(performance.now() - started);
    } catch {
      failures++;
    }
  }
  await control.close();
} catch {
  failures++;
}
result.floodAnsweredDuringControl = answered;
// Until every ping is answered, or 5 s pass without one (frames nchan dropped are never answered).
for (let seen = -1, since = Date.now(); answered < FRAMES && flooder.readyState === WebSocket.OPEN && Date.now() - since < 5000; await sleep(100)) {
  if (answered !== seen) [seen, since] = [answered, Date.now()];
}
result.floodAnswered = answered;
const flooderClosed = new Promise((resolve) => (flooder.readyState === WebSocket.CLOSED ? resolve() : flooder.once('close', resolve)));
flooder.close();
await flooderClosed;
for (let round = 0; round < result.rounds; round++) {
  const ws = await openWebSocket();
  const closed = new Promise((resolve) => ws.once('close', resolve));
  for (let id = 0; id < FRAMES; id++) ws.send(ping(id));
  ws.close();
  await closed;
}
const attackEnded = Date.now();
do result.capacityAfter = await capacity();
while (result.capacityAfter < result.capacityBefore && Date.now() - attackEnded < 10_000);
result.capacityAfterMs = Date.now() - attackEnded;

latencies.sort((a, b) => a - b);
const at = (q) => (latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] * 10) / 10 : null);
result.control = { calls: latencies.length, failures, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
const log = readFileSync(stack.errorLog, 'utf8');
result.workerDeaths = log.split('\n').filter((line) => /exited on signal/.test(line)).length;
result.notEnoughConnections = (log.match(/worker_connections are not enough/g) ?? []).length;
console.log(JSON.stringify(result));
await stack.stop();
process.exit(0);
