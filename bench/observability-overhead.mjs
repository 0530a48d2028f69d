#!/usr/bin/env node
// Backend CPU per tools/call with per-tool metrics and tracing on or off, in-process and
// without nginx, so that neither the network nor nginx's share of a loaded machine blurs it:
// each configuration runs in a fresh process that sends CALLS `add` calls, CONC at a time,
// straight to the endpoint nginx's WebSocket hop calls (NchanEndpoint.message), and reports
// process CPU (user+system) per call after a warm-up. Configurations alternate, ROUNDS times.
//
//   node bench/observability-overhead.mjs [--calls 20000] [--conc 64] [--rounds 5]
//        [--configs off,metrics,tracing,both] [--dist DIR]
//
// Configurations: off (HTTMCP_REQUEST_METRICS=off, no tracer provider), metrics (per-tool
// metrics on), tracing (an OpenTelemetry NodeTracerProvider registered, parent-based 1% ratio
// sampler, batch processor into an exporter that drops spans), both; and, by --configs only:
// sdk (the CLI's own set-up, otel-sdk.ts startTracing: OTLP to a closed port),
// scraped (off, but /metrics read once, so prom-client's GC and event-loop observers run),
// cli (what `httmcp start` runs with OTEL_* and a scraper: per-tool metrics, sdk and scraped).
// A configuration written NAME:DIR runs on another build's dist/ (--dist: all of them), for
// same-sitting A/B runs against main's build.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import os from 'node:os';

const { values: v } = parseArgs({
  options: { calls: { type: 'string', default: '20000' }, conc: { type: 'string', default: '64' }, rounds: { type: 'string', default: '5' }, child: { type: 'string' }, configs: { type: 'string', default: 'off,metrics,tracing,both' }, dist: { type: 'string' } },
});

// --dist DIR: another build's dist/ (A/B in one sitting against main's).
const dist = v.dist ? pathToFileURL(resolve(v.dist)).href : new URL('../dist', import.meta.url).href;

if (v.child) {
  const config = v.child;
  const metrics = config === 'metrics' || config === 'both' || config === 'cli';
  const tracing = config === 'tracing' || config === 'both';
  if (config === 'cli' || config === 'sdk') {
    // What `httmcp start` runs with OTEL_* set (otel-sdk.ts), exporting OTLP to a
    // port where nothing listens (`sdk`: no per-tool metrics).
    const { startTracing } = await import(`${dist}/src/observability/otel-sdk.js`);
    await startTracing({ ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: process.env.OVERHEAD_RATIO ?? '0.01' });
  }
  if (tracing) {
    const { NodeTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-node');
    // The sampler `httmcp start` builds for OTEL_TRACES_SAMPLER=parentbased_traceidratio, with
    // the root sample drawn by httmcp (src/observability/otel-sdk.ts); OVERHEAD_PRESAMPLE=off
    // leaves it to the SDK's own ratio sampler, as before.
    const { ratioSamplerFromEnv } = await import(`${dist}/src/observability/otel-sdk.js`);
    const { sampleRootsAt } = await import(`${dist}/src/observability/tracing.js`);
    const { sampler, ratio } = ratioSamplerFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: process.env.OVERHEAD_RATIO ?? '0.01' });
    const drop = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined };
    const provider = new NodeTracerProvider({ sampler, spanProcessors: [new BatchSpanProcessor(drop)] });
    provider.register();
    if (process.env.OVERHEAD_PRESAMPLE !== 'off') sampleRootsAt(ratio);
  }
  const { Gateway } = await import(`${dist}/src/index.js`);
  const { createExampleServers } = await import(`${dist}/examples/index.js`);
  const { pino } = await import('pino');
  // Nothing is published for an inline `add`; the URL is never dialled.
  const gateway = new Gateway({ publishUrl: 'unix:/nonexistent.sock', sessionSecret: 'x'.repeat(32), requestMetrics: metrics, logger: pino({ level: 'silent' }) });
  const demo = createExampleServers().find((s) => s.name === 'demo');
  const endpoint = demo.endpoint(gateway);
  // `scraped` and `cli`: scraped once, as the stack's scraper does (prom-client's process
  // metrics then watch GC and the event loop from that moment on).
  if (config === 'scraped' || config === 'cli') await gateway.metrics.text();
  const init = await endpoint.post(
    { accept: 'application/json, text/event-stream', 'content-type': 'application/json' },
    JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'b', version: '1' } } }),
  );
  const session = init.headers['mcp-session-id'];
  const headers = { 'x-httmcp-transport': 'websocket', host: 'localhost' };
  let id = 1;
  const run = async (calls) => {
    const conc = Number(v.conc);
    await Promise.all(
      Array.from({ length: conc }, async () => {
        for (let i = 0; i < calls / conc; i++) {
          const answer = await endpoint.message(session, headers, `{"jsonrpc":"2.0","id":${id++},"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`);
          if (answer.status !== 200) throw new Error(`status ${answer.status}`);
        }
      }),
    );
  };
  const calls = Number(v.calls);
  await run(calls / 4); // warm-up: JIT, first sampled span, label children
  const before = process.cpuUsage();
  await run(calls);
  const used = process.cpuUsage(before);
  process.stdout.write(JSON.stringify({ config, us_per_call: (used.user + used.system) / calls }) + '\n');
  process.exit(0);
}

// --configs off,cli,cli:/tmp/dist-main: a configuration, optionally on another build's dist/.
const configs = v.configs.split(',').map((c) => c.trim()).filter(Boolean);
const results = Object.fromEntries(configs.map((c) => [c, []]));
process.stderr.write(`load average before: ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}\n`);
for (let round = 1; round <= Number(v.rounds); round++) {
  const order = round % 2 ? configs : [...configs].reverse();
  for (const config of order) {
    const [name, dir] = config.split(/:(.*)/s);
    const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', name, '--calls', v.calls, '--conc', v.conc, ...(dir ? ['--dist', dir] : [])], { encoding: 'utf8', env: { ...process.env, OTEL_SDK_DISABLED: '' } });
    if (child.status !== 0) throw new Error(`${config}: ${child.stderr}`);
    const { us_per_call } = JSON.parse(child.stdout.trim().split('\n').pop());
    results[config].push(us_per_call);
    process.stderr.write(`round ${round} ${config}: ${us_per_call.toFixed(1)} µs/call\n`);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = median(results.off);
const summary = configs.map((c) => ({ config: c, runs: results[c].map((x) => Math.round(x * 10) / 10), median_us: Math.round(median(results[c]) * 10) / 10, vs_off: Math.round((median(results[c]) / base) * 1000) / 1000 }));
process.stderr.write(`load average after: ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}\n`);
process.stdout.write(JSON.stringify({ date: new Date().toISOString(), calls: Number(v.calls), conc: Number(v.conc), loadavg_after: os.loadavg(), summary }, null, 2) + '\n');
