#!/usr/bin/env node
// What one client's floods leave in the backend's heap, and what a huge batch does to everyone
// else, on a real nginx+nchan stack with the backend in this process (issue 10, points 5 and 7).
//
//   node --expose-gc bench/backend-bounds.mjs [subscribe|initialize|batch ...] [--dist DIR]
//
// subscribe:  ROUNDS rounds of: 100 Streamable HTTP sessions each asking for 150 subscriptions
//             to 2 KB URIs, plus 10 of 1 MB each; heapUsed after a full GC after each round.
// initialize: ROUNDS rounds of 2,000 initializes declaring 15 KB of capabilities each, plus 100
//             declaring 1 MB; heapUsed after GC after each round.
// batch:      one session POSTs a batch of 60,000 pings (2.7 MB) while a WebSocket control client
//             calls `add` in a loop: the backend's longest event-loop stall (monitorEventLoopDelay)
//             and the control calls' latency. Run with the default HTTMCP_MAX_BATCH (refused) and
//             with it raised to 60,000 (handled in slices).
// leave:      20 Streamable HTTP sessions start 100 `long_task` calls each (2,000; steps of 60 s),
//             read the start of each call's stream, then drop every stream: how long until the
//             backend has nothing in flight (default HTTMCP_LIVENESS_INTERVAL_MS, 10 s).
// --dist DIR: the build to measure (default: this checkout's dist), e.g. another branch's.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import WebSocket from 'ws';
import { z } from 'zod';

const { values: flags, positionals } = parseArgs({ options: { dist: { type: 'string' }, rounds: { type: 'string', default: '3' } }, allowPositionals: true });
const dist = flags.dist ?? new URL('../dist', import.meta.url).pathname;
const { startStack, HTTMCP } = await import(`${dist}/src/index.js`);
const { createExampleServers } = await import(`${dist}/examples/index.js`);
globalThis.WebSocket ??= WebSocket;
const ROUNDS = Number(flags.rounds);
const gc = globalThis.gc ?? (() => console.warn('run with --expose-gc for heap figures'));
const heapMiB = () => {
  gc();
  gc();
  return +(process.memoryUsage().heapUsed / 1048576).toFixed(1);
};
const ACCEPT = 'application/json, text/event-stream';
const INIT = { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'bench', version: '1' } };

async function stackWith(limits) {
  const probe = new HTTMCP({ name: 'probe', version: '1' }).tool('noop', {}, () => 'ok');
  return startStack({ servers: [...createExampleServers(), probe], port: 0, workerProcesses: 1, logger: pino({ level: 'silent' }), gateway: { limits } });
}

async function post(url, body, session, extra = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { accept: ACCEPT, 'content-type': 'application/json', ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-03-26' } : {}), ...extra },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, session: res.headers.get('mcp-session-id'), json: text ? JSON.parse(text) : undefined };
}

/** Runs `tasks` (functions) with at most `n` at once. */
async function pool(tasks, n = 32) {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < tasks.length) await tasks[next++]();
  }));
}

function tally(counts, reply) {
  const key = reply.json?.error ? String(reply.json.error.data?.limit ?? reply.json.error.message).slice(0, 60) : reply.status === 200 ? 'ok' : `http ${reply.status}`;
  counts[key] = (counts[key] ?? 0) + 1;
}

async function subscribeFlood() {
  const stack = await stackWith({});
  const url = stack.servers.probe;
  console.log(`subscribe flood: heap after GC at start ${heapMiB()} MiB`);
  for (let round = 1; round <= ROUNDS; round++) {
    const counts = {};
    const t0 = performance.now();
    const sessions = [];
    await pool(Array.from({ length: 100 }, () => async () => sessions.push((await post(url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: INIT })).session)));
    const tasks = [];
    let n = 0;
    for (const s of sessions) {
      for (let i = 0; i < 150; i++) { const id = n++; tasks.push(async () => tally(counts, await post(url, { jsonrpc: '2.0', id, method: 'resources/subscribe', params: { uri: `probe://${round}/${id}/${'x'.repeat(2000)}` } }, s))); }
      for (let i = 0; i < 10; i++) { const id = n++; tasks.push(async () => tally(counts, await post(url, { jsonrpc: '2.0', id, method: 'resources/subscribe', params: { uri: `probe://${id}/${'y'.repeat(1 << 20)}` } }, s))); }
    }
    await pool(tasks);
    const { retained } = stack.gateway.stats();
    console.log(`  round ${round}: ${tasks.length} subscribes in ${((performance.now() - t0) / 1000).toFixed(1)} s ${JSON.stringify(counts)}; kept ${retained?.subscriptions} (${retained?.subscriptionsBytes} chars); heap after GC ${heapMiB()} MiB`);
  }
  await stack.stop();
}

