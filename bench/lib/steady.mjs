// The steady protocol the comparison benchmarks share (bench/run.mjs, its --observability mode,
// bench/auth.mjs): every server warmed up on every transport before anything is measured, then
// N short rounds that each run every configuration once in a rotating order, and a verdict from
// the paired per-round ratios: their median with a distribution-free 95% interval, and whether
// the target is met, missed, or undecided (the interval straddles it). See bench/README.md,
// "### benchsteady (2026-12-05)".
//
// Why: on 2 cores one run of one configuration varies by 30-45% between runs minutes apart (the
// other processes on the machine, the hypervisor, the JIT state of a server that has just
// started). A ratio of two configurations measured side by side in one round cancels whatever
// the round had in common; the spread of those ratios over rounds is the honest uncertainty.

import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * The order in which `round` (0-based) runs `configs`: rotated by one place every two rounds
 * and reversed on odd rounds, so that over the rounds every configuration runs in every position
 * and, for any two of them, each comes first about half of the time (a drift within a round
 * then favours neither side of a pair). With `blockOf`, configurations of one block (the ones a
 * verdict pairs: on/off of one transport, httmcp and the SDK at one client count) run next to
 * each other, so a pair is measured seconds apart; the blocks rotate among themselves and the
 * members within each block, the same way.
 */
export function roundOrder(configs, round, blockOf) {
  if (!blockOf) return rotate(configs, round);
  const blocks = new Map();
  for (const c of configs) {
    const key = blockOf(c);
    if (!blocks.has(key)) blocks.set(key, []);
    blocks.get(key).push(c);
  }
  return rotate([...blocks.values()], round).flatMap((members) => rotate(members, round));
}

function rotate(items, round) {
  const k = items.length;
  if (k === 0) return [];
  const shift = Math.floor(round / 2) % k;
  const rotated = [...items.slice(shift), ...items.slice(0, shift)];
  return round % 2 ? rotated.reverse() : rotated;
}

/** P(X <= k) for X ~ Binomial(n, 1/2). */
function binomialHalfCdf(k, n) {
  let term = 0.5 ** n; // P(X = 0)
  let sum = 0;
  for (let i = 0; i <= k; i++) {
    sum += term;
    term = (term * (n - i)) / (i + 1);
  }
  return sum;
}

/**
 * The median of `values` with a distribution-free confidence interval for the true median: the
 * order-statistic (sign-test) interval [x(j), x(n-j+1)], with j the largest rank for which the
 * chance that fewer than j of n values fall below the median, P(Binomial(n, 1/2) <= j-1), is at
 * most (1 - level)/2. It assumes only that rounds are independent draws of the same quantity
 * (no normality), and its actual coverage (>= level) is reported. Below 6 values no interval
 * reaches 95%: `lo`/`hi` are then null and any verdict is "undecided".
 */
