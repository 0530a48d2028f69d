// Allocation sites per call (sampling heap profiler incl. collected objects), one mode at a time.
import { Session } from 'node:inspector/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
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
