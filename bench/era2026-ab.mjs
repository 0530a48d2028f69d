#!/usr/bin/env node
// Paired in-process A/B of one 2026-07-28 `tools/call` (`add` on the demo server) between two
// builds loaded in ONE process: blocks of --block calls alternate between build A and build B,
// each block's CPU (process.cpuUsage) divided by its calls. Neighbours on a shared machine slow
// both builds alike within a pair of blocks, so the per-pair ratio B/A is far steadier than two
// separate runs. Same path as era2026-backend.mjs (NchanEndpoint.post -> ModernEndpoint -> the
// pinned SDK instance), without HTTP.
//
//   node bench/era2026-ab.mjs --a /tmp/main/dist --b dist [--era 2026|2025] [--block 2000] [--pairs 30] [--conc 16]
import { parseArgs } from 'node:util';
import os from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const { values: v } = parseArgs({ options: { a: { type: 'string' }, b: { type: 'string', default: 'dist' }, era: { type: 'string', default: '2026' }, block: { type: 'string', default: '2000' }, pairs: { type: 'string', default: '30' }, conc: { type: 'string', default: '16' } } });
if (!v.a) throw new Error('--a DIST (the build to compare against) is required');
const { pino } = await import('pino');

async function load(dir) {
  const dist = pathToFileURL(resolve(dir)).href;
  const { Gateway } = await import(`${dist}/src/index.js`);
  const { createExampleServers } = await import(`${dist}/examples/index.js`);
  const gateway = new Gateway({ publishUrl: 'unix:/nonexistent.sock', sessionSecret: 'x'.repeat(32), logger: pino({ level: 'silent' }) });
  const endpoint = createExampleServers().find((s) => s.name === 'demo').endpoint(gateway);
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1.0.0' } };
  const base = { accept: 'application/json, text/event-stream', 'content-type': 'application/json', host: 'localhost' };
  if (v.era === '2026') {
    const tail = `,"method":"tools/call","params":${JSON.stringify({ name: 'add', arguments: { a: 1, b: 2 }, _meta: meta })}}`;
    const headers = { ...base, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'add' };
    return (id) => endpoint.post(headers, `{"jsonrpc":"2.0","id":${id}${tail}`);
  }
  const init = await endpoint.post(base, JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'b', version: '1' } } }));
  const session = init.headers['mcp-session-id'];
  const headers = { ...base, 'mcp-protocol-version': '2025-06-18', 'mcp-session-id': session };
  return (id) => endpoint.message(session, headers, `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`);
}

const builds = { A: await load(v.a), B: await load(v.b) };
let id = 1;
const conc = Number(v.conc);
async function block(call, calls) {
  const before = process.cpuUsage();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      for (let i = 0; i < calls / conc; i++) {
        const answer = await call(id++);
        if (answer.status !== 200) throw new Error(`status ${answer.status} ${answer.body}`);
      }
    }),
  );
  const used = process.cpuUsage(before);
  return (used.user + used.system) / calls;
}
const size = Number(v.block);
for (let i = 0; i < 5; i++) for (const call of Object.values(builds)) await block(call, size); // warm-up
const a = [];
const b = [];
const ratios = [];
for (let p = 0; p < Number(v.pairs); p++) {
  // Alternate which build goes first, so neither always follows the other's garbage.
  const [x, y] = p % 2 === 0 ? [await block(builds.A, size), await block(builds.B, size)] : (([y2, x2]) => [x2, y2])([await block(builds.B, size), await block(builds.A, size)]);
  a.push(x);
  b.push(y);
  ratios.push(y / x);
}
const median = (xs) => {
  const s = [...xs].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const quantile = (xs, q) => [...xs].sort((p, r) => p - r)[Math.min(xs.length - 1, Math.max(0, Math.round(q * (xs.length - 1))))];
const r1 = (x) => Math.round(x * 10) / 10;
process.stdout.write(
  JSON.stringify({
    era: v.era,
    block: size,
    pairs: ratios.length,
    a_median_us: r1(median(a)),
    b_median_us: r1(median(b)),
    ratio_median: Math.round(median(ratios) * 1000) / 1000,
    ratio_p25_p75: [Math.round(quantile(ratios, 0.25) * 1000) / 1000, Math.round(quantile(ratios, 0.75) * 1000) / 1000],
    loadavg: os.loadavg().map((x) => r1(x)),
  }) + '\n',
);
process.exit(0);
