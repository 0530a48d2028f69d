/**
 * The arithmetic of the slice protocol (bench/lib/steady.mjs, bench/slices.mjs): the ABBA/BAAB
 * order and the per-quadruple ratio that must cancel a linear drift of the machine's speed.
 */
import { describe, expect, it } from '@jest/globals';
import { checkExitCode, leastSquares, medianInterval, medianStandardError, pairsInterval, quadRatios, sliceOrder, summarizePairs, t975 } from '../../bench/lib/steady.mjs';

describe('sliceOrder', () => {
  it('alternates ABBA and BAAB and gives both configurations the same slots', () => {
    expect(sliceOrder(2).join('')).toBe('ABBABAAB');
    const order = sliceOrder(10, 'off', 'on');
    expect(order).toHaveLength(40);
    expect(order.filter((c) => c === 'on')).toHaveLength(20);
    // Each configuration opens a quadruple in half of them.
    const openers = Array.from({ length: 10 }, (_, q) => order[4 * q]);
    expect(openers.filter((c) => c === 'off')).toHaveLength(5);
  });
});

describe('quadRatios', () => {
  it('cancels a linear drift exactly: the true ratio comes back whatever the slope', () => {
    for (const slope of [-0.03, 0, 0.01, 0.05]) {
      const order = sliceOrder(6, 'off', 'on');
      // The machine's speed drifts linearly over time; "on" does 90% of what "off" does at any moment.
      const slices = order.map((config, i) => ({ config, value: 1000 * (1 + slope * i) * (config === 'on' ? 0.9 : 1) }));
      const ratios = quadRatios(slices, 'on', 'off');
      expect(ratios).toHaveLength(6);
      for (const r of ratios) expect(r.value).toBeCloseTo(0.9, 12);
      // A naive adjacent-pair ratio would not: the one of the first pair (off, on) is biased by the slope.
      const [first, second] = slices;
      if (slope !== 0) expect(Math.abs(second!.value / first!.value - 0.9)).toBeGreaterThan(0.005);
    }
  });

  it('keeps the flags of its four slices, leaves out an incomplete quadruple, and marks a failed slice NaN', () => {
    const order = sliceOrder(3);
    const slices = order.map((config, i) => ({ config, value: i === 5 ? NaN : 100, flags: i === 2 ? ['others 0.50 cores'] : [] }));
    const ratios = quadRatios(slices.slice(0, 11), 'B', 'A'); // the third quadruple is cut short
    expect(ratios.map((r) => r.quad)).toEqual([1, 2]);
    expect(ratios[0]).toEqual({ quad: 1, value: 1, flags: ['others 0.50 cores'] });
    expect(Number.isNaN(ratios[1]!.value)).toBe(true);
    expect(medianInterval(ratios.map((r) => r.value)).n).toBe(1);
  });
});

describe('t975', () => {
  it("gives Student's t 0.975 quantiles: the table's and, above 30 degrees of freedom, within 0.002", () => {
    expect(t975(1)).toBe(12.706);
    expect(t975(5)).toBe(2.571);
    expect(t975(30)).toBe(2.042);
    expect(t975(60)).toBeCloseTo(2.0003, 2); // exact values from any t table
    expect(t975(120)).toBeCloseTo(1.9799, 2);
    expect(t975(0)).toBeNaN();
  });
});

