import { performance } from 'node:perf_hooks';
import type { JSONRPCMessage, JSONRPCRequest } from '@modelcontextprotocol/server';
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
import { headerOf, type RequestFacts } from '../server/request-facts.js';

/** What a {@link RequestObserver} records for one server. */
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

/** One request between its arrival and its reply, as {@link RequestObserver.start} returned it. */
export interface Observation {
  readonly startedAt: number;
  readonly method: string;
  readonly tool: string | undefined;
  readonly session: string | undefined;
  /** Where a tools/call is counted, when metrics are on. */
  readonly tally: ToolTally | undefined;
  readonly span: Span | undefined;
  /** The span's context, while publishes of its session are attributed to it (sampled only). */
  readonly traced: TraceContext | undefined;
}

/**
 * The observer for `options`, or undefined when neither metrics nor tracing are on (then whoever
 * would call it does nothing per message).
 */
export function observeRequests(options: InstrumentOptions): RequestObserver | undefined {
  const tracing = options.tracing ?? tracingRegistered();
  if (!options.metrics && !tracing) return undefined;
  return new RequestObserver({ ...options, tracing });
}

/**
 * Per-request metrics and a SERVER span per MCP request, told by whoever sees requests arrive
 * and their replies leave: the session hub itself (2025 sessions: no layer, no table of open
 * requests, no promise per reply; bench/README.md, "obsfold"), or `InstrumentedTransport`
 * (instrument.ts) around any other transport. Spans follow the OpenTelemetry MCP semantic
 * conventions (span `{mcp.method.name} {gen_ai.tool.name}`, `mcp.session.id`,
 * `mcp.protocol.version`...); OpenAPI upstream calls and publishes made for the request become
 * its children (propagated explicitly, see tracing.ts).
 */
export class RequestObserver {
  /**
   * Tool names the server has (bounded by its tools), each with the tally its calls are counted
   * in (null without metrics): one lookup per call where asking the server and then the metrics
   * took three.
   */
  private readonly knownTools = new Map<string, ToolTally | null>();
  /** Whether the logger writes debug lines, read per request without asking pino each time. */
  private readonly debug: DebugLevel;

  constructor(private readonly options: InstrumentOptions & { tracing: boolean }) {
    this.debug = debugLevelOf(options.logger);
  }

  /**
   * A request arrived, with the facts its transport keeps (`facts.session` for transports with
   * sessions). Undefined: nothing to record for it (no span sampled, no metrics, no debug lines),
   * and nothing to call at its end.
   */
  start(request: JSONRPCRequest, facts: RequestFacts | undefined): Observation | undefined {
    const params = request.params as { name?: unknown; uri?: unknown; _meta?: Carrier } | undefined;
    const { metrics, tracing } = this.options;
    // The span's parent, decided before anything else is made: a request without a client trace
    // context that the root sampling dropped (99% at 1%) gets no span, and, without metrics and
    // debug logs, no bookkeeping at all. Headers one by one (headerOf), never `facts.headers`:
    // that is the copy handlers get, made on first read, and most calls' handlers never ask for it.
    const parent = tracing ? requestSpanParent(params?._meta, facts) : undefined;
    if (parent === undefined && !metrics && !this.debug.enabled) return undefined;
    const session = facts?.session;
    const name = typeof params?.name === 'string' ? params.name : undefined;
    const isCall = request.method === 'tools/call' && name !== undefined;
    let known = false;
    let tally: ToolTally | undefined;
    if (isCall) {
      const tool = this.knownTool(name);
      known = tool !== undefined;
      tally = tool ?? (metrics ? metrics.tally(this.options.server, name, known) : undefined);
    }
    if (tally) metrics!.toolCallStarted(tally);
    const tool = tally ? tally.tool : isCall ? (known ? name : '_unknown') : undefined;
    if (parent === undefined) return { startedAt: performance.now(), method: request.method, tool, session, tally, span: undefined, traced: undefined };
    return this.startSpan(request, params, facts, { name, known, isCall, parent, session, tally, tool });
  }

  /**
   * The request ended with `reply` (sent or published): `error` for a JSON-RPC error (its code is
   * the span's `error.type`), `tool_error` for a result with `isError`, else `ok`.
   */
  replied(observation: Observation, reply: JSONRPCMessage): void {
    if ('error' in reply) this.end(observation, 'error', String(reply.error.code));
    else if ('result' in reply && (reply.result as { isError?: unknown }).isError === true) this.end(observation, 'tool_error', 'tool_error');
    else this.end(observation, 'ok');
  }

  /** The request ended with `outcome` (`cancelled`: no reply will come). */
  end(observation: Observation, outcome: Outcome, errorType?: string): void {
    const seconds = (performance.now() - observation.startedAt) / 1000;
    if (observation.tally) this.options.metrics!.toolCallEnded(observation.tally, outcome, seconds);
    const span = observation.span;
    if (span) {
      if (errorType !== undefined) failSpan(span, errorType);
      span.end();
      if (observation.traced && observation.session !== undefined) endSessionTrace(observation.session, observation.traced);
    }
    if (this.debug.enabled) {
      this.options.logger.debug(
        { server: this.options.server, session: observation.session, method: observation.method, tool: observation.tool, outcome, ms: Math.round(seconds * 1000) },
        'request done',
      );
    }
  }

  /** The sampled (or client-traced) request's span: its own function, off the common path. */
  private startSpan(
    request: JSONRPCRequest,
    params: { name?: unknown; uri?: unknown } | undefined,
    facts: RequestFacts | undefined,
    at: { name: string | undefined; known: boolean; isCall: boolean; parent: TraceContext; session: string | undefined; tally: ToolTally | undefined; tool: string | undefined },
  ): Observation {
    const startedAt = performance.now();
    // Low-cardinality span names: a tool name only when the server has that tool.
    const span = startServerSpan(at.known ? `${request.method} ${at.name}` : request.method, at.parent);
    let traced: TraceContext | undefined;
    // Attributes only for spans that are kept: samplers see none (ratio and parent-based need none).
    if (span.isRecording()) span.setAttributes(this.attributesOf(request.method, at.name, at.isCall, params, facts, at.session));
    // Handed on explicitly, never by entering the context (see tracing.ts): to OpenAPI calls
    // through the headers object the handler gets (so traced requests only make its copy), to
    // publishes through the session.
    if (span.isRecording() || at.parent !== ROOT_CONTEXT) {
      const ctx = trace.setSpan(at.parent, span);
      if (facts) setRequestContext(facts.headers, ctx);
      if (span.isRecording() && at.session !== undefined) {
        traced = ctx;
        beginSessionTrace(at.session, ctx);
      }
    }
    return { startedAt, method: request.method, tool: at.tool, session: at.session, tally: at.tally, span, traced };
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
}

/** Whether a logger's debug lines are on, kept current by pino's `level-change` event. */
interface DebugLevel {
  enabled: boolean;
}

/** One {@link DebugLevel} (and one listener) per logger, whatever the number of observers. */
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
