import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { propagation, ROOT_CONTEXT, SpanKind, trace, type Context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SamplingDecision, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import { instrumentTransport } from '../../src/observability/instrument.js';
import { ratioSamplerFromEnv } from '../../src/observability/otel-sdk.js';
import { traceProviderCovers } from '../../src/observability/trace-provider.js';
import { isPresampled, requestSpanParent, sampleRootsAt } from '../../src/observability/tracing.js';
import { BackendMetrics, OTHER_TOOL, UNKNOWN_TOOL, type Outcome } from '../../src/observability/metrics.js';
import { NchanStatusReader } from '../../src/nchan/status.js';
import { Gateway } from '../../src/gateway.js';
import { HTTMCP } from '../../src/server/httmcp.js';
import { ListChangedFanout, ListenFanout } from '../../src/listen/fanout.js';
import { requestFactsOf } from '../../src/server/request-facts.js';
import type { NchanPublisher } from '../../src/nchan/publisher.js';

const figures = () => ({ inflight: 2, sessionsClosed: 3, published: 5, retried: 1, failed: 0, retained: { inflight: 2, leaving: 1 } });

test('tool labels: unknown names never become label values, and each server has at most the cap', () => {
  const metrics = new BackendMetrics({ figures, maxToolsPerServer: 2 });
  expect(metrics.toolLabel('a', 'x', false)).toBe(UNKNOWN_TOOL);
  expect(metrics.toolLabel('a', 'one', true)).toBe('one');
  expect(metrics.toolLabel('a', 'two', true)).toBe('two');
  expect(metrics.toolLabel('a', 'three', true)).toBe(OTHER_TOOL);
  expect(metrics.toolLabel('a', 'one', true)).toBe('one');
  expect(metrics.toolLabel('b', 'three', true)).toBe('three'); // per server
});

test('the gateway figures keep their names and types; calls are counted by outcome', async () => {
  const metrics = new BackendMetrics({ figures });
  const call = (outcome: Outcome, seconds: number) => {
    const tally = metrics.tally('s', 't', true);
    metrics.toolCallStarted(tally);
    metrics.toolCallEnded(tally, outcome, seconds);
  };
  call('ok', 0.002);
  call('tool_error', 0.5);
  const running = metrics.tally('s', 't', true);
  metrics.toolCallStarted(running);
  const text = await metrics.text();
  expect(text).toContain('# TYPE httmcp_publish_total counter\nhttmcp_publish_total 5\n');
  expect(text).toContain('# TYPE httmcp_inflight_requests gauge\nhttmcp_inflight_requests 2\n');
  expect(text).toContain('httmcp_sessions_closed_total 3\n');
  expect(text).toContain('httmcp_retained{kind="leaving"} 1\n');
  expect(text).toContain('httmcp_tool_calls_total{server="s",tool="t",outcome="ok"} 1\n');
  expect(text).toContain('httmcp_tool_errors_total{server="s",tool="t"} 1\n');
  expect(text).toContain('httmcp_tool_calls_in_flight{server="s",tool="t"} 1\n');
  expect(text).toContain('httmcp_tool_call_duration_seconds_bucket{le="0.0025",server="s",tool="t",outcome="ok"} 1\n');
  metrics.toolCallEnded(running, 'cancelled', 1);
  expect(await metrics.text()).toContain('httmcp_tool_calls_in_flight{server="s",tool="t"} 0\n');
  // Several backends in one process: registries of their own, no "already registered" clash.
  expect(() => new BackendMetrics({ figures })).not.toThrow();
});

test("process metrics: prom-client's default names, with GC durations read from V8 in batches (no per-GC observer)", async () => {
  const metrics = new BackendMetrics({ figures });
  try {
    await metrics.text();
    // Enough garbage for a few scavenges, none of it kept.
    let kept: object[] = [];
    for (let i = 0; i < 2_000_000; i++) {
      kept.push({ i });
      if (kept.length > 10_000) kept = [];
    }
    const text = await metrics.text();
    const names = (exposition: string) => new Set(exposition.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]));
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    const expected = names(await defaults.metrics());
    const ours = names(text);
    for (const name of expected) expect(ours).toContain(name);
    expect(text).toContain('# TYPE nodejs_gc_duration_seconds histogram');
    const minor = /^nodejs_gc_duration_seconds_count\{kind="minor"\} (\d+)$/m.exec(text);
    expect(Number(minor?.[1])).toBeGreaterThan(0);
  } finally {
    await metrics.close();
  }
});

