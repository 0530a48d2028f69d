#!/usr/bin/env node
// Where a pair of stacks' bias comes from: per pair and block of a bench/slices.mjs result, B/A
// of the rps against B/A of what the scheduler did to each side (bench/README.md, "### pairs
// (2026-12-06)"): each process's CPU per call and run-queue wait per call, how often two of the
// three busy processes (backend, nginx worker, load process) were last seen on the same CPU, and
// the stack's port.
//
//   node bench/slices-placement.mjs bench/results/<file>.json

import { readFileSync } from 'node:fs';

const result = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** 'b0 n1/0/0 l1' -> {b: 0, n: 1, l: 1} (the first nginx child is the worker). */
const parse = (p) => {
  const [b, n, l] = p.split(' ');
  return { b: b.slice(1), n: n.slice(1).split('/')[0], l: l.slice(1) };
};
const rows = [];
const blocks = [...new Set(result.slices.map((s) => s.block))];
const pairs = [...new Set(result.slices.map((s) => s.pair ?? 1))];
for (const block of blocks) {
  for (const pair of pairs) {
    const of = result.slices.filter((s) => (s.pair ?? 1) === pair && s.block === block);
    if (!of.length) continue;
    const side = (x) => {
      const sl = of.filter((s) => s.side === x);
      const places = sl.flatMap((s) => (s.psr ?? []).map(parse));
      const share = (f) => (places.length ? mean(places.map((p) => (f(p) ? 1 : 0))) : NaN);
      return {
        rps: median(sl.map((s) => s.rps)),
        backend: median(sl.map((s) => s.backend_us_per_call)),
        nginx: median(sl.map((s) => s.nginx_us_per_call)),
        loadgen: median(sl.map((s) => s.loadgen_us_per_call)),
        wait_b: median(sl.map((s) => s.runq_wait_us_per_call?.backend)),
        wait_n: median(sl.map((s) => s.runq_wait_us_per_call?.nginx)),
        wait_l: median(sl.map((s) => s.runq_wait_us_per_call?.loadgen)),
        bn: share((p) => p.b === p.n),
        bl: share((p) => p.b === p.l),
        nl: share((p) => p.n === p.l),
        b0: share((p) => p.b === '0'),
      };
    };
    const a = side('A');
    const b = side('B');
    const swapped = of[0].side === 'B';
    const port = result.blocks.find((x) => x.block === block)?.per_pair?.find((x) => x.pair === pair)?.ports;
    rows.push({ block, pair, swapped, a, b, port });
  }
}
const f = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '–');
console.log('block pair first | rps B/A | CPU/call B/A: backend nginx loadgen | runq wait µs/call A->B: backend nginx loadgen | same CPU A->B: b&n b&l n&l | backend on cpu0 A->B | ports');
for (const { block, pair, swapped, a, b, port } of rows) {
  console.log(
    `${block} ${pair} ${swapped ? 'B' : 'A'} | ${f(b.rps / a.rps)} | ${f(b.backend / a.backend)} ${f(b.nginx / a.nginx)} ${f(b.loadgen / a.loadgen)} | ` +
      `${f(a.wait_b, 1)}->${f(b.wait_b, 1)} ${f(a.wait_n, 1)}->${f(b.wait_n, 1)} ${f(a.wait_l, 1)}->${f(b.wait_l, 1)} | ` +
      `${f(a.bn, 2)}->${f(b.bn, 2)} ${f(a.bl, 2)}->${f(b.bl, 2)} ${f(a.nl, 2)}->${f(b.nl, 2)} | ${f(a.b0, 2)}->${f(b.b0, 2)} | ${port ? Object.values(port).join('/') : ''}`,
  );
}
