import { context, diag, DiagConsoleLogger, propagation, trace, type ContextManager } from '@opentelemetry/api';
import { CompositePropagator, diagLogLevelFromString, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultResource, detectResources, envDetector, hostDetector, processDetector } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type Sampler, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { envList } from './otel-env.js';

/**
 * Whether {@link startTraceProvider} sets up what the NodeSDK would for `env`: the default
 * propagators (W3C trace context and baggage) and resource detectors (env, process, host), and
 * no OpenTelemetry metrics or logs. Anything else (`OTEL_PROPAGATORS=b3`,
 * `OTEL_NODE_RESOURCE_DETECTORS`, `OTEL_METRICS_EXPORTER=otlp`...) is left to the NodeSDK.
 */
export function traceProviderCovers(env: NodeJS.ProcessEnv): boolean {
  const propagators = envList(env.OTEL_PROPAGATORS);
  const defaultPropagators = propagators.length === 0 || (propagators.length === 2 && propagators.includes('tracecontext') && propagators.includes('baggage'));
  const off = (value: string | undefined) => envList(value).every((name) => name === 'none');
  return defaultPropagators && envList(env.OTEL_NODE_RESOURCE_DETECTORS).length === 0 && off(env.OTEL_METRICS_EXPORTER) && off(env.OTEL_LOGS_EXPORTER);
}

/**
 * Registers a tracer provider that sends every span to `exporter` through the batch processor
 * (`OTEL_BSP_*`), with the sampler given or the one `OTEL_TRACES_SAMPLER` names, span limits
 * from `OTEL_*_LIMIT`, the resource the NodeSDK detects by default (`OTEL_SERVICE_NAME`,
 * `OTEL_RESOURCE_ATTRIBUTES`, process and host), the W3C propagators and `contextManager`.
 *
 * Why not the NodeSDK for this: it loads every exporter, the metrics and logs SDKs and gRPC
 * whether they are used or not, about 4 MB more heap that the backend's garbage collector marks
 * at every full collection (bench/README.md, "leansdk"). Only for the setting
 * {@link traceProviderCovers} accepts; the NodeSDK stays for every other.
 * @returns how to flush and stop it.
 */
export function startTraceProvider(exporter: SpanExporter, contextManager: ContextManager, sampler: Sampler | undefined, env: NodeJS.ProcessEnv): () => Promise<void> {
  const level = env.OTEL_LOG_LEVEL;
  if (level) diag.setLogger(new DiagConsoleLogger(), { logLevel: diagLogLevelFromString(level) });
  const provider = new BasicTracerProvider({
    resource: defaultResource().merge(detectResources({ detectors: [envDetector, processDetector, hostDetector] })),
    spanProcessors: [new BatchSpanProcessor(exporter)],
    ...(sampler ? { sampler } : {}),
  });
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(provider);
  return () => provider.shutdown();
}
