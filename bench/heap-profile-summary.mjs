#!/usr/bin/env node
// Where a profiled process allocated, per call: reads a V8 sampling heap profile (a
// `.heapprofile` from bench/heap-sample-preload.cjs, which keeps the objects the GC already
// freed) and prints the top allocation sites by self bytes, the bytes by module (httmcp's own
// src/ file by file, the SDK v2 packages, zod, node's http/streams, undici, pino, ...) and, for
// each allocation, the innermost httmcp frame on its stack ("on behalf of": what of ours caused
// it, the SDK's and node's work included). Bytes are the sampler's estimate.
//
//   node bench/heap-profile-summary.mjs FILE.heapprofile --calls N [--top 40] [--json OUT] [--inclusive NAME,NAME...]
//
// N: the calls the process served while sampling (bench/hotpath-http.mjs: calls × rounds plus
// its warm-up of calls / 4 per mode); startup's allocations are counted too (a few % at 25,000 calls).
// --inclusive: for each function name, the bytes of every allocation with that function anywhere
// on its stack (what it and everything it called allocated), e.g. the SDK's message checks.
// Optimized code reports an inlined callee's allocations as its caller's: run the backend with
// --no-turbo-inlining for exact sites (allocation moves a little: escape analysis changes).
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: v, positionals } = parseArgs({ allowPositionals: true, options: { calls: { type: 'string' }, top: { type: 'string', default: '40' }, json: { type: 'string' }, inclusive: { type: 'string' } } });
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const calls = Number(v.calls ?? 1);
const top = Number(v.top);

/** The module a frame belongs to, by its script URL. */
function moduleOf(url) {
  if (!url) return '(V8 / native)';
  const ours = /\/dist\/src\/(.+)\.js$/.exec(url) ?? /\/src\/(.+)\.ts$/.exec(url);
  if (ours && !url.includes('node_modules')) return `httmcp src/${ours[1]}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1] === '@modelcontextprotocol' ? 'sdk' : pkg[1];
  const node = /^node:internal\/([^/]+(?:\/[^/]+)?)/.exec(url) ?? /^node:(.+)$/.exec(url);
  if (node) return `node:${node[1]}`;
  return url;
}
/** The coarse owner of an allocation site: what bench/README.md's breakdown tables sum. */
function groupOf(frame) {
  const m = moduleOf(frame.url);
  if (m.startsWith('httmcp ')) return 'httmcp (src/)';
  // zod compiles its object parsers with `new Function` (no script URL, their code on line 3).
  if (m === '(V8 / native)' && frame.lineNumber === 2 && frame.url === '') return 'zod (generated object parsers)';
  if (m === 'zod') return 'zod';
  if (m.startsWith('@modelcontextprotocol/')) return 'MCP SDK v2 (@modelcontextprotocol/*)';
  if (/^node:(modules|fs|path|deps\/cjs|bootstrap|url|inspector|vm)/.test(m)) return 'node: module loading (startup)';
  if (/^node:(_http|streams|stream_base|net|timers|buffer|encoding|events)/.test(m)) return 'node: http, streams, net, timers';
  if (/^node:/.test(m)) return 'node: tick queue, AbortSignal, other';
  if (m === '(V8 / native)') return 'V8 builtins and native (Map, WeakMap, JSON, parser strings)';
  if (/^(pino|undici|express|prom-client|@opentelemetry)/.test(m)) return m;
  return 'other packages';
}
const isOurs = (url) => moduleOf(url).startsWith('httmcp ');
const site = (f) => `${f.functionName || '(anonymous)'} ${moduleOf(f.url).replace(/^httmcp /, '')}:${f.lineNumber + 1}`;

const byGroup = new Map();
const bySite = new Map();
const byModule = new Map();
const byOurs = new Map();
const inclusiveNames = v.inclusive ? v.inclusive.split(',') : [];
const byInclusive = new Map(inclusiveNames.map((n) => [n, 0]));
let total = 0;
const add = (map, key, bytes) => map.set(key, (map.get(key) ?? 0) + bytes);
(function walk(node, stack) {
  stack.push(node.callFrame);
  if (node.selfSize) {
    total += node.selfSize;
    add(bySite, site(node.callFrame), node.selfSize);
    add(byGroup, groupOf(node.callFrame), node.selfSize);
    add(byModule, moduleOf(node.callFrame.url), node.selfSize);
    let owner = '(no httmcp frame)';
    for (let i = stack.length - 1; i >= 0; i--) if (isOurs(stack[i].url)) { owner = site(stack[i]); break; }
    add(byOurs, owner, node.selfSize);
    for (const name of inclusiveNames) if (stack.some((f) => f.functionName === name)) add(byInclusive, name, node.selfSize);
  }
  for (const child of node.children ?? []) walk(child, stack);
  stack.pop();
})(profile.head, []);

const perCall = (b) => b / calls;
const table = (title, map, n = top) => {
  console.log(`\n${title}`);
  for (const [k, b] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${(perCall(b) / 1024).toFixed(2).padStart(8)} KB  ${((b / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
};
console.log(`total ${(perCall(total) / 1024).toFixed(1)} KB per call over ${calls} calls (${(total / 2 ** 20).toFixed(0)} MB sampled)`);
table('by owner (self bytes)', byGroup, Infinity);
table('by module (self bytes)', byModule);
table('by allocation site (self bytes)', bySite);
table('by innermost httmcp frame on the stack', byOurs);
if (inclusiveNames.length) table('inclusive (the function and all it called)', byInclusive, Infinity);
if (v.json) {
  const obj = (map) => Object.fromEntries([...map].sort((a, b) => b[1] - a[1]).map(([k, b]) => [k, Math.round(perCall(b))]));
  writeFileSync(v.json, JSON.stringify({ calls, bytes_per_call: Math.round(perCall(total)), by_group: obj(byGroup), by_module: obj(byModule), by_site: obj(bySite), by_ours: obj(byOurs), inclusive: obj(byInclusive) }, null, 1) + '\n');
}