test('a status listener that does not answer reports httmcp_nchan_up 0 within the timeout, and the reader says why', async () => {
  const nchanStatus = new NchanStatusReader({ publishUrl: 'unix:/nonexistent/publish.sock', timeoutMs: 200 });
  const metrics = new BackendMetrics({ figures, nchanStatus });
  const text = await metrics.text();
  expect(text).toContain('httmcp_nchan_up 0\n');
  await expect(nchanStatus.read()).rejects.toThrow(/nchan's status did not answer/);
  await metrics.close();
  await nchanStatus.close();
});

test("the latency histogram's exposition is the same as a prom-client Histogram's for the same calls", async () => {
  const metrics = new BackendMetrics({ figures });
  const reference = new Registry();
  const histogram = new Histogram({
    name: 'httmcp_tool_call_duration_seconds',
    help: 'Time from a tools/call request reaching the backend to its reply leaving the handler.',
    labelNames: ['server', 'tool', 'outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [reference],
  });
  const calls: Array<[string, Outcome, number]> = [['a', 'ok', 0.0004], ['a', 'ok', 0.001], ['a', 'error', 0.3], ['b', 'ok', 75], ['a', 'ok', 2.5]];
  for (const [tool, outcome, seconds] of calls) {
    const tally = metrics.tally('s', tool, true);
    metrics.toolCallStarted(tally);
    metrics.toolCallEnded(tally, outcome, seconds);
    histogram.observe({ server: 's', tool, outcome }, seconds);
  }
  const section = (text: string) => text.split('\n').filter((line) => line.includes('httmcp_tool_call_duration_seconds')).sort();
  expect(section(await metrics.text())).toEqual(section(await reference.metrics()));
  expect(await metrics.text()).toContain('httmcp_tool_call_duration_seconds_count{server="s",tool="a",outcome="ok"} 3\n');
});

test("httmcp's own tracer provider takes the NodeSDK's defaults only; any other setting goes to the NodeSDK", () => {
  const none = { OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' };
  expect(traceProviderCovers({})).toBe(true);
  expect(traceProviderCovers({ ...none, OTEL_PROPAGATORS: 'baggage, tracecontext' })).toBe(true);
  expect(traceProviderCovers({ OTEL_PROPAGATORS: 'tracecontext' })).toBe(false);
  expect(traceProviderCovers({ OTEL_PROPAGATORS: 'tracecontext,baggage,b3' })).toBe(false);
  expect(traceProviderCovers({ OTEL_NODE_RESOURCE_DETECTORS: 'env,host' })).toBe(false);
  expect(traceProviderCovers({ OTEL_METRICS_EXPORTER: 'otlp' })).toBe(false);
  expect(traceProviderCovers({ ...none, OTEL_LOGS_EXPORTER: 'console' })).toBe(false);
});

describe('root sampling drawn by httmcp (OTEL_TRACES_SAMPLER=*traceidratio)', () => {
  const traceId = 'f'.repeat(32); // the highest id: a ratio sampler below 1 drops it
  beforeAll(() => propagation.setGlobalPropagator(new W3CTraceContextPropagator()));
  afterAll(() => {
    sampleRootsAt(undefined);
    propagation.disable();
  });

  test('the sampler is the one the SDK would build, and keeps spans under a root httmcp sampled', () => {
    expect(ratioSamplerFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_always_on' })).toBeUndefined();
    const plain = ratioSamplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' })!;
    expect(plain.ratio).toBe(0);
    expect(ratioSamplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '7' })!.ratio).toBe(1); // out of range: 1, like the SDK
    const decide = (ctx: Context) => plain.sampler.shouldSample(ctx, traceId, 'tools/call add', SpanKind.SERVER, {}, []).decision;
    expect(decide(ROOT_CONTEXT)).toBe(SamplingDecision.NOT_RECORD);
    sampleRootsAt(1);
    const presampled = requestSpanParent(undefined, undefined)!;
    expect(isPresampled(presampled)).toBe(true);
    expect(decide(presampled)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
  });

  test('at ratio 0, a request without a trace context gets no span; one with a sampled traceparent follows its parent', () => {
    const { sampler } = ratioSamplerFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' })!;
    sampleRootsAt(0);
    const facts = (headers: Record<string, string>) => ({ session: undefined, headers });
    expect(requestSpanParent(undefined, facts({}))).toBeUndefined();
    expect(requestSpanParent({ traceparent: 'not a traceparent' }, facts({}))).toBeUndefined();
    const parent = requestSpanParent(undefined, facts({ traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` }))!;
    expect(trace.getSpanContext(parent)?.traceId).toBe('1'.repeat(32));
    expect(sampler.shouldSample(parent, '1'.repeat(32), 'tools/call add', SpanKind.SERVER, {}, []).decision).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    // _meta (SEP-414) wins over the header.
    const meta = requestSpanParent({ traceparent: `00-${'3'.repeat(32)}-${'4'.repeat(16)}-00` }, facts({ traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` }))!;
    expect(trace.getSpanContext(meta)?.traceId).toBe('3'.repeat(32));
    expect(sampler.shouldSample(meta, '3'.repeat(32), 'tools/call add', SpanKind.SERVER, {}, []).decision).toBe(SamplingDecision.NOT_RECORD);
  });
});

describe('the instrumented transport with tracing on and metrics off, root sampling at 0', () => {
  const exporter = new InMemorySpanExporter();
  const { sampler } = ratioSamplerFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' })!;
  beforeAll(() => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ sampler, spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    sampleRootsAt(0);
  });
  afterAll(() => {
    sampleRootsAt(undefined);
    trace.disable();
    propagation.disable();
  });

  test('an unsampled request is passed through untracked; one under a sampled traceparent gets a span that ends with its reply', async () => {
    const headersOf = new Map<number, Record<string, string>>();
    const sent: JSONRPCMessage[] = [];
    const inner: Transport & { requestFacts(id: number): { session: string; headers: Record<string, string> } | undefined } = {
      start: async () => undefined,
      close: async () => undefined,
      send: async (message: JSONRPCMessage) => {
        sent.push(message);
      },
      requestFacts: (id: number) => (headersOf.has(id) ? { session: 's1', headers: headersOf.get(id)! } : undefined),
    };
    const transport = instrumentTransport(inner, { server: 'demo', hasTool: (name) => name === 'add', logger: pino({ level: 'silent' }) });
    expect(transport).not.toBe(inner);
    const received: JSONRPCMessage[] = [];
    transport.onmessage = (message) => received.push(message);
    const call = (id: number) => ({ jsonrpc: '2.0' as const, id, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } });
    const reply = (id: number) => ({ jsonrpc: '2.0' as const, id, result: { content: [] } });

    headersOf.set(1, {});
    inner.onmessage!(call(1));
    await transport.send(reply(1));
    headersOf.set(2, { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` });
    inner.onmessage!(call(2));
    expect(exporter.getFinishedSpans()).toHaveLength(0); // ended with the reply, not before
    await transport.send(reply(2));
    await new Promise((resolve) => setImmediate(resolve));

    expect(received.map((m) => (m as { id: number }).id)).toEqual([1, 2]);
    expect(sent).toEqual([reply(1), reply(2)]);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['tools/call add']);
    expect(spans[0]!.spanContext().traceId).toBe('a'.repeat(32));
    expect(spans[0]!.parentSpanContext?.spanId).toBe('b'.repeat(16));
    expect(spans[0]!.attributes['gen_ai.tool.name']).toBe('add');
  });

  test('metrics and tracing read single headers (header()); only a traced request makes the copy, once, for its OpenAPI calls', async () => {
    // Facts as the session hub keeps them: `headers` is the copy handlers get, made on first read.
    const client: Record<string, Record<string, string>> = {
      1: { 'x-httmcp-transport': 'websocket' },
      2: { 'x-httmcp-transport': 'websocket', traceparent: `00-${'c'.repeat(32)}-${'d'.repeat(16)}-01` },
    };
    let copies = 0;
    const factsOf = (id: number) => ({
      session: 's1',
      get headers() {
        copies++;
        return { ...client[id], 'mcp-session-id': 's1' };
      },
      header: (name: string) => (name === 'mcp-session-id' ? 's1' : client[id]![name]),
    });
    const inner: Transport & { requestFacts(id: number): ReturnType<typeof factsOf> } = {
      start: async () => undefined,
      close: async () => undefined,
      send: async () => undefined,
      requestFacts: factsOf,
    };
    exporter.reset();
    const metrics = new BackendMetrics({ figures: () => ({ inflight: 0, sessionsClosed: 0, published: 0, retried: 0, failed: 0 }) });
    const transport = instrumentTransport(inner, { server: 'demo', metrics, hasTool: (name) => name === 'add', logger: pino({ level: 'silent' }) });
    transport.onmessage = () => undefined;
    const call = (id: number) => ({ jsonrpc: '2.0' as const, id, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } });

    inner.onmessage!(call(1));
    await transport.send({ jsonrpc: '2.0', id: 1, result: { content: [] } });
    expect(copies).toBe(0);
    inner.onmessage!(call(2));
    await transport.send({ jsonrpc: '2.0', id: 2, result: { content: [] } });
    await new Promise((resolve) => setImmediate(resolve));
    expect(copies).toBe(1);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.spanContext().traceId)).toEqual(['c'.repeat(32)]);
    expect(spans[0]!.attributes['httmcp.transport']).toBe('websocket');
    expect(spans[0]!.attributes['mcp.session.id']).toBe('s1');
    expect(await metrics.text()).toMatch(/httmcp_tool_calls_total\{server="demo",tool="add",outcome="ok"\} 2/);
  });

  test("under a server's whole middleware chain: its session and request facts reach the server, calls count per tool, a traced call gets its span", async () => {
    // The layer keeps its own copies of the hops TransportMiddleware shares (message in, sessionId,
    // requestFacts): the server must still see what the hub says through all five layers.
    const facts = new Map<number, { session: string; headers: Record<string, string> }>();
    const inner: Transport & { requestFacts(id: number): { session: string; headers: Record<string, string> } | undefined } = {
      sessionId: 'hub-session',
      start: async () => undefined,
      close: async () => undefined,
      send: async () => undefined,
      requestFacts: (id: number) => facts.get(id),
    };
    exporter.reset();
    const logger = pino({ level: 'silent' });
    const metrics = new BackendMetrics({ figures: () => ({ inflight: 0, sessionsClosed: 0, published: 0, retried: 0, failed: 0 }) });
    const observed = instrumentTransport(inner, { server: 'calc', metrics, hasTool: (name) => name === 'add' || name === 'mul', logger });
    const server = new HTTMCP({ name: 'calc', version: '1.0.0' });
    const chain = server.middleware(new ListChangedFanout(observed, new ListenFanout('calc', undefined as unknown as NchanPublisher, logger)));
    const seen: Array<{ id: number; session: string | undefined; facts: unknown }> = [];
    chain.onmessage = (message) => {
      const id = (message as { id: number }).id;
      seen.push({ id, session: chain.sessionId, facts: requestFactsOf(chain, id) });
    };
    const call = (id: number, name: string) => ({ jsonrpc: '2.0' as const, id, method: 'tools/call', params: { name, arguments: {} } });
    const tools = ['add', 'mul', 'add', 'nope'];
    for (const [i, name] of tools.entries()) {
      const id = i + 1;
      facts.set(id, { session: 's1', headers: id === 3 ? { traceparent: `00-${'e'.repeat(32)}-${'f'.repeat(16)}-01` } : {} });
      inner.onmessage!(call(id, name));
      await chain.send(id === 2 ? { jsonrpc: '2.0', id, error: { code: -32602, message: 'bad' } } : { jsonrpc: '2.0', id, result: { content: [] } });
    }
    await new Promise((resolve) => setImmediate(resolve));

    expect(seen.map((s) => [s.id, s.session, s.facts])).toEqual(tools.map((_, i) => [i + 1, 'hub-session', facts.get(i + 1)]));
    const text = await metrics.text();
    expect(text).toContain('httmcp_tool_calls_total{server="calc",tool="add",outcome="ok"} 2\n');
    expect(text).toContain('httmcp_tool_calls_total{server="calc",tool="mul",outcome="error"} 1\n');
    expect(text).toContain('httmcp_tool_calls_total{server="calc",tool="_unknown",outcome="ok"} 1\n');
    expect(text).toContain('httmcp_tool_errors_total{server="calc",tool="mul"} 1\n');
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.name, s.spanContext().traceId, s.parentSpanContext?.spanId])).toEqual([['tools/call add', 'e'.repeat(32), 'f'.repeat(16)]]);
  });
});

test("a logger's level set after the layer was made still decides its 'request done' debug lines", async () => {
  const lines: Array<{ msg: string; tool?: string; outcome?: string }> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const inner: Transport = { start: async () => undefined, close: async () => undefined, send: async () => undefined };
  const metrics = new BackendMetrics({ figures });
  // Two layers on one logger (a server's 2025 and 2026 transports) follow it alike.
  const [first, second] = [0, 1].map(() => {
    const transport = instrumentTransport({ ...inner }, { server: 'demo', metrics, hasTool: (name) => name === 'add', logger, tracing: false });
    transport.onmessage = () => undefined;
    return transport;
  });
  const call = async (transport: Transport, id: number) => {
    (transport as unknown as { inner: Transport }).inner.onmessage!({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'add', arguments: {} } });
    await transport.send({ jsonrpc: '2.0', id, result: { content: [] } });
    await new Promise((resolve) => setImmediate(resolve));
  };
  await call(first!, 1);
  expect(lines).toHaveLength(0);
  logger.level = 'debug';
  await call(first!, 2);
  await call(second!, 3);
  expect(lines.map((l) => [l.msg, l.tool, l.outcome])).toEqual([
    ['request done', 'add', 'ok'],
    ['request done', 'add', 'ok'],
  ]);
  logger.level = 'info';
  await call(second!, 4);
  expect(lines).toHaveLength(2);
  expect(logger.listenerCount('level-change')).toBe(1);
});

test('the GC fold interval: at least 1 s, from the option or HTTMCP_GC_FOLD_MS, named in the error', async () => {
  expect(() => new BackendMetrics({ figures, gcFoldMs: 10 })).toThrow('gcFoldMs must be at least 1000 (ms), got 10');
  const env = { HTTMCP_PUBLISH_URL: 'http://127.0.0.1:1', HTTMCP_SESSION_SECRET: 'x'.repeat(32) };
  expect(() => Gateway.fromEnv({ ...env, HTTMCP_GC_FOLD_MS: '0' })).toThrow('HTTMCP_GC_FOLD_MS must be at least 1000 (ms), got 0');
  const gateway = Gateway.fromEnv({ ...env, HTTMCP_GC_FOLD_MS: '250000' });
  // The process metrics start at the first scrape; GC durations are among them.
  expect(await gateway.metrics.text()).toContain('# TYPE nodejs_gc_duration_seconds histogram');
  await gateway.close();
});
