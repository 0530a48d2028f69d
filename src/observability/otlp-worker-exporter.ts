import { createRequire } from 'node:module';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { envList } from './otel-env.js';

/**
 * OTLP over HTTP from a worker thread. The main thread serializes each batch of spans with the
 * OpenTelemetry serializer of the configured protocol and copies the bytes to a worker, which
 * sends them with the OTLP exporter's own machinery (endpoint, headers, timeout, compression and
 * retries from the same standard `OTEL_EXPORTER_OTLP_*` variables). Why: the in-thread
 * exporter's node:http client runs through the same stream and HTTP functions the server's hot
 * path runs, makes them polymorphic and deoptimizes them after the first export
 * (bench/README.md, "obslayer" and "otelworker"); in a worker, the client runs in its own isolate.
 */

/** The OTLP protocols this exporter carries: the two over HTTP (gRPC stays in the main thread). */
export type OtlpHttpProtocol = 'http/protobuf' | 'http/json';

/** Something to tell the operator once (the CLI passes its logger's `warn`). */
export type ExportProblemReporter = (message: string, error?: unknown) => void;

/** Options of {@link WorkerSpanExporter}. */
export interface WorkerSpanExporterOptions {
  protocol: OtlpHttpProtocol;
  /** The worker's `process.env`, where the exporter reads `OTEL_EXPORTER_OTLP_*` (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Told about a worker that died (once per death) and about giving up on it. */
  report?: ExportProblemReporter;
  /** Workers started after a crash before the exporter stays off (default 3). */
  respawns?: number;
  /** The worker's heap limits (default: Node's); a worker over them dies like any crashed one. */
  resourceLimits?: ResourceLimits;
}

/** What the main thread asks the worker. */
type Request = { op: 'export'; id: number; bytes: Uint8Array; count: number } | { op: 'flush' | 'shutdown'; id: number };
/** What the worker answers: the request's id, and for an export its result. */
interface Reply {
  id: number;
  code?: ExportResultCode;
  error?: string;
}

/**
 * A SpanExporter (give it to a BatchSpanProcessor, as NodeSDK does with `traceExporter`) whose
 * network half runs in a worker thread. Every export's callback is called once the worker says
 * how it went; `forceFlush` and `shutdown` resolve once the worker has sent what it holds. A
 * worker that dies fails the exports it held (their spans are dropped), is reported, and is
 * replaced at the next export, up to `respawns` times; then the exporter stays off. The worker
 * starts with the exporter and does not keep the process alive unless it holds an export.
 */
export class WorkerSpanExporter implements SpanExporter {
  private readonly serializer;
  private readonly contentType: string;
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, (reply: Reply) => void>();
  private nextId = 1;
  private respawnsLeft: number;
  private stopped = false;

  constructor(private readonly options: WorkerSpanExporterOptions) {
    const json = options.protocol === 'http/json';
    this.serializer = json ? JsonTraceSerializer : ProtobufTraceSerializer;
    this.contentType = json ? 'application/json' : 'application/x-protobuf';
    this.respawnsLeft = options.respawns ?? 3;
    // Started now, not at the first export: making a Worker (its MessagePort, its stdio streams)
    // deoptimizes some of node's stream and event code; at start-up that code is not hot yet.
    this.workerToUse();
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.stopped) return resultCallback({ code: ExportResultCode.FAILED, error: new Error('the span exporter is shut down') });
    let bytes: Uint8Array | undefined;
    try {
      bytes = this.serializer.serializeRequest(spans);
    } catch (error) {
      return resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
    }
    if (bytes === undefined) return resultCallback({ code: ExportResultCode.FAILED, error: new Error('the spans could not be serialized') });
    // Copied to the worker, never transferred: transferring detaches the buffer, and the first
    // ArrayBuffer ever detached in a process invalidates V8's "no detached buffers" protector,
    // which deoptimizes at once every optimized function that reads a Buffer or typed array (the
    // server's stream and HTTP code among them), all to be compiled again under load
    // (bench/README.md, "leansdk and detach").
    const sent = this.ask({ op: 'export', id: 0, bytes, count: spans.length });
    void sent.then((reply) =>
      resultCallback(reply.code === ExportResultCode.SUCCESS ? { code: ExportResultCode.SUCCESS } : { code: ExportResultCode.FAILED, error: new Error(reply.error ?? 'the export failed') }),
    );
  }

  async forceFlush(): Promise<void> {
    if (this.stopped || this.worker === undefined) return;
    await this.ask({ op: 'flush', id: 0 });
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const worker = this.worker;
    if (worker === undefined) return;
    await this.ask({ op: 'shutdown', id: 0 }, worker);
    this.worker = undefined;
    await worker.terminate();
  }

  /** Posts `request` to the worker (started if needed); resolves with its reply, or a failure if it dies. */
  private ask(request: Request, worker = this.workerToUse()): Promise<Reply> {
    if (worker === undefined) return Promise.resolve({ id: 0, code: ExportResultCode.FAILED, error: 'the export worker is off after repeated crashes' });
    const id = this.nextId++;
    return new Promise<Reply>((resolve) => {
      this.waiting.set(id, resolve);
      // Keep the process alive while the worker holds something of ours (an exit flushes).
      if (this.waiting.size === 1) worker.ref();
      worker.postMessage({ ...request, id });
    });
  }

  private settle(reply: Reply): void {
    const resolve = this.waiting.get(reply.id);
    if (resolve === undefined) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker?.unref();
    resolve(reply);
  }

  private workerToUse(): Worker | undefined {
    if (this.worker !== undefined) return this.worker;
    if (this.respawnsLeft < 0) return undefined;
    const worker = startWorker(this.contentType, this.options.env, this.options.resourceLimits);
    worker.on('message', (reply: Reply) => this.settle(reply));
    worker.on('error', (error) => this.died(worker, error));
    worker.on('exit', (code) => this.died(worker, new Error(`the OTLP export worker exited with code ${code}`)));
    // After the listeners: listening for messages refs the worker again.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /** The worker is gone: what it held is dropped (its callers hear FAILED), the next export starts another. */
  private died(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    for (const [id] of this.waiting) this.settle({ id, code: ExportResultCode.FAILED, error: `the OTLP export worker died: ${error.message}` });
    if (this.stopped) return;
    this.respawnsLeft--;
    const report = this.options.report ?? (() => undefined);
    report(this.respawnsLeft < 0 ? 'the OTLP export worker died again: span export is off' : 'the OTLP export worker died; its spans are dropped and a new one starts at the next export', error);
  }
}

