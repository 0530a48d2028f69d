import { performance } from 'node:perf_hooks';
import type { JSONRPCMessage, JSONRPCRequest, MessageExtraInfo, RequestId, Transport, TransportSendOptions } from '@modelcontextprotocol/server';
import type { Logger } from '../log.js';
import type { BackendMetrics, Outcome, ToolTally } from './metrics.js';
import {
  beginSessionTrace,
  endSessionTrace,
  failSpan,
  requestSpanParent,
  ROOT_CONTEXT,
  setRequestContext,
  startServerSpan,
  trace,
  tracingRegistered,
  type Carrier,
  type Span,
  type TraceContext,
} from './tracing.js';
import { TransportMiddleware } from '../server/transport-middleware.js';
import { headerOf, type RequestFacts, type RequestFactsSource } from '../server/request-facts.js';

/** What {@link instrumentTransport} records for one server. */
export interface InstrumentOptions {
  /** The server's name: the `server` label and the `httmcp.server` span attribute. */
  server: string;
  /** Where per-tool metrics go; omitted: none are recorded. */
  metrics?: BackendMetrics | undefined;
  /**
   * Whether the server has a tool of this name (unknown names never become label values or span
   * names). A name it has must stay a tool: the answer is remembered.
   */
  hasTool: (name: string) => boolean;
  logger: Logger;
  /** Trace requests; default: when an OpenTelemetry SDK is registered (see tracing.ts). */
  tracing?: boolean;
}

/** A request between its arrival and its reply. */
interface Open {
  startedAt: number;
  method: string;
  tool: string | undefined;
  session: string | undefined;
  /** Where a tools/call is counted, when metrics are on. */
  tally: ToolTally | undefined;
  span: Span | undefined;
  /** The span's context, while publishes of its session are attributed to it (sampled only). */
  traced: TraceContext | undefined;
}

/**
 * `transport` with per-request metrics and a span per MCP request, or `transport` itself when
 * neither metrics nor tracing are on (then nothing runs per message).
 */
export function instrumentTransport(transport: Transport, options: InstrumentOptions): Transport {
  const tracing = options.tracing ?? tracingRegistered();
  if (!options.metrics && !tracing) return transport;
  return new InstrumentedTransport(transport, { ...options, tracing });
}

/**
 * Transport middleware between a session hub and the SDK server: it sees every request arrive
 * and its reply leave, so it times tool calls and opens the request's SERVER span, following
 * the OpenTelemetry MCP semantic conventions (span `{mcp.method.name} {gen_ai.tool.name}`,
 * `mcp.session.id`, `mcp.protocol.version`...). OpenAPI upstream calls and publishes made for
 * the request become its children (propagated explicitly, see tracing.ts).
 */
export class InstrumentedTransport extends TransportMiddleware {
  private readonly open = new Map<RequestId, Open>();
  /**
   * Tool names the server has (bounded by its tools), each with the tally its calls are counted
   * in (null without metrics): one lookup per call where asking the server and then the metrics
   * took three.
   */
  private readonly knownTools = new Map<string, ToolTally | null>();
  /** Whether the logger writes debug lines, read per request without asking pino each time. */
  private readonly debug: DebugLevel;

  constructor(
    inner: Transport,
    private readonly options: InstrumentOptions & { tracing: boolean },
  ) {
    super(inner);
    this.debug = debugLevelOf(options.logger);
    // This layer's own copies of the per-message hops that TransportMiddleware's code shares
    // with every layer (the message in, `sessionId`, `requestFacts`). A server's chain has four
    // layers without this one (ListChangedFanout, CacheHint, Paginating, Scoped: V8's limit for
    // a polymorphic lookup); a fifth class through the shared code turned those lookups
    // megamorphic, which cost the other layers more per call than this layer's own work
    // (bench/README.md, "obscost (2026-12-06)").
    inner.onmessage = (message, extra) => this.receive(message, extra);
  }

  override get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  override requestFacts(id: RequestId): RequestFacts | undefined {
    return (this.inner as Partial<RequestFactsSource>).requestFacts?.(id);
  }

  override async close(): Promise<void> {
    for (const [id] of this.open) this.end(id, 'cancelled');
    await this.inner.close();
  }

