#!/usr/bin/env node
// Baseline for the 2026-era benchmarks: the official MCP TypeScript SDK v2's own HTTP entry,
// run the way its docs show (docs/protocol-versions.md, docs/serving/*):
// `createMcpHandler(factory)` from @modelcontextprotocol/server wrapped once with
// `toNodeHandler` from @modelcontextprotocol/node, on plain node:http. The entry builds a fresh
// McpServer per request (that is its design) and serves both eras: 2026-07-28 requests on its
// modern path, 2025-era requests through its stateless legacy fallback (`legacy: 'stateless'`).
// The one tool, `add`, is the same as bench/sdk-baseline-server.mjs's.
//
// Usage:
//   node bench/sdk-v2-server.mjs [--port N] [--host 127.0.0.1] [--path /mcp] [--response-mode auto|json|sse]
// --port 0 (default) picks an ephemeral port. Once listening, one JSON line is printed on stdout:
// {"port":1234,"host":"127.0.0.1","path":"/mcp","url":"...","pid":...}

import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { z } from 'zod';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '0' },
    host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' },
    path: { type: 'string', default: process.env.MCP_PATH ?? '/mcp' },
    'response-mode': { type: 'string', default: 'auto' },
  },
  allowPositionals: true,
});

const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port ${args.port}`);
  process.exit(2);
}

/** The SDK's documented factory: one fresh McpServer per serving unit (here, per request). */
function buildServer() {
  const server = new McpServer({ name: 'sdk-v2-baseline', version: '1.0.0' });
  server.registerTool(
    'add',
    { description: 'Add two numbers', inputSchema: z.object({ a: z.number(), b: z.number() }) },
    async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }),
  );
  return server;
}

const handler = createMcpHandler(buildServer, {
  responseMode: args['response-mode'],
  onerror: (error) => console.error('[sdk-v2]', error.message),
});
const node = toNodeHandler(handler);

const httpServer = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== args.path) {
    res.writeHead(404).end();
    return;
  }
  Promise.resolve(node(req, res)).catch((error) => {
    console.error('[sdk-v2] handler failed:', error);
    if (!res.headersSent) res.writeHead(500).end();
  });
});

httpServer.keepAliveTimeout = 65_000;
httpServer.listen(port, args.host, () => {
  const addr = httpServer.address();
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  process.stdout.write(
    JSON.stringify({
      port: addr.port,
      host: addr.address,
      path: args.path,
      url: `http://${shownHost}:${addr.port}${args.path}`,
      pid: process.pid,
      responseMode: args['response-mode'],
    }) + '\n',
  );
});

const shutdown = () => {
  httpServer.close(() => process.exit(0));
  httpServer.closeAllConnections?.();
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
