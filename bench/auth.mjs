#!/usr/bin/env node
// tools/call throughput with authentication off and with JWT auth on, in the same run
// (issue 12: auth on should keep at least 90% of the figure with auth off).
//
//   npm run build && node bench/auth.mjs [--clients 64] [--duration 10] [--warmup 2] [--transports http,ws] [--rounds 2]
//        [--prewarm 5] [--pause 1] [--noisy-cores 0.2] [--out FILE] [--check] [--http-client raw|undici]
//
// Starts a local authorization server (oauth2-mock-server, a devDependency) and two
// `httmcp start` stacks (nginx+nchan and the backend with the example servers) as child
// processes, one with auth off and one with JWT on; then bench/load.mjs's closed loop against
// /mcp/demo, with a bearer token whose audience is the demo server on the JWT stack. Backend and
// nginx CPU per call are read from /proc. Prints one JSON line per run and a summary on stderr.
//
// The steady protocol (bench/README.md, "### benchsteady (2026-12-05)"): both stacks get
// --prewarm seconds of unmeasured load on every transport first; then --rounds rounds each run
// every (mode, transport) once in a rotating order. The verdict per transport is the median of
// the per-round JWT/off rps ratios with a distribution-free 95% interval (>= 6 rounds): met,
// missed or undecided against 0.90; --check exits 0, 1 or 2 accordingly. Every run's figures,
// load average and per-process CPU go to bench/results/<YYYY-MM-DD>-auth.json.
// The same comparison in interleaved 1-s slices (pairs ~1 s apart, for a machine whose speed
// drifts): `node bench/slices.mjs --compare auth` (bench/README.md, "### slices (2026-12-06)").

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { OAuth2Server } from 'oauth2-mock-server';
import { runLoad } from './load.mjs';
import { childrenOf, freePort, gitCommit, median, saveResult, sleep } from './scale-lib.mjs';
import { checkExitCode, flagSlowProbes, loadAverage, quietFlags, roundOrder, speedProbe, summarize } from './lib/steady.mjs';
import { startedInfo } from './lib/started.mjs';

/** Issue 12, point 8: JWT on keeps at least this share of the auth-off requests per second. */
const TARGET_RATIO = 0.9;

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '64' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    transports: { type: 'string', default: 'http,ws' },
    // Rounds of every (mode, transport) in a rotating order: on a shared machine the load drifts.
    rounds: { type: 'string', default: '2' },
    // Unmeasured seconds of load on each stack and transport before the first round (JIT warm-up).
    prewarm: { type: 'string', default: '5' },
    pause: { type: 'string', default: '1' },
    'noisy-cores': { type: 'string', default: '0.2' },
    out: { type: 'string' },
    check: { type: 'boolean', default: false },
    // A directory: each backend runs under `node --cpu-prof` and writes its profile there,
    // named by mode (diff auth on against off to see what the verdict costs).
    profile: { type: 'string' },
    // bench/load.mjs's HTTP client, raw (default) or undici.
    'http-client': { type: 'string' },
  },
});
if (values['http-client']) process.env.BENCH_HTTP_CLIENT = values['http-client'];
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
  return startedInfo(child).then((info) => ({ child, info }));
}

const as = new OAuth2Server();
await as.issuer.keys.generate('RS256');
await as.start(0, '127.0.0.1');
const issuer = as.issuer.url;

