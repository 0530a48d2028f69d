#!/usr/bin/env node
// What observability code takes of a backend's time per call, per build, from the CPU profiles and
// windows.json of `bench/hotpath-http.mjs --cpu-prof DIR` (wall-clock sampling: busy µs, not CPU):
// self time of the instrumented layer (instrument, tracing, metrics, bucket-histogram), of
// OpenTelemetry, prom-client and performance.now, and everything under a PerformanceObserver callback.
//   node bench/obs-profile-share.mjs DIR MODE
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
const [dir, mode] = process.argv.slice(2);
const windows = JSON.parse(readFileSync(join(dir, 'windows.json'), 'utf8')).filter((w) => w.mode === mode);
const pids = [...new Set(windows.map((w) => w.pid))];
const groups = {
  layer: (u, f) => /\/observability\/(instrument|tracing|metrics|bucket-histogram)\.js/.test(u),
  procmetrics: (u) => /\/observability\/process-metrics\.js/.test(u),
  otel: (u) => u.includes('@opentelemetry/'),
  prom: (u) => u.includes('/prom-client/'),
  now: (u, f) => f === 'now' && !u,
};
for (const pid of pids) {
  // The main thread's profile (thread id 0): a backend exporting spans from a worker writes one per thread.
  const files = readdirSync(dir).filter((f) => f.includes(`.${pid}.`) && f.endsWith('.cpuprofile'));
  const file = files.find((f) => f.includes(`.${pid}.0.`)) ?? files[0];
  const p = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n])); const parent = new Map();
  for (const n of p.nodes) for (const c of n.children || []) parent.set(c, n.id);
  const mine = windows.filter((w) => w.pid === pid); const calls = mine.reduce((s, w) => s + w.calls, 0);
  const sums = Object.fromEntries([...Object.keys(groups), 'gcObserver', 'busy'].map((k) => [k, 0]));
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]; const dt = p.timeDeltas[i + 1] ?? 0;
    if (!mine.some((w) => t >= w.start_us && t < w.end_us)) continue;
    const n = byId.get(p.samples[i]); const u = n.callFrame.url, f = n.callFrame.functionName;
    if (f !== '(idle)') sums.busy += dt;
    for (const [k, g] of Object.entries(groups)) if (g(u, f)) sums[k] += dt;
    let id = p.samples[i];
    while (id !== undefined) { const c = byId.get(id).callFrame; if (c.functionName === 'observerCallback') { sums.gcObserver += dt; break; } id = parent.get(id); }
  }
  const direct = sums.layer + sums.procmetrics + sums.otel + sums.prom + sums.now + sums.gcObserver;
  console.log(mode.padEnd(5), mine[0].dist.padEnd(18), Object.entries(sums).map(([k, v]) => `${k} ${(v / calls).toFixed(2)}`).join('  '), ` direct-sum ${(direct / calls).toFixed(2)}`);
}