export function medianInterval(values, level = 0.95) {
  const xs = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const n = xs.length;
  const mid = n === 0 ? NaN : n % 2 ? xs[(n - 1) / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
  let j = 0;
  while (j + 1 <= n / 2 && binomialHalfCdf(j, n) <= (1 - level) / 2) j++;
  // j is now the largest rank with P(X <= j-1) <= alpha/2 (0: none qualifies).
  if (j === 0) return { n, median: mid, lo: null, hi: null, coverage: null, level };
  return { n, median: mid, lo: xs[j - 1], hi: xs[n - j], coverage: 1 - 2 * binomialHalfCdf(j - 1, n), level };
}

/**
 * Met, missed or undecided: `interval` (from {@link medianInterval}) against `target`, for a
 * figure that must be at least (`kind: 'min'`) or at most (`'max'`) the target.
 */
export function verdict(interval, target, kind = 'min') {
  if (interval.lo == null) return 'undecided';
  if (kind === 'min') return interval.lo >= target ? 'met' : interval.hi < target ? 'missed' : 'undecided';
  return interval.hi <= target ? 'met' : interval.lo > target ? 'missed' : 'undecided';
}

/** The machine's CPU time by kind in clock ticks (all cores summed), from /proc/stat. */
export function machineTicks() {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { task: user + nice + system, irq: irq + softirq, steal, idle: idle + iowait };
}

/** 1-, 5- and 15-minute load averages, two decimals (what `uptime` shows). */
export const loadAverage = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

/** Thresholds for {@link quietFlags}; the harnesses take them from --noisy-cores. */
export const QUIET_DEFAULTS = { othersCores: 0.2, stealCores: 0.05, loadgenCores: 0.9 };

/**
 * Why one measured window (a bench/load.mjs result with `machine`, `loadgen_cores`) should not be
 * trusted, as short strings; empty when it was quiet:
 * - `others X cores`: processes other than the measured ones (backend, nginx, load generator)
 *   ran on the machine during the window; they took CPU the measured ones may have waited for.
 * - `steal X cores`: the hypervisor ran someone else on our virtual CPUs.
 * - `loadgen X cores`: the load generator (one Node thread) was close to a full core, so it, not
 *   the server, may have set the pace.
 */
export function quietFlags(result, thresholds = QUIET_DEFAULTS) {
  const m = result?.machine;
  const flags = [];
  if (!m) return flags;
  const t = { ...QUIET_DEFAULTS, ...thresholds };
  if (m.others_cores > t.othersCores) flags.push(`others ${m.others_cores.toFixed(2)} cores${m.top_others?.length ? ` (${m.top_others.join(', ')})` : ''}`);
  if (m.steal_cores > t.stealCores) flags.push(`steal ${m.steal_cores.toFixed(2)} cores`);
  if (result.loadgen_cores > t.loadgenCores) flags.push(`loadgen ${result.loadgen_cores.toFixed(2)} cores`);
  return flags;
}

const fmt = (x, d) => (x == null || !Number.isFinite(x) ? '–' : x.toFixed(d));

/** The fields every summary starts with: what was judged, against what, and the interval. */
function verdictFields(what, target, kind, verdict, { median, lo, hi, coverage }) {
  return { what, target, kind, verdict, median, lo, hi, coverage };
}

/**
 * One comparison's summary from its per-round values (`rounds`: [{round, value, flags}]): the
 * median and interval over all rounds, the verdict against `target`, and the same over the rounds
 * no flag was raised on (for the reader; the verdict is over all rounds, as planned).
 */
export function summarize({ what, rounds, target, kind = 'min', digits = 3 }) {
  const all = medianInterval(rounds.map((r) => r.value));
  const quietRounds = rounds.filter((r) => !r.flags?.length);
  const quiet = medianInterval(quietRounds.map((r) => r.value));
  const v = target == null ? null : verdict(all, target, kind);
  const range = all.lo == null ? `no 95% interval from ${all.n} rounds (need >= 6)` : `95% CI ${fmt(all.lo, digits)}–${fmt(all.hi, digits)} (coverage ${(all.coverage * 100).toFixed(1)}%)`;
  const goal = target == null ? '' : ` target ${kind === 'min' ? '>=' : '<='} ${target}: ${v.toUpperCase()}`;
  const noisy = rounds.length - quietRounds.length;
  const line =
    `${what}: median ${fmt(all.median, digits)}, ${range}, n=${all.n}${goal}` +
    (noisy ? ` [${noisy} of ${rounds.length} rounds flagged not quiet; quiet rounds only: median ${fmt(quiet.median, digits)}, n=${quiet.n}]` : '');
  return {
    ...verdictFields(what, target, kind, v, all),
    n: all.n,
    values: rounds.map((r) => r.value),
    flagged_rounds: noisy,
    quiet_only: { median: quiet.median, lo: quiet.lo, hi: quiet.hi, n: quiet.n },
    line,
  };
}

/** Process exit code for --check: 0 every target met, 1 one missed, 2 none missed but one undecided. */
export function checkExitCode(summaries) {
  const vs = summaries.map((s) => s.verdict).filter(Boolean);
  if (vs.includes('missed')) return 1;
  if (vs.includes('undecided')) return 2;
  return 0;
}

const PROBE_MESSAGE = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2},"_meta":{"progressToken":7}}}';

/**
 * The probe's fixed work. A function of the module, not a closure made per probe: a closure made
 * anew each time got fresh type feedback, so V8 ran it interpreted until on-stack replacement and
 * deoptimized it at its end on every try (`--trace-deopt`: "Insufficient type feedback for
 * compare operation"); how much of a try ran optimized varied, and with it the time, by 2-3x.
 */
function probeWork(iterations) {
  let sink = 0;
  for (let i = 0; i < iterations; i++) {
    const m = JSON.parse(PROBE_MESSAGE);
    m.id = i;
    const reply = { jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: String(m.params.arguments.a + i) }] } };
    sink += JSON.stringify(reply).length;
  }
  return sink;
}

