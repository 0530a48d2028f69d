/**
 * Metrics and traces of one stack (real nginx+nchan, official SDK clients): the span tree of a
 * call linked to the client's W3C trace context on each way it can arrive (Streamable HTTP
 * header, WebSocket handshake header carried by nchan's upstream hop, `_meta.traceparent`), the
 * OpenAPI upstream call as a child that passes the context on, publishes as children, the
 * Prometheus text a scraper on the host reads, and request-scoped log lines.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { pino } from 'pino';
import { z } from 'zod';
import { createExampleServers } from '../../examples/index.js';
import { HTTMCP, type Stack } from '../../src/index.js';
import { freePort } from '../../src/stack/stack.js';
import { listenForMetrics } from '../../src/observability/metrics-listener.js';
import { OpenAPIMCP } from '../../src/openapi/index.js';
import { shopSpec } from '../fixtures/openapi/shop.js';
import { StandIn } from '../fixtures/openapi/stand-in.js';
import { startCli } from '../helpers/cli.js';
import { WsClient } from '../helpers/raw-clients.js';
import { startTestStack } from '../helpers/stack.js';
import { envelope, MODERN, replyOf } from '../helpers/era-2026.js';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const logLines: Array<Record<string, unknown>> = [];

let stack: Stack;
let api: StandIn;
let metricsServer: Server;
let metricsUrl: string;

/** A W3C traceparent of a fresh client-side span. */
function clientTrace(): { traceId: string; spanId: string; traceparent: string } {
  const hex = (n: number) => [...crypto.getRandomValues(new Uint8Array(n))].map((b) => b.toString(16).padStart(2, '0')).join('');
  const traceId = hex(16);
  const spanId = hex(8);
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

async function spansOf(traceId: string, until: (spans: ReadableSpan[]) => boolean): Promise<ReadableSpan[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    if (until(spans)) return spans;
    if (Date.now() > deadline) throw new Error(`spans of ${traceId}: ${JSON.stringify(spans.map((s) => s.name))}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

async function streamableClient(url: string, headers: Record<string, string>): Promise<Client> {
  const client = new Client({ name: 'otel-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

async function scrape(): Promise<string> {
  const response = await fetch(metricsUrl);
  expect(response.status).toBe(200);
  return response.text();
}

beforeAll(async () => {
  provider.register(); // global tracer provider, AsyncLocalStorage context, W3C propagator
  api = await StandIn.start();
  const shop = await OpenAPIMCP.create(shopSpec(), { serverVariables: { port: String(api.port) }, validate: 'off', env: {}, auth: { key: 'k' } });
  const logs = new HTTMCP({ name: 'logs', version: '1.0.0' }).tool('shout', { input: { text: z.string() } }, ({ text }, ctx) => {
    ctx.logger.info({ text }, 'shouting');
    return text.toUpperCase();
  });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  stack = await startTestStack({ servers: [...createExampleServers(), shop, logs], logger: pino({ level: 'info' }, sink) });
  metricsServer = await listenForMetrics(stack.gateway.metrics, 0);
  metricsUrl = `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics`;
}, 60_000);

afterAll(async () => {
  metricsServer?.close();
  await stack?.stop();
  await api?.close();
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

test('a Streamable HTTP call: its span is the child of the traceparent header, its publishes children of it', async () => {
  const { traceId, spanId, traceparent } = clientTrace();
  const client = await streamableClient(stack.servers.demo!, { traceparent });
  try {
    // Longer than the inline budget and with progress: the progress and the reply are published.
    const result = await client.callTool({ name: 'long_task', arguments: { steps: 2, stepMs: 80 } }, undefined, { onprogress: () => undefined });
    expect(result.content).toEqual([{ type: 'text', text: 'finished 2 steps' }]);
  } finally {
    await client.close();
  }
  const spans = await spansOf(traceId, (s) => s.some((span) => span.name === 'tools/call long_task'));
  const call = spans.find((s) => s.name === 'tools/call long_task')!;
  expect(call.kind).toBe(SpanKind.SERVER);
  expect(parentOf(call)).toBe(spanId);
  expect(call.attributes).toMatchObject({
    'mcp.method.name': 'tools/call',
    'gen_ai.tool.name': 'long_task',
    'gen_ai.operation.name': 'execute_tool',
    'httmcp.server': 'demo',
    'mcp.protocol.version': expect.any(String),
    'mcp.session.id': expect.any(String),
  });
  const publishes = spans.filter((s) => s.name === 'nchan publish');
  expect(publishes.length).toBeGreaterThanOrEqual(2); // two progress notifications, then the reply
  for (const publish of publishes) {
    expect(publish.kind).toBe(SpanKind.CLIENT);
    expect(parentOf(publish)).toBe(call.spanContext().spanId);
  }
  // The initialize of that client carried the same header: its span is in the trace too.
  expect(spans.some((s) => s.name === 'initialize' && parentOf(s) === spanId)).toBe(true);
});

test("a WebSocket message: nchan's upstream hop carries the handshake's traceparent to the backend", async () => {
  const { traceId, spanId, traceparent } = clientTrace();
  const ws = await WsClient.open(stack.servers.demo!, { headers: { traceparent } });
  try {
    await ws.initialize();
    expect(await ws.request(7, 'tools/call', { name: 'add', arguments: { a: 2, b: 3 } })).toMatchObject({ id: 7, result: { content: [{ text: '5' }] } });
  } finally {
    ws.close();
  }
  const spans = await spansOf(traceId, (s) => s.some((span) => span.name === 'tools/call add'));
  const call = spans.find((s) => s.name === 'tools/call add')!;
  expect(parentOf(call)).toBe(spanId);
  expect(call.attributes['httmcp.transport']).toBe('websocket');
});

test('a 2026-07-28 request: its span is the child of its traceparent header', async () => {
  const { traceId, spanId, traceparent } = clientTrace();
  const response = await fetch(stack.servers.demo!, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'add', traceparent },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add', arguments: { a: 2, b: 2 }, _meta: envelope() } }),
  });
  expect(await replyOf(response, 1)).toMatchObject({ status: 200, result: { content: [{ text: '4' }] } });
  const spans = await spansOf(traceId, (s) => s.some((span) => span.name === 'tools/call add'));
  expect(parentOf(spans.find((s) => s.name === 'tools/call add')!)).toBe(spanId);
});

test('_meta.traceparent (SEP-414) names the request, over the connection header', async () => {
  const connection = clientTrace();
  const request = clientTrace();
  const client = await streamableClient(stack.servers.demo!, { traceparent: connection.traceparent });
  try {
    await client.callTool({ name: 'add', arguments: { a: 1, b: 1 }, _meta: { traceparent: request.traceparent } });
  } finally {
    await client.close();
  }
  const spans = await spansOf(request.traceId, (s) => s.some((span) => span.name === 'tools/call add'));
  expect(parentOf(spans.find((s) => s.name === 'tools/call add')!)).toBe(request.spanId);
  const underConnection = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === connection.traceId);
  expect(underConnection.some((s) => s.name === 'tools/call add')).toBe(false);
});

test('an OpenAPI call: the upstream request is a CLIENT child span and the API receives its traceparent', async () => {
  const { traceId, traceparent } = clientTrace();
  api.reset(() => ({ status: 200, body: [{ id: 1, name: 'Rex', tag: null }] }));
  const client = await streamableClient(stack.servers['test-shop']!, { traceparent });
  try {
    await client.callTool({ name: 'listPets', arguments: { limit: 1 } });
  } finally {
    await client.close();
  }
  const spans = await spansOf(traceId, (s) => s.some((span) => span.name === 'tools/call listPets') && s.some((span) => span.name === 'GET'));
  const call = spans.find((s) => s.name === 'tools/call listPets')!;
  const upstream = spans.find((s) => s.name === 'GET')!;
  expect(upstream.kind).toBe(SpanKind.CLIENT);
  expect(parentOf(upstream)).toBe(call.spanContext().spanId);
  expect(upstream.attributes['url.full']).toContain('/pets?limit=1');
  const sent = api.only().headers.traceparent;
  expect(sent).toBe(`00-${traceId}-${upstream.spanContext().spanId}-01`);
});

test('/metrics on the loopback listener: per-tool series, bounded labels, publish, nchan and process figures', async () => {
  const client = await streamableClient(stack.servers.demo!, {});
  try {
    await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
    await client.callTool({ name: 'divide', arguments: { dividend: 1, divisor: 0 } }); // invalid arguments: a tool error
    // A name the server does not have must not become a label value.
    await client.callTool({ name: 'no_such_tool_4711', arguments: {} }).catch(() => undefined);
  } finally {
    await client.close();
  }
  const text = await scrape();
  const value = (series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
  expect(value('httmcp_tool_calls_total{server="demo",tool="add",outcome="ok"}')).toBeGreaterThanOrEqual(1);
  expect(value('httmcp_tool_calls_total{server="demo",tool="divide",outcome="tool_error"}')).toBeGreaterThanOrEqual(1);
  expect(value('httmcp_tool_errors_total{server="demo",tool="divide"}')).toBeGreaterThanOrEqual(1);
  expect(text).not.toContain('no_such_tool_4711');
  expect(text).toMatch(/^httmcp_tool_calls_total\{server="demo",tool="_unknown",outcome="(error|tool_error)"\} \d+$/m);
  expect(value('httmcp_tool_call_duration_seconds_count{server="demo",tool="add",outcome="ok"}')).toBeGreaterThanOrEqual(1);
  expect(text).toMatch(/^httmcp_tool_calls_in_flight\{server="demo",tool="add"\} 0$/m);
  // The figures the hand-written text had, with the same names and meanings.
  expect(value('httmcp_publish_total')).toBeGreaterThan(0); // the long_task and WebSocket calls published
  for (const name of ['httmcp_publish_retries_total', 'httmcp_publish_failures_total', 'httmcp_inflight_requests', 'httmcp_sessions_closed_total']) {
    expect(value(name)).toBeGreaterThanOrEqual(0);
  }
  expect(text).toContain('# TYPE httmcp_publish_total counter');
  expect(text).toContain('# TYPE httmcp_inflight_requests gauge');
  // Open sessions, streams and requests by transport and era (the console's table).
  expect(value('httmcp_open{transport="websocket",era="2025",kind="sessions"}')).toBeGreaterThanOrEqual(0);
  expect(value('httmcp_open{transport="streamable",era="2025",kind="requests"}')).toBe(0);
  expect(value('httmcp_open{transport="streamable",era="2026-07-28",kind="streams"}')).toBe(0);
  expect(text).not.toContain('httmcp_open{transport="streamable",era="2025",kind="sessions"}');
  // nchan's own status, read from the publish listener's /status.
  expect(value('httmcp_nchan_up')).toBe(1);
  expect(value('httmcp_nchan_published_messages_total')).toBeGreaterThan(0);
  expect(value('httmcp_nchan_shared_memory_used_bytes')).toBeGreaterThan(0);
  expect(value('httmcp_nchan_subscribers')).toBeGreaterThanOrEqual(0);
  expect(value('process_resident_memory_bytes')).toBeGreaterThan(0);
  expect(text).toContain('nodejs_eventloop_lag_seconds');
});

test('the metrics listener refuses browsers and serves nothing but /metrics', async () => {
  expect((await fetch(metricsUrl, { headers: { origin: 'http://evil.example' } })).status).toBe(403);
  expect((await fetch(metricsUrl.replace('/metrics', '/mcp/demo'))).status).toBe(404);
  expect((await fetch(metricsUrl, { method: 'POST' })).status).toBe(405);
});

test("a handler's log lines carry the server, the session and the tool", async () => {
  const client = await streamableClient(stack.servers.logs!, {});
  try {
    await client.callTool({ name: 'shout', arguments: { text: 'hi' } });
  } finally {
    await client.close();
  }
  const line = logLines.find((l) => l.msg === 'shouting');
  expect(line).toMatchObject({ server: 'logs', tool: 'shout', session: expect.any(String), text: 'hi' });
});

/** An OTLP/JSON receiver on loopback: the bodies posted to `/v1/traces`, in order. */
async function otlpJsonReceiver(): Promise<{ received: string[]; endpoint: string; receiver: Server }> {
  const received: string[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk));
    req.on('end', () => {
      if (req.url === '/v1/traces') received.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  return { received, endpoint: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`, receiver };
}

describe('the CLI', () => {
  test('OTEL_* starts the SDK: spans reach an OTLP receiver, sampled as OTEL_TRACES_SAMPLER says; --metrics-listen serves /metrics on loopback', async () => {
    const { received, endpoint, receiver } = await otlpJsonReceiver();
    const metricsPort = await freePort();
    const cli = await startCli<{ servers: Record<string, string>; metricsUrl: string }>(['start', '--port', String(await freePort()), '--metrics-listen', `127.0.0.1:${metricsPort}`], {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      // The benchmark's sampler, at 0: only requests whose client sampled them are traced, and
      // httmcp draws the root sample itself (no span at all for the others).
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0',
    });
    /** (trace id, span name) of every span exported so far (OTLP/JSON: ids in hex). */
    const exported = () =>
      received.flatMap((body) =>
        (JSON.parse(body) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<{ traceId: string; name: string }> }> }> }).resourceSpans.flatMap((r) =>
          r.scopeSpans.flatMap((scope) => scope.spans.map((span) => ({ traceId: span.traceId.toLowerCase(), name: span.name }))),
        ),
      );
    const waitForSpan = async (traceId: string, name: string) => {
      const deadline = Date.now() + 10_000;
      while (!exported().some((span) => span.traceId === traceId && span.name === name) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(exported()).toContainEqual({ traceId, name });
    };
    try {
      expect(cli.info.metricsUrl).toBe(`http://127.0.0.1:${metricsPort}/metrics`);
      const { traceId, traceparent } = clientTrace();
      const client = await streamableClient(cli.info.servers.demo!, { traceparent });
      await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } });
      await client.close();
      await waitForSpan(traceId, 'tools/call add');
      // No trace context: not sampled at ratio 0. A traced call after it is the barrier: once
      // its span is exported, the untraced one's would have been too.
      const untraced = await streamableClient(cli.info.servers.demo!, {});
      await untraced.callTool({ name: 'add', arguments: { a: 1, b: 1 } });
      await untraced.close();
      const barrier = clientTrace();
      const last = await streamableClient(cli.info.servers.demo!, { traceparent: barrier.traceparent });
      await last.callTool({ name: 'add', arguments: { a: 2, b: 2 } });
      await last.close();
      await waitForSpan(barrier.traceId, 'tools/call add');
      expect(new Set(exported().map((span) => span.traceId))).toEqual(new Set([traceId, barrier.traceId]));
      // The resource the NodeSDK would have detected: the service name, the process, the host.
      const resource = (JSON.parse(received[0]!) as { resourceSpans: Array<{ resource: { attributes: Array<{ key: string }> } }> }).resourceSpans[0]!.resource.attributes;
      expect(resource).toContainEqual({ key: 'service.name', value: { stringValue: 'httmcp' } });
      expect(resource.map((attribute) => attribute.key)).toEqual(expect.arrayContaining(['process.pid', 'process.runtime.name', 'host.name', 'telemetry.sdk.name']));
      const text = await (await fetch(cli.info.metricsUrl)).text();
      expect(text).toMatch(/^httmcp_tool_calls_total\{server="demo",tool="add",outcome="ok"\} 3$/m);
      expect(text).toMatch(/^httmcp_nchan_up 1$/m);
    } finally {
      cli.child.kill('SIGTERM');
      await new Promise((resolve) => cli.child.once('exit', resolve));
      receiver.close();
    }
  }, 60_000);

  test("a setting only the NodeSDK covers (OTEL_PROPAGATORS=tracecontext alone) starts the NodeSDK: spans still reach the receiver, with the resource's service name", async () => {
    const { received, endpoint, receiver } = await otlpJsonReceiver();
    const cli = await startCli<{ servers: Record<string, string> }>(['start', '--port', String(await freePort())], {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_PROPAGATORS: 'tracecontext',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0',
    });
    try {
      const { traceId, traceparent } = clientTrace();
      const client = await streamableClient(cli.info.servers.demo!, { traceparent });
      await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
      await client.close();
      type Body = { resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeSpans: Array<{ spans: Array<{ traceId: string; name: string }> }> }> };
      const batches = () => received.flatMap((body) => (JSON.parse(body) as Body).resourceSpans);
      const deadline = Date.now() + 10_000;
      const traced = () => batches().find((r) => r.scopeSpans.some((scope) => scope.spans.some((span) => span.traceId.toLowerCase() === traceId && span.name === 'tools/call add')));
      while (!traced() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(traced()).toBeDefined();
      expect(traced()!.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'httmcp' } });
    } finally {
      cli.child.kill('SIGTERM');
      await new Promise((resolve) => cli.child.once('exit', resolve));
      receiver.close();
    }
  }, 60_000);

  test('an OTLP receiver that is down: every call is answered, the export worker only fails its exports, SIGTERM still exits', async () => {
    const cli = await startCli<{ servers: Record<string, string> }>(['start', '--port', String(await freePort())], {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
      OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '1', // every call makes a span the dead receiver never takes
    });
    const exited = new Promise<number | null>((resolve) => cli.child.once('exit', resolve));
    try {
      const client = await streamableClient(cli.info.servers.demo!, {});
      for (let i = 0; i < 20; i++) {
        const result = await client.callTool({ name: 'add', arguments: { a: i, b: 1 } });
        expect(result.content).toEqual([{ type: 'text', text: String(i + 1) }]);
        if (i % 5 === 4) await new Promise((resolve) => setTimeout(resolve, 200)); // let batches fail in between
      }
      await client.close();
    } finally {
      cli.child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 60_000);
});
