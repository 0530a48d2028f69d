#!/usr/bin/env node
// The official SDK's STATEFUL Streamable HTTP server, as in the SDK README's
// "With Session Management" example: one StreamableHTTPServerTransport + one
// McpServer per session, kept in a map by session id; POST initialize creates
// them, GET opens the session's standalone SSE stream, DELETE ends it.
// Tools: add {a,b} and sleep {ms}, like the demo server.
//
//   node [--expose-gc] bench/sdk-stateful-server.mjs [--port 0] [--host 127.0.0.1] [--path /mcp]
//
// Prints {"port","url","pid"} on stdout once listening. GET /_stats answers
// {sessions, rss, heapUsed, ...} (after a full GC when started with --expose-gc);
// it is for the benchmark only.

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ADD_INPUT, listenAndAnnounce, registerAddTool, serverArgs } from './lib/sdk-server.mjs';

const args = serverArgs();

function getServer() {
  const server = new McpServer({ name: 'sdk-stateful', version: '1.0.0' });
  registerAddTool(server, ADD_INPUT);
  server.registerTool('sleep', { description: 'Answer after ms', inputSchema: { ms: z.number().int().min(0) } }, async ({ ms }) => {
    await new Promise((r) => setTimeout(r, ms));
    return { content: [{ type: 'text', text: `slept ${ms} ms` }] };
  });
  return server;
}

const transports = {};
const app = createMcpExpressApp({ host: args.host });

app.post(args.path, async (req, res) => {
  const sessionId = req.headers['mcp-session-id'];
  let transport;
  if (sessionId && transports[sessionId]) {
    transport = transports[sessionId];
  } else if (!sessionId && isInitializeRequest(req.body)) {
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        transports[id] = transport;
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) delete transports[transport.sessionId];
    };
    const server = getServer();
    await server.connect(transport);
  } else {
    res.status(400).json({ jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: No valid session ID provided' }, id: null });
    return;
  }
  await transport.handleRequest(req, res, req.body);
});

const handleSessionRequest = async (req, res) => {
  const sessionId = req.headers['mcp-session-id'];
  if (!sessionId || !transports[sessionId]) {
    res.status(400).send('Invalid or missing session ID');
    return;
  }
  await transports[sessionId].handleRequest(req, res);
};
app.get(args.path, handleSessionRequest);
app.delete(args.path, handleSessionRequest);

app.get('/_stats', (_req, res) => {
  if (globalThis.gc) {
    globalThis.gc();
    globalThis.gc();
  }
  const m = process.memoryUsage();
  res.json({ sessions: Object.keys(transports).length, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, gc: Boolean(globalThis.gc) });
});

const httpServer = createServer(app);
httpServer.keepAliveTimeout = 65_000;
httpServer.headersTimeout = 0;
httpServer.requestTimeout = 0;
listenAndAnnounce(httpServer, args);
