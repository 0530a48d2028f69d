#!/usr/bin/env node
// CPU per tools/call of the instrumentation layer alone (issue 13, point 5): the
// InstrumentedTransport between a session hub and the SDK server, around an inner transport that
// does nothing, so that the machine's load blurs it as little as possible. Each configuration
// runs in a fresh process (1,000,000 request/reply pairs after a warm-up), ROUNDS times
// alternating; the minimum per configuration is the figure (interference only adds time).
//
//   node bench/instrument-cost.mjs [--calls 1000000] [--rounds 5] [--dist DIR] [--chain]
//
// --chain: the layer where a server has it, under the server's other transport middleware
// (ListChangedFanout, then CacheHint, Paginating, Scoped: HTTMCP.middleware()), with what the SDK
// server reads per request through the chain (`sessionId` twice, the handler context's
// `requestFacts`). Those layers share TransportMiddleware's code, so what one more layer class
// does to its property lookups (polymorphic or megamorphic) shows here and not in the bare layer.
//
// --dist: another build's dist/ (an older commit's, to compare): without the httmcp sampler
// there, the SDK's own ParentBased(TraceIdRatio 0.01) sampler is used.
//
// Also the bytes allocated and promoted per call (the child runs with --trace-gc-nvp; minimum
// over the rounds).
//
// Configurations: metrics (per-tool metrics on, no tracing), tracing (the OpenTelemetry SDK
// with the sampler `httmcp start` builds for parentbased_traceidratio 0.01, spans to an exporter
// that drops them), both; off (instrumentTransport returns the inner transport itself: what is
// left is this harness's own cost, to subtract).
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import os from 'node:os';

const { values: v } = parseArgs({ options: { calls: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '5' }, child: { type: 'string' }, dist: { type: 'string' }, chain: { type: 'boolean', default: false } } });
const DIST = pathToFileURL(resolve(v.dist ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'dist'))).href;

