#!/usr/bin/env node
// An on/off comparison measured in short interleaved slices with both stacks up at once: the
// verdicts of issue 12 point 8 (JWT auth on keeps >= 90% of auth off) and issue 13 point 5
// (metrics + tracing at 1% on keep >= 95% of both off), decidable on a machine whose speed drifts.
//
//   npm run build   # once: the stacks run dist/
//   node bench/slices.mjs --compare auth|observability|same|builds [--pairs 8] [--quads 7] [--budget MIN]
//        [--blocks ws:64,http:64] [--slice 1] [--settle 0.25] [--prewarm 5] [--pin backend=0,...]
//        [--noisy-cores 0.2] [--a-dist DIR] [--b-dist DIR] [--out FILE] [--check]
//
// --pairs K (default per comparison, below): the whole comparison on K fresh pairs of stacks, one pair after the
//   other (new nginx, new backends, new ports, new load processes), --quads quadruples per block
//   in each. Even pairs (2nd, 4th ...) swap the roles' positions: B's stack starts first (first
//   ports, first nginx), B's load process is created and prewarmed first, slices run BAAB ABBA.
//   The verdict's interval takes the pair as the unit (pairsInterval in bench/lib/steady.mjs):
//   Student's t over the K pairs' median log-ratios, so it includes the factor one process pair
//   gives all its quadruples (two identical stacks read 0.98 to 1.044 in session 9, a bias the
//   quadruples of one pair cannot average out); below 3 pairs there is no interval and the verdict
//   is undecided. Each pair's own verdict line, the pooled
//   single-level interval and the split of the spread (between pairs / within a pair) are
//   printed and kept in the JSON (blocks[].per_pair, blocks[].verdict). --pairs 1 is the
//   session-9 protocol (one pair, default --quads 60/32/24, the quadruples' sign-test interval).
//   Defaults (pairs × quadruples per block) and minutes on this 2-core VM: auth 8 × 7 (~14 min),
//   observability 6 × 4 (~14 min), same 8 × 7 (as auth, ~14 min); --budget MIN sets --quads from
//   the time model (estimateMinutes), printed at the start. Why: bench/README.md, "### pairs
//   (2026-12-06)".
// --pin backend=CPU,nginx=CPU,load=CPU (any subset): taskset the same affinity on both stacks.
//
// --compare auth           auth off (A) against JWT on (B): oauth2-mock-server issues an RS256
//                          token whose audience is B's demo server. Default blocks ws:64,http:64;
//                          target B/A >= 0.90.
// --compare observability  metrics + tracing off (A) against both on (B): per-tool metrics
//                          scraped every 5 s, the OpenTelemetry SDK sampling 1%
//                          (parentbased_traceidratio 0.01) and exporting OTLP to a local sink
//                          that drops it. Default blocks ws:16,http:16,ws:64,http:64; target 0.95.
// --a-env / --b-env '{"NAME":"value"}' change either side's environment (what costs what).
// --profile DIR: each backend under `node --cpu-prof` (diff with bench/cpu-profile-diff.mjs).
// --compare builds         observability on on both sides (each side scraped, OTLP at 1% to one
//                          sink): two builds compared, --a-dist DIR the other build's dist/ (A),
//                          B this checkout's (or --b-dist). No target: B/A says what a change is worth.
// --compare same           two identical auth-off stacks (A and A'): the protocol's own bias
//                          and the idle stack's effect on the loaded one (expect a ratio of 1).
//
// The design (bench/README.md, "### slices (2026-12-06)"). Both configurations' stacks
// (nginx + nchan + backend, `httmcp start`) run for the whole comparison. For each block
// (transport, clients) one long-lived load process per stack (bench/lib/slice-load.mjs, around
// bench/load.mjs's runLoad) connects its clients once and keeps them connected; it is prewarmed
// for --prewarm seconds (JIT), then the load alternates between the two stacks in slices: the
// slice's process is resumed (SIGCONT), given --settle seconds to refill its pipeline (the replies
// that arrived while it was paused land at once and would inflate the count), measured for --slice
// seconds, and paused again (SIGSTOP). Only one stack is loaded at any moment; the other idles
// with its clients connected and its process frozen. Slices run ABBA BAAB ... (sliceOrder); the
// paired quantity is B's mean rps over A's in each quadruple (quadRatios), which cancels a drift
// of the machine's speed that is linear over the ~5 s of a quadruple; with one pair of stacks the
// verdict is the quadruples' median with the sign-test 95% interval (medianInterval, summarize),
// with several pairs the t-interval over the pairs' medians (summarizePairs). The 5-s-rounds
// protocol stays in bench/auth.mjs and bench/run.mjs --observability.
//
// Why: a 5-s round per configuration puts its two runs 5-30 s apart, and this machine's speed
// moves 1.2-2.6x within minutes, so the per-round ratio scatters widely (last session's
// intervals were 0.14-0.37 wide and undecided). In slices the two sides of a pair are ~1.3 s
// apart and there are 25-50 pairs per block.
//
// Every slice records the loaded stack's rps and the CPU per call of its backend, its nginx
// workers and its load process (paired per quadruple too: where a gap goes), the idle stack's
// CPU (what it takes from the loaded one: scrapes, exports, timers), and the machine's CPU used
// by anything else (a slice is flagged like a steady-protocol run), and each process's calls per
// sleep (how many calls one wakeup of its event loop handled: batching, which a slower backend
// lowers for nginx and the load generator; bench/README.md, "### obsedge (2026-12-06)"). Writes
// bench/results/<YYYY-MM-DD>-slices-<compare>.json. --check exits 0 met, 1 missed, 2 undecided.

