import { Counter, Gauge, Registry } from 'prom-client';
import { Buckets, registerBucketHistogram } from './bucket-histogram.js';
import type { NchanStatus, NchanStatusReader } from '../nchan/status.js';
import { collectProcessMetrics, MIN_GC_FOLD_MS } from './process-metrics.js';
import type { OpenRow } from './open-counts.js';

/** Backend counters the gateway keeps itself (publisher and hubs), read at each scrape. */
export interface GatewayFigures {
  inflight: number;
  sessionsClosed: number;
  published: number;
  retried: number;
  failed: number;
  /** Calls whose per-principal rate was counted on this node because the shared Redis did not answer. */
  rateFallbacks?: number;
  /** What the backend keeps between messages, by kind (the `httmcp_retained` gauge). */
  retained?: Record<string, number>;
}

/** How a request ended, the `outcome` label. */
export type Outcome = 'ok' | 'tool_error' | 'error' | 'cancelled';

/** Settings of {@link BackendMetrics}. */
export interface BackendMetricsOptions {
  /** The gateway's own counters. */
  figures: () => GatewayFigures;
  /** What clients hold open by transport and era (the `httmcp_open` gauge); omitted: none. */
  open?: () => readonly OpenRow[];
  /** Where nchan's status is read (its owner closes it); omitted: no `httmcp_nchan_*` figures. */
  nchanStatus?: NchanStatusReader;
  /**
   * Most tool names given their own label value per server (`HTTMCP_METRICS_MAX_TOOLS`,
   * default 500); calls of further tools are counted under `tool="_other"`. Unknown tool names
   * never get one: they are counted under `tool="_unknown"`.
   */
  maxToolsPerServer?: number;
  /**
   * How often V8's GC records are read into `nodejs_gc_duration_seconds` between scrapes, in ms
   * (`HTTMCP_GC_FOLD_MS`, default 5000, at least {@link MIN_GC_FOLD_MS}). Benchmarks under
   * callgrind stretch it with their clock.
   */
  gcFoldMs?: number;
}

/** The `tool` label of calls to a name the server does not have. */
export const UNKNOWN_TOOL = '_unknown';
/** The `tool` label of calls to tools beyond {@link BackendMetricsOptions.maxToolsPerServer}. */
export const OTHER_TOOL = '_other';

/** nchan_stub_status lines exported, as [label in nchan's text, metric name, type, help]. */
const NCHAN_FIGURES: ReadonlyArray<[string, string, 'counter' | 'gauge', string]> = [
  ['total published messages', 'httmcp_nchan_published_messages_total', 'counter', 'Messages nchan accepted from publishers since nginx started.'],
  ['stored messages', 'httmcp_nchan_stored_messages', 'gauge', 'Messages nchan holds in its buffers now.'],
  ['shared memory used', 'httmcp_nchan_shared_memory_used_bytes', 'gauge', "Bytes of nchan's shared memory in use."],
  ['shared memory limit', 'httmcp_nchan_shared_memory_limit_bytes', 'gauge', "Size of nchan's shared memory (nchan_max_reserved_memory), 0 when unlimited."],
  ['channels', 'httmcp_nchan_channels', 'gauge', 'Channels nchan has now (sessions and request streams).'],
  ['subscribers', 'httmcp_nchan_subscribers', 'gauge', 'Subscribers connected to nchan now (WebSocket and SSE streams).'],
  ['redis pending commands', 'httmcp_nchan_redis_pending_commands', 'gauge', 'Commands nchan sent to Redis and awaits an answer to.'],
  ['redis connected servers', 'httmcp_nchan_redis_connected_servers', 'gauge', 'Redis servers nchan is connected to.'],
  ['total interprocess alerts received', 'httmcp_nchan_interprocess_alerts_received_total', 'counter', "Messages between nginx workers received by nchan."],
  ['interprocess alerts in transit', 'httmcp_nchan_interprocess_alerts_in_transit', 'gauge', 'Messages between nginx workers in transit now.'],
  ['interprocess queued alerts', 'httmcp_nchan_interprocess_queued_alerts', 'gauge', 'Messages between nginx workers queued now.'],
];

/** The outcomes a call is counted under, in the order they are exported. */
const OUTCOMES: readonly Outcome[] = ['ok', 'tool_error', 'error', 'cancelled'];

/** Upper bounds (seconds) of the tool call latency histogram. */
const DURATION_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * One tool's figures on one server, kept as plain numbers on the call path; prom-client reads
 * them when it is scraped: a labelled prom-client child validates and hashes its labels on every
 * update, even when cached (four updates per call were about 3 µs of a ~100 µs call).
 */
export class ToolTally {
  /** Calls started and not ended. */
  inFlight = 0;
  /** Ended calls by outcome. */
  readonly calls: Record<Outcome, number> = { ok: 0, tool_error: 0, error: 0, cancelled: 0 };
  /** Latency per outcome, made at the first call with that outcome. */
  readonly durations: Partial<Record<Outcome, Buckets>> = {};

