#!/usr/bin/env node
// Spike for issue 11: can httmcp keep ONE McpServer per MCP server for 2026-07-28 requests
// through the SDK v2's public API, and what does each approach cost per tools/call?
//
// Modes (all on plain node:http, no nginx, the same `add` tool as the other baselines):
//   handler  — the SDK's `createMcpHandler(factory)` + `toNodeHandler`: a fresh McpServer per
//              request (what the SDK documents; bench/sdk-v2-server.mjs is the same thing).
//   pinned   — ONE McpServer for the process, served through the public
//              `serveStdio(factory, { transport, legacy: 'reject' })` entry with a custom
//              Transport that multiplexes HTTP requests onto that one connection (as
//              src/session/session-hub.ts does for the 2025 era with the v1 SDK): each POST's
//              JSON-RPC id is swapped for a process-unique one on the way in and restored on the
//              way out. The first 2026 request pins the instance to the modern era; the SDK
//              validates every later request's envelope itself.
//   cached   — `createMcpHandler` with a factory that returns the same instance every time:
//              shows whether the handler tolerates reuse (it is not meant to).
//
// Usage: node bench/era2026-spike-server.mjs --mode handler|pinned|cached [--port N] [--path /mcp]
// Prints one JSON line {port,url,pid,mode} once listening. Measure with
//   node bench/load.mjs --era 2026 --url <url> --clients 16 --pid <pid>

import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { z } from 'zod';
import { ADD_INPUT, listenAndAnnounce, registerAddTool, serverArgs, servePath } from './lib/sdk-server.mjs';

const args = serverArgs({ mode: { type: 'string', default: 'pinned' } });

function buildServer() {
  const server = new McpServer({ name: 'era2026-spike', version: '1.0.0' });
  registerAddTool(server, z.object(ADD_INPUT));
  return server;
}

const MODERN = '2026-07-28';

/**
 * A Transport for serveStdio's one long-lived connection. Requests from many HTTP exchanges are
 * delivered on it with process-unique ids; replies are routed back to their exchange.
 */
class MultiplexTransport {
  /** internal id -> { id: the client's id, res } */
  pending = new Map();
  nextId = 1;
  onmessage;
  onclose;
  onerror;
  async start() {}
  async close() {
    this.onclose?.();
  }
  async send(message) {
    if ('id' in message && message.id !== null && ('result' in message || 'error' in message)) {
      const exchange = this.pending.get(message.id);
      if (!exchange) return;
      this.pending.delete(message.id);
      const body = JSON.stringify({ ...message, id: exchange.id });
      exchange.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    // Progress/log notifications and listen streams would go to nchan here; the spike drops them.
  }
  /** Delivers one HTTP exchange's request; its reply goes to `res`. */
  deliver(request, res) {
    const internal = this.nextId++;
    this.pending.set(internal, { id: request.id, res });
    res.once('close', () => {
      // The client left: the spec's cancellation for 2026 requests (closing the stream).
      if (this.pending.delete(internal)) {
        this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: internal } });
      }
    });
    this.onmessage?.({ ...request, id: internal });
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

let serve;
if (args.mode === 'handler') {
  serve = toNodeHandler(createMcpHandler(buildServer, { onerror: (e) => console.error('[handler]', e.message) }));
} else if (args.mode === 'cached') {
  const one = buildServer();
  serve = toNodeHandler(createMcpHandler(() => one, { onerror: (e) => console.error('[cached]', e.message) }));
} else if (args.mode === 'pinned') {
  const mux = new MultiplexTransport();
  const one = buildServer();
  serveStdio(() => one, { transport: mux, legacy: 'reject', onerror: (e) => console.error('[pinned]', e.message) });
  serve = async (req, res) => {
    // The edge (nginx) checks the standard headers in httmcp; this only refuses what is not 2026.
    if (req.method !== 'POST' || req.headers['mcp-protocol-version'] !== MODERN) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":null,"error":{"code":-32022,"message":"Unsupported protocol version"}}');
      return;
    }
    let message;
    try {
      message = JSON.parse(await readBody(req));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}');
      return;
    }
    if (message.id === undefined) {
      res.writeHead(202).end();
      mux.onmessage?.(message);
      return;
    }
    mux.deliver(message, res);
  };
} else {
  console.error(`unknown --mode ${args.mode}`);
  process.exit(2);
}

const httpServer = servePath(args.path, serve, 'spike');
httpServer.keepAliveTimeout = 65_000;
listenAndAnnounce(httpServer, args, { mode: args.mode });
