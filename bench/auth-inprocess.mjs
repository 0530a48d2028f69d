#!/usr/bin/env node
// In-process, no HTTP: what authentication costs the backend's own code per `tools/call`, with
// the endpoint called as the HTTP layer calls it (headers as nginx sends them, the verdict's
// principal header included). Two gateways in one process, auth off and on (API-key verdicts:
// the backend never verifies a token on a call, it trusts the edge's principal header), run in
// short slices that alternate, so the machine's other work shifts both alike. CPU is
// process.cpuUsage() per call; `--dist A,B` compares builds (each a dist/ directory) in the
// same sitting. Run with `node --cpu-prof` to see where the difference goes.
//
//   npm run build && node bench/auth-inprocess.mjs [--calls 4000] [--slices 12] [--concurrency 16] [--wire http,websocket] [--dist dist,/tmp/other/dist]
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '4000' },
    slices: { type: 'string', default: '12' },
    concurrency: { type: 'string', default: '16' },
    wire: { type: 'string', default: 'http,websocket' },
    dist: { type: 'string', default: 'dist' },
    // One mode only (off or on): for a profile of that mode alone.
    only: { type: 'string' },
  },
});
const CALLS = Number(values.calls);
const CONCURRENCY = Number(values.concurrency);
const SECRET = 'x'.repeat(32);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r1 = (x) => Math.round(x * 10) / 10;

async function setup(dist, auth) {
  const lib = await import(pathToFileURL(resolve(dist, 'src/index.js')).href);
  const { encodePrincipal } = await import(pathToFileURL(resolve(dist, 'src/auth/principal.js')).href);
  const { pino } = await import('pino');
  const { z } = await import('zod');
  const gateway = new lib.Gateway({
    publishUrl: 'unix:/nonexistent/httmcp-bench.sock',
    sessionSecret: SECRET,
    logger: pino({ level: 'silent' }),
    inlineBudgetMs: 60_000,
    principalQuota: { toolRatePerSecond: 1_000_000, toolBurst: 1_000_000 },
    ...(auth ? { auth: { publicUrl: 'http://127.0.0.1:8080', apiKeys: [{ subject: 'bench', sha256: '0'.repeat(64) }] } } : {}),
  });
  const server = new lib.HTTMCP({ name: 'demo', version: '1.0.0' }).tool('add', { description: 'Add', input: { a: z.number(), b: z.number() } }, ({ a, b }) => a + b);
  const endpoint = server.endpoint(gateway);
  // As nginx sends them (bench/auth-backend.mjs): the verdict's principal, not the token.
  const common = {
    host: '127.0.0.1:8080',
    'user-agent': 'node',
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'x-httmcp-backend-key': 'k'.repeat(64),
  };
  if (auth) {
    const principal = { issuer: 'http://127.0.0.1:9/issuer', subject: 'bench', clientId: 'bench-client', scopes: ['mcp:tools'], expiresAt: Math.floor(Date.now() / 1000) + 3600 };
    common['x-httmcp-principal'] = encodePrincipal(principal);
  }
  const init = await endpoint.post(
    { ...common, 'x-httmcp-transport': 'http' },
    JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }),
  );
  const session = init.headers['mcp-session-id'];
  if (!session) throw new Error(`initialize: ${init.status} ${init.body}`);
  let id = 1;
  // Fresh objects and strings per call, as the HTTP parser makes them.
  const headerPairs = Object.entries(common);
  const fresh = (extra) => {
    const h = {};
    for (const [k, v] of headerPairs) h[k] = (' ' + v).slice(1);
    return Object.assign(h, extra);
  };
  const body = () => `{"jsonrpc":"2.0","id":${id++},"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`;
  const calls = {
    http: () => endpoint.post(fresh({ 'x-httmcp-transport': 'http', 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' }), body()),
    websocket: () => endpoint.message(session, fresh({ 'x-httmcp-transport': 'websocket' }), body()),
  };
  return { calls, close: async () => (await server.unmount(), await gateway.close()) };
}

async function slice(call) {
  let left = CALLS;
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (left-- > 0) {
        const answer = await call();
        if (answer.status !== 200 || !String(answer.body).includes('"result"')) throw new Error(`not a result: ${answer.status} ${answer.body}`);
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / CALLS;
}

const dists = values.dist.split(',');
const runs = [];
const modes = values.only ? [values.only === 'on'] : [false, true];
for (const dist of dists) for (const auth of modes) runs.push({ dist, auth, ...(await setup(dist, auth)), samples: {} });
for (const wire of values.wire.split(',')) {
  for (let i = 0; i <= Number(values.slices); i++) {
    // Rotated; slice 0 warms the JIT up and is not counted.
    for (let j = 0; j < runs.length; j++) {
      const run = runs[(i + j) % runs.length];
      const us = await slice(run.calls[wire]);
      if (i > 0) (run.samples[wire] ??= []).push(us);
    }
  }
  const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  for (const dist of values.only ? [] : dists) {
    const [off, on] = [false, true].map((auth) => runs.find((r) => r.dist === dist && r.auth === auth).samples[wire]);
    // Against the first build's auth-on slices, slice by slice (they ran next to each other).
    const first = runs.find((r) => r.dist === dists[0] && r.auth).samples[wire];
    const vsFirst = dist === dists[0] ? {} : { auth_minus_first_auth_us: r1(median(on.map((x, i) => x - first[i]))) };
    process.stdout.write(
      JSON.stringify({ dist, wire, off_us: r1(median(off)), auth_us: r1(median(on)), auth_minus_off_us: r1(median(on.map((x, i) => x - off[i]))), ...vsFirst, slices: off.length, loadavg }) + '\n',
    );
  }
}
for (const run of runs) await run.close();
