#!/usr/bin/env node
// The backend's cost per quick `tools/call` (`add` on the demo server) over node:http alone, with
// the requests written byte for byte as nginx's core sends them (captured with strace from a
// running stack): a Streamable HTTP POST of a 2025 session (`http`), a WebSocket frame nchan
// forwards (`ws`: POST /mcp/demo/{session}/message), and a 2026-07-28 POST (`http-2026`).
//
//   node bench/hotpath-http.mjs [--calls 20000] [--conc 16] [--rounds 3]
//        [--modes http,ws,http-2026] [--dist DIR[,DIR...]] [--gc [--gc-log FILE]] [--cpu-prof DIR]
//        [--node-flags '--max-semi-space-size=32'] [--serve 'MODES;MODES...']
//        [--warmup N] [--wrap 'valgrind --tool=callgrind --callgrind-out-file=DIR/{label}.%p']
//
// Each --dist (default: this checkout's dist/) gets its own `httmcp backend`; rounds alternate
// the builds and the modes (A http, B http, A ws, B ws, ...), so that two builds are compared
// in one sitting under the same neighbours. Per round: the backend's CPU (utime+stime from
// /proc), and its main thread's alone, per call; with --gc (the backend runs with --trace-gc-nvp), GCs per 1,000 calls, bytes
// allocated and promoted per call and GC pause per call (medians over the rounds: allocation
// does not depend on the neighbours, CPU time does); with --cpu-prof, each backend writes a V8 CPU
// profile into DIR when it exits.
// A build given as `DIR@on` runs with observability on as `run.mjs --observability` sets it
// (per-tool metrics, the OpenTelemetry SDK exporting OTLP to a local sink at
// parentbased_traceidratio 0.01, /metrics scraped every 5 s); `DIR@off` with both off
// (HTTMCP_REQUEST_METRICS=off, no OTEL_*); its parts: `@metrics` (per-tool metrics, no SDK),
// `@tracing` (the SDK at 0.01, no per-tool metrics), `@sdk0` (the SDK at ratio 0: no span ever), `@sampled` (the SDK at ratio 1: a span per request), `@onthread` (`on`
// with the OTLP exporter in the main thread, HTTMCP_OTEL_EXPORT_THREAD=off), `@scraped` (both off, scraped); without either, the environment's (metrics on by
// default). One DIR may be given several times with different suffixes (`dist@off,dist@on`).
// --serve gives each --dist its own modes (`;` between builds, `,` between modes; default --modes
// for all), so that one backend can serve the 2026 era alone while another serves every transport
// in turn, as run.mjs's single backend does: `--dist dist,dist --serve 'http-2026;http,ws,http-2026'`.
// --wrap runs each backend under a command: under callgrind, instructions per call are a figure
// that a loaded machine does not move (with --callgrind-windows, counted in the measured windows only;
// bench/README.md, "obsfold" and "leansdk", for how clock-driven work weighs under it). The
// protocol for on against off (bench/README.md, "Session 14"): the clock-driven work stretched
// as callgrind stretches time (`OTEL_BSP_SCHEDULE_DELAY=250000 HTTMCP_GC_FOLD_MS=250000`), and
// `--warmup 200000` or more: the 1% of sampled calls takes that long to get V8 to optimize the
// span code, which a 60,000-call warm-up leaves compiling inside the window.
// The load is raw sockets with prebuilt requests (one request in flight per connection, as
// nginx's keep-alive upstream connections carry them), so the driver costs little.
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: v } = parseArgs({
  options: {
    calls: { type: 'string', default: '20000' },
    conc: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
    modes: { type: 'string', default: 'http,ws,http-2026' },
    dist: { type: 'string' },
    gc: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    'node-flags': { type: 'string', default: '' },
    'gc-log': { type: 'string' },
    serve: { type: 'string' },
    // A command each backend runs under, e.g. 'valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p'
    // (`{label}` is replaced by the build's label with its non-word characters as `_`).
    wrap: { type: 'string' },
    // With --wrap 'valgrind --tool=callgrind --instr-atstart=no ...': instructions counted in the
    // measured windows only (callgrind_control turns them on and off while the backend idles).
    'callgrind-windows': { type: 'boolean', default: false },
    // How often `@on` builds are scraped (ms; 0: once, at the start, which starts the process metrics).
    'scrape-ms': { type: 'string', default: '5000' },
    // Calls per mode and backend before the measured rounds (default: a quarter of --calls).
    warmup: { type: 'string' },
  },
});
const HERE = dirname(fileURLToPath(import.meta.url));
// `DIR:trimmed`: send that build the headers this branch's nginx sends (no X-Forwarded-For, no
// balance key on 2025 requests, no Sec-WebSocket-* on frames); without it, the older set.
const serves = v.serve?.split(';').map((m) => m.split(',').filter(Boolean));
const dists = (v.dist ?? join(HERE, '..', 'dist')).split(',').map((d, i) => {
  const [spec, obs] = d.split('@');
  const [dir, headers] = spec.split(':');
  const serve = serves?.[i];
  return { dir: resolve(dir), trimmed: headers === 'trimmed', label: serve ? `${d}#${i} [${serve.join(',')}]` : d, obs, serve };
});
// The OTLP sink of `@on` builds: accepts every export.
const sink = dists.some((d) => d.obs !== undefined && d.obs !== 'off') ? createServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}')); }) : undefined;
if (sink) await new Promise((r) => sink.listen(0, '127.0.0.1', r));
const OBS_ENV = {
  on: () => ({ HTTMCP_REQUEST_METRICS: 'on', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.address().port}`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' }),
  off: () => ({ HTTMCP_REQUEST_METRICS: 'off', OTEL_TRACES_EXPORTER: '', OTEL_EXPORTER_OTLP_ENDPOINT: '' }),
  // The parts of `on`, one at a time (scraped like `on`).
  metrics: () => ({ ...OBS_ENV.off(), HTTMCP_REQUEST_METRICS: 'on' }),
  tracing: () => ({ ...OBS_ENV.on(), HTTMCP_REQUEST_METRICS: 'off' }),
  sdk0: () => ({ ...OBS_ENV.on(), HTTMCP_REQUEST_METRICS: 'off', OTEL_TRACES_SAMPLER_ARG: '0' }),
  // Every request traced (the SDK at ratio 1, no per-tool metrics): against `sdk0`, the cost of one span.
  sampled: () => ({ ...OBS_ENV.on(), HTTMCP_REQUEST_METRICS: 'off', OTEL_TRACES_SAMPLER_ARG: '1' }),
  // `on` with the SDK's OTLP exporter in the main thread (builds since otelworker export from a worker).
  onthread: () => ({ ...OBS_ENV.on(), HTTMCP_OTEL_EXPORT_THREAD: 'off' }),
  // Both off, but scraped: prom-client's process metrics (event-loop delay, GC observer) alone.
  scraped: () => OBS_ENV.off(),
};
const modes = v.modes.split(',');
const calls = Number(v.calls);
const conc = Number(v.conc);
const SECRET = 'x'.repeat(32);
// What nginx adds to every upstream request (src/http/backend-guard.ts, deriveBackendKey).
const KEY = createHash('sha256').update(`httmcp backend key\n${SECRET}`).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One keep-alive connection carrying one request at a time; answers parsed by Content-Length. */
function connection(port) {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  let buffered = Buffer.alloc(0);
  let waiting;
  socket.on('data', (chunk) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    for (;;) {
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffered.subarray(0, end).toString('latin1');
      const m = /\r\ncontent-length: *(\d+)/i.exec(head);
      let length = m ? Number(m[1]) : 0;
      let skip = 0;
      if (!m && /\r\ntransfer-encoding: *chunked/i.test(head)) {
        // Only bodyless answers come chunked here (an empty last chunk): skip it.
        const last = buffered.indexOf('0\r\n\r\n', end + 4);
        if (last < 0) return;
        skip = last + 5 - (end + 4);
      }
      if (buffered.length < end + 4 + length + skip) return;
      const status = Number(head.slice(9, 12));
      const body = buffered.subarray(end + 4, end + 4 + length).toString('utf8');
      buffered = buffered.subarray(end + 4 + length + skip);
      const done = waiting;
      waiting = undefined;
      done({ status, head, body });
    }
  });
  const ready = new Promise((ok, fail) => {
    socket.once('connect', ok);
    socket.once('error', fail);
  });
  return {
    ready,
    send: (bytes) =>
      new Promise((ok) => {
        waiting = ok;
        socket.write(bytes);
      }),
    close: () => socket.destroy(),
  };
}

function request(path, headers, body = '') {
  const lines = [`POST ${path} HTTP/1.1`, ...headers, `Content-Length: ${Buffer.byteLength(body)}`];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

async function startBackend({ dir: dist, trimmed, label, obs, serve }) {
  const port = 40000 + Math.floor(Math.random() * 20000);
  const node = v['node-flags'].split(' ').filter(Boolean);
  if (v.gc) node.push('--trace-gc-nvp');
  if (v['cpu-prof']) node.push('--cpu-prof', '--cpu-prof-dir', resolve(v['cpu-prof']), '--cpu-prof-interval', '100');
  const wrap = (v.wrap ?? '').replaceAll('{label}', label.replace(/\W+/g, '_')).split(' ').filter(Boolean);
  const argv = [...node, join(dist, 'src', 'cli', 'main.js'), 'backend', '--listen', `127.0.0.1:${port}`, '--publish-url', 'unix:/nonexistent.sock'];
  const child = spawn(wrap[0] ?? process.execPath, wrap.length ? [...wrap.slice(1), process.execPath, ...argv] : argv, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, HTTMCP_SESSION_SECRET: SECRET, HTTMCP_LOG_LEVEL: 'warn', ...(OBS_ENV[obs]?.() ?? {}) },
  });
  const backend = { dist: label, child, port, gcs: 0, allocated: 0, promoted: 0, pause: 0, serves: (mode) => !serve || serve.includes(mode) };
  const drop = (headers) => (trimmed ? headers.filter((h) => !/^(X-Forwarded-For|Sec-WebSocket-|X-Httmcp-Balance-Key: (?!m26))/.test(h)) : headers);
  let partial = '';
  child.stdout.on('data', (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop();
    for (const line of lines) {
      if (!/ gc=/.test(line)) continue;
      backend.gcs++;
      // --trace-gc-nvp: bytes allocated since the last GC, promoted by this one, its pause.
      backend.allocated += Number(/ allocated=(\d+)/.exec(line)?.[1] ?? 0);
      backend.promoted += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
      backend.pause += Number(/ pause=([\d.]+)/.exec(line)?.[1] ?? 0);
      if (v['gc-log']) appendFileSync(v['gc-log'], `${label} ${line}\n`);
    }
  });
  for (;;) {
    // A random port already taken: the backend exits, and waiting on would wait forever.
    if (child.exitCode !== null) throw new Error(`backend ${label} exited (${child.exitCode}) before it answered on port ${port}`);
    try {
      const c = connection(port);
      await c.ready;
      const r = await c.send(`GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n`);
      c.close();
      if (r.status === 200) break;
    } catch {}
    await sleep(100);
  }
  // Sessions: a Streamable HTTP one (initialize as nginx forwards it) and a WebSocket one (the
  // handshake's GET, then initialize as a frame).
  const c = connection(port);
  await c.ready;
  const common = [`X-Httmcp-Backend-Key: ${KEY}`];
  const init = (version) => JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
  const http = await c.send(request('/mcp/demo', [...common, 'X-Httmcp-Transport: http', 'Host: httmcp_backend', 'X-Forwarded-For: 127.0.0.1', 'accept: application/json, text/event-stream', 'content-type: application/json'], init('2025-06-18')));
  const httpSession = /\r\nmcp-session-id: *([^\r]+)/i.exec(http.head)?.[1];
  const open = await c.send(`GET /mcp/demo HTTP/1.1\r\nX-Httmcp-Backend-Key: ${KEY}\r\nX-Httmcp-Transport: websocket\r\nHost: httmcp_backend\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ctW74uUxg7zH+AigppMmjQ==\r\nSec-WebSocket-Protocol: mcp\r\n\r\n`);
  const wsSession = /\/_httmcp\/session\/demo\/([^?\r]+)/.exec(open.head)?.[1];
  if (!httpSession || !wsSession) throw new Error(`no sessions: ${http.head} / ${open.head}`);
  const wsHeaders = [...common, 'X-Httmcp-Transport: websocket', 'Host: httmcp_backend', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: ctW74uUxg7zH+AigppMmjQ==', 'Sec-WebSocket-Protocol: mcp'];
  const wsInit = await c.send(request(`/mcp/demo/${wsSession}/message`, wsHeaders, init('2025-06-18')));
  if (wsInit.status !== 200) throw new Error(`ws initialize: ${wsInit.head}`);
  await c.send(request(`/mcp/demo/${wsSession}/message`, wsHeaders, '{"jsonrpc":"2.0","method":"notifications/initialized"}'));
  c.close();
  const call = '"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}';
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {}, 'io.modelcontextprotocol/clientInfo': { name: 'httmcp-bench-load', version: '1.0.0' } };
  backend.modes = {
    http: {
      path: '/mcp/demo',
      headers: drop([...common, 'X-Httmcp-Transport: http', `X-Httmcp-Balance-Key: ${httpSession}`, 'Host: httmcp_backend', 'X-Forwarded-For: 127.0.0.1', 'accept: application/json, text/event-stream', 'content-type: application/json', 'mcp-protocol-version: 2025-06-18', `mcp-session-id: ${httpSession}`]),
      body: (id) => `{"jsonrpc":"2.0","id":${id},${call}`,
    },
    ws: { path: `/mcp/demo/${wsSession}/message`, headers: drop(wsHeaders), body: (id) => `{"jsonrpc":"2.0","id":${id},${call}` },
    'http-2026': {
      path: '/mcp/demo',
      headers: drop([...common, 'X-Httmcp-Transport: http', 'X-Httmcp-Balance-Key: m26.35ad5cc16f73237a32143bcd6bf01ed4', 'Host: httmcp_backend', 'X-Forwarded-For: 127.0.0.1', 'accept: application/json, text/event-stream', 'content-type: application/json', 'mcp-protocol-version: 2026-07-28', 'mcp-method: tools/call', 'mcp-name: add']),
      body: (id) => `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":${JSON.stringify({ name: 'add', arguments: { a: 1, b: 2 }, _meta: meta })}}`,
    },
  };
  if (obs !== undefined && obs !== 'off') {
    // A scraper, as run.mjs --observability has (the first scrape starts prom-client's process metrics).
    const scraper = connection(port);
    await scraper.ready;
    const scrape = () => scraper.send('GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await scrape();
    const every = Number(v['scrape-ms']);
    backend.scraper = { timer: every > 0 ? setInterval(scrape, every) : undefined, close: () => scraper.close() };
  }
  backend.connections = Array.from({ length: conc }, () => connection(port));
  await Promise.all(backend.connections.map((x) => x.ready));
  return backend;
}

const ticks = (pid, task) => {
  // task: one thread's (the main thread's is the pid's own); without it, the whole process's.
  const f = readFileSync(task === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${task}/stat`, 'utf8');
  const a = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(a[11]) + Number(a[12]);
};

let id = 1;
async function run(backend, mode, n) {
  const { path, headers, body } = backend.modes[mode];
  await Promise.all(
    backend.connections.map(async (c) => {
      for (let i = 0; i < n / conc; i++) {
        const r = await c.send(request(path, headers, body(id++)));
        if (r.status !== 200 || !r.body.includes('"3"')) throw new Error(`${mode}: ${r.status} ${r.head} ${r.body.slice(0, 200)}`);
      }
    }),
  );
}

const backends = [];
for (const dist of dists) backends.push(await startBackend(dist));
const warmup = v.warmup === undefined ? calls / 4 : Number(v.warmup);
for (const b of backends) for (const mode of modes) if (b.serves(mode)) await run(b, mode, warmup);
const figures = {};
const windows = [];
for (let round = 0; round < Number(v.rounds); round++) {
  for (const mode of modes) {
    // Every other round in reverse, so that no build always runs right after the other's load.
    for (const b of round % 2 ? [...backends].reverse() : backends) {
      if (!b.serves(mode)) continue;
      const t0 = ticks(b.child.pid);
      const m0 = ticks(b.child.pid, b.child.pid);
      const g0 = { gcs: b.gcs, allocated: b.allocated, promoted: b.promoted, pause: b.pause };
      const w0 = performance.now();
      const h0 = process.hrtime.bigint();
      if (v['callgrind-windows']) execFileSync('callgrind_control', ['-i', 'on', String(b.child.pid)], { stdio: 'ignore' });
      await run(b, mode, calls);
      if (v['callgrind-windows']) execFileSync('callgrind_control', ['-i', 'off', String(b.child.pid)], { stdio: 'ignore' });
      // The window in V8's profile clock (CLOCK_MONOTONIC, µs), to cut one mode's samples out.
      windows.push({ pid: b.child.pid, dist: b.dist, mode, round, calls, start_us: Number(h0 / 1000n), end_us: Number(process.hrtime.bigint() / 1000n) });
      const cpu = ticks(b.child.pid) - t0;
      const main = ticks(b.child.pid, b.child.pid) - m0;
      const wall = performance.now() - w0;
      await sleep(50); // the last --trace-gc lines
      const f = ((figures[b.dist] ??= {})[mode] ??= { us: [], main_thread_us: [], rps: [], gc_per_1k: [], alloc_kb_per_call: [], promoted_kb_per_call: [], gc_pause_us_per_call: [] });
      f.us.push(Math.round(((cpu * 10000) / calls) * 10) / 10);
      // The JavaScript thread's share; the rest is V8's helper threads (GC, compilation) and libuv's.
      f.main_thread_us.push(Math.round(((main * 10000) / calls) * 10) / 10);
      f.rps.push(Math.round(calls / (wall / 1000)));
      if (v.gc) {
        // Counted per GC, so a round's figure is whole GCs' worth: average over rounds.
        f.gc_per_1k.push(Math.round(((b.gcs - g0.gcs) * 1000 * 10) / calls) / 10);
        f.alloc_kb_per_call.push(Math.round((b.allocated - g0.allocated) / calls / 102.4) / 10);
        f.promoted_kb_per_call.push(Math.round((b.promoted - g0.promoted) / calls / 102.4) / 10);
        f.gc_pause_us_per_call.push(Math.round(((b.pause - g0.pause) * 1000 * 10) / calls) / 10);
      }
    }
  }
}
for (const b of backends) {
  for (const c of b.connections) c.close();
  if (b.scraper) {
    clearInterval(b.scraper.timer);
    b.scraper.close();
  }
  b.child.kill('SIGTERM');
}
await Promise.all(backends.map((b) => new Promise((r) => (b.child.exitCode !== null ? r() : b.child.once('exit', r)))));
sink?.close();
if (v['cpu-prof']) writeFileSync(join(resolve(v['cpu-prof']), 'windows.json'), JSON.stringify(windows, null, 1) + '\n');
const result = { calls, conc, loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100), backend_us_per_call: figures };
process.stdout.write(JSON.stringify(result) + '\n');
for (const [dist, byMode] of Object.entries(figures)) {
  for (const [mode, f] of Object.entries(byMode)) {
    const sorted = [...f.us].sort((a, b) => a - b);
    const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
    process.stderr.write(`${mode.padEnd(10)} ${dist.padEnd(36)} µs/call median ${median} min ${sorted[0]} (${f.us.join(' / ')}); main thread ${f.main_thread_us.join(' / ')}\n`);
    if (v.gc) {
      // Medians: a round's figures are whole GCs' worth, and a mark-compact's count can land in one.
      const mid = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      process.stderr.write(`${''.padEnd(48)}medians: GCs per 1k calls ${mid(f.gc_per_1k)}, allocated ${mid(f.alloc_kb_per_call)} KB/call, promoted ${mid(f.promoted_kb_per_call)} KB/call, GC pauses ${mid(f.gc_pause_us_per_call)} µs/call\n`);
    }
  }
}
