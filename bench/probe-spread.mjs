// The spread of the harnesses' speed probe (bench/lib/steady.mjs `speedProbe`) on this machine
// now: run it on a quiet machine to see the idle distribution that `flagSlowProbes`' factor
// (1.3x the run's first quartile) is set against. Nothing else is measured.
//
//   node bench/probe-spread.mjs [--samples 100] [--gap 1000]
//
// --gap is the pause between probes in ms (the harnesses pause 1 s between runs).
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { flagSlowProbes, loadAverage, speedProbe } from './lib/steady.mjs';

const { values } = parseArgs({ options: { samples: { type: 'string', default: '100' }, gap: { type: 'string', default: '1000' } } });
const samples = Number(values.samples);
const gap = Number(values.gap);
const loadBefore = loadAverage();
speedProbe(); // warms the work up, as the first call of a harness does
const rows = [];
for (let i = 0; i < samples; i++) {
  if (gap > 0) await sleep(gap);
  rows.push({ probe_ms: speedProbe(), flags: [] });
}
flagSlowProbes(rows);
const sorted = rows.map((r) => r.probe_ms).sort((a, b) => a - b);
const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const fastest = sorted[0];
console.log(
  JSON.stringify({
    samples,
    gap_ms: gap,
    load_before: loadBefore,
    load_after: loadAverage(),
    ms: { min: fastest, p25: at(0.25), p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.at(-1) },
    within_1_2x_of_fastest: sorted.filter((x) => x <= 1.2 * fastest).length,
    above_1_5x_of_fastest: sorted.filter((x) => x >= 1.5 * fastest).length,
    flagged_slow: rows.filter((r) => r.flags.length).length,
  }),
);
console.log(rows.map((r) => r.probe_ms.toFixed(2)).join(' '));