import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { childrenOf, cpuTicks, freePort, gitCommit, saveResult, sleep } from './scale-lib.mjs';
import { checkExitCode, loadAverage, machineTicks, quadRatios, quietFlags, sliceOrder, summarize, summarizePairs } from './lib/steady.mjs';
import { startOtlpSink } from './lib/otlp-sink.mjs';
import { startedInfo } from './lib/started.mjs';

const COMPARISONS = {
  // pairs × quads per pair: the defaults of the multi-pair protocol (bench/README.md, "### pairs
  // (2026-12-06)"); `quads1` stays the single pair's default (--pairs 1, the session-9 protocol).
  // `same` mirrors `auth` (blocks, pairs, quadruples): it calibrates that protocol.
  auth: { a: 'off', b: 'jwt', target: 0.9, blocks: 'ws:64,http:64', pairs: 8, quads: 7, quads1: 60 },
  observability: { a: 'off', b: 'on', target: 0.95, blocks: 'ws:16,http:16,ws:64,http:64', pairs: 6, quads: 4, quads1: 32 },
  same: { a: 'off', b: "off'", target: null, blocks: 'ws:64,http:64', pairs: 8, quads: 7, quads1: 24 },
  // Observability on on both sides (each scraped, one sink): two builds compared with it on
  // (--a-dist the older build), where `observability` compares on with off of one build.
  builds: { a: 'on@a', b: 'on', target: null, blocks: 'ws:64,http:64', pairs: 8, quads: 4, quads1: 24 },
};

const { values } = parseArgs({
  options: {
    compare: { type: 'string', default: 'auth' },
    blocks: { type: 'string' },
    quads: { type: 'string' },
    // Fresh pairs of stacks, one after the other, roles' positions swapped between pairs.
    pairs: { type: 'string' },
    // Minutes for the whole run: sets --quads per pair from the time model (estimateMinutes).
    budget: { type: 'string' },
    // CPU affinity applied alike to both stacks (taskset -a -pc), e.g. 'backend=0,nginx=1,load=1'.
    pin: { type: 'string' },
    slice: { type: 'string', default: '1' },
    settle: { type: 'string', default: '0.25' },
    prewarm: { type: 'string', default: '5' },
    'noisy-cores': { type: 'string', default: '0.2' },
    out: { type: 'string' },
    check: { type: 'boolean', default: false },
    // A directory: each backend runs under `node --cpu-prof` and writes <label>.cpuprofile there;
    // the block results give each side's calls (`calls_total`) for bench/cpu-profile-diff.mjs.
    profile: { type: 'string' },
    // '{"NAME":"value"}' added to A's or B's environment (to split what costs what, e.g.
    // --b-env '{"HTTMCP_REQUEST_METRICS":"off"}' leaves B tracing only).
    'a-env': { type: 'string', default: '{}' },
    'b-env': { type: 'string', default: '{}' },
    // Another build's dist/ for either side (default: this checkout's).
    'a-dist': { type: 'string' },
    'b-dist': { type: 'string' },
  },
});
const comparison = COMPARISONS[values.compare];
if (!comparison) throw new Error(`--compare must be one of ${Object.keys(COMPARISONS).join(', ')}`);
const blocks = (values.blocks ?? comparison.blocks).split(',').map((b) => {
  const [transport, clients] = b.trim().split(':');
  if (!['ws', 'http'].includes(transport) || !(Number(clients) >= 1)) throw new Error(`bad block ${b} (want ws:64 or http:16)`);
  return { transport, clients: Number(clients) };
});
const stackLabels = { a: comparison.a, b: comparison.b };
const pairs = Math.max(1, Math.floor(Number(values.pairs ?? comparison.pairs)));
const sliceSeconds = Number(values.slice);
const settleSeconds = Number(values.settle);
const prewarmSeconds = Number(values.prewarm);
/**
 * The run's wall-clock minutes on this 2-core VM: per quadruple 4 × (slice + settle + ~0.07 s of
 * IPC and /proc reads); per block 2 × (connect ~0.5 s + prewarm) + 2 s teardown; per pair ~3 s
 * to start and stop the stacks + 2 s between pairs. Fitted to the first six-pair run (1.80-1.86
 * min per pair of 2 blocks × 8 quadruples, prewarm 5; bench/README.md, "### pairs (2026-12-06)").
 */