async function initializeFlood() {
  const stack = await stackWith({});
  const url = stack.servers.probe;
  console.log(`initialize flood: heap after GC at start ${heapMiB()} MiB`);
  const fits = { sampling: {}, experimental: { pad: { data: 'c'.repeat(15 * 1024) } } };
  const huge = { experimental: { pad: { data: 'C'.repeat(1 << 20) } } };
  for (let round = 1; round <= ROUNDS; round++) {
    const counts = {};
    const t0 = performance.now();
    const tasks = [
      ...Array.from({ length: 2000 }, () => async () => tally(counts, await post(url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { ...INIT, capabilities: fits } }))),
      ...Array.from({ length: 100 }, () => async () => tally(counts, await post(url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { ...INIT, capabilities: huge } }))),
    ];
    await pool(tasks);
    const { retained } = stack.gateway.stats();
    console.log(`  round ${round}: ${tasks.length} initializes in ${((performance.now() - t0) / 1000).toFixed(1)} s ${JSON.stringify(counts)}; kept ${retained?.capabilities} (${retained?.capabilitiesBytes} chars); heap after GC ${heapMiB()} MiB`);
  }
  await stack.stop();
}

async function batch(limits, label) {
  const stack = await stackWith(limits);
  const url = stack.servers.demo;
  const session = (await post(url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: INIT })).session;
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { WebSocketClientTransport } = await import('@modelcontextprotocol/sdk/client/websocket.js');
  const control = new Client({ name: 'control', version: '1' });
  await control.connect(new WebSocketClientTransport(new URL(url.replace('http', 'ws'))));
  const body = JSON.stringify(Array.from({ length: 60_000 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' })));
  const results = [];
  for (let round = 0; round < 3; round++) {
    const eld = monitorEventLoopDelay({ resolution: 5 });
    eld.enable();
    let done = false;
    const latencies = [];
    const t0 = performance.now();
    const batchReply = post(url, body, session).then((r) => { done = true; return r; });
    while (!done) {
      const t = performance.now();
      await control.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
      latencies.push(performance.now() - t);
    }
    const reply = await batchReply;
    const wall = performance.now() - t0;
    eld.disable();
    latencies.sort((a, b) => a - b);
    const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]?.toFixed(0);
    results.push(`  round ${round}: batch ${reply.status} ${Array.isArray(reply.json) ? `${reply.json.length} replies` : JSON.stringify(reply.json?.error?.data ?? reply.json).slice(0, 80)} after ${wall.toFixed(0)} ms; longest event-loop stall ${(eld.max / 1e6).toFixed(0)} ms; control calls ${latencies.length}: p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${latencies.at(-1)?.toFixed(0)} ms`);
  }
  console.log(`batch of 60,000 pings (${(body.length / 1e6).toFixed(1)} MB), ${label}:\n${results.join('\n')}`);
  await control.close();
  await stack.stop();
}

async function leave() {
  const stack = await stackWith({});
  const url = stack.servers.demo;
  const sessions = [];
  await pool(Array.from({ length: 20 }, () => async () => sessions.push((await post(url, { jsonrpc: '2.0', id: 0, method: 'initialize', params: INIT })).session)));
  const controllers = [];
  const statuses = {};
  await pool(sessions.flatMap((session) => Array.from({ length: 100 }, (_, i) => async () => {
    const controller = new AbortController();
    controllers.push(controller);
    const res = await fetch(url, {
      method: 'POST',
      headers: { accept: ACCEPT, 'content-type': 'application/json', 'mcp-session-id': session, 'mcp-protocol-version': '2025-03-26' },
      body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'long_task', arguments: { steps: 10, stepMs: 60_000 } } }),
      signal: controller.signal,
    });
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    await res.body.getReader().read();
  })), 64);
  const inflight = stack.gateway.stats().inflight;
  const t0 = performance.now();
  for (const c of controllers) c.abort();
  while (stack.gateway.stats().inflight > 0 && performance.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 100));
  console.log(`leave: ${controllers.length} long_task calls ${JSON.stringify(statuses)}, ${inflight} in flight; every stream dropped: ${stack.gateway.stats().inflight} in flight after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await stack.stop();
}

const runs = positionals.length ? positionals : ['subscribe', 'initialize', 'batch'];
for (const run of runs) {
  if (run === 'subscribe') await subscribeFlood();
  if (run === 'initialize') await initializeFlood();
  if (run === 'leave') await leave();
  if (run === 'batch') {
    await batch({}, 'default limits');
    await batch({ batchLength: 60_000, inflightPerSession: 60_000, inflightTotal: 100_000 }, 'HTTMCP_MAX_BATCH=60000 (with the in-flight bounds raised to match)');
  }
}
