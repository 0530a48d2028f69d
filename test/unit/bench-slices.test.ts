/**
 * The arithmetic of the slice protocol (bench/lib/steady.mjs, bench/slices.mjs): the ABBA/BAAB
 * order and the per-quadruple ratio that must cancel a linear drift of the machine's speed.
 */
import { describe, expect, it } from '@jest/globals';
import { medianInterval, quadRatios, sliceOrder } from '../../bench/lib/steady.mjs';

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
