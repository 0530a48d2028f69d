#!/usr/bin/env node
// Does a slower backend alone raise nginx's and the load generator's CPU per call? One stack
// (observability off) whose backend spins BENCH_SPIN_US µs per request when told to
// (bench/lib/spin-preload.mjs, toggled by SIGUSR2), one long-lived closed-loop load process per
// block (bench/lib/slice-load.mjs), and slices alternating spin off (A) / on (B) in ABBA BAAB
// order: the same processes, ports and connections on both sides, so the only difference is the
// backend's extra microseconds. Per slice: rps, each process's CPU per call and calls per sleep
// (voluntary context switches: how many calls one wakeup of an event loop handled).
//
//   npm run build && node bench/obsedge-spin.mjs [--spin-us 3] [--quads 12] [--blocks ws:64,http:64] [--out FILE]
//
// Why: bench/README.md, "### obsedge (2026-12-06)".
import { fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { childrenOf, cpuTicks, freePort, gitCommit, saveResult, sleep } from './scale-lib.mjs';
import { loadAverage, quadRatios, sliceOrder, summarize } from './lib/steady.mjs';
import { startedInfo } from './lib/started.mjs';

const { values } = parseArgs({
  options: {
    'spin-us': { type: 'string', default: '3' },
    quads: { type: 'string', default: '12' },
    blocks: { type: 'string', default: 'ws:64,http:64' },
    prewarm: { type: 'string', default: '5' },
    out: { type: 'string' },
  },
});
const log = (m) => process.stderr.write(`[obsedge-spin] ${m}\n`);
const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const PRELOAD = fileURLToPath(new URL('./lib/spin-preload.mjs', import.meta.url));
const SLICE_LOAD = fileURLToPath(new URL('./lib/slice-load.mjs', import.meta.url));
const UNLIMITED = Object.fromEntries(
  ['CLIENT_CONNECTIONS', 'PRINCIPAL_CONNECTIONS'].map((n) => [`HTTMCP_${n}`, '65535']).concat(
    ['CLIENT_RATE', 'CLIENT_BURST', 'PRINCIPAL_RATE', 'PRINCIPAL_BURST', 'PRINCIPAL_TOOL_RATE', 'PRINCIPAL_TOOL_BURST'].map((n) => [`HTTMCP_${n}`, '1000000']),
  ),
);

const port = await freePort();
const stack = spawn(process.execPath, [CLI, 'start', '--port', String(port), '--json'], {
  env: {
    ...process.env,
    HTTMCP_LOG_LEVEL: 'warn',
    ...UNLIMITED,
    HTTMCP_REQUEST_METRICS: 'off',
    OTEL_TRACES_EXPORTER: '',
    OTEL_EXPORTER_OTLP_ENDPOINT: '',
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${PRELOAD}`.trim(),
    BENCH_SPIN_US: values['spin-us'],
    BENCH_SPIN_TOGGLE: '1',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const stopStack = () => stack.exitCode === null && stack.signalCode === null && stack.kill('SIGTERM');
process.on('exit', stopStack);
const info = await startedInfo(stack);
const backendPid = info.backendPid;
// The workers only: the cache loader and other helpers exit on their own mid-run.
const nginxPids = childrenOf(info.nginxPid).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('worker process'));
let spinning = false;
const setSpin = (on) => {
  if (on !== spinning) process.kill(backendPid, 'SIGUSR2');
  spinning = on;
};

const sleepsOf = (pid) => Number(/nr_voluntary_switches\s*:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/sched`, 'utf8'))?.[1] ?? 0);
const snapProcs = (loadPid) => ({
  backend: { cpu: cpuTicks(backendPid) * 1e4, sleeps: sleepsOf(backendPid) },
  nginx: { cpu: nginxPids.reduce((s, p) => s + cpuTicks(p), 0) * 1e4, sleeps: nginxPids.reduce((s, p) => s + sleepsOf(p), 0) },
  loadgen: { cpu: 0, sleeps: sleepsOf(loadPid) },
});

function startLoad(block) {
  const child = fork(SLICE_LOAD, [JSON.stringify({ transport: block.transport, url: info.servers.demo, clients: block.clients, headers: {}, timeout: 120_000 })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = [];
  child.on('message', (m) => waiting.shift()?.(m));
  const next = () => new Promise((r) => waiting.push(r));
  return { child, ready: next(), snap: () => (child.send('snap'), next()) };
}

const r2 = (x) => Math.round(x * 100) / 100;
const loadBefore = loadAverage();
log(`load average before ${loadBefore.join(', ')}; spin ${values['spin-us']} µs per request on B`);
const results = [];
const slices = [];
try {
  for (const spec of values.blocks.split(',')) {
    const [transport, clients] = spec.split(':');
    const block = { transport, clients: Number(clients) };
    const name = `${transport}${clients}`;
    const load = startLoad(block);
    await load.ready;
    await sleep(Number(values.prewarm) * 1000);
    const rows = [];
    for (const [i, side] of sliceOrder(Number(values.quads), 'A', 'B').entries()) {
      setSpin(side === 'B');
      await sleep(250); // the other side's calls in flight drain out of the window
      const s0 = await load.snap();
      const p0 = snapProcs(load.child.pid);
      await sleep(1000);
      const s1 = await load.snap();
      const p1 = snapProcs(load.child.pid);
      const calls = s1.calls - s0.calls;
      const per = (k) => (k === 'loadgen' ? s1.cpu_us - s0.cpu_us : p1[k].cpu - p0[k].cpu) / calls;
      const row = { block: name, slice: i + 1, config: side, spin_us: side === 'B' ? Number(values['spin-us']) : 0, calls, rps: r2(calls / ((s1.t_ms - s0.t_ms) / 1000)) };
      for (const k of ['backend', 'nginx', 'loadgen']) {
        row[`${k}_us_per_call`] = r2(per(k));
        row[`${k}_calls_per_sleep`] = r2(calls / Math.max(1, p1[k].sleeps - p0[k].sleeps));
      }
      rows.push(row);
    }
    load.child.kill('SIGKILL');
    setSpin(false);
    slices.push(...rows);
    const ratio = (field) => summarize({ what: `${name}: ${field} spin/no spin`, rounds: quadRatios(rows.map((r) => ({ config: r.config, value: r[field] })), 'B', 'A'), digits: 3 });
    const fields = ['rps', 'backend_us_per_call', 'nginx_us_per_call', 'loadgen_us_per_call', 'nginx_calls_per_sleep', 'loadgen_calls_per_sleep'];
    const block_result = { block: name, ratios: Object.fromEntries(fields.map((f) => [f, ratio(f)])) };
    const mean = (side, f) => r2(rows.filter((r) => r.config === side).reduce((s, r) => s + r[f], 0) / (rows.length / 2));
    block_result.means = Object.fromEntries(['A', 'B'].map((side) => [side, Object.fromEntries(fields.map((f) => [f, mean(side, f)]))]));
    for (const f of fields) log(block_result.ratios[f].line);
    log(`${name} means A (no spin) ${JSON.stringify(block_result.means.A)}`);
    log(`${name} means B (spin)    ${JSON.stringify(block_result.means.B)}`);
    results.push(block_result);
    await sleep(2000);
  }
} finally {
  stopStack();
}
const file = saveResult('obsedge-spin', { date: new Date().toISOString(), command: ['node', 'bench/obsedge-spin.mjs', ...process.argv.slice(2)].join(' '), commit: gitCommit(), loadavg_before: loadBefore, loadavg_after: loadAverage(), settings: values, blocks: results, slices }, values.out);
log(`load average after ${loadAverage().join(', ')}; results written to ${file}`);
