import { createRequire } from 'node:module';
import { GCProfiler } from 'node:v8';
import { collectDefaultMetrics, Histogram, type Registry } from 'prom-client';

/** prom-client's name for the GC histogram, kept so dashboards built on its defaults still work. */
const GC_METRIC = 'nodejs_gc_duration_seconds';
/** prom-client's default buckets for {@link GC_METRIC} (seconds). */
const GC_BUCKETS = [0.001, 0.01, 0.1, 1, 2, 5];
/**
 * How often GC records are folded into the histogram between scrapes by default: V8 keeps ~3 KB
 * per GC until they are read (a busy backend collects ~20-50 times a second), so an unscraped
 * backend must not let them pile up; and each fold leaves a stopped profiler whose GC callbacks
 * node runs until a major GC collects it, so folding much more often costs every GC more.
 */
const GC_FOLD_MS = 5_000;
/** The shortest fold interval a caller may set: see {@link GC_FOLD_MS} for what folding often costs. */
export const MIN_GC_FOLD_MS = 1_000;

/** V8's GC types (GCProfiler's `gcType`) as prom-client's `kind` label values. */
const GC_KINDS: Record<string, string> = {
  Scavenge: 'minor',
  MinorMarkSweep: 'minor',
  MinorMarkCompact: 'minor',
  MarkSweepCompact: 'major',
  IncrementalMarking: 'incremental',
  ProcessWeakCallbacks: 'weakcb',
};

/** One default metric module of prom-client: registers its metric(s) in `registry`. */
type DefaultMetric = (registry: Registry, config: object) => void;

/**
 * prom-client's process metrics (CPU, memory, heap spaces, event-loop lag, handles, file
 * descriptors, version, GC durations) in `registry`, with the same names and labels as its
 * `collectDefaultMetrics`, except that GC durations are read from V8 in batches
 * (`v8.GCProfiler`, folded at each scrape and every 5 s) instead of prom-client's
 * PerformanceObserver: that one runs JavaScript for every GC (node makes a PerformanceEntry,
 * with deprecation wrappers for its legacy fields, and calls the observer), about 0.1-0.3 µs
 * per tools/call of a busy backend (bench/README.md, "obslayer (2026-12-06)"). The rest of the
 * defaults cost nothing between scrapes.
 * @param gcFoldMs how often GC records are read between scrapes ({@link GC_FOLD_MS} by default).
 * @returns how to stop the GC records (the other metrics need no stopping).
 */
export function collectProcessMetrics(registry: Registry, gcFoldMs = GC_FOLD_MS): () => void {
  const others = defaultMetricsWithoutGc();
  if (others === undefined) {
    // prom-client's layout changed: its defaults as they are, observer included.
    collectDefaultMetrics({ register: registry });
    return () => undefined;
  }
  // prom-client's own default precision for the event-loop delay monitor (ms).
  for (const register of others) register(registry, { eventLoopMonitoringPrecision: 10 });
  return collectGcDurations(registry, gcFoldMs);
}

/**
 * Each of prom-client's default metric modules but the GC one (`collectDefaultMetrics`
 * registers them all with no way to leave one out); undefined if one cannot be loaded.
 */
function defaultMetricsWithoutGc(): DefaultMetric[] | undefined {
  const require = createRequire(import.meta.url);
  const names = (collectDefaultMetrics as unknown as { metricsList?: string[] }).metricsList;
  if (!Array.isArray(names) || !names.includes('gc')) return undefined;
  try {
    return names.filter((name) => name !== 'gc').map((name) => require(`prom-client/lib/metrics/${name}.js`) as DefaultMetric);
  } catch {
    return undefined;
  }
}

/** {@link GC_METRIC} fed from a `v8.GCProfiler` restarted at each fold (a scrape, or every `foldMs`). */
function collectGcDurations(registry: Registry, foldMs: number): () => void {
  let profiler = new GCProfiler();
  profiler.start();
  let histogram: Histogram<'kind'> | undefined;
  const fold = () => {
    const records = profiler.stop()?.statistics ?? [];
    profiler = new GCProfiler();
    profiler.start();
    for (const { gcType, cost } of records) {
      // `cost` is in microseconds.
      histogram!.observe({ kind: GC_KINDS[gcType] ?? gcType }, cost / 1e6);
    }
  };
  histogram = new Histogram({
    name: GC_METRIC,
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    labelNames: ['kind'],
    buckets: GC_BUCKETS,
    registers: [registry],
    collect: fold,
  });
  const timer = setInterval(fold, foldMs).unref();
  return () => {
    clearInterval(timer);
    profiler.stop();
  };
}