/**
 * The worker: a CommonJS script run with `eval`, so that it works from the built package and
 * under a test runner alike (like the OpenAPI loader's). It builds the OTLP HTTP export delegate
 * as `@opentelemetry/exporter-trace-otlp-{proto,http}` do, with a serializer that passes the main
 * thread's bytes on, and answers each request by its id.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { OTLPExporterBase } = require(workerData.base);
const { createOtlpHttpExportDelegate, convertLegacyHttpOptions } = require(workerData.nodeHttp);
const { ProtobufTraceSerializer, JsonTraceSerializer } = require(workerData.transformer);
const json = workerData.contentType === 'application/json';
const responses = json ? JsonTraceSerializer : ProtobufTraceSerializer;
const passOn = { serializeRequest: (request) => request.bytes, deserializeResponse: (data) => responses.deserializeResponse(data) };
const exporter = new OTLPExporterBase(createOtlpHttpExportDelegate(
  convertLegacyHttpOptions({}, 'TRACES', 'v1/traces', { 'Content-Type': workerData.contentType }),
  passOn,
  'otlp_http_span_exporter',
  { name: 'span', countItems: (request) => request.count },
  undefined,
));
const failed = (error) => (error && error.message ? String(error.message) : String(error));
parentPort.on('message', (request) => {
  if (request.op === 'export') {
    exporter.export({ bytes: request.bytes, count: request.count }, (result) =>
      parentPort.postMessage({ id: request.id, code: result.code, error: result.error ? failed(result.error) : undefined }));
  } else {
    const done = request.op === 'flush' ? exporter.forceFlush() : exporter.shutdown();
    done.then(() => parentPort.postMessage({ id: request.id }), (error) => parentPort.postMessage({ id: request.id, error: failed(error) }));
  }
});
`;

function startWorker(contentType: string, env: NodeJS.ProcessEnv | undefined, resourceLimits: ResourceLimits | undefined): Worker {
  const require = createRequire(import.meta.url);
  return new Worker(WORKER_SOURCE, {
    eval: true,
    name: 'httmcp-otlp-export',
    ...(env === undefined ? {} : { env: { ...env } }),
    ...(resourceLimits === undefined ? {} : { resourceLimits }),
    workerData: {
      contentType,
      base: require.resolve('@opentelemetry/otlp-exporter-base'),
      nodeHttp: require.resolve('@opentelemetry/otlp-exporter-base/node-http'),
      transformer: require.resolve('@opentelemetry/otlp-transformer'),
    },
  });
}

/**
 * The worker exporter the standard environment asks for, or `undefined` when it asks for
 * something else (gRPC, zipkin, console, several exporters) or `HTTMCP_OTEL_EXPORT_THREAD=off`:
 * then the SDK builds its own exporters in the main thread, as before.
 */
export function workerExporterFromEnv(env: NodeJS.ProcessEnv, report?: ExportProblemReporter): WorkerSpanExporter | undefined {
  const setting = env.HTTMCP_OTEL_EXPORT_THREAD?.trim().toLowerCase();
  if (setting === 'off' || setting === '0' || setting === 'false') return undefined;
  const exporters = envList(env.OTEL_TRACES_EXPORTER).filter((name) => name !== 'null');
  if (exporters.length > 0 && !(exporters.length === 1 && exporters[0] === 'otlp')) return undefined;
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim() || env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim() || 'http/protobuf') as string;
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') return undefined;
  return new WorkerSpanExporter({ protocol, env, ...(report ? { report } : {}) });
}