function estimateMinutes(k, nBlocks, q) {
  const perBlock = q * 4 * (sliceSeconds + settleSeconds + 0.07) + 2 * (0.5 + prewarmSeconds) + 2;
  return (k * (nBlocks * perBlock + 5)) / 60;
}
let quads = Math.max(1, Number(values.quads ?? (pairs === 1 ? comparison.quads1 : comparison.quads)));
if (values.budget) {
  const perQuad = estimateMinutes(pairs, blocks.length, 1) - estimateMinutes(pairs, blocks.length, 0);
  quads = Math.max(1, Math.floor((Number(values.budget) - estimateMinutes(pairs, blocks.length, 0)) / perQuad));
}
const pins = Object.fromEntries((values.pin ?? '').split(',').filter(Boolean).map((kv) => kv.split('=')));
let pairIndex = 0;
const sliceMs = sliceSeconds * 1000;
const settleMs = settleSeconds * 1000;
const log = (m) => process.stderr.write(`[slices] ${m}\n`);

const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const SLICE_LOAD = fileURLToPath(new URL('./lib/slice-load.mjs', import.meta.url));
// The edge's per-address and per-principal limits stay on but far above the load (as bench/auth.mjs).
const UNLIMITED = Object.fromEntries(
  ['CLIENT_CONNECTIONS', 'PRINCIPAL_CONNECTIONS'].map((n) => [`HTTMCP_${n}`, '65535']).concat(
    ['CLIENT_RATE', 'CLIENT_BURST', 'PRINCIPAL_RATE', 'PRINCIPAL_BURST', 'PRINCIPAL_TOOL_RATE', 'PRINCIPAL_TOOL_BURST'].map((n) => [`HTTMCP_${n}`, '1000000']),
  ),
);

