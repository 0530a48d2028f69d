#!/usr/bin/env node
// Backend CPU per tools/call of several httmcp stacks at the same fixed rate, alternating
// (issue 13, point 5): observability configurations and builds side by side in one sitting.
//
//   node bench/observability-ab.mjs --configs JSON [--transport ws] [--clients 64] [--rate 1500]
//        [--duration 5] [--rounds 5]
//
// --configs: [{"name": "off"}, {"name": "on", "on": true}, {"name": "main on", "on": true,
//   "dist": "/tmp/main/dist"}, {"name": "sdk0", "on": true, "noscrape": true,
//   "env": {"HTTMCP_REQUEST_METRICS": "off", "OTEL_TRACES_SAMPLER_ARG": "0"}}]
//   on: per-tool metrics, OTLP to a local sink at parentbased_traceidratio 0.01 and (unless
//   noscrape) /metrics scraped every 5 s, as `run.mjs --observability`; otherwise both off.
//   env: more environment; dist: another build's dist/ (inside a checkout: nginx/ must be
//   found above it). Every stack runs for the whole sitting; each round runs bench/load.mjs
//   --rate on each (order reversed every round) and reads the backend's CPU from /proc.
// Prints each stack's median CPU per call and, for scraped stacks, their GC and heap figures.
import { parseArgs } from 'node:util';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import os from 'node:os';
import { spawnJson, freePort, waitInit, stopChild, BENCH_CLIENT_LIMIT_FLAGS, sleep, BENCH_DIR, REPO_DIR } from './scale-lib.mjs';
const { values: v } = parseArgs({ options: { configs: { type: 'string' }, transport: { type: 'string', default: 'ws' }, clients: { type: 'string', default: '64' }, rate: { type: 'string', default: '1500' }, duration: { type: 'string', default: '5' }, rounds: { type: 'string', default: '5' } } });
const sink = createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}')); });
await new Promise((r) => sink.listen(0, '127.0.0.1', r));
const ON = { HTTMCP_REQUEST_METRICS: 'on', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.address().port}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' };
const OFF = { HTTMCP_REQUEST_METRICS: 'off', OTEL_TRACES_EXPORTER: '', OTEL_EXPORTER_OTLP_ENDPOINT: '' };
const configs = JSON.parse(v.configs);
const stacks = [];
const scrapers = [];
try {
  for (const c of configs) {
    const port = await freePort();
    const mport = await freePort();
    const cli = `${c.dist ?? `${REPO_DIR}/dist`}/src/cli/main.js`;
    const env = { ...(c.on ? ON : OFF), ...(c.env ?? {}) };
    const extra = c.on && !c.noscrape ? ['--metrics-listen', `127.0.0.1:${mport}`] : [];
    const p = spawnJson(process.execPath, [...(c.node ?? []), cli, 'start', '--port', String(port), '--json', '--workers', '1', ...BENCH_CLIENT_LIMIT_FLAGS, ...extra], { name: c.name, env });
    const info = await p.next(60_000);
    const url = info.servers?.demo ?? `http://127.0.0.1:${port}/mcp/demo`;
    await waitInit(url);
    stacks.push({ c, url, pid: info.backendPid, child: p.child, mport });
    if (c.on && !c.noscrape) scrapers.push(setInterval(() => fetch(`http://127.0.0.1:${mport}/metrics`).then((r) => r.text()).catch(() => {}), 5000));
  }
  const rows = [];
  for (let round = 0; round < Number(v.rounds); round++) {
    const order = round % 2 ? [...stacks].reverse() : stacks;
    for (const s of order) {
      await sleep(500);
      const out = await new Promise((resolve) => {
        const ch = spawn(process.execPath, [`${BENCH_DIR}/load.mjs`, '--quiet', '--transport', v.transport, '--url', s.url, '--clients', v.clients, '--rate', v.rate, '--duration', v.duration, '--warmup', '2', '--pid', String(s.pid)], { stdio: ['ignore', 'pipe', 'inherit'] });
        let o = ''; ch.stdout.on('data', (d) => (o += d)); ch.on('exit', () => resolve(o));
      });
      const r = JSON.parse(out.trim().split('\n').pop());
      const row = { name: s.c.name, round, rps: Math.round(r.rps), cpu: r.cpu_us_per_call, p50: r.p50_ms, load: os.loadavg()[0] };
      rows.push(row);
      console.error(JSON.stringify(row));
    }
  }
  const med = (xs) => { const a = [...xs].sort((x, y) => x - y); return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2; };
  for (const s of stacks) {
    const mine = rows.filter((r) => r.name === s.c.name);
    console.log(`${s.c.name.padEnd(14)} cpu µs/call median ${med(mine.map((r) => r.cpu)).toFixed(1)} (${mine.map((r) => r.cpu.toFixed(1)).join(', ')}) rps ${mine.map((r) => r.rps).join(', ')}`);
  }
  for (const s of stacks) {
    if (!s.c.on || s.c.noscrape) continue;
    const text = await (await fetch(`http://127.0.0.1:${s.mport}/metrics`)).text();
    const lines = text.split('\n').filter((l) => /^nodejs_gc_duration_seconds_(sum|count)|^nodejs_heap_size_used_bytes|^nodejs_heap_space_size_used_bytes\{space="(old|new)|^process_cpu_seconds_total|^httmcp_tool_calls_total/.test(l));
    console.log(s.c.name + '\n  ' + lines.join('\n  '));
  }
  console.log(`transport ${v.transport} clients ${v.clients} rate ${v.rate}; load avg after ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}`);
} finally {
  for (const t of scrapers) clearInterval(t);
  for (const s of stacks) await stopChild(s.child);
  sink.close();
}
