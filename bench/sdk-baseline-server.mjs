#!/usr/bin/env node
// Baseline for the benchmarks: the official MCP TypeScript SDK's own Streamable
// HTTP server, run the way the SDK documents for stateless servers
// (examples/server/simpleStatelessStreamableHttp + jsonResponseStreamableHttp):
// a fresh McpServer + StreamableHTTPServerTransport per POST,
// `sessionIdGenerator: undefined` (stateless), `enableJsonResponse: true`,
// mounted on the SDK's express app helper (express.json + localhost Host check).
//
// Usage:
//   node bench/sdk-baseline-server.mjs [--port N] [--host 127.0.0.1] [--path /mcp] [--sse]
//   env: PORT, HOST, MCP_PATH
// --port 0 (default) picks an ephemeral port. Once listening, one JSON line is
// printed on stdout: {"port":1234,"host":"127.0.0.1","path":"/mcp","url":"...","pid":...}
// --sse turns enableJsonResponse off (responses as text/event-stream); it is
// only there to exercise load.mjs's SSE path, the baseline itself is JSON.

import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { ADD_INPUT, listenAndAnnounce, registerAddTool, serverArgs } from './lib/sdk-server.mjs';

const args = serverArgs({ sse: { type: 'boolean', default: false } });
const enableJsonResponse = !args.sse;

function getServer() {
  const server = new McpServer({ name: 'sdk-baseline', version: '1.0.0' });
  registerAddTool(server, ADD_INPUT);
  return server;
}

const app = createMcpExpressApp({ host: args.host });

app.post(args.path, async (req, res) => {
  const server = getServer();
  try {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse,
    });
    res.on('close', () => {
      transport.close();
      server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  } catch (error) {
    console.error('Error handling MCP request:', error);
    if (!res.headersSent) {
      res.status(500).json({
        jsonrpc: '2.0',
        error: { code: -32603, message: 'Internal server error' },
        id: null,
      });
    }
  }
});

const methodNotAllowed = (_req, res) => {
  res.writeHead(405, { 'content-type': 'application/json' }).end(
    JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null }),
  );
};
app.get(args.path, methodNotAllowed);
app.delete(args.path, methodNotAllowed);

listenAndAnnounce(createServer(app), args, { enableJsonResponse });