/** `httmcp start --json` with `env` and `args`; resolves once its JSON line is out. */
async function startStack(label, env, args = []) {
  env = { ...env, ...JSON.parse(values[label === stackLabels.a ? 'a-env' : 'b-env']) };
  const port = await freePort();
  const profile = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`, `--cpu-prof-name=${label.replace(/\W/g, '_')}${pairs > 1 ? `-pair${pairIndex + 1}` : ''}.cpuprofile`] : [];
  const dist = values[label === stackLabels.a ? 'a-dist' : 'b-dist'];
  const cli = dist ? join(resolve(dist), 'src', 'cli', 'main.js') : CLI;
  const child = spawn(process.execPath, [...profile, cli, 'start', '--port', String(port), '--json', ...args], {
    env: { ...process.env, HTTMCP_LOG_LEVEL: 'warn', ...UNLIMITED, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const info = await startedInfo(child, `httmcp start (${label})`);
  return {
    label,
    child,
    url: info.servers.demo,
    port,
    backendPid: info.backendPid,
    nginxPids: childrenOf(info.nginxPid),
    headers: {},
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** Starts A's and B's stacks one after the other, B's first when `swap`; resolves [A, B]. */
async function startInOrder(started, swap, startA, startB) {
  const first = await (swap ? startB : startA)();
  started.push(first);
  const second = await (swap ? startA : startB)();
  started.push(second);
  return swap ? [second, first] : [first, second];
}

/**
 * The two stacks of the comparison, plus whatever they need (authorization server, OTLP sink,
 * scraper); B's stack is started first when `swap`.
 */
async function startComparison(started, swap) {
  if (values.compare === 'auth') {
    const { OAuth2Server } = await import('oauth2-mock-server');
    const as = new OAuth2Server();
    await as.issuer.keys.generate('RS256');
    await as.start(0, '127.0.0.1');
    started.push({ stop: () => as.stop() });
    const [a, b] = await startInOrder(started, swap, () => startStack('off', { HTTMCP_OAUTH_ISSUER: '', HTTMCP_API_KEYS: '' }), () => startStack('jwt', { HTTMCP_OAUTH_ISSUER: as.issuer.url }));
    const token = await as.issuer.buildToken({ expiresIn: 3600, scopesOrTransform: (_h, payload) => Object.assign(payload, { sub: 'bench', aud: b.url }) });
    b.headers.authorization = `Bearer ${token}`;
    return { a, b, extra: () => ({}) };
  }
  if (values.compare === 'builds') {
    const sink = await startOtlpSink();
    started.push(sink);
    const ports = [await freePort(), await freePort()];
    const on = (label, port) => () => startStack(label, { ...OBSERVABILITY_ON, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url }, ['--metrics-listen', `127.0.0.1:${port}`]);
    const [a, b] = await startInOrder(started, swap, on('on@a', ports[0]), on('on', ports[1]));
    const scrapers = await Promise.all(ports.map((port) => startScraper(port)));
    started.push(...scrapers);
    return { a, b, extra: () => ({ scrapes: scrapers.map((s) => s.scraped()), otlp_exports: sink.exports() }) };
  }
  if (values.compare === 'observability') {
    const sink = await startOtlpSink();
    started.push(sink);
    const metricsPort = await freePort();
    const [a, b] = await startInOrder(started, swap, () => startStack('off', { HTTMCP_REQUEST_METRICS: 'off', OTEL_TRACES_EXPORTER: '', OTEL_EXPORTER_OTLP_ENDPOINT: '' }), () =>
      startStack('on', { ...OBSERVABILITY_ON, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url }, ['--metrics-listen', `127.0.0.1:${metricsPort}`]),
    );
    // A Prometheus-like scraper on B for the whole run (as bench/run.mjs --observability).
    const scraper = await startScraper(metricsPort);
    started.push(scraper);
    return { a, b, extra: () => ({ scrapes: scraper.scraped(), scrape_failures: scraper.failures(), otlp_exports: sink.exports() }) };
  }
  const env = { HTTMCP_OAUTH_ISSUER: '', HTTMCP_API_KEYS: '' };
  const [a, b] = await startInOrder(started, swap, () => startStack('off', env), () => startStack("off'", env));
  return { a, b, extra: () => ({}) };
}

/** The environment of an "on" stack (less the OTLP endpoint): per-tool metrics, OTLP at 1%. */
const OBSERVABILITY_ON = {
  HTTMCP_REQUEST_METRICS: 'on',
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
  OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
  OTEL_TRACES_SAMPLER_ARG: '0.01',
};

/** A Prometheus-like scraper of one stack's metrics listener: once now, then every 5 s until stopped. */
async function startScraper(port) {
  let scraped = 0;
  let failures = 0;
  const scrape = () =>
    request(`http://127.0.0.1:${port}/metrics`).then(
      async (res) => {
        await res.body.text();
        if (res.statusCode === 200) scraped++;
        else failures++;
      },
      () => failures++,
    );
  await scrape();
  const timer = setInterval(scrape, 5000);
  return { scraped: () => scraped, failures: () => failures, stop: async () => clearInterval(timer) };
}

/** A forked bench/lib/slice-load.mjs on `stack`, connected, loaded and paused. */
async function startLoad(stack, { transport, clients }) {
  // A paused process's calls stay pending while the other side is prewarmed and measured: a
  // timeout far above any pause, so none of them counts as failed.
  const options = { transport, url: stack.url, clients, headers: stack.headers, timeout: 120_000 };
  const child = fork(SLICE_LOAD, [JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = [];
  let failure = null;
  child.on('message', (m) => {
    if (m.error) failure = m.error;
    else if (m.ready) waiting.shift()?.resolve(m);
    else if (m.calls !== undefined) waiting.shift()?.resolve(m);
  });
  child.once('exit', (code) => {
    failure ??= `load process exited ${code}`;
    for (const w of waiting.splice(0)) w.reject(new Error(failure));
  });
  const next = () => new Promise((resolve, reject) => (failure ? reject(new Error(failure)) : waiting.push({ resolve, reject })));
  await next(); // ready
  return {
    pid: child.pid,
    snap: () => {
      const p = next();
      child.send('snap');
      return p;
    },
    pause: () => child.kill('SIGSTOP'),
    /** Every reply so far, prewarm included (resumes the process for a moment: a paused one cannot answer). */
    total: async () => {
      child.kill('SIGCONT');
      const reply = next();
      child.send('snap');
      const s = await reply;
      child.kill('SIGSTOP');
      return s.calls;
    },
    resume: () => child.kill('SIGCONT'),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}

/** `taskset -a -pc CPUS PID` (every thread): the same affinity for both stacks' processes. */
async function pin(pid, cpus) {
  if (cpus == null) return;
  const child = spawn('taskset', ['-a', '-pc', cpus, String(pid)], { stdio: 'ignore' });
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`taskset -a -pc ${cpus} ${pid} exited ${code}`);
}
async function pinStack(stack) {
  await pin(stack.backendPid, pins.backend);
  for (const pid of stack.nginxPids) await pin(pid, pins.nginx);
}
const pinLoad = (load) => pin(load.pid, pins.load);

/** The CPU a process last ran on (/proc/PID/stat field 39; `ps -o psr`), or null once it is gone. */
function processorOf(pid) {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[36]);
  } catch {
    return null;
  }
}

