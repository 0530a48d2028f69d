import { createServer, type Server } from 'node:http';
import { checkBackendRequest } from '../http/backend-guard.js';
import type { BackendMetrics } from './metrics.js';

/**
 * A listener that serves only `GET /metrics`, for a Prometheus scraper on the host
 * (`--metrics-listen 127.0.0.1:9464`): the backend itself listens on a unix socket only nginx
 * can reach. Browser requests (an Origin, or a Host that is not an IP literal or localhost) are
 * refused, so a page cannot read it through DNS rebinding.
 */
export function listenForMetrics(metrics: BackendMetrics, port: number, host = '127.0.0.1'): Promise<Server> {
  const server = createServer((req, res) => {
    const refusal = checkBackendRequest(req.headers, '', false);
    if (refusal) {
      res.writeHead(refusal.status, { 'content-type': 'text/plain' }).end(`${refusal.reason}\n`);
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics is served here\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    metrics.text().then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
