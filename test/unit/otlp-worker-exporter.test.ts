/**
 * The OTLP export worker (src/observability/otlp-worker-exporter.ts): spans made in this thread
 * reach a real in-process OTLP receiver through the worker thread, over both HTTP protocols, with
 * the standard OTEL_EXPORTER_OTLP_* settings; forceFlush and shutdown deliver what is buffered; a
 * dead receiver fails the export (reported to the processor) and nothing else.
 */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { freePort } from '../../src/stack/stack.js';
import { WorkerSpanExporter, workerExporterFromEnv } from '../../src/observability/otlp-worker-exporter.js';

interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let receiver: Server;
let endpoint: string;
const received: Received[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      const json = req.headers['content-type'] === 'application/json';
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

beforeEach(() => {
  received.length = 0;
});

/** A tracer provider whose batch processor exports only when flushed (a long schedule delay). */
function providerWith(exporter: WorkerSpanExporter): BasicTracerProvider {
  return new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 600_000 })] });
}

function makeSpans(provider: BasicTracerProvider, names: string[]): string[] {
  const tracer = provider.getTracer('test');
  return names.map((name) => {
    const span = tracer.startSpan(name, { attributes: { 'mcp.tool': name } });
    span.end();
    return span.spanContext().traceId;
  });
}

test('http/protobuf: forceFlush delivers the spans through the worker, with the OTLP headers of the environment', async () => {
  const exporter = new WorkerSpanExporter({
    protocol: 'http/protobuf',
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=blue' },
  });
  const provider = providerWith(exporter);
  try {
    const traceIds = makeSpans(provider, ['tools/call add', 'tools/call shout']);
    expect(received).toHaveLength(0);
    await provider.forceFlush();
    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request!.url).toBe('/v1/traces');
    expect(request!.headers['content-type']).toBe('application/x-protobuf');
    expect(request!.headers['x-tenant']).toBe('blue');
    // Protobuf carries names as UTF-8 and trace ids as their 16 raw bytes.
    expect(request!.body.includes('tools/call add')).toBe(true);
    expect(request!.body.includes('tools/call shout')).toBe(true);
    for (const traceId of traceIds) expect(request!.body.includes(Buffer.from(traceId, 'hex'))).toBe(true);
  } finally {
    await provider.shutdown();
  }
});

test('http/json: shutdown delivers what is buffered, to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', async () => {
  const exporter = new WorkerSpanExporter({ protocol: 'http/json', env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/custom/traces` } });
  const provider = providerWith(exporter);
  const traceIds = makeSpans(provider, ['tools/call one', 'tools/call two', 'tools/call three']);
  await provider.shutdown();
  expect(received.map((r) => r.url)).toEqual(['/custom/traces']);
  expect(received[0]!.headers['content-type']).toBe('application/json');
  const body = JSON.parse(received[0]!.body.toString()) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ traceId: string; name: string }> }> }> };
  const spans = body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
  expect(spans.map((s) => s.name).sort()).toEqual(['tools/call one', 'tools/call three', 'tools/call two']);
  expect(spans.map((s) => s.traceId.toLowerCase()).sort()).toEqual([...traceIds].sort());
  // After shutdown, an export fails at once instead of starting a worker again.
  const late = await new Promise<ExportResult>((resolve) => exporter.export([], resolve));
  expect(late.code).toBe(ExportResultCode.FAILED);
});

test('a dead receiver: each export reports FAILED after the timeout, and later exports are still answered', async () => {
  const dead = await freePort();
  const exporter = new WorkerSpanExporter({ protocol: 'http/protobuf', env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${dead}`, OTEL_EXPORTER_OTLP_TIMEOUT: '500' } });
  const provider = providerWith(exporter);
  try {
    const span = provider.getTracer('test').startSpan('tools/call lost');
    span.end();
    const exportOnce = () => new Promise<ExportResult>((resolve) => exporter.export([span as unknown as ReadableSpan], resolve));
    expect((await exportOnce()).code).toBe(ExportResultCode.FAILED);
    expect((await exportOnce()).code).toBe(ExportResultCode.FAILED);
    // The processor's own flush hears the failure as it would from the SDK's in-thread exporter.
    await expect(provider.forceFlush()).rejects.toEqual([expect.objectContaining({ message: expect.stringContaining('ECONNREFUSED') })]);
  } finally {
    await provider.shutdown().catch(() => undefined);
  }
}, 20_000);

