import express, { type Router } from 'express';
import type { NchanEndpoint } from './endpoint.js';
import { checkBackendRequest } from './backend-guard.js';
import { answer, readBody, TOO_LARGE } from './io.js';
import { isAuthRoutePath, type AuthRoutes } from './auth-endpoint.js';

/**
 * The Express adapter: the routes nginx calls for one server, as a Router to mount on any app
 * (`app.use(server.router)`). The node:http adapter (node-handler.ts) serves the same endpoint
 * with less overhead; `httmcp start` and `httmcp backend` use that one. Like that one, it
 * serves nginx only: requests without the backend key, with an Origin or a foreign Host get 403.
 *
 * With `authRoutes` (authentication on: `HTTMCP.mount` passes them) it also answers nginx's
 * auth_request verdicts (`/_httmcp/auth`) and the Protected Resource Metadata, for every server of
 * the gateway: whichever of an app's routers comes first answers, with the same code as node:http.
 */
export function createNchanRouter(endpoint: NchanEndpoint, backendKey: string, authRoutes?: AuthRoutes): Router {
  const router = express.Router();
  const base = `/mcp/${endpoint.name}`;
  const log = (error: unknown) => endpoint.logger.error({ err: error }, 'request failed');

  if (authRoutes) {
    router.use((req, res, next) => {
      if (!isAuthRoutePath(req.path)) return next();
      const refusal = checkBackendRequest(req.headers, backendKey, true);
      if (refusal) return void res.status(refusal.status).type('text/plain').send(`${refusal.reason}\n`);
      // nginx keeps a verdict's header lines and parses them on every cache hit: not this one too.
      res.removeHeader('x-powered-by');
      if (!authRoutes(req.path, req, res)) next();
    });
  }

  // Only nginx, which adds the key derived from the shared session secret (backend-guard.ts).
  router.use(base, (req, res, next) => {
    const refusal = checkBackendRequest(req.headers, backendKey, true);
    if (refusal) res.status(refusal.status).type('text/plain').send(`${refusal.reason}\n`);
    else next();
  });

  router.get(base, (req, res) => answer(res, () => endpoint.open(req.headers), log));
  router.delete(base, (req, res) => answer(res, () => endpoint.terminate(req.headers), log));
  router.post(base, (req, res) =>
    answer(res, async () => {
      const body = await readBody(req, endpoint.maxMessageBytes);
      return body === TOO_LARGE ? endpoint.tooLarge(false) : endpoint.post(req.headers, body, res);
    }, log),
  );
  router.post(`${base}/:session/message`, (req, res) =>
    answer(res, async () => {
      const body = await readBody(req, endpoint.maxMessageBytes);
      return body === TOO_LARGE ? endpoint.tooLarge(true) : endpoint.message(req.params.session, req.headers, body);
    }, log),
  );
  router.post(`${base}/:session/post`, (req, res) =>
    answer(res, async () => endpoint.legacyPost(req.params.session, req.headers, await readBody(req, endpoint.maxMessageBytes)), log),
  );
  router.post(`${base}/:session/closed`, (req, res) => answer(res, () => endpoint.closed(req.params.session, req.headers), log));
  return router;
}
