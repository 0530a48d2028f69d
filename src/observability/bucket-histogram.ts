import type { Metric, MetricValueWithName, Registry } from 'prom-client';

/**
 * One histogram series counted with plain arithmetic. prom-client's own `observe` validates and
 * hashes the series' labels on every call, even through a cached `labels()` child (about 1 µs,
 * the largest cost metrics added to a tools/call); here an observation is a bucket search and
 * three additions, and prom-client only formats the figures when it is scraped
 * ({@link registerBucketHistogram}).
 */
export class Buckets {
  count = 0;
  sum = 0;
  /** Observations per bucket (not cumulative), by the index of the bucket's upper bound. */
  readonly counts: Float64Array;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    this.count++;
    this.sum += value;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]!++;
        return;
      }
    }
    // Above the last bound: counted in `+Inf` (= count) only.
  }
}

/** One labelled series of a {@link registerBucketHistogram} metric. */
export interface BucketSeries {
  labels: Record<string, string>;
  buckets: Buckets;
}

/** The metric of {@link registerBucketHistogram}. */
export interface BucketHistogramOptions {
  name: string;
  help: string;
  /** The series to export, read at each scrape. */
  series: () => Iterable<BucketSeries>;
}

/**
 * Registers in `registry` a histogram whose series are {@link Buckets} kept by the caller. It
 * gives the registry what prom-client's own metrics give it (`get()` with `_bucket` (cumulative,
 * `le` first), `_sum` and `_count` values), so the exposition text is the same as a prom-client
 * Histogram's.
 */
export function registerBucketHistogram(registry: Registry, options: BucketHistogramOptions): void {
  const { name, help } = options;
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    // The shape of prom-client's MetricObjectWithValues (its `type` is a declared-only enum).
    async get() {
      const values: Array<MetricValueWithName<string>> = [];
      for (const { labels, buckets } of options.series()) {
        let cumulative = 0;
        buckets.bounds.forEach((bound, i) => {
          cumulative += buckets.counts[i]!;
          values.push({ metricName: `${name}_bucket`, labels: { le: bound, ...labels }, value: cumulative });
        });
        values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', ...labels }, value: buckets.count });
        values.push({ metricName: `${name}_sum`, labels, value: buckets.sum });
        values.push({ metricName: `${name}_count`, labels, value: buckets.count });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
    /** The figures belong to the caller; a registry reset does not clear them. */
    reset(): void {},
  };
  registry.registerMetric(metric as unknown as Metric);
}
