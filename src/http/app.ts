import express, { type Express } from 'express';
import type { Gateway } from '../gateway.js';
import type { HTTMCP } from '../server/httmcp.js';

/**
 * The backend app nginx talks to: every server's router on one Express app, plus `/healthz`.
 * Used by the local stack and by `httmcp backend` (Docker, or your own nginx).
 */
export function createBackendApp(servers: HTTMCP[], gateway: Gateway): Express {
  const names = new Set<string>();
  for (const server of servers) {
    if (names.has(server.name)) throw new Error(`two servers are named ${JSON.stringify(server.name)}; names are URL segments and must differ`);
    names.add(server.name);
  }
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.json({ ok: true, servers: [...names], ...gateway.stats() });
  });
  for (const server of servers) app.use(server.mount(gateway));
  return app;
}
