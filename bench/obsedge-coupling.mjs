#!/usr/bin/env node
// Do nginx's and the load generator's CPU per call follow the backend's? For each pair of stacks
// and block in bench/slices.mjs results (several files: an on/off comparison, its splits, two
// identical stacks), B/A of the pair's pooled CPU per call of each process and of its rps; then,
// over all the points, the least-squares line of log(nginx B/A) and log(load generator B/A) on
// log(backend B/A): the slope says how much of the backend's extra per call shows up in the
// others, the intercept what the others would spend extra with a backend no slower (extra work of
// their own, e.g. bytes, would show there).
//
//   node bench/obsedge-coupling.mjs FILE.json [FILE.json ...] [--blocks ws64,http64]
//
// Why: bench/README.md, "### obsedge (2026-12-06)".
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { leastSquares as fit } from './lib/steady.mjs';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { blocks: { type: 'string', default: 'ws64,http64' } } });
const wanted = new Set(values.blocks.split(','));
const points = [];
for (const file of positionals) {
  const { slices } = JSON.parse(readFileSync(file, 'utf8'));
  const keys = new Set(slices.filter((s) => wanted.has(s.block)).map((s) => `${s.pair ?? 1}|${s.block}`));
  for (const key of keys) {
    const [pair, block] = key.split('|');
    const of = (side) => slices.filter((s) => `${s.pair ?? 1}` === pair && s.block === block && s.side === side);
    const pooled = (rows) => {
      const calls = rows.reduce((a, r) => a + r.calls, 0);
      const seconds = rows.reduce((a, r) => a + r.seconds, 0);
      const per = (k) => rows.reduce((a, r) => a + r.us[k], 0) / calls;
      return { rps: calls / seconds, backend: per('backend'), nginx: per('nginx'), loadgen: per('loadgen') };
    };
    const a = pooled(of('A'));
    const b = pooled(of('B'));
    const ratio = Object.fromEntries(Object.keys(a).map((k) => [k, b[k] / a[k]]));
    points.push({ file: basename(file), pair: Number(pair), block, ratio, extra_us: { backend: b.backend - a.backend, nginx: b.nginx - a.nginx, loadgen: b.loadgen - a.loadgen } });
  }
}
const f3 = (x) => x.toFixed(3);
for (const p of points) {
  console.log(`${p.file} pair ${p.pair} ${p.block}: B/A rps ${f3(p.ratio.rps)}, backend ${f3(p.ratio.backend)} (${p.extra_us.backend.toFixed(1)} µs), nginx ${f3(p.ratio.nginx)} (${p.extra_us.nginx.toFixed(2)} µs), load generator ${f3(p.ratio.loadgen)} (${p.extra_us.loadgen.toFixed(2)} µs)`);
}
const x = points.map((p) => Math.log(p.ratio.backend));
for (const k of ['nginx', 'loadgen']) {
  const r = fit(x, points.map((p) => Math.log(p.ratio[k])));
  console.log(
    `${k}: log(B/A) = ${r.intercept.toFixed(4)} (±${(1.96 * r.intercept_se).toFixed(4)}) + ${r.slope.toFixed(3)} (±${(1.96 * r.slope_se).toFixed(3)}) × log(backend B/A); r ${r.r.toFixed(2)}, ${r.n} pair-blocks` +
      ` (at a backend 5% slower: ${k} ${((Math.exp(r.intercept + r.slope * Math.log(1.05)) - 1) * 100).toFixed(1)}% more per call; at an equal backend: ${((Math.exp(r.intercept) - 1) * 100).toFixed(1)}%)`,
  );
}