  constructor(
    readonly server: string,
    /** The `tool` label value (a tool name, {@link UNKNOWN_TOOL} or {@link OTHER_TOOL}). */
    readonly tool: string,
  ) {}
}

/**
 * The backend's Prometheus metrics, in a registry of its own (never prom-client's global one,
 * so several backends in one process do not collide): per-tool calls, errors and latency,
 * in-flight requests, publish counters, nchan's status figures and process metrics.
 *
 * Per call: {@link toolCall} finds the tool's {@link ToolTally} (cached, no key string built)
 * and {@link toolCallEnded} does plain arithmetic: prom-client reads the tallies when scraped.
 */
export class BackendMetrics {
  readonly registry = new Registry();
  /** By server, then by tool name as called (known names only: the map stays bounded). */
  private readonly tallies = new Map<string, { byName: Map<string, ToolTally>; unknown: ToolTally; other: ToolTally; labelled: number }>();
  private readonly maxTools: number;
  private readonly gcFoldMs: number | undefined;
  /** Set once the process metrics run (the first scrape): how to stop them. */
  private stopProcessMetrics: (() => void) | undefined;

  constructor(options: BackendMetricsOptions) {
    this.maxTools = options.maxToolsPerServer ?? 500;
    if (options.gcFoldMs !== undefined && !(options.gcFoldMs >= MIN_GC_FOLD_MS)) throw new RangeError(`gcFoldMs must be at least ${MIN_GC_FOLD_MS} (ms), got ${options.gcFoldMs}`);
    this.gcFoldMs = options.gcFoldMs;
    const registers = [this.registry];
    const tallies = () => this.allTallies();
    new Counter({
      name: 'httmcp_tool_calls_total',
      help: 'tools/call requests answered, by server, tool and outcome (ok, tool_error: a result with isError, error: a JSON-RPC error, cancelled).',
      labelNames: ['server', 'tool', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const t of tallies()) {
          for (const outcome of OUTCOMES) if (t.calls[outcome] > 0) this.inc({ server: t.server, tool: t.tool, outcome }, t.calls[outcome]);
        }
      },
    });
    registerBucketHistogram(this.registry, {
      name: 'httmcp_tool_call_duration_seconds',
      help: 'Time from a tools/call request reaching the backend to its reply leaving the handler.',
      *series() {
        for (const t of tallies()) {
          for (const outcome of OUTCOMES) {
            const buckets = t.durations[outcome];
            if (buckets) yield { labels: { server: t.server, tool: t.tool, outcome }, buckets };
          }
        }
      },
    });
    new Gauge({
      name: 'httmcp_tool_calls_in_flight',
      help: 'tools/call requests being handled now, by server and tool.',
      labelNames: ['server', 'tool'],
      registers,
      collect() {
        this.reset();
        for (const t of tallies()) if (t.inFlight > 0 || t.calls.ok + t.calls.tool_error + t.calls.error + t.calls.cancelled > 0) this.set({ server: t.server, tool: t.tool }, t.inFlight);
      },
    });
    new Counter({
      name: 'httmcp_tool_errors_total',
      help: 'tools/call requests that ended in a JSON-RPC error or a result with isError, by server and tool.',
      labelNames: ['server', 'tool'],
      registers,
      collect() {
        this.reset();
        for (const t of tallies()) {
          const errors = t.calls.error + t.calls.tool_error;
          if (errors > 0) this.inc({ server: t.server, tool: t.tool }, errors);
        }
      },
    });
    this.defineGatewayFigures(options.figures, registers);
    const open = options.open;
    if (open) {
      new Gauge({
        name: 'httmcp_open',
        help: 'What clients hold open now, by transport (websocket, sse, streamable), era (2025, 2026-07-28) and kind (sessions, streams nchan holds, requests being handled).',
        labelNames: ['transport', 'era', 'kind'],
        registers,
        collect() {
          this.reset();
          for (const row of open()) {
            for (const kind of ['sessions', 'streams', 'requests'] as const) {
              const value = row[kind];
              if (value !== undefined) this.set({ transport: row.transport, era: row.era, kind }, value);
            }
          }
        },
      });
    }
    if (options.nchanStatus) this.defineNchanFigures(options.nchanStatus, registers);
  }

  /** Content type of {@link text}. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * The label a call to `tool` is counted under on `server`: the name itself for a tool the
   * server has (`known`), while the server has fewer than the per-server cap.
   */
  toolLabel(server: string, tool: string, known: boolean): string {
    return this.tally(server, tool, known).tool;
  }

  /**
   * The figures calls to `name` on `server` are counted in: the tool's own for a tool the server
   * has (`known`) while the server has fewer than the per-server cap, else `_unknown`/`_other`.
   */
  tally(server: string, name: string, known: boolean): ToolTally {
    let byServer = this.tallies.get(server);
    if (!byServer) {
      byServer = { byName: new Map(), unknown: new ToolTally(server, UNKNOWN_TOOL), other: new ToolTally(server, OTHER_TOOL), labelled: 0 };
      this.tallies.set(server, byServer);
    }
    if (!known) return byServer.unknown;
    let tally = byServer.byName.get(name);
    if (!tally) {
      tally = byServer.labelled < this.maxTools ? new ToolTally(server, name) : byServer.other;
      if (tally !== byServer.other) byServer.labelled++;
      // Known names only, so the map holds at most the server's tools.
      byServer.byName.set(name, tally);
    }
    return tally;
  }

  /** A tools/call started; {@link toolCallEnded} with the same tally when it ends. */
  toolCallStarted(tally: ToolTally): void {
    tally.inFlight++;
  }

  /** A tools/call ended with `outcome` after `seconds`. */
  toolCallEnded(tally: ToolTally, outcome: Outcome, seconds: number): void {
    tally.inFlight--;
    tally.calls[outcome]++;
    (tally.durations[outcome] ??= new Buckets(DURATION_BUCKETS)).observe(seconds);
  }

  /** The exposition text (Prometheus 0.0.4). The first call also starts the process metrics. */
  async text(): Promise<string> {
    // Started at the first scrape: a library gateway nobody scrapes keeps no event-loop or GC monitors.
    this.stopProcessMetrics ??= collectProcessMetrics(this.registry, this.gcFoldMs);
    return this.registry.metrics();
  }

  async close(): Promise<void> {
    this.stopProcessMetrics?.();
  }

  private *allTallies(): Iterable<ToolTally> {
    for (const byServer of this.tallies.values()) {
      const seen = new Set<ToolTally>();
      for (const tally of [...byServer.byName.values(), byServer.unknown, byServer.other]) {
        if (seen.has(tally)) continue;
        seen.add(tally);
        yield tally;
      }
    }
  }

  private defineGatewayFigures(figures: () => GatewayFigures, registers: Registry[]): void {
    const define = (name: string, type: 'counter' | 'gauge', help: string, read: (f: GatewayFigures) => number) => {
      if (type === 'gauge') {
        new Gauge({ name, help, registers, collect() { this.set(read(figures())); } });
      } else {
        // A total the gateway keeps: exported as a counter by replacing the value at each scrape.
        new Counter({ name, help, registers, collect() { this.reset(); this.inc(read(figures())); } });
      }
    };
    define('httmcp_publish_total', 'counter', 'Messages published to nchan successfully.', (f) => f.published);
    define('httmcp_publish_retries_total', 'counter', 'Publish attempts retried after a network error or a 5xx from nchan.', (f) => f.retried);
    define('httmcp_publish_failures_total', 'counter', 'Publishes given up after every retry, or refused by nchan (message lost).', (f) => f.failed);
    define('httmcp_rate_store_fallbacks_total', 'counter', "Calls whose per-principal rate was counted on this node only because the shared rate store (Redis) did not answer in time.", (f) => f.rateFallbacks ?? 0);
    define('httmcp_inflight_requests', 'gauge', 'Client requests being handled now.', (f) => f.inflight);
    define('httmcp_sessions_closed_total', 'counter', 'Sessions whose client left or deleted them, as reported by nchan.', (f) => f.sessionsClosed);
    new Gauge({
      name: 'httmcp_retained',
      help: 'What the backend keeps between messages, by kind (bounded: docs/operations.md, Limits).',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        for (const [kind, value] of Object.entries(figures().retained ?? {})) this.set({ kind }, value);
      },
    });
  }

  private defineNchanFigures(nchan: NchanStatusReader, registers: Registry[]): void {
    // Every figure reads through the reader's cache, which shares one status request per scrape;
    // when nginx does not answer in time, httmcp_nchan_up reads 0 (and the figures 0 with it).
    const status = (): Promise<NchanStatus | undefined> => nchan.read().catch(() => undefined);
    new Gauge({
      name: 'httmcp_nchan_up',
      help: "1 when nchan's status (nchan_stub_status on the publish listener) answered this scrape, else 0.",
      registers,
      async collect() {
        this.set((await status()) ? 1 : 0);
      },
    });
    for (const [label, name, type, help] of NCHAN_FIGURES) {
      const read = async (): Promise<number | undefined> => {
        const value = (await status())?.get(label);
        return typeof value === 'number' ? value : undefined;
      };
      if (type === 'gauge') {
        new Gauge({ name, help, registers, async collect() { this.reset(); const v = await read(); if (v !== undefined) this.set(v); } });
      } else {
        new Counter({ name, help, registers, async collect() { this.reset(); const v = await read(); if (v !== undefined) this.inc(v); } });
      }
    }
  }
}