if (v.child) {
  const config = v.child;
  const metricsOn = config === 'metrics' || config === 'both';
  const tracingOn = config === 'tracing' || config === 'both';
  if (tracingOn) {
    const { NodeTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } = await import('@opentelemetry/sdk-trace-node');
    const { ratioSamplerFromEnv, SyncContextManager } = await import(`${DIST}/src/observability/otel-sdk.js`);
    const { sampleRootsAt } = await import(`${DIST}/src/observability/tracing.js`);
    const own = ratioSamplerFromEnv?.({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' });
    const sampler = own?.sampler ?? new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.01) });
    const drop = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined };
    // The context manager `httmcp start` gives the SDK (otel-sdk.ts): register()'s default, the
    // AsyncLocalStorage one, turns on promise hooks at the batch processor's first export.
    new NodeTracerProvider({ sampler, spanProcessors: [new BatchSpanProcessor(drop)] }).register(SyncContextManager ? { contextManager: new SyncContextManager() } : {});
    sampleRootsAt?.(own?.ratio);
  }
  const { instrumentTransport } = await import(`${DIST}/src/observability/instrument.js`);
  const { BackendMetrics } = await import(`${DIST}/src/observability/metrics.js`);
  const { pino } = await import('pino');
  // The session hub's facts of a request: `headers` is the copy handlers get, made on first read
  // (src/session/session-hub.ts, HubRequestFacts); `header()` reads one without it.
  const client = { 'x-httmcp-backend-key': 'k'.repeat(64), 'x-httmcp-transport': 'websocket', host: 'httmcp_backend', 'sec-websocket-version': '13', 'sec-websocket-key': 'ctW74uUxg7zH+AigppMmjQ==', 'sec-websocket-protocol': 'mcp', 'content-length': '80' };
  class Facts {
    constructor(session) { this.session = session; this.copied = undefined; }
    get headers() { return (this.copied ??= { ...client, 'mcp-session-id': this.session }); }
    header(name) { return name === 'mcp-session-id' ? this.session : client[name]; }
  }
  let facts;
  const inner = { start: async () => undefined, close: async () => undefined, send: () => Promise.resolve(), requestFacts: () => facts };
  const metrics = metricsOn ? new BackendMetrics({ figures: () => ({ inflight: 0, sessionsClosed: 0, published: 0, retried: 0, failed: 0 }) }) : undefined;
  const observed = instrumentTransport(inner, { server: 'demo', metrics, hasTool: (name) => name === 'add', logger: pino({ level: 'info' }), tracing: tracingOn });
  let outer = observed;
  if (v.chain) {
    const { HTTMCP } = await import(`${DIST}/src/server/httmcp.js`);
    const { ListChangedFanout, ListenFanout } = await import(`${DIST}/src/listen/fanout.js`);
    const logger = pino({ level: 'info' });
    outer = new HTTMCP({ name: 'demo', version: '1.0.0' }).middleware(new ListChangedFanout(observed, new ListenFanout('demo', undefined, logger)));
  }
  // What the SDK server and a handler's context read per request (Protocol's buildContext, factsOfContext).
  outer.onmessage = v.chain ? (message) => { void outer.sessionId; void outer.sessionId; void outer.requestFacts?.(message.id); } : () => undefined;
  const headers = { 'mcp-session-id': 'session-1', 'mcp-protocol-version': '2025-06-18', 'x-httmcp-transport': 'websocket' };
  const extra = { requestInfo: { headers } };
  const reply = { jsonrpc: '2.0', id: 0, result: { content: [{ type: 'text', text: '3' }] } };
  const run = async (n, from) => {
    for (let i = from; i < from + n; i++) {
      facts = new Facts('session-1');
      inner.onmessage({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } }, extra);
      reply.id = i;
      await outer.send(reply);
    }
  };
  const calls = Number(v.calls);
  await run(100_000, 0);
  // --trace-gc-nvp lines after this one are the measured calls' (the parent sums them).
  process.stdout.write('measure\n');
  const before = process.cpuUsage();
  await run(calls, 100_000);
  const used = process.cpuUsage(before);
  process.stdout.write(JSON.stringify({ config, ns_per_call: ((used.user + used.system) * 1000) / calls }) + '\n');
  process.exit(0);
}

const configs = ['off', 'metrics', 'tracing', 'both'];
const results = Object.fromEntries(configs.map((c) => [c, []]));
const allocation = {};
const script = fileURLToPath(import.meta.url);
for (let round = 0; round < Number(v.rounds); round++) {
  for (const config of round % 2 ? [...configs].reverse() : configs) {
    const child = spawnSync(process.execPath, ['--trace-gc-nvp', script, '--child', config, '--calls', v.calls, ...(v.dist ? ['--dist', v.dist] : []), ...(v.chain ? ['--chain'] : [])], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(child.stderr);
    const lines = child.stdout.trim().split('\n');
    results[config].push(JSON.parse(lines.pop()).ns_per_call);
    // Bytes the measured calls allocated and left alive into the old generation (whole GCs' worth).
    const measured = lines.slice(lines.indexOf('measure') + 1);
    const sum = (field) => measured.reduce((total, line) => total + Number(new RegExp(` ${field}=(\\d+)`).exec(line)?.[1] ?? 0), 0);
    (allocation[config] ??= []).push({ allocated: sum('allocated') / Number(v.calls), promoted: sum('promoted') / Number(v.calls) });
  }
}
const off = Math.min(...results.off);
const summary = configs.map((c) => ({ config: c, runs_ns: results[c].map(Math.round), min_us: Math.round(Math.min(...results[c])) / 1000, added_us: Math.round(Math.min(...results[c]) - off) / 1000, allocated_bytes_per_call: Math.round(Math.min(...allocation[c].map((a) => a.allocated))), promoted_bytes_per_call: Math.round(Math.min(...allocation[c].map((a) => a.promoted))) }));
process.stdout.write(JSON.stringify({ date: new Date().toISOString(), dist: v.dist ?? 'dist', chain: v.chain, calls: Number(v.calls), loadavg_after: os.loadavg(), summary }, null, 2) + '\n');
