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

import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { z } from 'zod';
import { ADD_INPUT, listenAndAnnounce, registerAddTool, serverArgs, servePath } from './lib/sdk-server.mjs';

const args = serverArgs({ 'response-mode': { type: 'string', default: 'auto' } });

/** The SDK's documented factory: one fresh McpServer per serving unit (here, per request). */
function buildServer() {
  const server = new McpServer({ name: 'sdk-v2-baseline', version: '1.0.0' });
  registerAddTool(server, z.object(ADD_INPUT));
  return server;
}

const handler = createMcpHandler(buildServer, {
  responseMode: args['response-mode'],
  onerror: (error) => console.error('[sdk-v2]', error.message),
});
const httpServer = servePath(args.path, toNodeHandler(handler), 'sdk-v2');
httpServer.keepAliveTimeout = 65_000;
listenAndAnnounce(httpServer, args, { responseMode: args['response-mode'] });