/** Where the probe's results go, so that no compiler drops the work. */
let probeSink = 0;
let probeWarmed = false;

/**
 * Milliseconds this process takes for a fixed piece of work like a server's (JSON-RPC messages
 * parsed and written, small objects, string building): the fastest of `tries` tries of about
 * 3 ms each (on this machine, idle), after the first call warmed the work up to optimized code.
 * Run between measured runs, when the measured processes are idle, it says how fast the machine
 * itself was at that moment: on a virtual machine a busy neighbour on the host slows every
 * process without showing up as CPU time anywhere in /proc (steal is not always reported). The
 * fastest try, because whatever else happens during a try (a preemption, an interrupt, a
 * scavenge) only adds time: a slow result means every try of the ~25 ms was slow.
 */
export function speedProbe({ tries = 7, iterations = 2000 } = {}) {
  if (!probeWarmed) {
    for (let i = 0; i < 20; i++) probeSink += probeWork(iterations);
    probeWarmed = true;
  }
  let fastest = Infinity;
  for (let t = 0; t < tries; t++) {
    const t0 = process.hrtime.bigint();
    probeSink += probeWork(iterations);
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  if (probeSink < 0) throw new Error('unreachable');
  return Math.round(fastest * 1000) / 1000;
}

/**
 * Adds `slow machine` to the flags of every row whose speed probe (`probe_ms`) took more than
 * `factor` times the run's usual probe: its first quartile, the machine's quiet speed as long as
 * it was quiet for a quarter of the run. Not the fastest probe: the fastest of n is an extreme
 * that falls as n grows, so against it most rounds of a long run were flagged (72 of 100 in
 * session 8's tools/call run). Not the median either: a run that is slow for more than half of
 * its rounds would hide its slow rounds. Quiet probes of {@link speedProbe} stay within 1.2x of
 * each other; the factor leaves room above that (bench/README.md, "### conf2575 (2026-12-06)").
 */
export function flagSlowProbes(rows, factor = 1.3) {
  const probes = rows
    .map((r) => r.probe_ms)
    .filter((x) => Number.isFinite(x))
    .sort((a, b) => a - b);
  if (!probes.length) return;
  const usual = probes[Math.floor((probes.length - 1) / 4)];
  for (const r of rows) {
    if (r.probe_ms > factor * usual) r.flags.push(`slow machine (probe ${(r.probe_ms / usual).toFixed(2)}x the run's first quartile)`);
  }
}

// ---------------------------------------------------------------- the slice protocol
// bench/slices.mjs: both configurations' stacks up at once, the load switched between them in
// short slices (bench/README.md, "### slices (2026-12-06)").

/**
 * The order of `quads` × 4 slices between configurations `a` and `b`: ABBA, then BAAB, and so
 * on. Within an ABBA quadruple the two configurations' mean times coincide, so a drift of the
 * machine's speed that is linear over the quadruple weighs both sides alike and cancels from
 * their ratio; alternating ABBA and BAAB puts each configuration first (right after the other's
 * slice) equally often.
 */
export function sliceOrder(quads, a = 'A', b = 'B') {
  const out = [];
  for (let q = 0; q < quads; q++) out.push(...(q % 2 ? [b, a, a, b] : [a, b, b, a]));
  return out;
}

/**
 * One paired value per complete quadruple of `slices` ({config, value}, in the order measured,
 * 4 per quadruple as {@link sliceOrder} lays them out): the mean `value` of `numerator`'s two
 * slices over the mean of `denominator`'s two, with `flags` (the union of the four slices'
 * flags) and `quad` (1-based). A quadruple missing a value (a failed slice) gives NaN, which
 * {@link medianInterval} leaves out.
 */
export function quadRatios(slices, numerator, denominator) {
  const out = [];
  for (let q = 0; q + 4 <= slices.length; q += 4) {
    const quad = slices.slice(q, q + 4);
    const sum = (config) => quad.filter((s) => s.config === config).reduce((acc, s) => acc + s.value, 0);
    const count = (config) => quad.filter((s) => s.config === config && Number.isFinite(s.value)).length;
    const value = count(numerator) === 2 && count(denominator) === 2 ? sum(numerator) / sum(denominator) : NaN;
    out.push({ quad: q / 4 + 1, value, flags: [...new Set(quad.flatMap((s) => s.flags ?? []))] });
  }
  return out;
}

// ---------------------------------------------------------------- several pairs of stacks
// bench/slices.mjs --pairs K: the comparison repeated on K fresh pairs of stacks, the roles'
// positions swapped between pairs (bench/README.md, "### pairs (2026-12-06)").

/** Student's t two-sided 95% quantiles (t_{0.975}) for 1..30 degrees of freedom. */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/**
 * The 0.975 quantile of Student's t with `df` degrees of freedom (a two-sided 95% interval): from
 * the table up to 30, then 1.96 + 2.4/df, within 0.002 of the exact value from 31 on.
 */
export function t975(df) {
  if (!(df >= 1)) return NaN;
  const d = Math.floor(df);
  return d <= 30 ? T975[d - 1] : 1.96 + 2.4 / d;
}

const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
const variance = (xs) => {
  const m = mean(xs);
  return xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1);
};

