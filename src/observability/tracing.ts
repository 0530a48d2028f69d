import {
  context,
  createContextKey,
  propagation,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context as TraceContext,
  type Span,
  type TextMapGetter,
  defaultTextMapGetter,
} from '@opentelemetry/api';
import { headerOf, type RequestFacts } from '../server/request-facts.js';

/**
 * Tracing through the OpenTelemetry API only: without an SDK registered (the CLI registers one
 * when `OTEL_*` asks for it, see otel-sdk.ts) every call here is a no-op, so the library costs
 * nothing when tracing is off.
 */
const tracer = trace.getTracer('httmcp');

/** Carrier of W3C trace context: HTTP headers, or an MCP request's `params._meta` (SEP-414). */
export type Carrier = Record<string, unknown>;

/**
 * True when an SDK tracer provider is registered globally. Read once where instrumentation is
 * set up (not per request): without one, the per-request hooks are not installed at all.
 */
export function tracingRegistered(): boolean {
  const provider = trace.getTracerProvider();
  const delegate = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider;
  return delegate.constructor.name !== 'NoopTracerProvider';
}

/**
 * The client's trace context for one MCP request: `_meta.traceparent` when the request carries
 * one (SEP-414: it names this request, where a WebSocket's handshake header names the whole
 * connection), else the `traceparent` header nginx passed through.
 */
export function parentContext(meta: Carrier | undefined, headers: Carrier | undefined): TraceContext {
  return clientContext(meta, headers, defaultTextMapGetter);
}

/** {@link parentContext} with the headers read through `getter`: `_meta` first, then the headers. */
function clientContext<C>(meta: Carrier | undefined, headers: C | undefined, getter: TextMapGetter<C>): TraceContext {
  if (meta && typeof meta.traceparent === 'string') return propagation.extract(ROOT_CONTEXT, meta);
  if (headers !== undefined && getter.get(headers, 'traceparent') !== undefined) return propagation.extract(ROOT_CONTEXT, headers, getter);
  return ROOT_CONTEXT;
}

/** Marks a context whose root span httmcp has already decided to sample (see {@link sampleRootsAt}). */
const PRESAMPLED = createContextKey('httmcp.presampled');
/** The parent of a request's span when the request has no trace context of its own and was sampled. */
const PRESAMPLED_ROOT = ROOT_CONTEXT.setValue(PRESAMPLED, true);
/** The share of requests without a client trace context that are traced, when the SDK set-up said so. */
let rootRatio: number | undefined;

/**
 * Declares that the registered SDK samples root spans (spans without a parent) at `ratio`, by
 * a sampler that honours {@link isPresampled} (otel-sdk.ts sets both up). httmcp then draws the
 * sample itself for requests without a client trace context, before any span exists: at 1%, the
 * other 99% cost one `Math.random()`, where the SDK would make two random ids, run the sampler
 * and create a non-recording span that nothing reads (`undefined`: every request gets a span
 * and the SDK's sampler decides, for SDKs set up by the program itself).
 */
export function sampleRootsAt(ratio: number | undefined): void {
  rootRatio = ratio;
}

/** True for a context under a root span httmcp sampled: the SDK's sampler must keep its spans. */
export function isPresampled(ctx: TraceContext): boolean {
  return ctx.getValue(PRESAMPLED) === true;
}

/** Reads trace context from the headers a transport kept for a request, one by one (headerOf). */
const factsGetter: TextMapGetter<RequestFacts> = {
  get: (facts, key) => headerOf(facts, key),
  // Only propagators that enumerate headers (none of the W3C ones) make the headers' copy.
  keys: (facts) => Object.keys(facts.headers),
};

/**
 * Where one MCP request's SERVER span starts: under the client's trace context
 * (`_meta.traceparent`, else the `traceparent` header, as {@link parentContext}); or, for a
 * request without one, at the root when the request is sampled. `undefined`: no span at all (a
 * root request that {@link sampleRootsAt} drops). The headers are read through
 * {@link headerOf}: the hub copies a request's headers for handlers only when one asks, and a
 * request without a `traceparent` costs two lookups here.
 */
