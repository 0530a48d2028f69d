#!/usr/bin/env node
// What a GC-duration metric costs a process that allocates like a busy backend (~40 KB of
// short-lived objects per "call", some kept a while), by how it reads V8's GCs:
//   none      no GC metric
//   profiler  v8.GCProfiler, stopped and restarted every --fold calls (httmcp's
//             src/observability/process-metrics.ts folds every 5 s: ~35,000 calls at 7,000/s)
//   observer  a PerformanceObserver for 'gc' entries (prom-client's default GC metric)
// Run under callgrind for instructions (the clock of this VM drifts too much for a 5% question):
//
//   for m in none profiler observer; do
//     valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/tmp/gcb.$m \
//       node bench/gc-metric-cost.mjs $m 200000 35000
//   done
//
// Prints the GCs it saw; the whole program's instructions are callgrind's "Collected".
// Why a stopped profiler still costs: node keeps a GCProfiler's GC callbacks (which write every
// space's heap statistics as JSON before and after each GC) until the profiler object itself is
// garbage-collected, which for one that lived 5 s takes a major GC (bench/README.md, "Session 14").
import { GCProfiler } from 'node:v8';
import { PerformanceObserver } from 'node:perf_hooks';

const [mode = 'none', callsArg = '200000', foldArg = '35000'] = process.argv.slice(2);
const CALLS = Number(callsArg);
const FOLD = Number(foldArg);
const buckets = new Float64Array(3);
const record = (seconds) => void buckets[seconds < 0.001 ? 0 : seconds < 0.01 ? 1 : 2]++;
let seen = 0;
let fold = () => {};
if (mode === 'profiler') {
  let profiler = new GCProfiler();
  profiler.start();
  fold = () => {
    const records = profiler.stop()?.statistics ?? [];
    profiler = new GCProfiler();
    profiler.start();
    for (const { cost } of records) (seen++, record(cost / 1e6));
  };
} else if (mode === 'observer') {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) (seen++, record(entry.duration / 1e3));
  }).observe({ entryTypes: ['gc'] });
} else if (mode !== 'none') {
  throw new Error(`mode: none, profiler or observer, not ${mode}`);
}

const kept = [];
function call(i) {
  const objects = [];
  for (let j = 0; j < 120; j++) objects.push({ id: i, j, s: `x${j}`, a: [j, j + 1, j + 2] });
  const text = JSON.stringify(objects.slice(0, 40));
  if (i % 50 === 0) {
    kept.push(text);
    if (kept.length > 2000) kept.shift();
  }
  return text.length;
}

let sink = 0;
async function run(n) {
  for (let i = 0; i < n; i++) {
    sink += call(i);
    if (i % FOLD === FOLD - 1) fold();
    // Let the observer's callbacks run, as a server's event loop would.
    if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
  }
}

await run(50_000); // warm-up
const started = process.hrtime.bigint();
await run(CALLS);
const us = Number(process.hrtime.bigint() - started) / CALLS / 1e3;
console.log(JSON.stringify({ mode, calls: CALLS, fold_every: FOLD, gcs_seen: seen, us_per_call: +us.toFixed(2), sink }));