const ticksToUs = 1e6 / 100; // /proc/PID/stat counts 100 ticks per second here (CLK_TCK)
const cpuOf = (pids) => pids.reduce((sum, pid) => sum + cpuTicks(pid), 0) * ticksToUs;
const r2 = (x) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : null);

/**
 * Nanoseconds the process's main thread spent runnable but waiting for a CPU
 * (/proc/PID/schedstat, second field), how often it moved between CPUs (/proc/PID/sched
 * se.nr_migrations): on 2 cores with 3 busy processes, what the scheduler's placement cost; and
 * how often it went to sleep because it had nothing to do (nr_voluntary_switches: an event loop
 * blocking in epoll_wait), so calls per wakeup, how much each wakeup batched, can be compared.
 */
function schedOf(pid) {
  try {
    const wait = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]);
    const sched = readFileSync(`/proc/${pid}/sched`, 'utf8');
    const field = (name) => Number(new RegExp(`${name}\\s*:\\s*(\\d+)`).exec(sched)?.[1] ?? 0);
    return { wait, migrations: field('se\\.nr_migrations'), sleeps: field('nr_voluntary_switches') };
  } catch {
    return { wait: 0, migrations: 0, sleeps: 0 };
  }
}
const schedSum = (pids) =>
  pids.map(schedOf).reduce((a, b) => ({ wait: a.wait + b.wait, migrations: a.migrations + b.migrations, sleeps: a.sleeps + b.sleeps }), { wait: 0, migrations: 0, sleeps: 0 });
const schedAll = (load, stack) => ({ backend: schedOf(stack.backendPid), nginx: schedSum(stack.nginxPids), loadgen: schedOf(load.pid) });

/** Backend, nginx worker(s) and load process's CPUs as a string like 'b0 n1 l1'. */
const placement = (load, stack) => `b${processorOf(stack.backendPid)} n${stack.nginxPids.map(processorOf).join('/')} l${processorOf(load.pid)}`;

/** One measured slice of `config` in `block`: resume, settle, measure, pause. */
async function measureSlice(load, stack, other) {
  load.resume();
  await sleep(settleMs);
  const m0 = machineTicks();
  const s0 = await load.snap();
  const sched0 = schedAll(load, stack);
  const backend0 = cpuOf([stack.backendPid]);
  const nginx0 = cpuOf(stack.nginxPids);
  const idle0 = cpuOf([other.backendPid, ...other.nginxPids]);
  // Where the scheduler put the three busy processes (2 cores, 3 processes: two of them share),
  // sampled at the slice's middle and end: a placement that differs between the stacks of a
  // pair would show as a per-pair bias.
  await sleep(sliceMs / 2);
  const psr = [placement(load, stack)];
  await sleep(sliceMs / 2);
  psr.push(placement(load, stack));
  const s1 = await load.snap();
  const sched1 = schedAll(load, stack);
  const backend1 = cpuOf([stack.backendPid]);
  const nginx1 = cpuOf(stack.nginxPids);
  const idle1 = cpuOf([other.backendPid, ...other.nginxPids]);
  const m1 = machineTicks();
  load.pause();
  const seconds = (s1.t_ms - s0.t_ms) / 1000;
  const calls = s1.calls - s0.calls;
  const loadgenUs = s1.cpu_us - s0.cpu_us;
  const backendUs = backend1 - backend0;
  const nginxUs = nginx1 - nginx0;
  const idleUs = idle1 - idle0;
  const taskCores = (m1.task - m0.task) / 100 / seconds;
  const measuredCores = (backendUs + nginxUs + loadgenUs + idleUs) / 1e6 / seconds;
  const row = {
    calls,
    errors: s1.errors - s0.errors,
    seconds: Math.round(seconds * 1000) / 1000,
    rps: Math.round((calls / seconds) * 10) / 10,
    backend_us_per_call: r2(backendUs / calls),
    nginx_us_per_call: r2(nginxUs / calls),
    loadgen_us_per_call: r2(loadgenUs / calls),
    total_us_per_call: r2((backendUs + nginxUs + loadgenUs) / calls),
    idle_stack_cores: r2(idleUs / 1e6 / seconds),
    loadgen_cores: r2(loadgenUs / 1e6 / seconds),
    machine: { others_cores: r2(taskCores - measuredCores), steal_cores: r2((m1.steal - m0.steal) / 100 / seconds) },
    // Raw sums, for totals over many slices (a 1-s slice holds only ~100 clock ticks per core).
    us: { backend: backendUs, nginx: nginxUs, loadgen: loadgenUs, idle_stack: idleUs },
    psr,
    // Per call: µs each process waited for a CPU while runnable, and its migrations per 1000 calls.
    runq_wait_us_per_call: Object.fromEntries(Object.keys(sched0).map((k) => [k, r2((sched1[k].wait - sched0[k].wait) / 1000 / calls)])),
    migrations_per_1k_calls: Object.fromEntries(Object.keys(sched0).map((k) => [k, r2(((sched1[k].migrations - sched0[k].migrations) * 1000) / calls)])),
    // Calls per time the process went to sleep with nothing to do: how much one wakeup batched
    // (a slower backend leaves nginx and the load generator fewer replies per wakeup).
    calls_per_sleep: Object.fromEntries(Object.keys(sched0).map((k) => [k, r2(calls / Math.max(1, sched1[k].sleeps - sched0[k].sleeps))])),
    sleeps: Object.fromEntries(Object.keys(sched0).map((k) => [k, sched1[k].sleeps - sched0[k].sleeps])),
  };
  row.flags = quietFlags(row, { othersCores: Number(values['noisy-cores']) });
  return row;
}

