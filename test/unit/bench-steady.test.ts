/**
 * The arithmetic of the benchmark protocol (bench/lib/steady.mjs): the rotating order of a
 * round, the distribution-free interval of a median, and the verdicts built on it. A wrong
 * interval would make every benchmark verdict wrong while looking precise.
 */
import { describe, expect, it } from '@jest/globals';
import { checkExitCode, flagSlowProbes, medianInterval, quietFlags, roundOrder, speedProbe, summarize, verdict } from '../../bench/lib/steady.mjs';

/** P(X <= k) for X ~ Binomial(n, 1/2), from binomial coefficients (independent of the module's recurrence). */
function cdf(k: number, n: number): number {
  let sum = 0;
  let c = 1;
  for (let i = 0; i <= k; i++) {
    sum += c;
    c = (c * (n - i)) / (i + 1);
  }
  return sum / 2 ** n;
}

describe('roundOrder', () => {
  it('puts every configuration in every position over the rounds, and each of a pair first half of the time', () => {
    const configs = ['a', 'b', 'c'];
    const orders = Array.from({ length: 6 }, (_, r) => roundOrder(configs, r).join(''));
    expect(new Set(orders).size).toBe(6); // all six permutations of three
    for (const [x, y] of [['a', 'b'], ['a', 'c'], ['b', 'c']] as const) {
      expect(orders.filter((o) => o.indexOf(x) < o.indexOf(y))).toHaveLength(3);
    }
  });

  it('keeps the members of a block next to each other and alternates which goes first', () => {
    const configs = ['ws off', 'ws on', 'http off', 'http on'];
    const block = (c: string | undefined) => c?.split(' ')[0];
    for (let r = 0; r < 8; r++) {
      const order = roundOrder(configs, r, block);
      expect(order).toHaveLength(4);
      expect(block(order[0])).toBe(block(order[1]));
      expect(block(order[2])).toBe(block(order[3]));
    }
    const offFirst = Array.from({ length: 8 }, (_, r) => roundOrder(configs, r, block)).filter((o) => o.indexOf('ws off') < o.indexOf('ws on'));
    expect(offFirst).toHaveLength(4);
  });
});

describe('medianInterval', () => {
  it('gives no interval below 6 values, where none reaches 95%', () => {
    const r = medianInterval([5, 1, 4, 2, 3]);
    expect(r.median).toBe(3);
    expect(r.lo).toBeNull();
    expect(verdict(r, 0)).toBe('undecided');
  });

  it('picks the widest-coverage order statistics that keep 95%, for any n', () => {
    for (let n = 6; n <= 30; n++) {
      const xs = Array.from({ length: n }, (_, i) => n - i); // unsorted on purpose
      const r = medianInterval(xs);
      const j = r.lo!; // values are 1..n, so the lower bound is its own rank
      expect(r.hi).toBe(n - j + 1);
      expect(r.coverage).toBeCloseTo(1 - 2 * cdf(j - 1, n), 12);
      expect(cdf(j - 1, n)).toBeLessThanOrEqual(0.025);
      expect(cdf(j, n)).toBeGreaterThan(0.025); // one rank narrower would fall below 95%
    }
    const ten = medianInterval([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect([ten.lo, ten.hi, ten.median]).toEqual([2, 9, 5.5]);
    expect(ten.coverage).toBeCloseTo(0.9785, 4);
  });

  it('ignores values that are not numbers (a failed run)', () => {
    expect(medianInterval([1, NaN, 2, 3, Infinity, 4, 5, 6]).n).toBe(6);
  });
});

describe('verdicts', () => {
  const ten = (offset: number) => Array.from({ length: 10 }, (_, i) => offset + i / 100); // offset .. offset+0.09
  it('is met, missed or undecided by where the whole interval lies', () => {
    expect(verdict(medianInterval(ten(0.95)), 0.9)).toBe('met');
    expect(verdict(medianInterval(ten(0.8)), 0.9)).toBe('missed');
    expect(verdict(medianInterval(ten(0.86)), 0.9)).toBe('undecided');
    expect(verdict(medianInterval(ten(100)), 120, 'max')).toBe('met');
    expect(verdict(medianInterval(ten(130)), 120, 'max')).toBe('missed');
  });

  it('summarizes the rounds, counts the flagged ones, and maps the verdicts to exit codes', () => {
    const rounds = ten(0.95).map((value, i) => ({ round: i + 1, value, flags: i < 3 ? ['others 0.50 cores'] : [] }));
    const s = summarize({ what: 'x', rounds, target: 0.9 });
    expect(s.verdict).toBe('met');
    expect(s.flagged_rounds).toBe(3);
    expect(s.quiet_only.n).toBe(7);
    expect(s.line).toContain('MET');
    expect(checkExitCode([s])).toBe(0);
    expect(checkExitCode([s, { verdict: 'undecided' }])).toBe(2);
    expect(checkExitCode([{ verdict: 'undecided' }, { verdict: 'missed' }])).toBe(1);
  });
});

describe('quiet flags', () => {
  it('names what made a run not quiet', () => {
    expect(quietFlags({ loadgen_cores: 0.3, machine: { others_cores: 0.05, steal_cores: 0 } })).toEqual([]);
    const flags = quietFlags({ loadgen_cores: 0.95, machine: { others_cores: 0.8, steal_cores: 0.1, top_others: ['jest(12) 0.70'] } });
    expect(flags).toEqual(['others 0.80 cores (jest(12) 0.70)', 'steal 0.10 cores', 'loadgen 0.95 cores']);
  });
});

describe('speed probe', () => {
  const rows = (probes: Array<number | undefined>) => probes.map((probe_ms) => ({ probe_ms, flags: [] as string[] }));
  const flagged = (r: ReturnType<typeof rows>) => r.map((row) => row.flags.length);

  it('flags probes above 1.3x the first quartile of the run, not the fastest', () => {
    // One lucky fast probe: against it every other round was "slow" (the old rule, 1.2x the fastest).
    const run = rows([2.5, 3.1, 3.2, 3.3, 3.4, 3.5, 3.6, 4.4, 7.0]);
    flagSlowProbes(run);
    expect(flagged(run)).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(run[8]?.flags[0]).toBe("slow machine (probe 2.19x the run's first quartile)");
  });

  it('still sees slow rounds when the machine was slow for most of the run', () => {
    // The median (7) would hide the rounds at 2x the quiet speed; the first quartile does not.
    const run = rows([3.2, 3.3, 3.4, 7, 7, 7, 7, 7]);
    flagSlowProbes(run);
    expect(flagged(run)).toEqual([0, 0, 0, 1, 1, 1, 1, 1]);
  });

  it('takes a factor, skips rows without a probe, and does nothing without probes', () => {
    const run = rows([10, 14, undefined]);
    flagSlowProbes(run);
    expect(flagged(run)).toEqual([0, 1, 0]);
    const strict = rows([10, 14]);
    flagSlowProbes(strict, 1.5);
    expect(flagged(strict)).toEqual([0, 0]);
    const none = rows([undefined, undefined]);
    flagSlowProbes(none);
    expect(flagged(none)).toEqual([0, 0]);
  });

  it('times the work in milliseconds, to the microsecond', () => {
    const ms = speedProbe({ tries: 3, iterations: 200 });
    expect(Number.isFinite(ms) && ms > 0).toBe(true);
    expect(Math.round(ms * 1000) / 1000).toBe(ms);
  });
});
