#!/usr/bin/env node
// Backend only over node:http, no nginx: backend CPU per quick `tools/call` (`add`) of each era,
// sent as nginx's core sends a Streamable HTTP POST (backend key, one keep-alive connection per
// client), to separate what node:http + the backend's HTTP path cost from nginx's part.
//
//   node bench/era2026-http.mjs [--calls 20000] [--conc 16] [--rounds 3] [--dist DIR]
//
// Alternates the eras on one `httmcp backend` (2026, 2025, 2026, ...); per round the backend's
// CPU (utime+stime from /proc) over --calls calls after a warm-up round. `--dist`: another
// build's dist/ (A/B in one sitting).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values: v } = parseArgs({ options: { calls: { type: 'string', default: '20000' }, conc: { type: 'string', default: '16' }, rounds: { type: 'string', default: '3' }, dist: { type: 'string' } } });
const CLI = join(resolve(v.dist ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'dist')), 'src', 'cli', 'main.js');
const SECRET = 'x'.repeat(32);
const port = 40000 + Math.floor(Math.random() * 1000);
const be = spawn(process.execPath, [CLI, 'backend', '--listen', `127.0.0.1:${port}`, '--publish-url', 'unix:/nonexistent.sock'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, HTTMCP_SESSION_SECRET: SECRET } });
const conc = Number(v.conc);
const pool = new Pool(`http://127.0.0.1:${port}`, { connections: conc, pipelining: 1 });
for (;;) {
  try {
    const r = await pool.request({ path: '/healthz', method: 'GET' });
    await r.body.text();
    break;
  } catch {
    await new Promise((r) => setTimeout(r, 100));
  }
}
// What nginx adds to every upstream request (src/http/backend-guard.ts, deriveBackendKey).
const key = createHash('sha256').update(`httmcp backend key\n${SECRET}`).digest('hex');
const base = { 'x-httmcp-backend-key': key, 'content-type': 'application/json', accept: 'application/json, text/event-stream', host: 'localhost', 'x-forwarded-for': '127.0.0.1', 'x-httmcp-transport': 'streamable' };
const init = await pool.request({ path: '/mcp/demo', method: 'POST', headers: base, body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }) });
await init.body.text();
const session = init.headers['mcp-session-id'];
const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1.0.0' } };
const eras = {
  2025: { headers: { ...base, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' }, tail: ',"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}' },
  2026: { headers: { ...base, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'add' }, tail: `,"method":"tools/call","params":${JSON.stringify({ name: 'add', arguments: { a: 1, b: 2 }, _meta: meta })}}` },
};
const ticks = () => {
  const f = readFileSync(`/proc/${be.pid}/stat`, 'utf8');
  const a = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(a[11]) + Number(a[12]);
};
let id = 1;
const run = async (era, calls) => {
  const { headers, tail } = eras[era];
  await Promise.all(
    Array.from({ length: conc }, async () => {
      for (let i = 0; i < calls / conc; i++) {
        const r = await pool.request({ path: '/mcp/demo', method: 'POST', headers, body: `{"jsonrpc":"2.0","id":${id++}${tail}` });
        const text = await r.body.text();
        if (r.statusCode !== 200 || !text.includes('"3"')) throw new Error(`${era}: ${r.statusCode} ${text.slice(0, 200)}`);
      }
    }),
  );
};
const calls = Number(v.calls);
const figures = { 2025: [], 2026: [] };
for (const era of ['2026', '2025']) await run(era, calls / 4);
for (let round = 0; round < Number(v.rounds); round++) {
  for (const era of ['2026', '2025']) {
    const t0 = ticks();
    const w0 = performance.now();
    await run(era, calls);
    figures[era].push({ us: Math.round((((ticks() - t0) * 10000) / calls) * 10) / 10, rps: Math.round(calls / ((performance.now() - w0) / 1000)) });
  }
}
process.stdout.write(JSON.stringify({ calls, conc, dist: v.dist ?? 'dist', backend_us_per_call: { 2026: figures[2026].map((f) => f.us), 2025: figures[2025].map((f) => f.us) }, rps: { 2026: figures[2026].map((f) => f.rps), 2025: figures[2025].map((f) => f.rps) }, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100) }) + '\n');
be.kill();
await pool.close();
process.exit(0);