const started = [];
const cleanup = async () => {
  for (const s of started.splice(0).reverse()) await s.stop().catch(() => {});
};
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));
process.on('SIGTERM', () => cleanup().then(() => process.exit(143)));

const loadBefore = loadAverage();
log(`load average before ${loadBefore.join(', ')}`);
log(`${pairs} pair(s) of stacks × ${blocks.length} block(s) × ${quads} quadruples; about ${estimateMinutes(pairs, blocks.length, quads).toFixed(1)} min`);
const slices = [];
const pairRuns = []; // per pair: { pair, swapped, blocks: [summarizeBlock results], extras, minutes }
const begun = Date.now();
for (let p = 0; p < pairs; p++) {
  // Odd pairs swap the roles' positions: B's stack starts first (and so gets the first ports and
  // the first nginx), B's load process is created and prewarmed first, and slices run BAAB ABBA.
  const swapped = p % 2 === 1;
  pairIndex = p;
  const pairBegun = Date.now();
  const pairRun = { pair: p + 1, swapped, blocks: [], extras: {} };
  try {
    const { a, b, extra } = await startComparison(started, swapped);
    const stackOf = { A: a, B: b };
    const sides = swapped ? ['B', 'A'] : ['A', 'B'];
    pairRun.ports = { [a.label]: a.port, [b.label]: b.port };
    await pinStack(a);
    await pinStack(b);
    log(`pair ${p + 1}/${pairs}${swapped ? ' (roles swapped: B first)' : ''}: ${a.label} on port ${a.port}, ${b.label} on port ${b.port}`);
    for (const block of blocks) {
      const name = `${block.transport}${block.clients}`;
      const loads = {};
      try {
        for (const side of sides) {
          loads[side] = await startLoad(stackOf[side], block);
          await pinLoad(loads[side]);
          log(`${name} ${stackOf[side].label}: ${block.clients} clients connected; prewarm ${values.prewarm}s (not measured)`);
          await sleep(Number(values.prewarm) * 1000);
          loads[side].pause();
        }
        const order = sliceOrder(quads, ...sides);
        const rows = [];
        for (const [i, side] of order.entries()) {
          const row = await measureSlice(loads[side], stackOf[side], stackOf[side === 'A' ? 'B' : 'A']);
          rows.push({ pair: p + 1, block: name, transport: block.transport, clients: block.clients, slice: i + 1, config: stackOf[side].label, side, ...row });
          if (i % 4 === 3) {
            const q = rows.slice(-4);
            const mean = (s) => q.filter((r) => r.side === s).reduce((acc, r) => acc + r.rps, 0) / 2;
            log(`pair ${p + 1} ${name} quad ${(i + 1) / 4}/${quads}: ${a.label} ${mean('A').toFixed(0)} rps, ${b.label} ${mean('B').toFixed(0)} rps, ratio ${(mean('B') / mean('A')).toFixed(3)}`);
          }
        }
        slices.push(...rows);
        const result = summarizeBlock(pairs === 1 ? name : `${name} pair ${p + 1}`, rows, a.label, b.label);
        result.block = name;
        result.calls_total = { [a.label]: await loads.A.total(), [b.label]: await loads.B.total() };
        pairRun.blocks.push(result);
      } finally {
        for (const l of Object.values(loads)) await l.stop();
      }
      // The closed clients' teardown in nginx and the backend stays out of the next block's prewarm.
      await sleep(2000);
    }
    pairRun.extras = extra();
  } finally {
    await cleanup();
  }
  pairRun.minutes = Math.round((Date.now() - pairBegun) / 600) / 100;
  pairRuns.push(pairRun);
  log(`pair ${p + 1} done in ${pairRun.minutes} min`);
  if (p + 1 < pairs) await sleep(2000); // the stopped stacks' ports and processes gone before the next pair
}
const labels = { a: comparison.a, b: comparison.b };
const blockResults = pairs === 1 ? pairRuns[0].blocks : blocks.map((block) => combinePairs(`${block.transport}${block.clients}`, labels.a, labels.b));
const extras = pairs === 1 ? pairRuns[0].extras : { per_pair: pairRuns.map((r) => ({ pair: r.pair, ...r.extras })) };

