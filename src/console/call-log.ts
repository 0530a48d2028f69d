/** One finished tool call, as the console lists it. */
export interface CallRecord {
  /** When it ended (ms since the epoch). */
  at: number;
  server: string;
  tool: string;
  durationMs: number;
  /** `error`: the handler threw or returned `isError`. */
  outcome: 'ok' | 'error';
  /** The error's message, cut short. */
  error?: string;
}

/** What the console shows per tool. */
export interface ToolCounters {
  server: string;
  tool: string;
  calls: number;
  errors: number;
  /** Latency percentiles (ms) over the tool's recent calls. */
  p50: number;
  p90: number;
  p99: number;
}

/** A snapshot for the console's JSON API. */
export interface CallLogSnapshot {
  /** The most recent calls, newest first. */
  recent: CallRecord[];
  tools: ToolCounters[];
  /** Calls and errors per second over the last {@link SECONDS} seconds, oldest first. */
  perSecond: Array<{ at: number; calls: number; errors: number }>;
}

/** Seconds of per-second history kept. */
const SECONDS = 60;
/** Durations kept per tool for its percentiles. */
const SAMPLES = 256;
/** Distinct tools counted; calls to others are still in `recent` and per second. */
const MAX_TOOLS = 1000;

interface Counter {
  server: string;
  tool: string;
  calls: number;
  errors: number;
  samples: Float64Array;
  next: number;
}

/**
 * A bounded in-memory record of recent tool calls for the operator console: a ring of the last
 * calls, per-tool counters with a ring of recent durations, and per-second buckets. Recording is
 * O(1) and allocates one small object; the sorting for percentiles happens when the console asks.
 * Counts are this process's since it started.
 */
export class CallLog {
  private readonly ring: Array<CallRecord | undefined>;
  private head = 0;
  /** By server, then tool: no key string is built per call. */
  private readonly counters = new Map<string, Map<string, Counter>>();
  private counted = 0;
  private readonly buckets = new Array<{ second: number; calls: number; errors: number }>(SECONDS);

  /** @param capacity recent calls kept (default 200). */
  constructor(readonly capacity = 200) {
    this.ring = new Array(capacity);
    for (let i = 0; i < SECONDS; i++) this.buckets[i] = { second: -1, calls: 0, errors: 0 };
  }

  /** Records one finished call. */
  record(server: string, tool: string, durationMs: number, error?: unknown): void {
    const at = Date.now();
    const outcome = error === undefined ? 'ok' : 'error';
    const record: CallRecord = { at, server, tool, durationMs, outcome };
    if (error !== undefined) record.error = messageOf(error);
    this.ring[this.head] = record;
    this.head = (this.head + 1) % this.capacity;

    let byTool = this.counters.get(server);
    if (!byTool) this.counters.set(server, (byTool = new Map()));
    let counter = byTool.get(tool);
    if (!counter && this.counted < MAX_TOOLS) {
      counter = { server, tool, calls: 0, errors: 0, samples: new Float64Array(SAMPLES), next: 0 };
      byTool.set(tool, counter);
      this.counted++;
    }
    if (counter) {
      counter.calls++;
      if (outcome === 'error') counter.errors++;
      counter.samples[counter.next % SAMPLES] = durationMs;
      counter.next++;
    }

    const second = Math.floor(at / 1000);
    const bucket = this.buckets[second % SECONDS]!;
    if (bucket.second !== second) {
      bucket.second = second;
      bucket.calls = 0;
      bucket.errors = 0;
    }
    bucket.calls++;
    if (outcome === 'error') bucket.errors++;
  }

  /** Everything the console shows, computed now. */
  snapshot(now = Date.now()): CallLogSnapshot {
    const recent: CallRecord[] = [];
    for (let i = 1; i <= this.capacity; i++) {
      const record = this.ring[(this.head - i + this.capacity) % this.capacity];
      if (!record) break;
      recent.push(record);
    }
    const tools = [...this.counters.values()].flatMap((byTool) => [...byTool.values()]).map(({ server, tool, calls, errors, samples, next }) => {
      const sorted = Array.from(samples.subarray(0, Math.min(next, SAMPLES))).sort((a, b) => a - b);
      return { server, tool, calls, errors, p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99) };
    });
    const current = Math.floor(now / 1000);
    const perSecond = [];
    for (let second = current - SECONDS + 1; second <= current; second++) {
      const bucket = this.buckets[second % SECONDS]!;
      const live = bucket.second === second;
      perSecond.push({ at: second * 1000, calls: live ? bucket.calls : 0, errors: live ? bucket.errors : 0 });
    }
    return { recent, tools, perSecond };
  }
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : typeof error === 'string' ? error : 'error';
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