/** A deterministic normal generator (an LCG through Box-Muller): the same draws on every run. */
function normals(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

describe('medianStandardError', () => {
  it('is 1.2533 × 1.4826 × MAD / √n, and ignores one wild value', () => {
    // Median 3, absolute deviations 2 1 0 1 2 -> MAD 1.
    expect(medianStandardError([1, 2, 3, 4, 5])).toBeCloseTo((1.2533 * 1.4826) / Math.sqrt(5), 12);
    expect(medianStandardError([1, 2, 3, 4, 500])).toBeCloseTo((1.2533 * 1.4826) / Math.sqrt(5), 12);
    expect(medianStandardError([1, 2])).toBeNull();
  });
});

describe('pairsInterval', () => {
  it("is Student's t over the pairs' log-medians: a hand-computed case", () => {
    // Three pairs whose quadruples all read 1.02, 0.98 and 1.00: within-pair noise 0, so the
    // spread of the three medians is all pair factor.
    const pairs = [Array(6).fill(1.02), Array(6).fill(0.98), Array(6).fill(1.0)];
    const logs = [Math.log(1.02), Math.log(0.98), 0];
    const m = (logs[0]! + logs[1]!) / 3;
    const sd = Math.sqrt(logs.reduce((acc, x) => acc + (x - m) ** 2, 0) / 2);
    const r = pairsInterval(pairs);
    expect(r.k).toBe(3);
    expect(r.median).toBeCloseTo(Math.exp(m), 12);
    expect(r.lo).toBeCloseTo(Math.exp(m - (4.303 * sd) / Math.sqrt(3)), 12);
    expect(r.hi).toBeCloseTo(Math.exp(m + (4.303 * sd) / Math.sqrt(3)), 12);
    expect(r.within_se_log).toBe(0);
    expect(r.between_sd_log).toBeCloseTo(sd, 12);
    expect(r.sign).toBeNull(); // fewer than 6 pairs
  });

  it("holds 1 for session 9's identical stacks where the pooled quadruples exclude it", () => {
    // Four pairs of identical stacks biased +4.4%, +3.1%, -1.9%, +2.0% by their process pair,
    // ten quadruples each within ±0.4% of the pair's bias.
    const jitter = [-0.004, 0.004, -0.002, 0.002, 0, -0.001, 0.001, -0.003, 0.003, 0];
    const pairs = [1.044, 1.031, 0.981, 1.02].map((bias) => jitter.map((j) => bias * (1 + j)));
    const r = pairsInterval(pairs);
    expect(r.pooled.lo).toBeGreaterThan(1); // one level: "the two identical stacks differ"
    expect(r.lo).toBeLessThan(1);
    expect(r.hi).toBeGreaterThan(1);
    expect(r.pair_medians.map((x) => Math.round(x * 1000) / 1000)).toEqual([1.044, 1.031, 0.981, 1.02]);
    expect(r.between_sd_log).toBeGreaterThan(0.02);
    expect(r.within_se_log).toBeLessThan(0.005);
  });

  it('covers the true ratio about 95% of the time with a pair factor, where pooled quadruples fall short', () => {
    // 400 simulated comparisons of identical stacks (true ratio 1): 6 pairs, a pair factor of
    // sd 3%, 24 quadruples per pair with noise of sd 2%. Seeded, so the counts are fixed.
    const draw = normals(20261206);
    let pairsHold = 0;
    let pooledHold = 0;
    for (let i = 0; i < 400; i++) {
      const pairs = Array.from({ length: 6 }, () => {
        const bias = 0.03 * draw();
        return Array.from({ length: 24 }, () => Math.exp(bias + 0.02 * draw()));
      });
      const r = pairsInterval(pairs);
      if (r.lo! <= 1 && r.hi! >= 1) pairsHold++;
      if (r.pooled.lo! <= 1 && r.pooled.hi! >= 1) pooledHold++;
    }
    expect(pairsHold / 400).toBeGreaterThanOrEqual(0.93);
    expect(pairsHold / 400).toBeLessThanOrEqual(0.98);
    expect(pooledHold / 400).toBeLessThan(0.6);
  });

  it('gives no interval from fewer than 3 pairs, and leaves out failed quadruples', () => {
    expect(pairsInterval([[1, 1.1, 0.9, 1, 1, 1]]).lo).toBeNull();
    expect(pairsInterval([[0.953], [0.949]]).lo).toBeNull(); // two pairs that agree by luck decide nothing
    expect(pairsInterval([[0.953], [0.949], [1.05]]).lo).toBeLessThan(1);
    const r = pairsInterval([
      [1, NaN, 1],
      [NaN, NaN],
      [1.1, 1.1],
    ]);
    expect(r.k).toBe(2); // the pair with no finite quadruple does not count
    expect(r.lo).toBeNull();
    expect(r.pooled.n).toBe(4);
  });
});

describe('summarizePairs', () => {
  const constant = (medians: number[]) => medians.map((m) => Array.from({ length: 6 }, (_, i) => ({ round: i + 1, value: m, flags: [] as string[] })));

  it('decides met, missed and undecided on the pairs interval, with the --check exit codes', () => {
    const met = summarizePairs({ what: 'x', pairs: constant([0.95, 0.96, 0.94, 0.95]), target: 0.9 });
    expect(met.verdict).toBe('met');
    expect(met.lo!).toBeGreaterThan(0.9);
    const missed = summarizePairs({ what: 'x', pairs: constant([0.85, 0.86, 0.84, 0.85]), target: 0.9 });
    expect(missed.verdict).toBe('missed');
    const undecided = summarizePairs({ what: 'x', pairs: constant([0.92, 0.88, 0.91, 0.89]), target: 0.9 });
    expect(undecided.verdict).toBe('undecided');
    expect(checkExitCode([met])).toBe(0);
    expect(checkExitCode([met, undecided])).toBe(2);
    expect(checkExitCode([met, undecided, missed])).toBe(1);
    expect(summarizePairs({ what: 'x', pairs: constant([0.95]), target: 0.9 }).verdict).toBe('undecided');
  });

  it("keeps every pair's own median, interval and flagged quadruples", () => {
    const pairs = constant([1.01, 0.99]);
    pairs[1]![0]!.flags = ['others 0.50 cores'];
    const s = summarizePairs({ what: 'x', pairs });
    expect(s.verdict).toBeNull();
    expect(s.per_pair).toEqual([
      { pair: 1, n: 6, median: 1.01, lo: 1.01, hi: 1.01, flagged_rounds: 0 },
      { pair: 2, n: 6, median: 0.99, lo: 0.99, hi: 0.99, flagged_rounds: 1 },
    ]);
    expect(s.pairs).toBe(2);
    expect(s.n).toBe(12);
    expect(s.line).toContain('pairs 1.010, 0.990');
  });
});

describe('leastSquares', () => {
  it('recovers an exact line with zero standard errors and r = 1', () => {
    const xs = [-0.02, 0, 0.03, 0.05, 0.1];
    const fit = leastSquares(xs, xs.map((x) => 0.01 + 0.5 * x));
    expect(fit.slope).toBeCloseTo(0.5, 12);
    expect(fit.intercept).toBeCloseTo(0.01, 12);
    expect(fit.slope_se).toBeCloseTo(0, 12);
    expect(fit.r).toBeCloseTo(1, 12);
  });

  it('matches a hand-computed case with scatter', () => {
    // x 1..4, y 1, 3, 2, 5: mean x 2.5, y 2.75; Sxx 5, Sxy 5.5 -> slope 1.1, intercept 0;
    // residuals -0.1, 0.8, -1.3, 0.6: variance 2.7 / 2 = 1.35 -> slope se sqrt(1.35 / 5).
    const fit = leastSquares([1, 2, 3, 4], [1, 3, 2, 5]);
    expect(fit.slope).toBeCloseTo(1.1, 12);
    expect(fit.intercept).toBeCloseTo(0, 12);
    expect(fit.slope_se).toBeCloseTo(Math.sqrt(1.35 / 5), 12);
    expect(fit.intercept_se).toBeCloseTo(Math.sqrt(1.35 * (1 / 4 + 6.25 / 5)), 12);
    expect(fit.r).toBeCloseTo(5.5 / Math.sqrt(5 * 8.75), 12);
  });

  it('refuses fewer than 3 points or unpaired lists', () => {
    expect(() => leastSquares([1, 2], [1, 2])).toThrow(/at least 3/);
    expect(() => leastSquares([1, 2, 3], [1, 2])).toThrow(/at least 3/);
  });
});
