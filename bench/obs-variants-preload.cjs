// Measuring only (bench/README.md, "obslayer (2026-12-06)"): variants of one build for
// bench/hotpath-http.mjs, chosen by the name of the build's directory (copies of dist/):
//   .../noop/...  spans are made and sampled as usual, but exported to nothing (no HTTP client)
//   .../als/...   the OpenTelemetry SDK with its AsyncLocalStorage context manager
//   .../pipe/...  an extra http server on a unix socket (hit from outside with curl --unix-socket)
//   node bench/hotpath-http.mjs --dist dist@off,dist@on,A/noop@on,A/als@on \
//     --node-flags="--require $PWD/bench/obs-variants-preload.cjs"
const path = process.argv[1] || '';
const from = { paths: [path] };
if (path.includes('/noop/')) {
  const { OTLPExporterBase } = require(require.resolve('@opentelemetry/otlp-exporter-base', from));
  OTLPExporterBase.prototype.export = function (items, done) {
    done({ code: 0 });
  };
}
if (path.includes('/als/')) process.env.HTTMCP_OTEL_ASYNC_CONTEXT = 'on';
if (path.includes('/pipe/')) {
  const http = require('node:http');
  const socket = `${require('node:os').tmpdir()}/obs-pipe-${process.pid}.sock`;
  const server = http.createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(20000)));
  server.listen(socket);
  server.unref();
}
