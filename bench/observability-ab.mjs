#!/usr/bin/env node
// Backend CPU per tools/call of several httmcp stacks at the same fixed rate, alternating
// (issue 13, point 5): observability configurations and builds side by side in one sitting.
//
//   node bench/observability-ab.mjs --configs JSON [--transport ws] [--clients 64] [--rate 1500]
//        [--duration 5] [--rounds 5] [--warm-rounds 0] [--trace-gc] [--pin backend=0,nginx=1]
// --rate 0: closed loop (each client sends its next call when the last is answered).
// --warm-rounds N: the first N rounds are run but left out of the medians (a freshly started
//   stack is slow in its first round: JIT and start-up work; bench/README.md, "obsws").
// --pin backend=0,nginx=1: taskset every stack's backend and nginx workers to those CPUs (a
//   config's "pin": {"backend": "0", "nginx": "1"} for one stack).
//
// --configs: [{"name": "off"}, {"name": "on", "on": true}, {"name": "main on", "on": true,
//   "dist": "/tmp/main/dist"}, {"name": "sdk0", "on": true, "noscrape": true,
//   "env": {"HTTMCP_REQUEST_METRICS": "off", "OTEL_TRACES_SAMPLER_ARG": "0"}}]
//   on: per-tool metrics, OTLP to a local sink at parentbased_traceidratio 0.01 and (unless
//   noscrape) /metrics scraped every 5 s, as `run.mjs --observability`; otherwise both off.
//   env: more environment; dist: another build's dist/ (inside a checkout: nginx/ must be
//   found above it). Every stack runs for the whole sitting; each round runs bench/load.mjs
//   --rate on each (order reversed every round) and reads the backend's CPU from /proc.
//   node: arguments for the backend's Node (["--cpu-prof", "--cpu-prof-dir=/tmp/p"]...).
// --trace-gc: every backend runs with --trace-gc; each round counts its scavenges and
//   mark-compacts per 10,000 calls and its GC pauses in µs per call (from the lines the backend
//   prints). With a fixed young generation (node: ["--min-semi-space-size=16",
//   "--max-semi-space-size=16"]) scavenges count allocation: one per 16 MB.
// --gc-nvp: every backend runs with --trace-gc-nvp; each round gives the bytes its scavenges
//   promoted to the old generation per call (objects a call leaves alive across two scavenges:
//   what a mark-compact later pays for), scavenges per 10,000 calls and their pauses in µs per call.
// --count-lines REGEX: per round, the backend's output lines matching REGEX per 10,000 calls.
// config transport: this stack's transport instead of --transport (ws and http in one sitting).
// Prints each stack's median CPU per call (backend, and nginx's workers: the WebSocket frames
// and the publishes go through them), GC counts when asked, and, for scraped stacks, their GC
// and heap figures from /metrics.
import { parseArgs } from 'node:util';
import { createServer } from 'node:http';
import { spawn, execFileSync } from 'node:child_process';
import os from 'node:os';
import { readFileSync } from 'node:fs';
import { spawnJson, freePort, waitInit, stopChild, childrenOf, BENCH_CLIENT_LIMIT_FLAGS, sleep, BENCH_DIR, REPO_DIR } from './scale-lib.mjs';
const { values: v } = parseArgs({ options: { configs: { type: 'string' }, transport: { type: 'string', default: 'ws' }, clients: { type: 'string', default: '64' }, rate: { type: 'string', default: '1500' }, duration: { type: 'string', default: '5' }, rounds: { type: 'string', default: '5' }, 'trace-gc': { type: 'boolean', default: false }, pin: { type: 'string' }, 'warm-rounds': { type: 'string', default: '0' }, 'count-lines': { type: 'string' }, 'gc-nvp': { type: 'boolean', default: false } } });
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
    const p = spawnJson(process.execPath, [...(v['trace-gc'] ? ['--trace-gc'] : []), ...(v['gc-nvp'] ? ['--trace-gc-nvp'] : []), ...(c.node ?? []), cli, 'start', '--port', String(port), '--json', '--workers', '1', ...BENCH_CLIENT_LIMIT_FLAGS, ...extra], { name: c.name, env });
    const info = await p.next(60_000);
    const url = info.servers?.demo ?? `http://127.0.0.1:${port}/mcp/demo`;
    await waitInit(url);
    // nginx's workers (not the master, not the cache helpers: they do no request work).
    const workers = childrenOf(info.nginxPid).filter((pid) => {
      try { return /nginx: worker/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')); } catch { return false; }
    });
    const gc = { scavenge: 0, mark: 0, ms: 0, lines: 0, promoted: 0 };
    if (v['gc-nvp']) {
      // `pause=0.4 ... gc=s ... promoted=90072 ...`: one line per GC (s: scavenge, ms: mark-sweep).
      let partial = '';
      p.child.stdout.on('data', (d) => {
        const lines = (partial + d).split('\n');
        partial = lines.pop();
        for (const line of lines) {
          const kind = / gc=(\w+) /.exec(line)?.[1];
          if (kind === undefined) continue;
          if (kind !== 's') { gc.mark++; continue; }
          gc.scavenge++;
          gc.ms += Number(/pause=([\d.]+)/.exec(line)?.[1] ?? 0);
          gc.promoted += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
        }
      });
    }
    if (v['count-lines']) {
      // Lines of the backend's output matching a pattern (with a config's node: ["--trace-deopt"],
      // `--count-lines bailout` counts deoptimizations).
      const pattern = new RegExp(v['count-lines']);
      let rest = '';
      p.child.stdout.on('data', (d) => {
        const lines = (rest + d).split('\n');
        rest = lines.pop();
        for (const line of lines) if (pattern.test(line)) gc.lines++;
      });
    }
    if (v['trace-gc']) {
      // `... Scavenge 40.1 (45.2) -> 38.0 (46.0) MB, 1.23 / 0.00 ms  (+ 5.2 ms in 34 steps ...`:
      // the pause, plus a mark-compact's incremental steps.
      let partial = '';
      p.child.stdout.on('data', (d) => {
        const lines = (partial + d).split('\n');
        partial = lines.pop();
        for (const line of lines) {
          const m = /(Scavenge|Mark-Compact)[^,]*MB, ([\d.]+) \/ [\d.]+ ms(?:\s+\(\+ ([\d.]+) ms in)?/.exec(line);
          if (!m) continue;
          if (m[1] === 'Scavenge') gc.scavenge++;
          else gc.mark++;
          gc.ms += Number(m[2]) + Number(m[3] ?? 0);
        }
      });
    }
    // --pin / a config's pin: the same CPUs for every stack's backend (all its threads) and
    // nginx workers, so where the scheduler happened to put one stack's processes is no
    // difference between stacks.
    const pin = c.pin ?? (v.pin ? Object.fromEntries(v.pin.split(',').map((kv) => kv.split('='))) : undefined);
    if (pin?.backend) execFileSync('taskset', ['-a', '-pc', pin.backend, String(info.backendPid)], { stdio: 'ignore' });
    if (pin?.nginx) for (const w of workers) execFileSync('taskset', ['-pc', pin.nginx, String(w)], { stdio: 'ignore' });
    stacks.push({ c, url, pid: info.backendPid, workers, gc, child: p.child, mport });
    if (c.on && !c.noscrape) scrapers.push(setInterval(() => fetch(`http://127.0.0.1:${mport}/metrics`).then((r) => r.text()).catch(() => {}), 5000));
  }
  const rows = [];
  for (let round = 0; round < Number(v.rounds); round++) {
    const order = round % 2 ? [...stacks].reverse() : stacks;
    for (const s of order) {
      await sleep(500);
      const gcBefore = { ...s.gc };
      const out = await new Promise((resolve) => {
        const ch = spawn(process.execPath, [`${BENCH_DIR}/load.mjs`, '--quiet', '--transport', s.c.transport ?? v.transport, '--url', s.url, '--clients', v.clients, '--rate', v.rate, '--duration', v.duration, '--warmup', '2', '--pid', [s.pid, ...s.workers].join(',')], { stdio: ['ignore', 'pipe', 'inherit'] });
        let o = ''; ch.stdout.on('data', (d) => (o += d)); ch.on('exit', () => resolve(o));
      });
      const r = JSON.parse(out.trim().split('\n').pop());
      const backend = r.cpu_by_pid?.[s.pid]?.cpu_us_per_call ?? null;
      const nginx = s.workers.reduce((sum, pid) => sum + (r.cpu_by_pid?.[pid]?.cpu_us_per_call ?? 0), 0);
      // backend_pct: the share of one core the backend used (near 100: it is what limits a closed loop).
      const row = { name: s.c.name, round, rps: Math.round(r.rps), cpu: backend, nginx: Math.round(nginx * 100) / 100, backend_pct: r.cpu_by_pid?.[s.pid]?.cpu_pct ?? null, loadgen: r.loadgen_cpu_us_per_call, sse: r.sse_responses ?? 0, errors: r.errors, p50: r.p50_ms, load: os.loadavg()[0] };
      if (v['count-lines']) row.lines_per_10k = Math.round(((s.gc.lines - gcBefore.lines) / ((Number(v.rate) > 0 ? Number(v.rate) : r.rps) * (Number(v.duration) + 2))) * 1e5) / 10;
      if (v['trace-gc'] || v['gc-nvp']) {
        // GC lines come during the 2 s warm-up too: per call over both, at the run's rate.
        const calls = (Number(v.rate) > 0 ? Number(v.rate) : r.rps) * (Number(v.duration) + 2);
        row.scavenges_per_10k = Math.round(((s.gc.scavenge - gcBefore.scavenge) / calls) * 1e5) / 10;
        row.marks_per_10k = Math.round(((s.gc.mark - gcBefore.mark) / calls) * 1e5) / 10;
        row.gc_us_per_call = Math.round(((s.gc.ms - gcBefore.ms) * 1000 / calls) * 10) / 10;
        if (v['gc-nvp']) row.promoted_bytes_per_call = Math.round((s.gc.promoted - gcBefore.promoted) / calls);
      }
      rows.push(row);
      console.error(JSON.stringify(row));
    }
  }
  const med = (xs) => { const a = [...xs].sort((x, y) => x - y); return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2; };
  for (const s of stacks) {
    const mine = rows.filter((r) => r.name === s.c.name && r.round >= Number(v['warm-rounds']));
    console.log(`${s.c.name.padEnd(14)} backend cpu µs/call median ${med(mine.map((r) => r.cpu)).toFixed(1)} (${mine.map((r) => r.cpu.toFixed(1)).join(', ')}) nginx median ${med(mine.map((r) => r.nginx)).toFixed(1)} (${mine.map((r) => r.nginx.toFixed(1)).join(', ')}) rps median ${med(mine.map((r) => r.rps))} (${mine.map((r) => r.rps).join(', ')})`);
    if (v['trace-gc'] || v['gc-nvp']) console.log(`${''.padEnd(14)} per 10k calls: scavenges median ${med(mine.map((r) => r.scavenges_per_10k))} (${mine.map((r) => r.scavenges_per_10k).join(', ')}), mark-compacts ${mine.map((r) => r.marks_per_10k).join(', ')}; GC µs/call median ${med(mine.map((r) => r.gc_us_per_call)).toFixed(1)} (${mine.map((r) => r.gc_us_per_call).join(', ')})`);
    if (v['gc-nvp']) console.log(`${''.padEnd(14)} promoted bytes/call median ${med(mine.map((r) => r.promoted_bytes_per_call))} (${mine.map((r) => r.promoted_bytes_per_call).join(', ')})`);
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
