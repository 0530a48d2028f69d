// The two stacks of `bench/slices.mjs --compare observability` (off: no metrics, no exporter; on:
// per-tool metrics, `--metrics-listen` scraped every 5 s, OTLP to a local sink at 1%), one nginx
// worker each, for bench/auth-callgrind/run.sh (nginx's instructions per call on a copy of each
// stack's config). Prints one JSON line {off, on} (each `httmcp start --json` answer plus its
// nginx prefix), then stays up until SIGTERM.
//
//   node bench/obsedge-stacks.mjs > stacks.json &
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { freePort } from './scale-lib.mjs';
import { startOtlpSink } from './lib/otlp-sink.mjs';
import { startedInfo } from './lib/started.mjs';

const UNLIMITED = Object.fromEntries(
  ['CLIENT_CONNECTIONS', 'PRINCIPAL_CONNECTIONS'].map((n) => [`HTTMCP_${n}`, '65535']).concat(
    ['CLIENT_RATE', 'CLIENT_BURST', 'PRINCIPAL_RATE', 'PRINCIPAL_BURST', 'PRINCIPAL_TOOL_RATE', 'PRINCIPAL_TOOL_BURST'].map((n) => [`HTTMCP_${n}`, '1000000']),
  ),
);
const children = [];
async function start(env, args = []) {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/src/cli/main.js', 'start', '--port', String(port), '--json', ...args], {
    env: { ...process.env, HTTMCP_LOG_LEVEL: 'warn', HTTMCP_WORKER_PROCESSES: '1', ...UNLIMITED, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const info = await startedInfo(child);
  // nginx rewrites its argv into one title: "nginx: master process /usr/sbin/nginx -p P -c C ...".
  info.prefix = / -p (\S+?)\/?(?: |$)/.exec(readFileSync(`/proc/${info.nginxPid}/cmdline`, 'utf8'))[1];
  info.port = port;
  return info;
}
const sink = await startOtlpSink();
const metricsPort = await freePort();
const out = {};
out.off = await start({ HTTMCP_REQUEST_METRICS: 'off', OTEL_TRACES_EXPORTER: '', OTEL_EXPORTER_OTLP_ENDPOINT: '' });
out.on = await start(
  { HTTMCP_REQUEST_METRICS: 'on', OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' },
  ['--metrics-listen', `127.0.0.1:${metricsPort}`],
);
const scraper = setInterval(() => request(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.body.text(), () => {}), 5000);
console.log(JSON.stringify(out));
process.on('SIGTERM', async () => {
  clearInterval(scraper);
  for (const child of children) child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));
  await sink.stop();
  process.exit(0);
});