/**
 * One block's verdict over every pair of stacks (summarizePairs: the pair as the unit), each
 * process's CPU per call B/A the same way, and the per-pair figures kept beside them.
 */
function combinePairs(name, aLabel, bLabel) {
  const perPair = pairRuns.map((r) => r.blocks.find((b) => b.block === name));
  const rowsOf = (pair) => slices.filter((r) => r.pair === pair && r.block === name);
  const perQuad = (field, num, den) => perPair.map((_, i) => quadRatios(rowsOf(i + 1).map((r) => ({ config: r.side, value: r[field], flags: r.flags })), num, den));
  const verdict = summarizePairs({ what: `${name}: ${bLabel}/${aLabel} rps over ${pairs} pairs of stacks`, pairs: perQuad('rps', 'B', 'A'), target: comparison.target ?? undefined, kind: 'min', digits: 3 });
  const cpuBound = summarizePairs({ what: `${name}: ${aLabel}/${bLabel} all CPU per call (CPU-bound estimate)`, pairs: perQuad('total_us_per_call', 'A', 'B'), digits: 3 });
  const perProcess = Object.fromEntries(
    ['backend', 'nginx', 'loadgen'].map((k) => [k, summarizePairs({ what: `${name}: ${k} CPU per call ${bLabel}/${aLabel}`, pairs: perQuad(`${k}_us_per_call`, 'B', 'A'), digits: 3 })]),
  );
  const totals = totalsOf(perPair.flatMap((_, i) => rowsOf(i + 1)), aLabel, bLabel);
  const ta = totals[aLabel];
  const tb = totals[bLabel];
  const cpuLine =
    `${name}: CPU µs per call over all pairs' slices (${aLabel} -> ${bLabel}): backend ${ta.backend_us_per_call} -> ${tb.backend_us_per_call}, nginx ${ta.nginx_us_per_call} -> ${tb.nginx_us_per_call}, load generator ${ta.loadgen_us_per_call} -> ${tb.loadgen_us_per_call}, all ${ta.total_us_per_call} -> ${tb.total_us_per_call}; ` +
    `calls per sleep: nginx ${ta.calls_per_sleep.nginx} -> ${tb.calls_per_sleep.nginx}, load generator ${ta.calls_per_sleep.loadgen} -> ${tb.calls_per_sleep.loadgen}`;
  const pairLines = perPair.map((b, i) => `  pair ${i + 1}${pairRuns[i].swapped ? ' (swapped)' : ''}: ${b.verdict.line}`);
  process.stderr.write(`\n${verdict.line}\n${pairLines.join('\n')}\n${cpuBound.line}\n${cpuLine}\n${Object.values(perProcess).map((x) => `${x.line}\n`).join('')}`);
  return {
    block: name,
    verdict,
    cpu_bound_estimate: cpuBound,
    cpu_per_call_ratio: perProcess,
    totals,
    cpu_line: cpuLine,
    per_pair: perPair.map((b, i) => ({ pair: i + 1, swapped: pairRuns[i].swapped, ports: pairRuns[i].ports, minutes: pairRuns[i].minutes, ...b })),
  };
}

