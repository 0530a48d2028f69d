// An OTLP/HTTP endpoint for the observability benchmarks (bench/run.mjs --observability,
// bench/slices.mjs --compare observability): it accepts and drops every export, so that what a
// collector costs is not counted as httmcp's.

import { createServer } from 'node:http';

/** Starts the sink on an ephemeral loopback port: its URL, how many trace exports it took, stop. */
export async function startOtlpSink() {
  let exports = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/v1/traces') exports++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, exports: () => exports, stop: async () => server.close() };
}
