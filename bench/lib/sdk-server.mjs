// What the SDK baseline servers (sdk-baseline-server, sdk-stateful-server, sdk-v2-server,
// era2026-spike-server) share, so that they differ only in how they serve MCP: their options,
// the `add` tool, the one JSON line they announce themselves with, and their shutdown.

import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { z } from 'zod';

/**
 * --port (0, the default: an ephemeral one), --host, --path, and the script's own `options`
 * (parseArgs' form). PORT, HOST and MCP_PATH in the environment change the defaults. Exits with 2
 * on a port that is not one.
 */
export function serverArgs(options = {}) {
  const { values: args } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.PORT ?? '0' },
      host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' },
      path: { type: 'string', default: process.env.MCP_PATH ?? '/mcp' },
      ...options,
    },
    allowPositionals: true,
  });
  const port = Number(args.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`invalid --port ${args.port}`);
    process.exit(2);
  }
  return { ...args, port };
}

/** The `add` tool's input, as a zod shape (SDK v1 takes it as is; v2 wants `z.object(ADD_INPUT)`). */
export const ADD_INPUT = { a: z.number(), b: z.number() };

/**
 * Registers the one tool every baseline serves, the same as httmcp's demo `add`: the sum of `a`
 * and `b` as text. `inputSchema` is {@link ADD_INPUT} in the form the server's SDK version takes.
 */
export function registerAddTool(server, inputSchema) {
  server.registerTool('add', { description: 'Add two numbers', inputSchema }, async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }));
}

/**
 * A node:http server that hands requests for `path` (query aside) to `serve` and answers 404 to
 * any other; a `serve` that throws gets a 500 and a line on stderr tagged `tag`.
 */
export function servePath(path, serve, tag) {
  return createServer((req, res) => {
    if ((req.url ?? '/').split('?')[0] !== path) {
      res.writeHead(404).end();
      return;
    }
    Promise.resolve(serve(req, res)).catch((error) => {
      console.error(`[${tag}] handler failed:`, error);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
}

/**
 * Listens on `args.port` and `args.host`; once listening, prints one JSON line on stdout,
 * `{port, host, path, url, pid, ...extra}`, which is how the benchmarks find the server. Closes
 * on SIGINT and SIGTERM (open connections too; at the latest after 1 s).
 */
export function listenAndAnnounce(httpServer, args, extra = {}) {
  httpServer.once('error', (error) => {
    console.error('Failed to start server:', error);
    process.exit(1);
  });
  httpServer.listen(args.port, args.host, () => {
    const addr = httpServer.address();
    const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const url = `http://${shownHost}:${addr.port}${args.path}`;
    process.stdout.write(JSON.stringify({ port: addr.port, host: addr.address, path: args.path, url, pid: process.pid, ...extra }) + '\n');
  });
  const shutdown = () => {
    httpServer.close(() => process.exit(0));
    httpServer.closeAllConnections?.();
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
