import { NodeSDK } from '@opentelemetry/sdk-node';

/**
 * Starts the OpenTelemetry Node SDK for traces, configured by the standard `OTEL_*` variables
 * (exporter, endpoint, protocol, headers, sampler, resource). Only the CLI calls this; a program
 * that uses httmcp as a library starts its own SDK. Metrics stay on Prometheus (`/metrics`) and
 * logs on pino: unless the environment says otherwise, the SDK's metric and log exporters are off.
 * @returns how to flush and stop it.
 */
export function startTracing(env: NodeJS.ProcessEnv = process.env): () => Promise<void> {
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  env.OTEL_SERVICE_NAME ??= 'httmcp';
  const sdk = new NodeSDK({ instrumentations: [] });
  sdk.start();
  return () => sdk.shutdown();
}
