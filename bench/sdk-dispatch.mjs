#!/usr/bin/env node
// The SDK v2's own cost per `tools/call`, without httmcp: a bare `Server` (one handler) on a
// transport that does nothing, one call in flight. For an upstream report of what the SDK's
// dispatch allocates and promotes per inbound request (bench/README.md, "gcroots").
//
//   node --trace-gc-nvp bench/sdk-dispatch.mjs [--calls 100000]   # sum `promoted=` of `gc=s` lines
//   node --cpu-prof bench/sdk-dispatch.mjs
import { parseArgs } from 'node:util';
import { Server } from '@modelcontextprotocol/server';

const { values: v } = parseArgs({ options: { calls: { type: 'string', default: '100000' } } });
const server = new Server({ name: 'bench', version: '1.0.0' }, { capabilities: { tools: {} } });
server.setRequestHandler('tools/call', async (request) => ({
  content: [{ type: 'text', text: String(request.params.arguments.a + request.params.arguments.b) }],
}));
let answer;
const transport = {
  async start() {},
  async close() {},
  async send(message) {
    if ('id' in message) answer?.(message);
  },
};
await server.connect(transport);
const ask = (message) =>
  new Promise((resolve) => {
    answer = resolve;
    transport.onmessage(message, {});
  });
await ask({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } });
transport.onmessage({ jsonrpc: '2.0', method: 'notifications/initialized' });
const calls = Number(v.calls);
const before = process.cpuUsage();
for (let id = 1; id <= calls; id++) {
  const reply = await ask({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } });
  if (!reply.result) throw new Error(`unexpected answer ${JSON.stringify(reply)}`);
}
const used = process.cpuUsage(before);
process.stdout.write(JSON.stringify({ calls, us_per_call: Math.round(((used.user + used.system) / calls) * 10) / 10 }) + '\n');
