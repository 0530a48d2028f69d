#!/usr/bin/env node
// What counting per-principal call rates in Redis costs per tools/call (docs/auth.md, "Across a
// cluster"): two stacks up together on one redis-server, both `httmcp start --redis` with JWT
// auth on, A with `HTTMCP_RATE_STORE=off` (counted in the backend's process, as without Redis),
// B counting in Redis (one EVALSHA per call). Short runs rotate between them, round after round;
// CPU per call of the backend, the nginx workers and redis-server (bench/load.mjs reads /proc)
// is compared as medians over the rounds and as the median of each round's B-minus-A difference.
// Rates are set far above the load: every call is counted, none refused.
//
//   npm run build && node bench/cluster-rate.mjs [--clients 64] [--duration 1.5] [--warmup 0.5] [--rounds 8] [--transports http,ws,http2026]
//
// One JSON line per transport on stdout.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OAuth2Server } from 'oauth2-mock-server';
import { runLoad } from './load.mjs';
import { childrenOf, freePort, median, r1, REPO_DIR, stopChild } from './scale-lib.mjs';
import { startedInfo } from './lib/started.mjs';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '64' },
    duration: { type: 'string', default: '1.5' },
    warmup: { type: 'string', default: '0.5' },
    rounds: { type: 'string', default: '8' },
    transports: { type: 'string', default: 'http,ws,http2026' },
  },
});

// The edge's per-address and per-principal limits on, far above the load (as bench/auth-ab.mjs).
const UNLIMITED = Object.fromEntries(
  ['CLIENT_CONNECTIONS', 'PRINCIPAL_CONNECTIONS'].map((n) => [`HTTMCP_${n}`, '65535']).concat(
    ['CLIENT_RATE', 'CLIENT_BURST', 'PRINCIPAL_RATE', 'PRINCIPAL_BURST', 'PRINCIPAL_TOOL_RATE', 'PRINCIPAL_TOOL_BURST'].map((n) => [`HTTMCP_${n}`, '1000000']),
  ),
);

function startRedis(port) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  return new Promise((resolve) => setTimeout(() => resolve(child), 300));
}

function startStack(env) {
  return freePort().then(
    (port) =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [join(REPO_DIR, 'dist/src/cli/main.js'), 'start', '--port', String(port), '--json', '--redis', env.REDIS], {
          env: { ...process.env, HTTMCP_LOG_LEVEL: 'warn', ...UNLIMITED, ...env },
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        startedInfo(child).then((info) => resolve({ child, info }), reject);
      }),
  );
}

const redisPort = await freePort();
const redis = await startRedis(redisPort);
const REDIS = `redis://127.0.0.1:${redisPort}`;
const as = new OAuth2Server();
await as.issuer.keys.generate('RS256');
await as.start(0, '127.0.0.1');
const stacks = [];
try {
  // One session secret: the two stacks are two nodes of one cluster.
  const secret = 'cluster-rate-bench-secret-0123456789abcdef';
  for (const mode of ['local', 'redis']) {
    const env = { REDIS, HTTMCP_OAUTH_ISSUER: as.issuer.url, HTTMCP_SESSION_SECRET: secret, ...(mode === 'local' ? { HTTMCP_RATE_STORE: 'off' } : {}) };
    const { child, info } = await startStack(env);
    const url = info.servers.demo;
    const token = await as.issuer.buildToken({ expiresIn: 3600, scopesOrTransform: (_h, payload) => Object.assign(payload, { sub: `bench-${mode}`, aud: url }) });
    stacks.push({ mode, child, info, url, headers: { authorization: `Bearer ${token}` }, nginx: childrenOf(info.nginxPid), samples: {} });
  }
  const transports = values.transports.split(',');
  // Round 0 warms both stacks' JIT up and is not counted.
  for (let round = 0; round <= Number(values.rounds); round++) {
    const order = round % 2 === 0 ? stacks : [...stacks].reverse();
    for (const transport of transports) {
      for (const stack of order) {
        const result = await runLoad({
          transport: transport === 'http2026' ? 'http' : transport,
          era: transport === 'http2026' ? '2026' : '2025',
          url: stack.url,
          clients: values.clients,
          duration: values.duration,
          warmup: values.warmup,
          pids: [stack.info.backendPid, ...stack.nginx, redis.pid],
          headers: stack.headers,
          log: () => {},
        });
        const cpu = result.cpu_by_pid ?? {};
        const sample = {
          rps: result.rps,
          errors: result.errors,
          backend: cpu[stack.info.backendPid]?.cpu_us_per_call ?? NaN,
          nginx: stack.nginx.reduce((sum, pid) => sum + (cpu[pid]?.cpu_us_per_call ?? 0), 0),
          redis: cpu[redis.pid]?.cpu_us_per_call ?? NaN,
        };
        if (round > 0) (stack.samples[transport] ??= []).push(sample);
      }
    }
  }
  const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  // The proof that B counted in Redis: its script's calls (nchan's own commands are others).
  const stats = execFileSync('redis-cli', ['-p', String(redisPort), 'INFO', 'commandstats'], { encoding: 'utf8' });
  const evalsha = Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  for (const transport of transports) {
    const [local, shared] = stacks.map((s) => s.samples[transport]);
    const of = (samples, field) => r1(median(samples.map((s) => s[field])));
    const diff = (field) => r1(median(shared.map((s, i) => s[field] - local[i][field])));
    const figures = (field) => ({ local: of(local, field), redis: of(shared, field), redis_minus_local: diff(field) });
    process.stdout.write(
      JSON.stringify({
        transport,
        clients: Number(values.clients),
        rounds: local.length,
        backend_us: figures('backend'),
        nginx_us: figures('nginx'),
        redis_server_us: figures('redis'),
        rps: { local: of(local, 'rps'), redis: of(shared, 'rps') },
        errors: local.concat(shared).reduce((sum, s) => sum + s.errors, 0),
        evalsha_calls_all_transports: evalsha,
        loadavg,
      }) + '\n',
    );
  }
} finally {
  for (const stack of stacks) await stopChild(stack.child);
  await as.stop();
  redis.kill('SIGTERM');
}