/**
 * The fewest pairs of stacks a verdict rests on. The t-interval is exact at K = 2 for normal
 * pair medians, but two medians that happen to agree then decide it alone (two one-quadruple
 * pairs of identical stacks read 0.953 and 0.949 here, "0.923-0.980"); from 3 on one pair's luck
 * weighs less and the interval's sd has 2 degrees of freedom.
 */
export const MIN_PAIRS = 3;

/**
 * The standard error of the median of `xs` from their own spread: 1.2533 σ / √n (the median's
 * asymptotic standard error for a normal sample) with σ estimated robustly as 1.4826 × the median
 * absolute deviation, so that one wild quadruple on a busy machine does not inflate it; null below
 * 3 values. Only for the reader's split of the spread (pairsInterval), never for a verdict.
 */
export function medianStandardError(xs) {
  const n = xs.length;
  if (n < 3) return null;
  const mid = medianInterval(xs).median;
  const mad = medianInterval(xs.map((x) => Math.abs(x - mid))).median;
  return (1.2533 * 1.4826 * mad) / Math.sqrt(n);
}

/**
 * A ratio's 95% interval over `pairs` (one array of per-quadruple ratios per pair of stacks),
 * with the pair of stacks as the unit: each pair is summarized by the median of its quadruples'
 * log-ratios, and the interval is Student's t over those K summaries, exponentiated (a
 * geometric mean of the pairs' medians with its interval).
 *
 * Why this and not the quadruples' sign-test interval pooled over pairs: two identical stacks
 * read up to 4% apart, a factor of the process pair that all the quadruples of one pair share
 * (bench/README.md, "Session 9"); pooled quadruples would count one pair's bias 60 times as if it
 * were 60 independent draws. A pair's median already carries its within-pair noise, so the
 * spread of the K medians is the whole variance (between pairs + within a pair / quadruples),
 * estimated without a model of either part (the cluster-level "summary statistics" analysis of
 * clustered data). The t-interval assumes only that the K medians are roughly normal (each is a
 * median of many quadruples plus a pair factor: sums of many small effects); with few clusters it
 * keeps its coverage where a bootstrap over K < 10 clusters is known to run short. Below
 * {@link MIN_PAIRS} pairs there is no interval (`lo`/`hi` null).
 *
 * Also returned, for the reader: `within_se_log`, the typical standard error of one pair's median
 * from its own quadruples ({@link medianStandardError}, root mean square over the pairs), and `between_sd_log`, the pair factor's standard deviation left over
 * (sqrt(max(0, var(medians) - within_se²))); `pooled`, the old single-level interval over all
 * quadruples of all pairs; `sign`, the sign-test interval over the K medians when K >= 6.
 */
