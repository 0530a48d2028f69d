#!/usr/bin/env node
// Self time per call of each function in the windows of one mode only, from the CPU profiles and
// the windows.json that `bench/hotpath-http.mjs --cpu-prof DIR` writes: two backends' profiles
// compared on the same mode's calls, when one of them also served other modes (whose samples a
// whole-profile diff would mix in). V8's profile clock and process.hrtime are both CLOCK_MONOTONIC.
//
//   node bench/cpu-profile-window.mjs DIR MODE [line|pkg]   (TOP=30)
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
const [dir, mode, how = 'line'] = process.argv.slice(2);
const windows = JSON.parse(readFileSync(join(dir, 'windows.json'), 'utf8')).filter((w) => w.mode === mode);
const pids = [...new Set(windows.map((w) => w.pid))];
const key = (n) => {
  const url = n.callFrame.url.replace(/^.*\/node_modules\//, 'nm/').replace(/^file:\/\/.*?\/dist\//, 'dist/');
  if (how === 'pkg') return /^nm\/(@[^/]+\/[^/]+|[^/]+)/.exec(url)?.[1] ?? (url.startsWith('node:') ? 'node' : url.startsWith('dist/') ? 'httmcp' : n.callFrame.functionName || url || '(vm)');
  return `${n.callFrame.functionName || '(anon)'} ${url}:${n.callFrame.lineNumber + 1}`;
};
const per = new Map();
for (const pid of pids) {
  const file = readdirSync(dir).find((f) => f.includes(`.${pid}.`) && f.endsWith('.cpuprofile'));
  const p = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const mine = windows.filter((w) => w.pid === pid);
  const calls = mine.reduce((s, w) => s + w.calls, 0);
  const self = new Map();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i];
    const dt = p.timeDeltas[i + 1] ?? 0;
    if (!mine.some((w) => t >= w.start_us && t < w.end_us)) continue;
    const k = key(byId.get(p.samples[i]));
    self.set(k, (self.get(k) ?? 0) + dt);
  }
  per.set(pid, { label: mine[0].dist, calls, self });
}
const [a, b] = pids.map((p) => per.get(p));
const busy = (x) => [...x.self].filter(([k]) => !k.startsWith('(idle)')).reduce((s, [, v]) => s + v, 0) / x.calls;
console.log(`${mode}: busy µs per call: A ${a.label} ${busy(a).toFixed(1)}, B ${b.label} ${busy(b).toFixed(1)}`);
const keys = new Set([...a.self.keys(), ...b.self.keys()]);
const rows = [...keys].map((k) => [k, (a.self.get(k) ?? 0) / a.calls, (b.self.get(k) ?? 0) / b.calls]).sort((x, y) => Math.abs(y[2] - y[1]) - Math.abs(x[2] - x[1]));
for (const [k, x, y] of rows.slice(0, Number(process.env.TOP ?? 30))) console.log(`${(y - x).toFixed(2).padStart(8)}  A ${x.toFixed(2).padStart(7)} B ${y.toFixed(2).padStart(7)}  ${k}`);
