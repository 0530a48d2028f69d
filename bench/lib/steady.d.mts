// Types of bench/lib/steady.mjs, for test/unit/bench-steady.test.ts.

export function roundOrder<T>(configs: T[], round: number, blockOf?: (config: T) => unknown): T[];

export interface MedianInterval {
  n: number;
  median: number;
  lo: number | null;
  hi: number | null;
  coverage: number | null;
  level: number;
}
export function medianInterval(values: number[], level?: number): MedianInterval;

export type Verdict = 'met' | 'missed' | 'undecided';
export function verdict(interval: MedianInterval, target: number, kind?: 'min' | 'max'): Verdict;

export interface Summary extends Omit<MedianInterval, 'level'> {
  what: string;
  target: number | null | undefined;
  kind: 'min' | 'max';
  verdict: Verdict | null;
  values: number[];
  flagged_rounds: number;
  quiet_only: { median: number; lo: number | null; hi: number | null; n: number };
  line: string;
}
export function summarize(options: {
  what: string;
  rounds: { round: number; value: number; flags?: string[] }[];
  target?: number;
  kind?: 'min' | 'max';
  digits?: number;
}): Summary;

export function checkExitCode(summaries: Pick<Summary, 'verdict'>[]): 0 | 1 | 2;

export interface LoadResultLike {
  loadgen_cores?: number;
  machine?: { others_cores?: number; steal_cores?: number; top_others?: string[] };
}
export const QUIET_DEFAULTS: { othersCores: number; stealCores: number; loadgenCores: number };
export function quietFlags(result: LoadResultLike | null | undefined, thresholds?: Partial<typeof QUIET_DEFAULTS>): string[];

export function machineTicks(): { task: number; irq: number; steal: number; idle: number };
export function loadAverage(): number[];
export function speedProbe(options?: { tries?: number; iterations?: number }): number;
export function flagSlowProbes(rows: { probe_ms?: number; flags: string[] }[], factor?: number): void;

export function sliceOrder<T = string>(quads: number, a?: T, b?: T): T[];
export function quadRatios<T>(
  slices: { config: T; value: number; flags?: string[] }[],
  numerator: T,
  denominator: T,
): { quad: number; value: number; flags: string[] }[];

export function t975(df: number): number;
export interface PairsInterval {
  k: number;
  median: number;
  lo: number | null;
  hi: number | null;
  coverage: number | null;
  level: number;
  pair_medians: number[];
  sd_log: number | null;
  within_se_log: number | null;
  between_sd_log: number | null;
  pooled: MedianInterval;
  sign: MedianInterval | null;
}
export function pairsInterval(pairs: number[][]): PairsInterval;
export interface PairsSummary {
  what: string;
  target: number | null | undefined;
  kind: 'min' | 'max';
  verdict: Verdict | null;
  median: number;
  lo: number | null;
  hi: number | null;
  coverage: number | null;
  n: number;
  pairs: number;
  per_pair: { pair: number; n: number; median: number; lo: number | null; hi: number | null; flagged_rounds: number }[];
  sd_log: number | null;
  within_se_log: number | null;
  between_sd_log: number | null;
  pooled: { median: number; lo: number | null; hi: number | null; n: number };
  sign_over_pairs: { median: number; lo: number | null; hi: number | null; coverage: number | null } | null;
  values: number[][];
  line: string;
}
export function summarizePairs(options: {
  what: string;
  pairs: { round: number; value: number; flags?: string[] }[][];
  target?: number;
  kind?: 'min' | 'max';
  digits?: number;
}): PairsSummary;
export function medianStandardError(xs: number[]): number | null;
export const MIN_PAIRS: number;

/** A least-squares line y = intercept + slope × x, with standard errors and Pearson's r. */
export interface LeastSquares {
  n: number;
  slope: number;
  intercept: number;
  slope_se: number;
  intercept_se: number;
  r: number;
}
export function leastSquares(xs: number[], ys: number[]): LeastSquares;
