#!/usr/bin/env node
// Backend only, no nginx: what JWT authentication costs `httmcp backend` per `tools/call`, with
// requests sent as nginx sends them (the verdict's principal headers, the client's headers).
// On a shared machine requests per second through nginx swing with the load; backend CPU per
// call measured in short slices that alternate between two backends (auth off, JWT on) in the
// same sitting is the steadier figure (issue 12, point 8; bench/README.md, "authperf").
//
//   npm run build && node bench/auth-backend.mjs [--clients 16] [--slice 0.5] [--slices 20] [--wire http,websocket] [--token] [--profile DIR]
//        [--off-cli PATH] [--jwt-cli PATH] [--jwt-both]
//
// Starts a local authorization server (oauth2-mock-server) and two `httmcp backend`s with the
// example servers: one with authentication off, one with HTTMCP_OAUTH_ISSUER. The JWT backend's
// own verdict endpoint (what nginx's auth_request asks) turns a token into the principal headers
// nginx would add. `http` posts tools/call to /mcp/demo (Streamable HTTP, as the core proxies
// it); `websocket` posts to /mcp/demo/{session}/message (nchan's upstream hop for a WebSocket
// frame, which carries the handshake's headers). Prints one JSON line per wire and mode.
// --off-cli / --jwt-cli run another build's CLI in that slot, and --jwt-both turns JWT on in the
// `off` slot too: two builds with JWT compared the same way (bench/README.md, "authcost"). The
// two slots take turns going first (off-jwt, jwt-off, ...): on a loaded machine whichever ran
// second in each pair paid up to ~12 µs more per call.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OAuth2Server } from 'oauth2-mock-server';
import { Pool } from 'undici';
import { CLI, freePort, median, r1, sleep, stopChild } from './scale-lib.mjs';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '16' },
    slice: { type: 'string', default: '0.5' },
    slices: { type: 'string', default: '20' },
    wire: { type: 'string', default: 'http,websocket' },
    // Send the client's Authorization header too: what nginx passes to backends that exchange
    // tokens (OpenAPI tokenExchange), and passed to every backend before it dropped it at the edge.
    token: { type: 'boolean', default: false },
    // A directory: each backend runs under `node --cpu-prof` and writes off.cpuprofile, jwt.cpuprofile there.
    profile: { type: 'string' },
    'off-cli': { type: 'string' },
    'jwt-cli': { type: 'string' },
    'jwt-both': { type: 'boolean', default: false },
  },
});
const CLIS = { off: values['off-cli'] ?? CLI, jwt: values['jwt-cli'] ?? CLI };
const clients = Number(values.clients);
const SECRET = 'x'.repeat(32);
// What nginx adds to every upstream request (src/http/backend-guard.ts, deriveBackendKey).
const BACKEND_KEY = createHash('sha256').update(`httmcp backend key\n${SECRET}`).digest('hex');
const LIMITS = Object.fromEntries(['PRINCIPAL_TOOL_RATE', 'PRINCIPAL_TOOL_BURST'].map((n) => [`HTTMCP_${n}`, '1000000']));

// Where the backends publish (nchan's publisher, stubbed): a tools/call answers inline, but a
// session publishes now and then (its stream's first message, list changes).
const publishSocket = join(mkdtempSync(join(tmpdir(), 'httmcp-auth-backend-')), 'publish.sock');
const publisher = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"messages":1,"subscribers":1}'));
});
publisher.keepAliveTimeout = 65_000;
await new Promise((resolve) => publisher.listen(publishSocket, resolve));

