#!/usr/bin/env node
// What JWT auth costs per tools/call through nginx, for two builds at once (A/B), on a shared
// machine: four stacks up together (build A and B, each with auth off and JWT on), loaded in
// short runs that rotate between them, round after round. CPU per call of the backend and of the
// nginx workers (bench/load.mjs reads /proc) is compared as medians over the rounds and as the
// median of each round's JWT-minus-off difference: the machine's other work shifts whole rounds,
// which that difference cancels (bench/README.md, "authperf").
//
//   npm run build && node bench/auth-ab.mjs --a /path/to/other/checkout [--clients 64] [--duration 1.5] [--warmup 0.5] [--rounds 8] [--transports http,ws]
//
// --a is a checkout (or copy) with its own dist/ and nginx/ (for example main's build); B is this
// one. One JSON line per build and transport on stdout.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { OAuth2Server } from 'oauth2-mock-server';
import { runLoad } from './load.mjs';
import { childrenOf, freePort, median, r1, REPO_DIR, stopChild } from './scale-lib.mjs';
import { startedInfo } from './lib/started.mjs';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    clients: { type: 'string', default: '64' },
    duration: { type: 'string', default: '1.5' },
    warmup: { type: 'string', default: '0.5' },
    rounds: { type: 'string', default: '8' },
    transports: { type: 'string', default: 'http,ws' },
  },
});
if (!values.a) throw new Error('--a <checkout> is required');

// The edge's per-address and per-principal limits on, far above the load (as bench/auth.mjs).
const UNLIMITED = Object.fromEntries(
  ['CLIENT_CONNECTIONS', 'PRINCIPAL_CONNECTIONS'].map((n) => [`HTTMCP_${n}`, '65535']).concat(
    ['CLIENT_RATE', 'CLIENT_BURST', 'PRINCIPAL_RATE', 'PRINCIPAL_BURST', 'PRINCIPAL_TOOL_RATE', 'PRINCIPAL_TOOL_BURST'].map((n) => [`HTTMCP_${n}`, '1000000']),
  ),
);

function startStack(root, env) {
  return freePort().then(
    (port) =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [join(root, 'dist/src/cli/main.js'), 'start', '--port', String(port), '--json'], {
          env: { ...process.env, HTTMCP_LOG_LEVEL: 'warn', ...UNLIMITED, ...env },
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        startedInfo(child, `httmcp start (${root})`).then((info) => resolve({ child, info }), reject);
      }),
  );
}


const as = new OAuth2Server();
await as.issuer.keys.generate('RS256');
await as.start(0, '127.0.0.1');
const stacks = [];
try {
  for (const [build, root] of [['A', values.a], ['B', REPO_DIR]]) {
    for (const mode of ['off', 'jwt']) {
      const env = mode === 'jwt' ? { HTTMCP_OAUTH_ISSUER: as.issuer.url } : { HTTMCP_OAUTH_ISSUER: '', HTTMCP_API_KEYS: '' };
      const { child, info } = await startStack(root, env);
      const url = info.servers.demo;
      const headers = {};
      if (mode === 'jwt') {
        const token = await as.issuer.buildToken({ expiresIn: 3600, scopesOrTransform: (_h, payload) => Object.assign(payload, { sub: 'bench', aud: url }) });
        headers.authorization = `Bearer ${token}`;
      }
      stacks.push({ build, mode, child, info, url, headers, nginx: childrenOf(info.nginxPid), samples: {} });
    }
  }
  const transports = values.transports.split(',');
  // Round 0 warms every stack's JIT up and is not counted.
  for (let round = 0; round <= Number(values.rounds); round++) {
    // Rotated, so no stack always runs right after the same other one.
    const order = stacks.map((_, i) => stacks[(i + round) % stacks.length]);
    for (const transport of transports) {
      for (const stack of order) {
        const result = await runLoad({
          transport,
          url: stack.url,
          clients: values.clients,
          duration: values.duration,
          warmup: values.warmup,
          pids: [stack.info.backendPid, ...stack.nginx],
          headers: stack.headers,
          log: () => {},
        });
        const cpu = result.cpu_by_pid ?? {};
        const sample = {
          rps: result.rps,
          errors: result.errors,
          backend: cpu[stack.info.backendPid]?.cpu_us_per_call ?? NaN,
          nginx: stack.nginx.reduce((sum, pid) => sum + (cpu[pid]?.cpu_us_per_call ?? 0), 0),
        };
        if (round > 0) (stack.samples[transport] ??= []).push(sample);
      }
    }
  }
  const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  for (const transport of transports) {
    for (const build of ['A', 'B']) {
      const [off, jwt] = ['off', 'jwt'].map((mode) => stacks.find((s) => s.build === build && s.mode === mode).samples[transport]);
      const of = (samples, field) => r1(median(samples.map((s) => s[field])));
      const diff = (field) => r1(median(jwt.map((s, i) => s[field] - off[i][field])));
      process.stdout.write(
        JSON.stringify({
          build,
          transport,
          rounds: off.length,
          backend_us: { off: of(off, 'backend'), jwt: of(jwt, 'backend'), jwt_minus_off: diff('backend') },
          nginx_us: { off: of(off, 'nginx'), jwt: of(jwt, 'nginx'), jwt_minus_off: diff('nginx') },
          rps: { off: of(off, 'rps'), jwt: of(jwt, 'rps') },
          errors: off.concat(jwt).reduce((sum, s) => sum + s.errors, 0),
          loadavg,
        }) + '\n',
      );
    }
  }
} finally {
  for (const stack of stacks) await stopChild(stack.child);
  await as.stop();
}
