#!/usr/bin/env node
// Backend only, no nginx: how fast `httmcp backend` takes in N concurrent tool calls sent as
// nchan's upstream hop sends them (POST /mcp/demo/{session}/message), over a pool of CONC
// keep-alive connections, and publishes the late replies to a stub publish listener.
//
//   node bench/backend-intake.mjs [N=5000] [CONC=256] [sleep|add]
//   env: MS (sleep length, default 2000), NODEARGS (flags for the backend's node),
//        HTTMCP_* (passed to the backend, e.g. HTTMCP_INLINE_BUDGET_MS=10). All N calls share one
//        session, so the in-flight bounds are raised to N unless set (HTTMCP_MAX_INFLIGHT_PER_SESSION).
//
// Three rounds on one backend (round 0 is JIT-cold). Per round: wall time until every exchange
// was answered (204 for a released call, 200 inline), the backend's CPU for that, and for sleep
// the time until every reply was published.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { CLI, cpuTicks } from './scale-lib.mjs';
const N = Number(process.argv[2] ?? 5000), CONC = Number(process.argv[3] ?? 256), tool = process.argv[4] ?? 'sleep';
const sock = join(mkdtempSync(join(tmpdir(), 'httmcp-intake-')), 'pub.sock');
let published = 0;
const pubSrv = createServer((req, res) => { req.resume(); req.on('end', () => { published++; res.writeHead(200, { 'content-type': 'application/json' }).end('{"messages":1,"subscribers":1}'); }); });
pubSrv.keepAliveTimeout = 65000;
await new Promise((r) => pubSrv.listen(sock, r));
const port = 39000 + Math.floor(Math.random() * 1000);
const be = spawn(process.execPath, [...(process.env.NODEARGS ? process.env.NODEARGS.split(' ') : []), CLI, 'backend', '--listen', `127.0.0.1:${port}`, '--publish-url', `unix:${sock}`], { stdio: ['ignore', 'ignore', 'inherit'], env: { HTTMCP_MAX_INFLIGHT_PER_SESSION: String(N), HTTMCP_MAX_INFLIGHT: String(2 * N), ...process.env, HTTMCP_SESSION_SECRET: 'x'.repeat(32) } });
const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONC });
for (;;) { try { const r = await pool.request({ path: '/healthz', method: 'GET' }); await r.body.text(); break; } catch { await new Promise((r) => setTimeout(r, 100)); } }
// What nginx adds to every upstream request (src/http/backend-guard.ts, deriveBackendKey).
const key = createHash('sha256').update(`httmcp backend key\n${'x'.repeat(32)}`).digest('hex');
const init = await pool.request({ path: '/mcp/demo', method: 'POST', headers: { 'x-httmcp-backend-key': key, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }) });
await init.body.text(); const session = init.headers['mcp-session-id'];
const hdrs = { 'x-httmcp-backend-key': key, 'content-type': 'application/json', 'x-httmcp-transport': 'websocket', host: 'localhost', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', 'x-forwarded-for': '127.0.0.1', 'sec-websocket-protocol': '' };
const ticks = () => cpuTicks(be.pid);
const args = tool === 'sleep' ? { ms: Number(process.env.MS ?? 2000) } : { a: 1, b: 2 };
for (let round = 0; round < 3; round++) {
  const c0 = ticks(), p0 = published, t0 = performance.now(); let statuses = {};
  await Promise.all(Array.from({ length: N }, async (_, i) => {
    const r = await pool.request({ path: `/mcp/demo/${session}/message`, method: 'POST', headers: hdrs, body: `{"jsonrpc":"2.0","id":${round * N + i + 1},"method":"tools/call","params":{"name":"${tool}","arguments":${JSON.stringify(args)}}}` });
    await r.body.text(); statuses[r.statusCode] = (statuses[r.statusCode] ?? 0) + 1;
  }));
  const tIn = performance.now() - t0, cIn = ticks() - c0;
  while (tool === 'sleep' && published - p0 < N) await new Promise((r) => setTimeout(r, 20));
  const tAll = performance.now() - t0, cAll = ticks() - c0;
  console.log(`round ${round} ${tool}: intake ${tIn.toFixed(0)} ms backend cpu ${cIn * 10} ms (${(cIn * 10000 / N).toFixed(0)} us/call) ${JSON.stringify(statuses)}; all published after ${tAll.toFixed(0)} ms, backend cpu total ${cAll * 10} ms (${(cAll * 10000 / N).toFixed(0)} us/call)`);
  await new Promise((r) => setTimeout(r, 500));
}
be.kill(); await pool.close(); pubSrv.close();