  override send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const id = 'method' in message ? undefined : (message as { id?: RequestId }).id;
    if (id === undefined || !this.open.has(id)) return this.inner.send(message, options);
    let outcome: Outcome = 'ok';
    let errorType: string | undefined;
    if ('error' in message) {
      outcome = 'error';
      errorType = String(message.error.code);
    } else if ('result' in message && (message.result as { isError?: unknown }).isError === true) {
      outcome = 'tool_error';
      errorType = 'tool_error';
    }
    // Ended once the reply is out: a reply published to nchan is part of the request's time.
    const sent = this.inner.send(message, options);
    void sent.then(
      () => this.end(id, outcome, errorType),
      () => this.end(id, 'error', 'publish_failed'),
    );
    return sent;
  }

  protected override receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    if (!('method' in message)) return this.onmessage?.(message, extra);
    if (!('id' in message)) {
      // The hub tells the server about cancellations (client's or a closed session's) this way.
      if (message.method === 'notifications/cancelled') {
        const id = (message.params as { requestId?: RequestId } | undefined)?.requestId;
        if (id !== undefined) this.end(id, 'cancelled', 'cancelled');
      }
      return this.onmessage?.(message, extra);
    }
    const request = message as JSONRPCRequest;
    const params = request.params as { name?: unknown; uri?: unknown; _meta?: Carrier } | undefined;
    // Headers one by one (headerOf), never `facts.headers`: that is the copy handlers get, made
    // on first read, and most calls' handlers never ask for it.
    const facts = this.requestFacts(request.id);
    const { server, metrics, tracing } = this.options;
    // The span's parent, decided before anything else is made: a request without a client trace
    // context that the root sampling dropped (99% at 1%) gets no span, and, without metrics and
    // debug logs, no bookkeeping at all (no entry, no timing, no hook on its reply).
    const parent = tracing ? requestSpanParent(params?._meta, facts) : undefined;
    if (parent === undefined && !metrics && !this.debug.enabled) return this.onmessage?.(message, extra);
    // Every transport that keeps sessions says its session here (the 2026 era has none).
    const session = facts?.session;
    const name = typeof params?.name === 'string' ? params.name : undefined;
    const isCall = request.method === 'tools/call' && name !== undefined;
    let known = false;
    let tally: ToolTally | undefined;
    if (isCall) {
      const tool = this.knownTool(name);
      known = tool !== undefined;
      tally = tool ?? (metrics ? metrics.tally(server, name, known) : undefined);
    }
    if (tally) metrics!.toolCallStarted(tally);
    const entry: Open = {
      startedAt: performance.now(),
      method: request.method,
      tool: tally ? tally.tool : isCall ? (known ? name : '_unknown') : undefined,
      session,
      tally,
      span: undefined,
      traced: undefined,
    };
    this.open.set(request.id, entry);
    if (parent === undefined) return this.onmessage?.(message, extra);

    // Low-cardinality span names: a tool name only when the server has that tool.
    const span = startServerSpan(known ? `${request.method} ${name}` : request.method, parent);
    // Attributes only for spans that are kept: at 1% sampling the other 99% skip building and
    // sanitizing them (samplers see none: ratio and parent-based samplers need none).
    if (span.isRecording()) {
      span.setAttributes(this.attributesOf(request.method, name, isCall, params, facts, session));
    }
    entry.span = span;
    // Handed on explicitly, never by entering the context (see tracing.ts): to OpenAPI calls
    // through the headers object the handler gets (so traced requests only make its copy), to
    // publishes through the session.
    if (span.isRecording() || parent !== ROOT_CONTEXT) {
      const ctx = trace.setSpan(parent, span);
      if (facts) setRequestContext(facts.headers, ctx);
      if (span.isRecording() && session !== undefined) {
        entry.traced = ctx;
        beginSessionTrace(session, ctx);
      }
    }
    this.onmessage?.(message, extra);
  }

  private attributesOf(
    method: string,
    name: string | undefined,
    isCall: boolean,
    params: { uri?: unknown } | undefined,
    facts: RequestFacts | undefined,
    session: string | undefined,
  ): Record<string, string> {
    const attributes: Record<string, string> = { 'mcp.method.name': method, 'httmcp.server': this.options.server, 'network.transport': 'tcp' };
    if (session !== undefined) attributes['mcp.session.id'] = session;
    const version = first(headerOf(facts, 'mcp-protocol-version'));
    if (version !== undefined) attributes['mcp.protocol.version'] = version;
    const wire = first(headerOf(facts, 'x-httmcp-transport'));
    if (wire !== undefined) attributes['httmcp.transport'] = wire;
    if (isCall) {
      attributes['gen_ai.tool.name'] = name!;
      attributes['gen_ai.operation.name'] = 'execute_tool';
    } else if (method === 'prompts/get' && name !== undefined) {
      attributes['gen_ai.prompt.name'] = name;
    } else if (typeof params?.uri === 'string') {
      attributes['mcp.resource.uri'] = params.uri;
    }
    return attributes;
  }

  /**
   * For a tool the server has, the tally its calls are counted in (null without metrics);
   * undefined for a name it does not have. Names found are remembered: a server's tools are only
   * ever added, and its own lookup scans every definition (hundreds for an OpenAPI server) on
   * every call.
   */
  private knownTool(name: string): ToolTally | null | undefined {
    const known = this.knownTools.get(name);
    if (known !== undefined || !this.options.hasTool(name)) return known;
    const tally = this.options.metrics ? this.options.metrics.tally(this.options.server, name, true) : null;
    this.knownTools.set(name, tally);
    return tally;
  }

  private end(id: RequestId, outcome: Outcome, errorType?: string): void {
    const entry = this.open.get(id);
    if (!entry) return;
    this.open.delete(id);
    const seconds = (performance.now() - entry.startedAt) / 1000;
    if (entry.tally) this.options.metrics!.toolCallEnded(entry.tally, outcome, seconds);
    if (entry.span) {
      if (errorType !== undefined) failSpan(entry.span, errorType);
      entry.span.end();
      if (entry.traced && entry.session !== undefined) endSessionTrace(entry.session, entry.traced);
    }
    const { logger } = this.options;
    if (this.debug.enabled) {
      logger.debug({ server: this.options.server, session: entry.session, method: entry.method, tool: entry.tool, outcome, ms: Math.round(seconds * 1000) }, 'request done');
    }
  }
}

/** Whether a logger's debug lines are on, kept current by pino's `level-change` event. */
interface DebugLevel {
  enabled: boolean;
}

/** One {@link DebugLevel} (and one listener) per logger, whatever the number of transports. */
const debugLevels = new WeakMap<Logger, DebugLevel>();

/**
 * `logger.isLevelEnabled('debug')` kept as a flag: pino's answer takes a few symbol-keyed
 * lookups and a comparison (~50 ns), asked once or twice per request, while a level changes
 * rarely and says so (`level-change`, emitted by the logger whose level was set).
 */
function debugLevelOf(logger: Logger): DebugLevel {
  let level = debugLevels.get(logger);
  if (level === undefined) {
    const current: DebugLevel = { enabled: logger.isLevelEnabled('debug') };
    logger.on('level-change', () => {
      current.enabled = logger.isLevelEnabled('debug');
    });
    debugLevels.set(logger, current);
    level = current;
  }
  return level;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