/** Each side's calls, rps and CPU per call by process over all of `rows` (slices). */
function totalsOf(rows, aLabel, bLabel) {
  const totals = {};
  for (const side of ['A', 'B']) {
    const of = rows.filter((r) => r.side === side);
    const calls = of.reduce((s, r) => s + r.calls, 0);
    const sum = (k) => of.reduce((s, r) => s + r.us[k], 0);
    const seconds = of.reduce((s, r) => s + r.seconds, 0);
    totals[side === 'A' ? aLabel : bLabel] = {
      slices: of.length,
      calls,
      rps: Math.round((calls / seconds) * 10) / 10,
      backend_us_per_call: r2(sum('backend') / calls),
      nginx_us_per_call: r2(sum('nginx') / calls),
      loadgen_us_per_call: r2(sum('loadgen') / calls),
      total_us_per_call: r2((sum('backend') + sum('nginx') + sum('loadgen')) / calls),
      idle_other_stack_cores: r2(sum('idle_stack') / 1e6 / seconds),
      calls_per_sleep: Object.fromEntries(['backend', 'nginx', 'loadgen'].map((k) => [k, r2(calls / Math.max(1, of.reduce((s, r) => s + (r.sleeps?.[k] ?? 0), 0)))])),
      errors: of.reduce((s, r) => s + r.errors, 0),
    };
  }
  return totals;
}

/** The verdict and the CPU split of one block's slices. */
function summarizeBlock(name, rows, aLabel, bLabel) {
  const perQuad = (field, num, den) => quadRatios(rows.map((r) => ({ config: r.side, value: r[field], flags: r.flags })), num, den);
  const verdict = summarize({ what: `${name}: ${bLabel}/${aLabel} rps (paired per ABBA quadruple of ${values.slice}-s slices)`, rounds: perQuad('rps', 'B', 'A'), target: comparison.target ?? undefined, kind: 'min', digits: 3 });
  // For the reader: the whole system's CPU per call predicts the ratio when the three processes
  // share the 2 cores (A's CPU per call over B's, same quadruple).
  const cpuBound = summarize({ what: `${name}: ${aLabel}/${bLabel} all CPU per call (CPU-bound estimate, per quadruple)`, rounds: perQuad('total_us_per_call', 'A', 'B'), digits: 3 });
  // Each process's CPU per call, B over A, paired per quadruple (where a gap goes, with its spread).
  const perProcess = Object.fromEntries(
    ['backend', 'nginx', 'loadgen'].map((k) => [k, summarize({ what: `${name}: ${k} CPU per call ${bLabel}/${aLabel} (per quadruple)`, rounds: perQuad(`${k}_us_per_call`, 'B', 'A'), digits: 3 })]),
  );
  const totals = totalsOf(rows, aLabel, bLabel);
  const ta = totals[aLabel];
  const tb = totals[bLabel];
  const line =
    `${name}: CPU µs per call over all slices (${aLabel} -> ${bLabel}): backend ${ta.backend_us_per_call} -> ${tb.backend_us_per_call}, ` +
    `nginx ${ta.nginx_us_per_call} -> ${tb.nginx_us_per_call}, load generator ${ta.loadgen_us_per_call} -> ${tb.loadgen_us_per_call}, ` +
    `all ${ta.total_us_per_call} -> ${tb.total_us_per_call}; the idle stack used ${ta.idle_other_stack_cores} cores during ${aLabel}'s slices, ${tb.idle_other_stack_cores} during ${bLabel}'s`;
  process.stderr.write(`${verdict.line}\n${cpuBound.line}\n${line}\n${Object.values(perProcess).map((p) => `${p.line}\n`).join('')}`);
  return { block: name, verdict, cpu_bound_estimate: cpuBound, cpu_per_call_ratio: perProcess, totals, cpu_line: line };
}

const minutes = ((Date.now() - begun) / 60000).toFixed(1);
const flagged = slices.filter((r) => r.flags.length).length;
process.stderr.write(`${flagged} of ${slices.length} slices not quiet; ${minutes} min; load average before ${loadBefore.join(', ')}, after ${loadAverage().join(', ')}\n`);
const file = saveResult(
  `slices-${values.compare}`,
  {
    date: new Date().toISOString(),
    command: ['node', 'bench/slices.mjs', ...process.argv.slice(2)].join(' '),
    commit: gitCommit(),
    loadavg_before: loadBefore,
    loadavg_after: loadAverage(),
    minutes: Number(minutes),
    settings: { ...values, blocks: blocks.map((b) => `${b.transport}:${b.clients}`).join(','), pairs, quads, target: comparison.target },
    ...extras,
    blocks: blockResults,
    slices,
  },
  values.out,
);
process.stderr.write(`results written to ${relative(process.cwd(), file)}\n`);
if (values.check) process.exitCode = checkExitCode(blockResults.map((b) => b.verdict));
