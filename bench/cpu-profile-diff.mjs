#!/usr/bin/env node
// Where two V8 CPU profiles (node --cpu-prof, e.g. bench/hotpath-http.mjs --cpu-prof DIR) differ,
// per call: self time of each function (or package, `pkg`) in B minus A, divided by the calls
// each process handled, largest differences first. Wall-clock sampling: on a loaded machine a
// preempted function is charged for the wait, so small differences are not evidence alone.
//
//   node bench/cpu-profile-diff.mjs A.cpuprofile B.cpuprofile CALLS[,CALLS_B] [line|pkg]   (TOP=30)
// (CALLS_B: when B handled a different number of calls, e.g. bench/slices.mjs's calls_total.)
import { readFileSync } from 'node:fs';
const [a, b, callsArg, mode = 'line'] = process.argv.slice(2);
const [callsA, callsB = callsA] = callsArg.split(',').map(Number);
function agg(file) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = p.timeDeltas;
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (dt[i + 1] ?? 0));
  const m = new Map();
  let total = 0;
  for (const n of p.nodes) {
    const t = self.get(n.id) ?? 0;
    const f = n.callFrame;
    const short = (f.url || '').replace(/^.*node_modules\//, 'nm/').replace(/^.*\/dist\//, 'dist/');
    let key;
    if (mode === 'pkg') key = short.startsWith('nm/') ? short.split('/').slice(0, short.split('/')[1].startsWith('@') ? 3 : 2).join('/') : short.startsWith('dist/') ? short.split('/').slice(0, 3).join('/') : short ? short.split(':')[0] + ':' + short.split(':')[1]?.split('/')[1] : f.functionName;
    else key = `${f.functionName || '(anon)'} ${short}:${f.lineNumber + 1}`;
    m.set(key, (m.get(key) ?? 0) + t);
    if (f.functionName !== '(idle)' && f.functionName !== '(program)') total += t;
  }
  return { m, total };
}
const A = agg(a), B = agg(b);
console.log(`busy µs per call: A ${(A.total / callsA).toFixed(1)} B ${(B.total / callsB).toFixed(1)}`);
const keys = new Set([...A.m.keys(), ...B.m.keys()]);
const rows = [...keys].map((k) => [k, (B.m.get(k) ?? 0) / callsB - (A.m.get(k) ?? 0) / callsA, (A.m.get(k) ?? 0) / callsA, (B.m.get(k) ?? 0) / callsB]);
rows.sort((x, y) => Math.abs(y[1]) - Math.abs(x[1]));
for (const r of rows.slice(0, Number(process.env.TOP ?? 30))) console.log(`${r[1].toFixed(2).padStart(8)}  A ${r[2].toFixed(2).padStart(8)} B ${r[3].toFixed(2).padStart(8)}  ${r[0]}`);