export function pairsInterval(pairs) {
  const perPair = pairs.map((values) => medianInterval(values));
  const used = perPair.filter((p) => p.n > 0 && Number.isFinite(p.median) && p.median > 0);
  const logs = used.map((p) => Math.log(p.median));
  const k = logs.length;
  const pooled = medianInterval(pairs.flat());
  const withinVars = pairs.map((values) => medianStandardError(values.filter((x) => Number.isFinite(x) && x > 0).map(Math.log))).filter((se) => se != null).map((se) => se ** 2);
  const withinVar = withinVars.length ? mean(withinVars) : null;
  const out = {
    k,
    median: k ? Math.exp(mean(logs)) : NaN,
    lo: null,
    hi: null,
    coverage: null,
    level: 0.95,
    pair_medians: perPair.map((p) => p.median),
    sd_log: k >= 2 ? Math.sqrt(variance(logs)) : null,
    within_se_log: withinVar == null ? null : Math.sqrt(withinVar),
    between_sd_log: null,
    pooled,
    sign: k >= 6 ? medianInterval(used.map((p) => p.median)) : null,
  };
  if (k < MIN_PAIRS) return out;
  const half = t975(k - 1) * (out.sd_log / Math.sqrt(k));
  out.lo = Math.exp(mean(logs) - half);
  out.hi = Math.exp(mean(logs) + half);
  out.coverage = 0.95;
  if (withinVar != null) out.between_sd_log = Math.sqrt(Math.max(0, variance(logs) - withinVar));
  return out;
}

/**
 * {@link summarize} for a comparison over several pairs of stacks (`pairs`: one array of
 * {round, value, flags} per pair): the verdict from {@link pairsInterval} (the pair as the unit),
 * each pair's own median and sign-test interval, and the single-level interval pooled over every
 * quadruple (what one pair used to report, too narrow when the pair factor is real).
 */
export function summarizePairs({ what, pairs, target, kind = 'min', digits = 3 }) {
  const all = pairsInterval(pairs.map((rounds) => rounds.map((r) => r.value)));
  const v = target == null ? null : verdict(all, target, kind);
  const perPair = pairs.map((rounds, i) => ({ pair: i + 1, ...medianInterval(rounds.map((r) => r.value)), flagged_rounds: rounds.filter((r) => r.flags?.length).length }));
  const pct = (x) => (x == null ? '–' : `${(100 * x).toFixed(1)}%`);
  const range = all.lo == null ? `no interval from ${all.k} pair(s) (need >= ${MIN_PAIRS})` : `95% CI ${fmt(all.lo, digits)}–${fmt(all.hi, digits)} (t over ${all.k} pairs)`;
  const goal = target == null ? '' : ` target ${kind === 'min' ? '>=' : '<='} ${target}: ${v.toUpperCase()}`;
  const line =
    `${what}: ${all.k} pairs, geometric mean of pair medians ${fmt(all.median, digits)}, ${range}${goal}; ` +
    `pairs ${perPair.map((p) => fmt(p.median, digits)).join(', ')}; spread between pairs ${pct(all.between_sd_log)} (sd), within a pair ${pct(all.within_se_log)} (se); ` +
    `pooled quadruples (ignores the pair factor) ${fmt(all.pooled.median, digits)} [${fmt(all.pooled.lo, digits)}–${fmt(all.pooled.hi, digits)}] n=${all.pooled.n}`;
  return {
    ...verdictFields(what, target, kind, v, all),
    n: all.pooled.n,
    pairs: all.k,
    per_pair: perPair.map(({ pair, n, median, lo, hi, flagged_rounds }) => ({ pair, n, median, lo, hi, flagged_rounds })),
    sd_log: all.sd_log,
    within_se_log: all.within_se_log,
    between_sd_log: all.between_sd_log,
    pooled: { median: all.pooled.median, lo: all.pooled.lo, hi: all.pooled.hi, n: all.pooled.n },
    sign_over_pairs: all.sign && { median: all.sign.median, lo: all.sign.lo, hi: all.sign.hi, coverage: all.sign.coverage },
    values: pairs.map((rounds) => rounds.map((r) => r.value)),
    line,
  };
}

// ---------------------------------------------------------------- coupling between processes

/**
 * Ordinary least squares y = intercept + slope × x over paired points: the slope and intercept
 * with their standard errors (ordinary, n - 2 degrees of freedom) and Pearson's r. Used by
 * bench/obsedge-coupling.mjs: does one process's CPU per call ratio follow another's?
 */
export function leastSquares(xs, ys) {
  const n = xs.length;
  if (n !== ys.length || n < 3) throw new Error('leastSquares needs at least 3 paired points');
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
    syy += (ys[i] - my) ** 2;
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const variance = ys.reduce((s, y, i) => s + (y - intercept - slope * xs[i]) ** 2, 0) / (n - 2);
  return { n, slope, intercept, slope_se: Math.sqrt(variance / sxx), intercept_se: Math.sqrt(variance * (1 / n + mx ** 2 / sxx)), r: sxy / Math.sqrt(sxx * syy) };
}