const transports = values.transports.split(',').map((t) => t.trim()).filter(Boolean);
const rounds = Math.max(1, Number(values.rounds));
const rows = [];
const stacks = [];
let loadBefore = loadAverage();
try {
  // Both stacks run for the whole benchmark: each is warmed up once, and a round measures both.
  for (const mode of ['off', 'jwt']) {
    const port = await freePort();
    const env = mode === 'jwt' ? { HTTMCP_OAUTH_ISSUER: issuer } : { HTTMCP_OAUTH_ISSUER: '', HTTMCP_API_KEYS: '' };
    const { child, info } = await startStack(port, env, mode);
    const stack = { mode, child, info, url: info.servers.demo, headers: {} };
    stacks.push(stack);
    if (mode === 'jwt') {
      const token = await as.issuer.buildToken({ expiresIn: 3600, scopesOrTransform: (_h, payload) => Object.assign(payload, { sub: 'bench', aud: stack.url }) });
      stack.headers.authorization = `Bearer ${token}`;
    }
  }
  const clients = Number(values.clients);
  for (const stack of stacks) {
    for (const transport of transports) {
      process.stderr.write(`[auth] prewarm ${stack.mode} ${transport} ${values.prewarm}s (not measured)\n`);
      if (Number(values.prewarm) > 0) await runLoad({ transport, url: stack.url, clients, duration: values.prewarm, warmup: 0, headers: stack.headers, log: () => {} });
    }
  }
  loadBefore = loadAverage();
  // Off and JWT of one transport run one right after the other (blocks of roundOrder).
  const configs = transports.flatMap((transport) => stacks.map((stack) => ({ stack, transport })));
  for (let round = 0; round < rounds; round++) {
    for (const [position, { stack, transport }] of roundOrder(configs, round, (c) => c.transport).entries()) {
      if (rows.length) await sleep(Number(values.pause) * 1000);
      const { mode, info, url, headers } = stack;
      const loadavg_before = loadAverage();
      // How fast the machine itself is right now (a busy neighbour on the host slows everything).
      const probe_ms = speedProbe();
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
        round: round + 1,
        position: position + 1,
        mode,
        transport,
        clients,
        rps: result.rps,
        p50_ms: result.p50_ms,
        p99_ms: result.p99_ms,
        errors: result.errors,
        backend_us_per_call: cpu[info.backendPid]?.cpu_us_per_call,
        nginx_us_per_call: Math.round(nginxUs * 10) / 10,
        client_us_per_call: Math.round(clientUs * 10) / 10,
        total_us_per_call: Math.round(((cpu[info.backendPid]?.cpu_us_per_call ?? 0) + nginxUs + clientUs) * 10) / 10,
        loadavg: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
        loadavg_before,
        loadavg_after: loadAverage(),
        probe_ms,
        loadgen_cores: result.loadgen_cores,
        machine: result.machine,
        cpu_by_pid: result.cpu_by_pid,
      };
      row.flags = quietFlags(row, { othersCores: Number(values['noisy-cores']) });
      rows.push(row);
      process.stdout.write(JSON.stringify(row) + '\n');
    }
  }
  flagSlowProbes(rows);
} finally {
  for (const { child } of stacks) {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', r)));
  }
  await as.stop();
}
const verdicts = [];
const cpuEstimates = [];
for (const transport of transports) {
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
  // The verdict: JWT/off of the two runs of the same round, over the rounds.
  const paired = [];
  for (let round = 1; round <= rounds; round++) {
    const jwt = rows.find((r) => r.round === round && r.transport === transport && r.mode === 'jwt');
    const off = rows.find((r) => r.round === round && r.transport === transport && r.mode === 'off');
    if (jwt && off && off.rps > 0) paired.push({ round, value: jwt.rps / off.rps, flags: [...new Set([...jwt.flags, ...off.flags])] });
  }
  const s = summarize({ what: `${transport}: JWT/off rps (paired per round)`, rounds: paired, target: TARGET_RATIO, kind: 'min', digits: 3 });
  verdicts.push(s);
  process.stderr.write(`${s.line}\n`);
  // For the reader, not the verdict: the same ratio as the whole system's CPU per call predicts
  // it when all three processes share the 2 cores (off's CPU per call / JWT's, same round).
  const cpuPaired = [];
  for (let round = 1; round <= rounds; round++) {
    const jwt = rows.find((r) => r.round === round && r.transport === transport && r.mode === 'jwt');
    const off = rows.find((r) => r.round === round && r.transport === transport && r.mode === 'off');
    if (jwt?.total_us_per_call && off?.total_us_per_call) cpuPaired.push({ round, value: off.total_us_per_call / jwt.total_us_per_call, flags: [...new Set([...jwt.flags, ...off.flags])] });
  }
  const c = summarize({ what: `${transport}: off/JWT all CPU per call (CPU-bound estimate, paired per round)`, rounds: cpuPaired, digits: 3 });
  cpuEstimates.push(c);
  process.stderr.write(`${c.line}\n`);
}
const flagged = rows.filter((r) => r.flags.length);
process.stderr.write(`${flagged.length} of ${rows.length} runs not quiet${flagged.map((r) => `\n- round ${r.round} ${r.mode} ${r.transport}: ${r.flags.join(', ')}`).join('')}\n`);
process.stderr.write(`load average before ${loadBefore.join(', ')}, after ${loadAverage().join(', ')}\n`);
const file = saveResult(
  'auth',
  {
    date: new Date().toISOString(),
    command: ['node', 'bench/auth.mjs', ...process.argv.slice(2)].join(' '),
    commit: gitCommit(),
    loadavg_before: loadBefore,
    loadavg_after: loadAverage(),
    settings: { ...values, target_ratio: TARGET_RATIO },
    verdicts,
    cpu_bound_estimates: cpuEstimates,
    results: rows,
  },
  values.out,
);
process.stderr.write(`results written to ${relative(process.cwd(), file)}\n`);
if (values.check) process.exitCode = checkExitCode(verdicts);
