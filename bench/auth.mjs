#!/usr/bin/env node
// tools/call throughput with authentication off and with JWT auth on, in the same run
// (issue 12: auth on should keep at least 90% of the figure with auth off).
//
//   npm run build && node bench/auth.mjs [--clients 64] [--duration 10] [--warmup 2] [--transports http,ws] [--rounds 2]
//
// Starts a local authorization server (oauth2-mock-server, a devDependency) and, for each
// mode, `httmcp start` (nginx+nchan and the backend with the example servers) as a child
// process; then bench/load.mjs's closed loop against /mcp/demo, with a bearer token whose
// audience is the demo server when auth is on. Backend and nginx CPU per call are read from
// /proc. Prints one JSON line per (mode, transport) and a summary table on stderr.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { OAuth2Server } from 'oauth2-mock-server';
import { runLoad } from './load.mjs';
import { childrenOf, freePort, median } from './scale-lib.mjs';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '64' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    transports: { type: 'string', default: 'http,ws' },
    // Modes alternate (off, jwt, off, jwt, ...): on a shared machine the load drifts.
    rounds: { type: 'string', default: '2' },
    // A directory: each backend runs under `node --cpu-prof` and writes its profile there,
    // named by mode and round (diff auth on against off to see what the verdict costs).
    profile: { type: 'string' },
  },
});
const CLI = new URL('../dist/src/cli/main.js', import.meta.url).pathname;

const UNLIMITED = Object.fromEntries(
  ['CLIENT_CONNECTIONS', 'PRINCIPAL_CONNECTIONS'].map((n) => [`HTTMCP_${n}`, '65535']).concat(
    ['CLIENT_RATE', 'CLIENT_BURST', 'PRINCIPAL_RATE', 'PRINCIPAL_BURST', 'PRINCIPAL_TOOL_RATE', 'PRINCIPAL_TOOL_BURST'].map((n) => [`HTTMCP_${n}`, '1000000']),
  ),
);

/** `httmcp start --json` with `env`; resolves with its JSON line and the child. */
function startStack(port, env, profileName) {
  const profile = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`, `--cpu-prof-name=${profileName}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...profile, CLI, 'start', '--port', String(port), '--json'], {
    // The edge's per-address and per-principal limits are on but far above the load: their cost
    // is in the figure, not their refusals (all clients share one address and one token).
    env: { ...process.env, HTTMCP_LOG_LEVEL: 'warn', ...UNLIMITED, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ child, info: JSON.parse(line) });
    });
    child.once('exit', (code) => reject(new Error(`httmcp start exited ${code}`)));
  });
}

const as = new OAuth2Server();
await as.issuer.keys.generate('RS256');
await as.start(0, '127.0.0.1');
const issuer = as.issuer.url;

const rows = [];
try {
  const modes = Array.from({ length: Number(values.rounds) }, () => ['off', 'jwt']).flat();
  for (const [round, mode] of modes.entries()) {
    const port = await freePort();
    const env = mode === 'jwt' ? { HTTMCP_OAUTH_ISSUER: issuer } : { HTTMCP_OAUTH_ISSUER: '', HTTMCP_API_KEYS: '' };
    const { child, info } = await startStack(port, env, `${mode}-${round}`);
    const url = info.servers.demo;
    const headers = {};
    if (mode === 'jwt') {
      const token = await as.issuer.buildToken({ expiresIn: 3600, scopesOrTransform: (_h, payload) => Object.assign(payload, { sub: 'bench', aud: url }) });
      headers.authorization = `Bearer ${token}`;
    }
    try {
      for (const transport of values.transports.split(',')) {
        const nginx = childrenOf(info.nginxPid);
        const result = await runLoad({
          transport,
          url,
          clients: values.clients,
          duration: values.duration,
          warmup: values.warmup,
          pids: [info.backendPid, ...nginx],
          headers,
          log: () => {},
        });
        const cpu = result.cpu_by_pid ?? {};
        const nginxUs = nginx.reduce((sum, pid) => sum + (cpu[pid]?.cpu_us_per_call ?? 0), 0);
        // The load generator shares the cores: its CPU is part of what a call costs this machine.
        // On a busy machine the CPU per call of the whole system is a steadier figure than
        // requests per second (docs/auth.md, "Cost").
        const clientUs = result.loadgen_cpu_us_per_call ?? 0;
        const row = {
          mode,
          transport,
          clients: Number(values.clients),
          rps: result.rps,
          p50_ms: result.p50_ms,
          p99_ms: result.p99_ms,
          errors: result.errors,
          backend_us_per_call: cpu[info.backendPid]?.cpu_us_per_call,
          nginx_us_per_call: Math.round(nginxUs * 10) / 10,
          client_us_per_call: Math.round(clientUs * 10) / 10,
          total_us_per_call: Math.round(((cpu[info.backendPid]?.cpu_us_per_call ?? 0) + nginxUs + clientUs) * 10) / 10,
          loadavg: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
        };
        rows.push(row);
        process.stdout.write(JSON.stringify(row) + '\n');
      }
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
} finally {
  await as.stop();
}
for (const transport of values.transports.split(',')) {
  const of = (mode, field) => median(rows.filter((r) => r.mode === mode && r.transport === transport).map((r) => r[field]));
  const off = of('off', 'rps');
  const on = of('jwt', 'rps');
  process.stderr.write(
    `${transport}: median rps auth off ${off}, JWT on ${on} (${((100 * on) / off).toFixed(1)}%); ` +
      `backend µs/call ${of('off', 'backend_us_per_call')} -> ${of('jwt', 'backend_us_per_call')}; ` +
      `nginx µs/call ${of('off', 'nginx_us_per_call')} -> ${of('jwt', 'nginx_us_per_call')}; ` +
      `all CPU µs/call (backend, nginx, load generator) ${of('off', 'total_us_per_call')} -> ${of('jwt', 'total_us_per_call')} ` +
      `(CPU-bound estimate ${((100 * of('off', 'total_us_per_call')) / of('jwt', 'total_us_per_call')).toFixed(1)}%)\n`,
  );
}
