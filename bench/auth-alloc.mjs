#!/usr/bin/env node
// In process, no HTTP: where the backend's code allocates per `tools/call`, by function, with
// authentication off or on (bench/README.md, "authws"). V8's sampling heap profiler, told to
// keep objects the garbage collector already freed, so every allocation counts, not only what
// is still alive at the end; bytes are an estimate (one sample per 64 bytes allocated on
// average). Allocation does not depend on the machine's load, unlike CPU per call: compare two
// builds, or off and on, by running this once per (build, mode) and diffing the JSON it prints.
// The endpoint is called as bench/auth-inprocess.mjs calls it (headers as nginx sends them).
//
//   npm run build && node bench/auth-alloc.mjs [DIST=dist] [MODE=on|off] [WIRE=websocket|http] [CALLS=20000] > A.json
//   node bench/auth-alloc.mjs B-dist on websocket > B.json && node bench/auth-alloc.mjs --diff A.json B.json
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
if (process.argv[2] === '--diff') {
  // Per function: bytes per call in B minus A, largest differences first (TOP rows, default 30).
  const [a, b] = process.argv.slice(3, 5).map((file) => JSON.parse(readFileSync(file, 'utf8')));
  const sum = (o) => Object.values(o).reduce((x, y) => x + y, 0);
  console.log(`bytes per call: A ${sum(a).toFixed(0)} B ${sum(b).toFixed(0)}`);
  const rows = [...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [k, (b[k] ?? 0) - (a[k] ?? 0), a[k] ?? 0, b[k] ?? 0]);
  rows.sort((x, y) => Math.abs(y[1]) - Math.abs(x[1]));
  for (const [k, d, x, y] of rows.slice(0, Number(process.env.TOP ?? 30))) console.log(`${d.toFixed(0).padStart(7)}  A ${x.toFixed(0).padStart(6)} B ${y.toFixed(0).padStart(6)}  ${k}`);
  process.exit(0);
}
const [dist = 'dist', mode = 'on', wire = 'websocket', callsArg = '20000'] = process.argv.slice(2);
const CALLS = Number(callsArg);
const lib = await import(pathToFileURL(resolve(dist, 'src/index.js')).href);
const { encodePrincipal } = await import(pathToFileURL(resolve(dist, 'src/auth/principal.js')).href);
const { pino } = await import('pino');
const { z } = await import('zod');
const auth = mode === 'on';
const gateway = new lib.Gateway({
  publishUrl: 'unix:/nonexistent/httmcp-bench.sock', sessionSecret: 'x'.repeat(32), logger: pino({ level: 'silent' }), inlineBudgetMs: 60_000,
  principalQuota: { toolRatePerSecond: 1_000_000, toolBurst: 1_000_000 },
  ...(auth ? { auth: { publicUrl: 'http://127.0.0.1:8080', apiKeys: [{ subject: 'bench', sha256: '0'.repeat(64) }] } } : {}),
});
const server = new lib.HTTMCP({ name: 'demo', version: '1.0.0' }).tool('add', { description: 'Add', input: { a: z.number(), b: z.number() } }, ({ a, b }) => a + b);
const endpoint = server.endpoint(gateway);
const common = { host: '127.0.0.1:8080', 'user-agent': 'node', 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'x-httmcp-backend-key': 'k'.repeat(64) };
if (auth) common['x-httmcp-principal'] = encodePrincipal({ issuer: 'http://127.0.0.1:9/issuer', subject: 'bench', clientId: 'bench-client', scopes: ['mcp:tools'], expiresAt: Math.floor(Date.now() / 1000) + 3600 });
const init = await endpoint.post({ ...common, 'x-httmcp-transport': 'http' }, JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }));
const session = init.headers['mcp-session-id'];
let id = 1;
const headerPairs = Object.entries(common);
const fresh = (extra) => { const h = {}; for (const [k, v] of headerPairs) h[k] = Buffer.from(v).toString('latin1'); return Object.assign(h, extra); };
const body = () => `{"jsonrpc":"2.0","id":${id++},"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`;
const call = wire === 'http'
  ? () => endpoint.post(fresh({ 'x-httmcp-transport': 'http', 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' }), body())
  : () => endpoint.message(session, fresh({ 'x-httmcp-transport': 'websocket' }), body());
async function run(n) { let left = n; await Promise.all(Array.from({ length: 16 }, async () => { while (left-- > 0) { const a = await call(); if (a.status !== 200) throw new Error(a.body); } })); }
// Warm the JIT up first: what is measured is the steady state.
await run(20000);
const s = new Session(); s.connect();
await s.post('HeapProfiler.startSampling', { samplingInterval: 64, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
await run(CALLS);
const { profile } = await s.post('HeapProfiler.stopSampling');
const m = new Map();
const walk = (n) => { const f = n.callFrame; const key = `${f.functionName || '(anon)'} ${(f.url || '').replace(/^.*node_modules\//, 'nm/').replace(/^.*\/dist\//, 'dist/')}:${f.lineNumber + 1}`; m.set(key, (m.get(key) ?? 0) + n.selfSize); n.children.forEach(walk); };
walk(profile.head);
const out = Object.fromEntries([...m].map(([k, v]) => [k, v / CALLS]));
console.log(JSON.stringify(out));
await server.unmount(); await gateway.close(); process.exit(0);
