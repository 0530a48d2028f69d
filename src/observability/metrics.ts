import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { NchanStatus, type NchanStatusOptions } from './nchan-status.js';

/** Backend counters the gateway keeps itself (publisher and hubs), read at each scrape. */
export interface GatewayFigures {
  inflight: number;
  sessionsClosed: number;
  published: number;
  retried: number;
  failed: number;
  /** What the backend keeps between messages, by kind (the `httmcp_retained` gauge). */
  retained?: Record<string, number>;
}

/** How a request ended, the `outcome` label. */
export type Outcome = 'ok' | 'tool_error' | 'error' | 'cancelled';

/** Settings of {@link BackendMetrics}. */
export interface BackendMetricsOptions {
  /** The gateway's own counters. */
  figures: () => GatewayFigures;
  /** Where nchan's status is read; omitted: no `httmcp_nchan_*` figures. */
  nchanStatus?: NchanStatusOptions;
  /**
   * Most tool names given their own label value per server (`HTTMCP_METRICS_MAX_TOOLS`,
   * default 500); calls of further tools are counted under `tool="_other"`. Unknown tool names
   * never get one: they are counted under `tool="_unknown"`.
   */
  maxToolsPerServer?: number;
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

/**
 * The backend's Prometheus metrics, in a registry of its own (never prom-client's global one,
 * so several backends in one process do not collide): per-tool calls, errors and latency,
 * in-flight requests, publish counters, nchan's status figures and process metrics.
 *
 * Per-call recording is a counter and a histogram update on label children cached per
 * (server, tool, outcome), so the hot path does no label hashing.
 */
export class BackendMetrics {
  readonly registry = new Registry();
  private readonly calls: Counter<'server' | 'tool' | 'outcome'>;
  private readonly duration: Histogram<'server' | 'tool' | 'outcome'>;
  private readonly toolsInFlight: Gauge<'server' | 'tool'>;
  private readonly errors: Counter<'server' | 'tool'>;
  private readonly children = new Map<string, { calls: Counter; duration: Histogram; errors: Counter | undefined }>();
  private readonly inFlightChildren = new Map<string, Gauge>();
  private readonly labelled = new Map<string, Set<string>>();
  private readonly maxTools: number;
  private readonly nchan: NchanStatus | undefined;
  private processMetrics = false;

  constructor(options: BackendMetricsOptions) {
    this.maxTools = options.maxToolsPerServer ?? 500;
    const registers = [this.registry];
    this.calls = new Counter({
      name: 'httmcp_tool_calls_total',
      help: 'tools/call requests answered, by server, tool and outcome (ok, tool_error: a result with isError, error: a JSON-RPC error, cancelled).',
      labelNames: ['server', 'tool', 'outcome'],
      registers,
    });
    this.duration = new Histogram({
      name: 'httmcp_tool_call_duration_seconds',
      help: 'Time from a tools/call request reaching the backend to its reply leaving the handler.',
      labelNames: ['server', 'tool', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.toolsInFlight = new Gauge({
      name: 'httmcp_tool_calls_in_flight',
      help: 'tools/call requests being handled now, by server and tool.',
      labelNames: ['server', 'tool'],
      registers,
    });
    this.errors = new Counter({
      name: 'httmcp_tool_errors_total',
      help: 'tools/call requests that ended in a JSON-RPC error or a result with isError, by server and tool.',
      labelNames: ['server', 'tool'],
      registers,
    });
    this.defineGatewayFigures(options.figures, registers);
    if (options.nchanStatus) {
      this.nchan = new NchanStatus(options.nchanStatus);
      this.defineNchanFigures(this.nchan, registers);
    } else {
      this.nchan = undefined;
    }
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
    if (!known) return UNKNOWN_TOOL;
    let names = this.labelled.get(server);
    if (!names) this.labelled.set(server, (names = new Set()));
    if (names.has(tool)) return tool;
    if (names.size >= this.maxTools) return OTHER_TOOL;
    names.add(tool);
    return tool;
  }

  /** A tools/call started; returns what to call when it ends. */
  toolCallStarted(server: string, tool: string): (outcome: Outcome, seconds: number) => void {
    const key = `${server}\n${tool}`;
    let gauge = this.inFlightChildren.get(key);
    if (!gauge) this.inFlightChildren.set(key, (gauge = this.toolsInFlight.labels(server, tool) as unknown as Gauge));
    gauge.inc();
    return (outcome, seconds) => {
      gauge.dec();
      const child = this.child(server, tool, outcome);
      child.calls.inc();
      child.duration.observe(seconds);
      child.errors?.inc();
    };
  }

  /** The exposition text (Prometheus 0.0.4). The first call also starts the process metrics. */
  async text(): Promise<string> {
    if (!this.processMetrics) {
      // Started at the first scrape: a library gateway nobody scrapes keeps no event-loop or GC observers.
      this.processMetrics = true;
      collectDefaultMetrics({ register: this.registry });
    }
    return this.registry.metrics();
  }

  async close(): Promise<void> {
    await this.nchan?.close();
  }

  private child(server: string, tool: string, outcome: Outcome): { calls: Counter; duration: Histogram; errors: Counter | undefined } {
    const key = `${server}\n${tool}\n${outcome}`;
    let child = this.children.get(key);
    if (!child) {
      child = {
        calls: this.calls.labels(server, tool, outcome) as unknown as Counter,
        duration: this.duration.labels(server, tool, outcome) as unknown as Histogram,
        errors: outcome === 'error' || outcome === 'tool_error' ? (this.errors.labels(server, tool) as unknown as Counter) : undefined,
      };
      this.children.set(key, child);
    }
    return child;
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

  private defineNchanFigures(nchan: NchanStatus, registers: Registry[]): void {
    // Every figure reads through the cache, which shares one status request per scrape.
    new Gauge({
      name: 'httmcp_nchan_up',
      help: "1 when nchan's status (nchan_stub_status on the publish listener) answered this scrape, else 0.",
      registers,
      async collect() {
        this.set((await nchan.read()) ? 1 : 0);
      },
    });
    for (const [label, name, type, help] of NCHAN_FIGURES) {
      const read = async (): Promise<number | undefined> => (await nchan.read())?.get(label);
      if (type === 'gauge') {
        new Gauge({ name, help, registers, async collect() { this.reset(); const v = await read(); if (v !== undefined) this.set(v); } });
      } else {
        new Counter({ name, help, registers, async collect() { this.reset(); const v = await read(); if (v !== undefined) this.inc(v); } });
      }
    }
  }
}
