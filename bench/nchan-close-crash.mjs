#!/usr/bin/env node
// Reproducer for the nchan 1.3.6 worker SIGSEGV (docs/operations.md, "Known issue").
//
//   npm run build && node bench/nchan-close-crash.mjs [--kinds 0,1,2,3,4,post] [--rounds 10]
//        [--clients 50] [--close next|nextterm|now|term|none] [--nodes 1] [--no-redis] [--perturb]
//
// Each round opens --clients WebSockets (and, for kind `post`, plain POSTs) against a real stack
// and sends one kind of input each, round-robin over --kinds:
//   0 truncated JSON, 1 binary frame, 2 5 MB JSON frame, 3 5 MB non-JSON frame,
//   4 50 frames of broken deep nesting, 5 50 valid pings pipelined, post: the flood test's POSTs.
// then closes the socket as --close says: `next` after its first message (like the flood test),
// `nextterm` the same but abruptly (no close frame), `now`/`term` right after sending, `none` never.
// It counts workers that died on a signal in nginx's error logs (`crashes`), and apart from them
// those that died while the stack stopped (`crashesAtStop`).
//
// --perturb starts nginx with MALLOC_PERTURB_=255 and glibc's tcache off, so freed heap memory is
// overwritten at once: a use-after-free of freed memory then crashes every time instead of only
// when the memory happens to be reused (a natural crash needs that reuse).
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { pino } from 'pino';
import { startStack, freePort } from '../dist/src/index.js';
import { createExampleServers } from '../dist/examples/index.js';

const { values: args } = parseArgs({
  options: {
    kinds: { type: 'string', default: '0,1,2,3,4,post' },
    rounds: { type: 'string', default: '10' },
    clients: { type: 'string', default: '50' },
    close: { type: 'string', default: 'next' },
    nodes: { type: 'string', default: '1' },
    'no-redis': { type: 'boolean', default: false },
    perturb: { type: 'boolean', default: false },
  },
});
const KINDS = args.kinds.split(',');
const ROUNDS = Number(args.rounds);
const CLIENTS = Number(args.clients);
const CLOSE = args.close;
if (args.perturb) {
  // Inherited by nginx (spawned by the stack); glibc reads these at process start.
  process.env.MALLOC_PERTURB_ = '255';
  process.env.GLIBC_TUNABLES = 'glibc.malloc.tcache_count=0';
}

async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write('PING\r\n'));
      s.once('data', (d) => { resolve(d.toString().startsWith('+PONG')); s.destroy(); });
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

const redis = args['no-redis'] ? undefined : await startRedis();
const nodes = [];
for (let n = 0; n < Number(args.nodes); n++) {
  nodes.push(await startStack({
    servers: createExampleServers(), port: 0, workerProcesses: 1, logger: pino({ level: 'silent' }),
    redis: redis?.url, gateway: { sessionSecret: 'nchan-close-crash-secret-0123456789', livenessIntervalMs: 2000 },
    // Every client comes from 127.0.0.1: lift the per-client limits.
    clientLimits: { connections: 65535, ratePerSecond: 1_000_000, burst: 1_000_000 },
  }));
}
const crashes = (node) => readFileSync(node.errorLog, 'utf8').split('\n').filter((l) => /exited on signal|worker process \d+ exited with code [^0]/.test(l));

const big = 'x'.repeat(5 * 1024 * 1024);
function openWs(url) {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), 'mcp', { perMessageDeflate: false });
  return new Promise((resolve, reject) => { ws.once('open', () => resolve(ws)); ws.once('error', reject); });
}
async function wsJob(url, kind) {
  let ws;
  try { ws = await openWs(url); } catch { return; }
  ws.on('error', () => {});
  const first = new Promise((r) => { ws.once('message', r); ws.once('close', r); setTimeout(r, 10_000); });
  switch (kind) {
    case '0': ws.send('{"jsonrpc":"2.0","id":1,"method":'); break;
    case '1': ws.send(Buffer.from([0xff, 0x00, 0xfe, 0x01, 0x80])); break;
    case '2': ws.send(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"${big}"}}`); break;
    case '3': ws.send(big); break;
    case '4': for (let k = 0; k < 50; k++) ws.send(`[${'['.repeat(k * 20)}`); break;
    case '5': for (let k = 0; k < 50; k++) ws.send(`{"jsonrpc":"2.0","id":${k},"method":"ping"}`); break;
  }
  if (CLOSE === 'now') ws.close();
  else if (CLOSE === 'term') ws.terminate();
  else if (CLOSE !== 'none') {
    await first;
    if (CLOSE === 'next') ws.close();
    else ws.terminate();
  }
}

const started = Date.now();
for (let round = 0; round < ROUNDS; round++) {
  const jobs = [];
  for (let i = 0; i < CLIENTS; i++) {
    const node = nodes[i % nodes.length];
    const kind = KINDS[i % KINDS.length];
    if (kind === 'post') {
      jobs.push(fetch(node.servers.demo, {
        method: 'POST',
        headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json' },
        body: i % 2 ? big : '{"jsonrpc":"2.0","id":1,"method":"initialize","params":',
      }).then((r) => r.text(), () => undefined));
    } else jobs.push(wsJob(node.servers.demo, kind));
  }
  await Promise.all(jobs);
  await new Promise((r) => setTimeout(r, 300));
}
await new Promise((r) => setTimeout(r, 1000));
const before = nodes.map((node) => crashes(node).length);
const lines = nodes.flatMap(crashes);
// Workers that die while the stack stops (nchan's exit handlers; the backend is gone by then)
// are counted apart: `crashes` is what clients of a running node suffer.
for (const node of nodes) await node.stop();
redis?.stop();
const atStop = nodes.flatMap((node, n) => crashes(node).slice(before[n]));
console.log(JSON.stringify({ kinds: KINDS, rounds: ROUNDS, clients: CLIENTS, close: CLOSE, nodes: nodes.length, redis: !!redis, perturb: args.perturb, crashes: lines.length, crashesAtStop: atStop.length, seconds: Math.round((Date.now() - started) / 1000) }));
for (const line of lines) console.log(`  ${line}`);
for (const line of atStop) console.log(`  at stop: ${line}`);
process.exit(0);
