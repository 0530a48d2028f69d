#!/usr/bin/env node
// In-process cost of the SDK's own dispatch of one `tools/call` (`add`), without HTTP, to see how
// much of the backend's budget each SDK line takes (issue 11's target: 120 µs per 2026 call,
// everything included):
//   v1-2025  — @modelcontextprotocol/sdk 1.x McpServer on a bare Transport (what httmcp runs today)
//   v2-2025  — @modelcontextprotocol/server 2.x McpServer on a bare Transport (legacy era)
//   v2-2026  — the same v2 McpServer pinned to 2026-07-28 through serveStdio({ transport })
// Requests are delivered in batches of --concurrency and awaited; CPU is process.cpuUsage().
//
//   node bench/era2026-dispatch.mjs [--calls 20000] [--concurrency 16] [--rounds 3]

import { parseArgs } from 'node:util';
import { McpServer as McpServerV1 } from '@modelcontextprotocol/sdk/server/mcp.js';
import { McpServer as McpServerV2 } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';

const { values: v } = parseArgs({
  options: {
    calls: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
  },
});
const CALLS = Number(v.calls);
const CONCURRENCY = Number(v.concurrency);

/** A Transport whose replies resolve the promise of the request with the same id. */
class LoopTransport {
  waiting = new Map();
  async start() {}
  async close() {}
  async send(message) {
    const done = this.waiting.get(message.id);
    if (done) {
      this.waiting.delete(message.id);
      done(message);
    }
  }
  call(message) {
    return new Promise((resolve) => {
      this.waiting.set(message.id, resolve);
      this.onmessage(message);
    });
  }
}

const addTool = (server, schema) =>
  server.registerTool('add', { description: 'Add two numbers', inputSchema: schema }, async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }));

const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1.0.0' },
};

async function setup(kind) {
  const wire = new LoopTransport();
  if (kind === 'v2-2026') {
    const server = new McpServerV2({ name: 'bench', version: '1.0.0' });
    addTool(server, z.object({ a: z.number(), b: z.number() }));
    serveStdio(() => server, { transport: wire, legacy: 'reject' });
    await new Promise((r) => setImmediate(r));
    return { wire, params: { _meta: ENVELOPE } };
  }
  const server = kind === 'v1-2025' ? new McpServerV1({ name: 'bench', version: '1.0.0' }) : new McpServerV2({ name: 'bench', version: '1.0.0' });
  addTool(server, { a: z.number(), b: z.number() });
  await server.connect(wire);
  const init = await wire.call({
    jsonrpc: '2.0',
    id: 'init',
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1.0.0' } },
  });
  if (init.error) throw new Error(`${kind}: initialize failed: ${JSON.stringify(init.error)}`);
  wire.onmessage({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return { wire, params: {} };
}

async function measure(kind) {
  const { wire, params } = await setup(kind);
  let id = 0;
  const one = async () => {
    const reply = await wire.call({ jsonrpc: '2.0', id: ++id, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 }, ...params } });
    if (reply.error || reply.result?.content?.[0]?.text !== '3') throw new Error(`${kind}: bad reply ${JSON.stringify(reply)}`);
  };
  for (let i = 0; i < 2000; i += CONCURRENCY) await Promise.all(Array.from({ length: CONCURRENCY }, one)); // warm up
  const rounds = [];
  for (let r = 0; r < Number(v.rounds); r++) {
    const before = process.cpuUsage();
    for (let i = 0; i < CALLS; i += CONCURRENCY) await Promise.all(Array.from({ length: CONCURRENCY }, one));
    const used = process.cpuUsage(before);
    rounds.push(Math.round(((used.user + used.system) / CALLS) * 10) / 10);
  }
  return { kind, cpu_us_per_call: rounds, best: Math.min(...rounds) };
}

for (const kind of ['v1-2025', 'v2-2025', 'v2-2026']) {
  process.stdout.write(JSON.stringify(await measure(kind)) + '\n');
}
process.exit(0);