export function requestSpanParent(meta: Carrier | undefined, facts: RequestFacts | undefined): TraceContext | undefined {
  const parent = clientContext(meta, facts, factsGetter);
  if (parent !== ROOT_CONTEXT || rootRatio === undefined) return parent;
  return Math.random() < rootRatio ? PRESAMPLED_ROOT : undefined;
}

/** Starts the SERVER span of one MCP request under `parent`. */
export function startServerSpan(name: string, parent: TraceContext): Span {
  return tracer.startSpan(name, { kind: SpanKind.SERVER }, parent);
}

/** Marks `span` failed with `errorType` (the OpenTelemetry `error.type` attribute). */
export function failSpan(span: Span, errorType: string, message?: string): void {
  span.setAttribute('error.type', errorType);
  span.setStatus(message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message });
}

/**
 * Trace contexts of the requests being handled, found by the request's headers object (the one
 * handlers see as `ctx.headers`). Propagation is explicit rather than through the active
 * context: entering a context (`context.with`) turns on Node's async hooks for the whole process
 * from then on, which cost about 10 µs per tools/call in bench/observability-overhead.mjs.
 */
const byHeaders = new WeakMap<object, TraceContext>();

/**
 * Sessions with a sampled request in flight, for the publishes made for it: the hub publishes
 * on the session's channel (`{session}` or `{session}.{stream}`). Only sampled requests are
 * registered, so at a low sampling rate this is almost always empty and costs one size check.
 */
const bySession = new Map<string, TraceContext>();

/** Records `ctx` as the trace context of the request whose headers object is `headers`. */
export function setRequestContext(headers: object, ctx: TraceContext): void {
  byHeaders.set(headers, ctx);
}

/** The trace context of the request whose handler was given `headers` (`ctx.headers`), if traced. */
export function requestContext(headers: object | undefined): TraceContext | undefined {
  return headers === undefined ? undefined : byHeaders.get(headers);
}

/**
 * Makes publishes on `session`'s channels children of `ctx` until {@link endSessionTrace}.
 * When requests of one session overlap, publishes go under the sampled one: the hub does not say
 * which request a publish is for.
 */
export function beginSessionTrace(session: string, ctx: TraceContext): void {
  bySession.set(session, ctx);
}

export function endSessionTrace(session: string, ctx: TraceContext): void {
  if (bySession.get(session) === ctx) bySession.delete(session);
}

/** The trace context publishes on `channel` belong to, if a sampled request of its session runs. */
export function channelContext(channel: string): TraceContext | undefined {
  if (bySession.size === 0) return undefined;
  // A session's own channel is its id; a request stream's is `{session}.{stream}`.
  return bySession.get(channel) ?? bySession.get(channel.slice(0, channel.lastIndexOf('.')));
}

/**
 * Runs `work` in a CLIENT span that is a child of `parent` (default: the active context, for
 * programs that run handlers in a context of their own) when that has a recording span (a
 * sampled request); otherwise runs it as is, so unsampled and untraced calls pay nothing.
 * `headers`, when given, receive the trace context (`traceparent`) for the callee, sampled or not.
 */
export async function withClientSpan<T>(
  name: string,
  attributes: Attributes,
  work: () => Promise<T>,
  headers?: Record<string, string>,
  parent: TraceContext = context.active(),
): Promise<T> {
  const parentSpan = trace.getSpan(parent);
  if (!parentSpan?.isRecording()) {
    if (headers && parentSpan) propagation.inject(parent, headers);
    return work();
  }
  const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
  if (headers) propagation.inject(trace.setSpan(parent, span), headers);
  try {
    return await work();
  } catch (error) {
    failSpan(span, (error as Error)?.name ?? 'Error', (error as Error)?.message);
    throw error;
  } finally {
    span.end();
  }
}

export { context, ROOT_CONTEXT, trace, type Span, type TraceContext };