async function startBackend(name, env) {
  const port = await freePort();
  const nodeArgs = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...nodeArgs, CLIS[name], 'backend', '--listen', `127.0.0.1:${port}`, '--publish-url', `unix:${publishSocket}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, HTTMCP_LOG_LEVEL: 'warn', HTTMCP_SESSION_SECRET: SECRET, ...LIMITS, ...env },
  });
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: clients, pipelining: 1 });
  for (let i = 0; ; i++) {
    try {
      const r = await pool.request({ path: '/healthz', method: 'GET' });
      await r.body.text();
      break;
    } catch (error) {
      if (i > 100) throw error;
      await sleep(100);
    }
  }
  return { child, pool, port };
}

/** CPU time of all of a process's threads in ns (schedstat: finer than /proc/PID/stat's 10 ms ticks). */
function cpuNs(pid) {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {}
  }
  return ns;
}


const as = new OAuth2Server();
await as.issuer.keys.generate('RS256');
await as.start(0, '127.0.0.1');
const backends = {};
const JWT_ENV = { HTTMCP_OAUTH_ISSUER: as.issuer.url, HTTMCP_PUBLIC_URL: 'http://127.0.0.1:8080' };
const stopAll = () => Promise.all(Object.values(backends).map(async ({ pool, child }) => (await pool.close(), await stopChild(child))));
process.once('uncaughtException', (error) => {
  console.error(error);
  void stopAll().finally(() => process.exit(1));
});
Object.assign(backends, {
  off: await startBackend('off', values['jwt-both'] ? JWT_ENV : { HTTMCP_OAUTH_ISSUER: '', HTTMCP_API_KEYS: '' }),
  jwt: await startBackend('jwt', JWT_ENV),
});

/** The headers nginx sends the backend for one call of `mode` (with a session once there is one). */
async function headersOf(mode, wire) {
  const common = {
    host: '127.0.0.1:8080',
    'x-forwarded-for': '127.0.0.1',
    'x-httmcp-backend-key': BACKEND_KEY,
    'user-agent': 'node',
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'x-httmcp-transport': wire === 'http' ? 'http' : 'websocket',
  };
  if (wire === 'websocket') Object.assign(common, { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', 'sec-websocket-protocol': 'mcp' });
  if (mode === 'off' && !values['jwt-both']) return common;
  const { pool } = backends[mode];
  const meta = await (await pool.request({ path: '/.well-known/oauth-protected-resource/mcp/demo', method: 'GET', headers: { 'x-httmcp-backend-key': BACKEND_KEY } })).body.json();
  const token = await as.issuer.buildToken({ expiresIn: 3600, scopesOrTransform: (_h, payload) => Object.assign(payload, { sub: 'bench', aud: meta.resource }) });
  const authorization = `Bearer ${token}`;
  const verdict = await pool.request({ path: '/_httmcp/auth/demo', method: 'GET', headers: { 'x-httmcp-backend-key': BACKEND_KEY, authorization } });
  await verdict.body.text();
  if (verdict.statusCode !== 200) throw new Error(`verdict ${verdict.statusCode}`);
  return {
    ...common,
    ...(values.token ? { authorization } : {}),
    'x-httmcp-principal': verdict.headers['x-httmcp-principal'],
    'x-httmcp-principal-key': verdict.headers['x-httmcp-principal-key'],
  };
}

async function call(pool, path, headers, body) {
  const r = await pool.request({ path, method: 'POST', headers, body });
  const text = await r.body.text();
  if (r.statusCode !== 200) throw new Error(`${path}: ${r.statusCode} ${text.slice(0, 200)}`);
  return { text, headers: r.headers };
}

for (const wire of values.wire.split(',')) {
  const runs = {};
  for (const mode of ['off', 'jwt']) {
    const { pool, child } = backends[mode];
    const headers = await headersOf(mode, wire);
    const init = await call(pool, '/mcp/demo', { ...headers, 'x-httmcp-transport': 'http' }, JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }));
    const session = init.headers['mcp-session-id'];
    const callHeaders = wire === 'http' ? { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' } : headers;
    const path = wire === 'http' ? '/mcp/demo' : `/mcp/demo/${session}/message`;
    runs[mode] = { pool, pid: child.pid, path, headers: callHeaders, calls: 0, slices: [] };
  }
  let id = 1;
  const loop = async (run, until) => {
    while (performance.now() < until) {
      const { text } = await call(run.pool, run.path, run.headers, `{"jsonrpc":"2.0","id":${id++},"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`);
      if (!text.includes('"result"')) throw new Error(`not a result: ${text.slice(0, 200)}`);
      run.calls++;
    }
  };
  const slices = Number(values.slices);
  for (let i = 0; i < slices * 2 + 2; i++) {
    // The first slice of each mode warms the JIT up and is not counted. Pairs alternate which
    // mode goes first (off-jwt, jwt-off, off-jwt, ...).
    const run = runs[i % 2 === Math.floor(i / 2) % 2 ? 'off' : 'jwt'];
    const [calls0, ns0] = [run.calls, cpuNs(run.pid)];
    const until = performance.now() + Number(values.slice) * 1000;
    await Promise.all(Array.from({ length: clients }, () => loop(run, until)));
    if (i >= 2) run.slices.push((cpuNs(run.pid) - ns0) / 1000 / (run.calls - calls0));
  }
  const loadavg = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  // Medians: a slice that the machine's other work slowed down says little. Slice i of each mode
  // ran next to slice i of the other, so their difference is the steadiest figure.
  const row = {
    wire,
    clients,
    off_us_per_call: r1(median(runs.off.slices)),
    jwt_us_per_call: r1(median(runs.jwt.slices)),
    jwt_minus_off_us: r1(median(runs.jwt.slices.map((jwt, i) => jwt - runs.off.slices[i]))),
    slices: runs.off.slices.length,
    calls: { off: runs.off.calls, jwt: runs.jwt.calls },
    loadavg,
  };
  process.stdout.write(JSON.stringify(row) + '\n');
}
await stopAll();
publisher.close();
await as.stop();