test('a worker that dies fails the exports it held, is reported, replaced, and given up on after its respawns', async () => {
  const reports: string[] = [];
  // A heap too small to load the exporter: the worker dies as it starts, every time.
  const exporter = new WorkerSpanExporter({
    protocol: 'http/json',
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint },
    respawns: 1,
    report: (message) => reports.push(message),
    resourceLimits: { maxOldGenerationSizeMb: 3, maxYoungGenerationSizeMb: 1 },
  });
  const exportOnce = () => new Promise<ExportResult>((resolve) => exporter.export([], resolve));
  const first = await exportOnce();
  expect(first.code).toBe(ExportResultCode.FAILED);
  expect(first.error?.message).toMatch(/worker died/);
  expect(reports).toEqual([expect.stringMatching(/a new one starts/)]);
  expect((await exportOnce()).code).toBe(ExportResultCode.FAILED); // the respawned one dies too
  expect(reports).toEqual([expect.stringMatching(/a new one starts/), expect.stringMatching(/export is off/)]);
  const off = await exportOnce();
  expect(off.error?.message).toMatch(/off after repeated crashes/);
  expect(reports).toHaveLength(2);
  await exporter.forceFlush();
  await exporter.shutdown();
});

describe('workerExporterFromEnv', () => {
  test('an OTLP exporter over HTTP goes to the worker unless HTTMCP_OTEL_EXPORT_THREAD=off', async () => {
    for (const env of [
      { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint },
      { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
      { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' },
    ]) {
      const exporter = workerExporterFromEnv(env);
      expect(exporter).toBeInstanceOf(WorkerSpanExporter);
      await exporter!.shutdown();
    }
    expect(workerExporterFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, HTTMCP_OTEL_EXPORT_THREAD: 'off' })).toBeUndefined();
    expect(workerExporterFromEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toBeUndefined();
    expect(workerExporterFromEnv({ OTEL_TRACES_EXPORTER: 'console' })).toBeUndefined();
    expect(workerExporterFromEnv({ OTEL_TRACES_EXPORTER: 'otlp,zipkin' })).toBeUndefined();
  });
});

/** Runs `script` (an ES module in the checkout's root) in a node with V8's protector tracing on; resolves with its output. */
function nodeTracingProtectors(script: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const file = join(root, `.protectors-${process.pid}-${Date.now()}.mjs`);
  writeFileSync(file, script);
  const child = spawn(process.execPath, ['--trace-protector-invalidation', file], { cwd: root, env: { ...process.env, ...env } });
  child.on('close', () => rmSync(file, { force: true }));
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk));
  return new Promise((resolve) => child.on('close', () => resolve(out)));
}

test("an export never detaches an ArrayBuffer: the first detach in a process deoptimizes every function that reads a Buffer (V8's ArrayBufferDetaching protector)", async () => {
  // The built exporter (npm test builds first), so that the child runs plain node.
  const exported = await nodeTracingProtectors(
    `import { WorkerSpanExporter } from './dist/src/observability/otlp-worker-exporter.js';
     import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
     const exporter = new WorkerSpanExporter({ protocol: 'http/protobuf' });
     const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] });
     for (let i = 0; i < 20; i++) provider.getTracer('t').startSpan('s' + i).end();
     await provider.forceFlush();
     await provider.shutdown();
     console.log('exported');`,
    { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint },
  );
  expect(exported).toContain('exported');
  expect(exported).not.toContain('ArrayBufferDetaching');
  expect(received.map((r) => r.url)).toEqual(['/v1/traces']);
  // The instrument works: a transfer (what the exporter did before) is reported.
  const transferred = await nodeTracingProtectors('const b = new ArrayBuffer(8); structuredClone(b, { transfer: [b] });');
  expect(transferred).toContain('Invalidating protector cell ArrayBufferDetaching');
}, 30_000);
