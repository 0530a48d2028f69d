#!/usr/bin/env node
// In-process backend cost of one 2026-07-28 `tools/call` (`add` on the demo server) through
// httmcp's whole 2026 path without HTTP or nginx: NchanEndpoint.post (classification, header
// checks) -> ModernEndpoint -> the wrappers composed in HTTMCP.attach -> the pinned SDK v2
// instance -> reply. Also the 2025 path (endpoint.message on a session) for comparison.
// CPU is process.cpuUsage() over --calls after a warm-up; --conc requests in flight.
//
//   node bench/era2026-backend.mjs [--calls 40000] [--conc 16] [--era 2026|2025] [--rounds 3]
//   node --cpu-prof bench/era2026-backend.mjs ...   # a profile of the same loop
//   --dist DIR: another build's dist/ (an older commit's, to compare in the same sitting)
import { parseArgs } from 'node:util';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const { values: v } = parseArgs({ options: { calls: { type: 'string', default: '40000' }, conc: { type: 'string', default: '16' }, era: { type: 'string', default: '2026' }, rounds: { type: 'string', default: '3' }, dist: { type: 'string' } } });
const DIST = pathToFileURL(resolve(v.dist ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'dist'))).href;
const { Gateway } = await import(`${DIST}/src/index.js`);
const { createExampleServers } = await import(`${DIST}/examples/index.js`);
const { pino } = await import('pino');
// Nothing is published for an inline `add`; the URL is never dialled.
const gateway = new Gateway({ publishUrl: 'unix:/nonexistent.sock', sessionSecret: 'x'.repeat(32), logger: pino({ level: 'silent' }) });
const demo = createExampleServers().find((s) => s.name === 'demo');
const endpoint = demo.endpoint(gateway);
const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1.0.0' } };
const tail = `,"method":"tools/call","params":${JSON.stringify({ name: 'add', arguments: { a: 1, b: 2 }, _meta: meta })}}`;
const base = { accept: 'application/json, text/event-stream', 'content-type': 'application/json', host: 'localhost' };
let call;
if (v.era === '2026') {
  const headers = { ...base, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'add' };
  call = (id) => endpoint.post(headers, `{"jsonrpc":"2.0","id":${id}${tail}`);
} else {
  const init = await endpoint.post(base, JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'b', version: '1' } } }));
  const session = init.headers['mcp-session-id'];
  const headers = { ...base, 'mcp-protocol-version': '2025-06-18', 'mcp-session-id': session };
  call = (id) => endpoint.message(session, headers, `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`);
}
let id = 1;
const first = await call(id++);
if (first.status !== 200 || !String(first.body).includes('"3"')) throw new Error(`unexpected answer ${JSON.stringify(first)}`);
const run = async (calls) => {
  const conc = Number(v.conc);
  await Promise.all(
    Array.from({ length: conc }, async () => {
      for (let i = 0; i < calls / conc; i++) {
        const answer = await call(id++);
        if (answer.status !== 200) throw new Error(`status ${answer.status} ${answer.body}`);
      }
    }),
  );
};
const calls = Number(v.calls);
await run(calls / 4);
const figures = [];
for (let r = 0; r < Number(v.rounds); r++) {
  const before = process.cpuUsage();
  await run(calls);
  const used = process.cpuUsage(before);
  figures.push((used.user + used.system) / calls);
}
process.stdout.write(JSON.stringify({ era: v.era, calls, conc: Number(v.conc), us_per_call: figures.map((x) => Math.round(x * 10) / 10), min_us: Math.round(Math.min(...figures) * 10) / 10, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100) }) + '\n');
process.exit(0);
