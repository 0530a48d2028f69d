import { ROOT_CONTEXT, type Attributes, type Context, type ContextManager, type Link, type SpanKind } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ParentBasedSampler, SamplingDecision, TraceIdRatioBasedSampler, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base';
import { workerExporterFromEnv, type ExportProblemReporter } from './otlp-worker-exporter.js';
import { startTraceProvider, traceProviderCovers } from './trace-provider.js';
import { isPresampled, sampleRootsAt } from './tracing.js';

/**
 * Starts OpenTelemetry tracing, configured by the standard `OTEL_*` variables (exporter,
 * endpoint, protocol, headers, sampler, resource, propagators). Only the CLI calls this; a program
 * that uses httmcp as a library starts its own SDK. Metrics stay on Prometheus (`/metrics`) and
 * logs on pino: unless the environment says otherwise, OpenTelemetry's metric and log exporters
 * are off.
 *
 * httmcp hands trace context on explicitly (tracing.ts), so by default the SDK gets a
 * synchronous context manager: the SDK's usual AsyncLocalStorage one turns on Node's async hooks
 * for the whole process at the first span export, which cost the backend about as much per
 * tools/call as the rest of tracing together (bench/README.md, "Observability overhead").
 * `HTTMCP_OTEL_ASYNC_CONTEXT=on` brings it back, for served modules that propagate contexts of
 * their own (the request's span is never made active either way).
 *
 * An OTLP exporter over HTTP (the default) sends from a worker thread (otlp-worker-exporter.ts):
 * the main thread only serializes the batches, so the server's stream and HTTP code never shares
 * its type feedback with an HTTP client. `HTTMCP_OTEL_EXPORT_THREAD=off` keeps the SDK's own
 * exporter in the main thread. With that exporter and the default propagators and resource, a
 * tracer provider of its own registers it (trace-provider.ts); any other setting is the NodeSDK's,
 * loaded only then.
 * @param report told when the export worker dies (the CLI's logger).
 * @returns how to flush and stop it.
 */
export async function startTracing(env: NodeJS.ProcessEnv = process.env, report?: ExportProblemReporter): Promise<() => Promise<void>> {
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  env.OTEL_SERVICE_NAME ??= 'httmcp';
  const asyncContext = env.HTTMCP_OTEL_ASYNC_CONTEXT === 'on' || env.HTTMCP_OTEL_ASYNC_CONTEXT === '1';
  const contextManager = asyncContext ? new AsyncLocalStorageContextManager() : new SyncContextManager();
  const ratio = ratioSamplerFromEnv(env);
  const traceExporter = traceProviderCovers(env) ? workerExporterFromEnv(env, report) : undefined;
  const stop = traceExporter ? startTraceProvider(traceExporter, contextManager, ratio?.sampler, env) : await startNodeSdk(contextManager, ratio?.sampler, env, report);
  sampleRootsAt(ratio?.ratio);
  return async () => {
    sampleRootsAt(undefined);
    await stop();
  };
}

/** The NodeSDK, for the settings trace-provider.ts leaves to it (gRPC, zipkin, console, B3, SDK metrics...). */
async function startNodeSdk(contextManager: ContextManager, sampler: Sampler | undefined, env: NodeJS.ProcessEnv, report?: ExportProblemReporter): Promise<() => Promise<void>> {
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const traceExporter = workerExporterFromEnv(env, report);
  const sdk = new NodeSDK({
    instrumentations: [],
    // Given an exporter, the SDK wraps it in the BatchSpanProcessor OTEL_BSP_* configures, as its own.
    ...(traceExporter ? { traceExporter } : {}),
    contextManager,
    ...(sampler ? { sampler } : {}),
  });
  sdk.start();
  return () => sdk.shutdown();
}

/**
 * For the trace-id-ratio samplers (`OTEL_TRACES_SAMPLER=traceidratio` or
 * `parentbased_traceidratio`, ratio `OTEL_TRACES_SAMPLER_ARG`, default 1 as in the SDK), the
 * same sampler the SDK would build, wrapped so that root spans httmcp sampled itself are kept
 * (tracing.ts, `sampleRootsAt`); other samplers are left to the SDK (undefined).
 */
export function ratioSamplerFromEnv(env: NodeJS.ProcessEnv = process.env): { sampler: Sampler; ratio: number } | undefined {
  const name = env.OTEL_TRACES_SAMPLER?.trim();
  if (name !== 'traceidratio' && name !== 'parentbased_traceidratio') return undefined;
  const raw = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const arg = raw === undefined || raw === '' ? NaN : Number(raw);
  // Out of range or missing: 1, like the SDK (which logs the mistake through diag).
  const ratio = Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
  const root = new TraceIdRatioBasedSampler(ratio);
  return { ratio, sampler: new PresampledRootSampler(name === 'traceidratio' ? root : new ParentBasedSampler({ root })) };
}

/** `inner`, except that spans in a context httmcp presampled are recorded and sampled. */
class PresampledRootSampler implements Sampler {
  constructor(private readonly inner: Sampler) {}

  shouldSample(ctx: Context, traceId: string, name: string, kind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
    if (isPresampled(ctx)) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    return this.inner.shouldSample(ctx, traceId, name, kind, attributes, links);
  }

  toString(): string {
    return `HttmcpPresampledRoot{${this.inner.toString()}}`;
  }
}

/** The active context for the duration of a synchronous call only (no async propagation). */
export class SyncContextManager implements ContextManager {
  private current: Context = ROOT_CONTEXT;

  active(): Context {
    return this.current;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    const previous = this.current;
    this.current = context;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.current = previous;
    }
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const manager = this;
    return function (this: unknown, ...args: unknown[]) {
      return manager.with(context, () => (target as (...a: unknown[]) => unknown).apply(this, args));
    } as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.current = ROOT_CONTEXT;
    return this;
  }
}
