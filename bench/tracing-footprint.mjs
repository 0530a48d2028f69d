#!/usr/bin/env node
// What starting the CLI's tracing costs a process: time to start, heap in use after a full GC,
// resident memory. Each --dist gets fresh processes (--runs each), alternated; OTLP over HTTP to a
// closed port at ratio 0.01, as `bench/hotpath-http.mjs`'s `@on` sets it.
//
//   node bench/tracing-footprint.mjs [--dist dist,/tmp/base/dist] [--runs 3]
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values: v } = parseArgs({ options: { dist: { type: 'string', default: 'dist' }, runs: { type: 'string', default: '3' } } });

const probe = (dist) => `
const started = performance.now();
const { startTracing } = await import(${JSON.stringify(`file://${resolve(dist)}/src/observability/otel-sdk.js`)});
const stop = await startTracing(process.env);
const ms = performance.now() - started;
globalThis.gc(); globalThis.gc();
const { heapUsed, rss } = process.memoryUsage();
console.log(JSON.stringify({ ms: Math.round(ms), heap_mb: +(heapUsed / 1048576).toFixed(1), rss_mb: Math.round(rss / 1048576) }));
await stop();
`;
const env = { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' };
const dists = v.dist.split(',');
const results = Object.fromEntries(dists.map((d) => [d, []]));
for (let run = 0; run < Number(v.runs); run++) {
  for (const dist of dists) {
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', probe(dist)], { env, encoding: 'utf8' });
    results[dist].push(JSON.parse(out.trim().split('\n').pop()));
  }
}
for (const [dist, runs] of Object.entries(results)) {
  const col = (k) => runs.map((r) => r[k]).join(' / ');
  console.log(`${dist.padEnd(24)} start ms ${col('ms')}; heap MB ${col('heap_mb')}; rss MB ${col('rss_mb')}`);
}
console.log(JSON.stringify({ node: process.version, results }));
