#!/usr/bin/env node
// Long tasks: N concurrent 2-second tool calls through nginx, on one transport.
//
//   node bench/long-tasks.mjs [--transport ws|streamable|sse|http-2026] [--sessions 5000]
//        [--calls-per-session 1] [--ms 2000] [--deadline 2600] [--workers 4|auto]
//        [--sources 250] [--url URL --backend-pid PID] [--out FILE]
//        [--warmup N [--warmup-ms 200]] [--timeline] [--env K=V ...] [--node-arg=--flag ...]
//
// Starts `httmcp start --workers W` (unless --url is given), opens --sessions sessions
// (initialize + notifications/initialized each, before the clock starts: a WebSocket, a
// Streamable HTTP session, or a legacy SSE stream with its endpoint), then sends
// `tools/call sleep {ms}` on every session at once (calls-per-session each, ids distinct) and
// waits for every reply. Reports, per call, the time from its own send and from the start of
// the burst (the first send): max, p99, p50, and how many finished within --deadline ms of the
// burst start. The backend's RSS is sampled every 20 ms from /proc during the burst (peak), and
// VmHWM is read at the end. `cpu_s` gives the CPU seconds the loader, backend and nginx used
// from the burst start to the last reply, and `other`: what else ran on the machine meanwhile
// (the cores are shared; a run with `other` above ~0.2 s was disturbed and says little).
// `--timeline` prints, every 100 ms, each process's CPU and the backend's in-flight count.
//
// Streamable HTTP: every call is a POST on a connection of its own (the reply arrives on the SSE
// stream nginx holds for it); legacy SSE: a POST to the session's endpoint, the reply on the
// session's stream. `--sources N` spreads the clients over N source addresses in 127.0.0.0/8
// (as N machines would be; per-address limits at the edge then see N clients). `lost` counts
// calls with no reply (an HTTP error such as a 502, a reset, a timeout); `errors` counts those
// plus JSON-RPC errors. The goal is 0 of 5,000 lost on every transport.
//
// `http-2026`: 2026-07-28 requests (no session, no initialize: "sessions" are clients with a
// connection of their own); every call a POST with the per-request envelope and the standard
// headers, answered on the SSE stream nginx holds for it once it outlasts the inline budget.

import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { CallError, LegacySseSession, sourceAddresses, streamablePost, streamableSession, wsSession } from './raw-mcp.mjs';
import { cpuTicks, machineTicks, stackBuild, errorLogCounts, fdCount, gitCommit, httpGetText, limits, log as mkLog, nginxMem, procMem, r1, saveResult, sleep, startStack } from './scale-lib.mjs';

const { values: v } = parseArgs({
  allowNegative: true,
  options: {
    sessions: { type: 'string', default: '5000' },
    'calls-per-session': { type: 'string', default: '1' },
    ms: { type: 'string', default: '2000' },
    deadline: { type: 'string', default: '2600' },
    workers: { type: 'string', default: '4' },
    transport: { type: 'string', default: 'ws' },
    // The edge limits each address (64 open requests, 20/s after a burst of 50 by default): 5,000
    // calls from one address would mostly be refused. 250 addresses send 20 each.
    sources: { type: 'string', default: '250' },
    // --no-keepalive: every HTTP request on a new connection.
    keepalive: { type: 'boolean', default: true },
    // A sed expression for the stack's rendered nginx.conf (repeatable); nginx is reloaded with
    // it before any session opens. E.g. a small core listen queue:
    // --patch 's|core.sock backlog=65535|core.sock backlog=256|'
    patch: { type: 'string', multiple: true, default: [] },
    concurrency: { type: 'string', default: '200' },
    url: { type: 'string' },
    'backend-pid': { type: 'string' },
    'nginx-pid': { type: 'string' },
    out: { type: 'string' },
    // Every 100 ms during the burst: CPU of the backend, nginx and this generator (from /proc),
    // the backend's in-flight and published counters (/healthz) and its open fds; printed as a table.
    timeline: { type: 'boolean', default: false },
    // KEY=VALUE for the stack's environment only (repeatable), e.g. HTTMCP_INLINE_BUDGET_MS=20
    env: { type: 'string', multiple: true, default: [] },
    // An option for the stack's node (repeatable), e.g. --node-arg=--cpu-prof to profile the backend.
    'node-arg': { type: 'string', multiple: true, default: [] },
    // Before the measured burst: this many calls (sleep --warmup-ms, on the first sessions) as
    // one burst, all answered, then 2 s of quiet. A fresh stack has never run the long-call path
    // (JIT, undici's parser, publish connections); a server that has been up a while has.
    warmup: { type: 'string', default: '0' },
    'warmup-ms': { type: 'string', default: '200' },
  },
});
const L = mkLog('long');
const PV = '2025-06-18';
const MODERN = '2026-07-28';
const MODERN_ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'httmcp-bench-long', version: '1.0.0' },
};

/** The backend's base URL, read from the upstream block of the stack's nginx.conf. */
function backendUrl(prefix) {
  const m = readFileSync(`${prefix}/nginx.conf`, 'utf8').match(/server (127\.0\.0\.1:\d+|unix:[^;\s]+)/);
  return m ? (m[1].startsWith('unix:') ? m[1] : `http://${m[1]}`) : null;
}

function pct(a, q) {
  return a.length ? a[Math.min(a.length - 1, Math.max(0, Math.ceil(q * a.length) - 1))] : null;
}

/**
 * Opens one session of `transport` and returns `{call(id, body) → Promise<reply>, close()}`.
 * Replies are JSON-RPC messages; a lost call rejects with a CallError.
 */
async function openSession(transport, url, localAddress, timeoutMs) {
  if (transport === 'ws') {
    const ws = await wsSession(url, { localAddress });
    const waiting = new Map();
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      const w = waiting.get(m.id);
      if (w) {
        waiting.delete(m.id);
        w.resolve(m);
      }
    });
    ws.on('close', (code) => {
      for (const w of waiting.values()) w.reject(new CallError(`ws_closed_${code}`));
      waiting.clear();
    });
    return {
      call: (id, body) =>
        new Promise((resolve, reject) => {
          waiting.set(id, { resolve, reject });
          ws.send(body);
        }),
      close: () => ws.terminate(),
    };
  }
  // Each HTTP client keeps the connection its initialize used, as an SDK client's fetch does, so
  // the burst's POSTs reach nginx at once instead of paced by TCP connects.
  const agent = v.keepalive ? new http.Agent({ keepAlive: true, maxSockets: Infinity }) : false;
  if (transport === 'streamable') {
    const session = await streamableSession(url, { localAddress, agent });
    return {
      call: (id, body) => streamablePost(url, body, { session, waitId: id, localAddress, agent, timeoutMs }).then((r) => r.message),
      close: () => agent && agent.destroy(),
    };
  }
  if (transport === 'http-2026') {
    const extraHeaders = { 'mcp-method': 'tools/call', 'mcp-name': 'sleep' };
    return {
      call: (id, body) => {
        const message = JSON.parse(body);
        message.params._meta = MODERN_ENVELOPE;
        return streamablePost(url, JSON.stringify(message), { waitId: id, localAddress, agent, timeoutMs, extraHeaders, protocolVersion: MODERN }).then((r) => r.message);
      },
      close: () => agent && agent.destroy(),
    };
  }
  if (transport === 'sse') {
    const s = await LegacySseSession.open(url, { localAddress, agent });
    return { call: (id, body) => s.post(body, id, { timeoutMs }), close: () => s.close() };
  }
  throw new Error(`--transport must be ws, streamable, sse or http-2026, not ${transport}`);
}

async function main() {
  const nSessions = Number(v.sessions);
  const perSession = Number(v['calls-per-session']);
  const ms = Number(v.ms);
  const deadline = Number(v.deadline);
  let stack = null;
  let url = v.url;
  let backendPid = Number(v['backend-pid']);
  let nginxPid = Number(v['nginx-pid']);
  if (!url) {
    const env = Object.fromEntries(v.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    stack = await startStack({ workers: v.workers === 'auto' ? 'auto' : Number(v.workers), env, nodeArgs: v['node-arg'] });
    url = stack.url;
    backendPid = stack.backendPid;
    nginxPid = stack.nginxPid;
    L(`stack up: ${url} nginx ${nginxPid} backend ${backendPid} workers ${v.workers}`);
    if (v.patch.length) {
      const conf = `${stack.prefix}/nginx.conf`;
      for (const e of v.patch) execFileSync('sed', ['-i', e, conf]);
      execFileSync('nginx', ['-p', stack.prefix, '-c', conf, '-t'], { stdio: 'pipe' });
      execFileSync('nginx', ['-p', stack.prefix, '-c', conf, '-s', 'reload']);
      // The old workers leave and the new ones take the listeners over.
      await sleep(3000);
      L(`patched ${conf} (${v.patch.join(' ; ')}), reloaded`);
    }
  }
  const sockets = [];
  const transport = v.transport;
  const sources = sourceAddresses(Math.max(1, Number(v.sources)));
  const callTimeout = Number(v.ms) + 30_000;
  try {
    // open sessions
    const t0 = performance.now();
    let next = 0;
    let failed = 0;
    const sessionErrors = {};
    await Promise.all(
      Array.from({ length: Number(v.concurrency) }, async () => {
        while (next < nSessions) {
          const k = next++;
          try {
            sockets.push(await openSession(transport, url, sources.length > 1 ? sources[k % sources.length] : undefined, callTimeout));
          } catch (e) {
            failed++;
            sessionErrors[e.kind ?? e.code ?? 'error'] = (sessionErrors[e.kind ?? e.code ?? 'error'] ?? 0) + 1;
          }
        }
      }),
    );
    L(`${transport}: ${sockets.length} sessions open (${failed} failed ${JSON.stringify(sessionErrors)}) in ${Math.round(performance.now() - t0)} ms`);
    const warmup = Math.min(Number(v.warmup), sockets.length);
    let warmupResult = null;
    if (warmup > 0) {
      const w0 = performance.now();
      let got = 0;
      let warmErrors = 0;
      const warmed = Promise.all(
        Array.from({ length: warmup }, (_, s) =>
          sockets[s]
            .call(-1 - s, `{"jsonrpc":"2.0","id":${-1 - s},"method":"tools/call","params":{"name":"sleep","arguments":{"ms":${Number(v['warmup-ms'])}}}}`)
            .then(
              (m) => {
                got++;
                if (m.error || m.result?.isError) warmErrors++;
              },
              () => warmErrors++,
            ),
        ),
      );
      await Promise.race([warmed, sleep(60_000)]);
      warmupResult = { calls: warmup, ms: Number(v['warmup-ms']), answered: got, errors: warmErrors, wall_ms: r1(performance.now() - w0) };
      L(`warmup: ${got}/${warmup} answered (${warmErrors} errors) in ${Math.round(performance.now() - w0)} ms`);
    }
    await sleep(2000);
    const before = procMem(backendPid);
    const nginxBeforeMem = nginxPid ? nginxMem(nginxPid) : null;
    const nginxBefore = nginxBeforeMem?.rss ?? null;

    // the burst
    const total = sockets.length * perSession;
    const sentAt = new Float64Array(total);
    const doneAt = new Float64Array(total);
    let answered = 0;
    let errors = 0;
    const errorKinds = {};
    let peakRss = before.rss;
    let peakNginx = nginxBefore ?? 0;
    // The sampler shares the 2 cores with what it measures: it reads only /proc/PID/status
    // (VmRSS) of pids found once. Scanning /proc for nginx's workers and reading smaps_rollup
    // every 20 ms, as it did before, took a sizeable share of a core during the burst.
    const sampler = setInterval(() => {
      try {
        peakRss = Math.max(peakRss, procMem(backendPid, { pss: false }).rss);
        if (nginxPid) peakNginx = Math.max(peakNginx, nginxMem(nginxPid, { pids: nginxBeforeMem.pids, pss: false }).rss);
      } catch {}
    }, 20);
    let burstStart = null;
    const timeline = [];
    let tl = null;
    if (v.timeline) {
      const nginxPids = nginxBeforeMem?.pids ?? [];
      const health = stack?.prefix ? backendUrl(stack.prefix) : null;
      const sample = () => ({ t: performance.now(), be: cpuTicks(backendPid), ng: nginxPids.map(cpuTicks), me: cpuTicks(process.pid), m: machineTicks() });
      let last = sample();
      tl = setInterval(async () => {
        const now = sample();
        const row = {
          t_ms: Math.round(now.t - (burstStart ?? now.t)),
          backend_cpu_pct: Math.round(((now.be - last.be) * 10 * 100) / (now.t - last.t)),
          nginx_cpu_pct: now.ng.map((x, i) => Math.round(((x - last.ng[i]) * 10 * 100) / (now.t - last.t))),
          loader_cpu_pct: Math.round(((now.me - last.me) * 10 * 100) / (now.t - last.t)),
          machine_busy_pct: Math.round((100 * (now.m.busy - last.m.busy)) / (now.m.busy - last.m.busy + now.m.idle - last.m.idle)),
          backend_fds: fdCount(backendPid),
          answered,
        };
        last = now;
        if (health) {
          try {
            const h = JSON.parse(await httpGetText(health, '/healthz'));
            row.inflight = h.inflight;
            row.published = h.published;
          } catch {}
        }
        timeline.push(row);
      }, 100);
    }
    let allDone;
    const finished = new Promise((r) => (allDone = r));
    let lost = 0;
    let settled = 0;
    const settle = () => ++settled === total && allDone();
    const kind = (k) => (errorKinds[k] = (errorKinds[k] ?? 0) + 1);
    const cpuAt = () => ({ loader: cpuTicks(process.pid), backend: cpuTicks(backendPid), nginx: (nginxBeforeMem?.pids ?? []).reduce((a, p) => a + cpuTicks(p), 0), machine: machineTicks() });
    const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
    const cpuStart = cpuAt();
    burstStart = performance.now();
    for (let c = 0; c < perSession; c++) {
      for (let s = 0; s < sockets.length; s++) {
        const i = c * sockets.length + s;
        sentAt[i] = performance.now();
        sockets[s].call(i + 1, `{"jsonrpc":"2.0","id":${i + 1},"method":"tools/call","params":{"name":"sleep","arguments":{"ms":${ms}}}}`).then(
          (m) => {
            doneAt[i] = performance.now();
            answered++;
            if (m.error || m.result?.isError) {
              errors++;
              kind(m.error ? `jsonrpc_${m.error.code}` : 'tool_error');
            }
            settle();
          },
          (e) => {
            lost++;
            errors++;
            kind(e.kind ?? e.code ?? 'error');
            settle();
          },
        );
      }
    }
    const sendEnd = performance.now();
    await Promise.race([finished, sleep(callTimeout + 5000)]);
    const end = performance.now();
    const cpuEnd = cpuAt();
    clearInterval(sampler);
    if (tl) {
      await sleep(150);
      clearInterval(tl);
    }
    const after = procMem(backendPid);

    const fromSend = [];
    const fromBurst = [];
    let within = 0;
    for (let i = 0; i < total; i++) {
      if (!doneAt[i]) continue;
      fromSend.push(doneAt[i] - sentAt[i]);
      fromBurst.push(doneAt[i] - burstStart);
      if (doneAt[i] - burstStart <= deadline) within++;
    }
    fromSend.sort((a, b) => a - b);
    fromBurst.sort((a, b) => a - b);
    const result = {
      date: new Date().toISOString(),
      commit: gitCommit(),
      stack_build: stackBuild(),
      limits: limits(),
      url,
      workers: stack ? v.workers : null,
      stack_env: v.env,
      config_patch: v.patch,
      node_args: v['node-arg'],
      warmup: warmupResult,
      transport,
      keepalive: v.keepalive,
      sources: sources.length,
      sessions: sockets.length,
      session_failures: failed,
      session_error_kinds: sessionErrors,
      calls_per_session: perSession,
      calls: total,
      tool_ms: ms,
      deadline_ms: deadline,
      answered,
      unanswered: total - answered,
      lost,
      errors,
      error_kinds: errorKinds,
      send_loop_ms: r1(sendEnd - burstStart),
      wall_ms: r1(end - burstStart),
      // CPU seconds from the burst start until the last reply (clock ticks of 10 ms). `other` is
      // the machine's busy time outside the loader, backend and nginx: anything else running on
      // the shared cores (a compiler, a test suite) makes that run's latencies suspect.
      cpu_s: {
        other: r1((cpuEnd.machine.busy - cpuStart.machine.busy - (cpuEnd.loader - cpuStart.loader) - (cpuEnd.backend - cpuStart.backend) - (cpuEnd.nginx - cpuStart.nginx)) / 100),
        loader: r1((cpuEnd.loader - cpuStart.loader) / 100),
        backend: r1((cpuEnd.backend - cpuStart.backend) / 100),
        nginx: r1((cpuEnd.nginx - cpuStart.nginx) / 100),
        machine_busy: r1((cpuEnd.machine.busy - cpuStart.machine.busy) / 100),
        machine_idle: r1((cpuEnd.machine.idle - cpuStart.machine.idle) / 100),
      },
      within_deadline: within,
      all_within_deadline: within === total && errors === 0,
      from_send_ms: { p50: r1(pct(fromSend, 0.5)), p99: r1(pct(fromSend, 0.99)), max: r1(fromSend.at(-1)) },
      from_burst_start_ms: { p50: r1(pct(fromBurst, 0.5)), p99: r1(pct(fromBurst, 0.99)), max: r1(fromBurst.at(-1)) },
      backend_rss_before_mib: r1(before.rss / 1048576),
      backend_rss_peak_mib: r1(peakRss / 1048576),
      backend_rss_after_mib: r1(after.rss / 1048576),
      backend_vmhwm_mib: r1(after.hwm / 1048576),
      backend_peak_delta_kib_per_call: r1((peakRss - before.rss) / total / 1024),
      nginx_rss_before_mib: nginxBefore == null ? null : r1(nginxBefore / 1048576),
      nginx_rss_peak_mib: nginxPid ? r1(peakNginx / 1048576) : null,
      nginx_error_log: stack?.prefix ? errorLogCounts(stack.prefix) : null,
      load_average_before: loadBefore,
      load_average_after: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
    };
    if (v.timeline) result.timeline = timeline;
    result.markdown =
      '| transport | sessions | calls | tool ms | answered | lost | errors | within ' + deadline + ' ms | max ms (from burst) | p99 ms (from burst) | p50 ms (from burst) | max ms (from own send) | backend RSS before → peak MiB |\n' +
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n' +
      `| ${transport} | ${result.sessions} | ${total} | ${ms} | ${answered} | ${lost} | ${errors} | ${within} | ${result.from_burst_start_ms.max} | ${result.from_burst_start_ms.p99} | ${result.from_burst_start_ms.p50} | ${result.from_send_ms.max} | ${result.backend_rss_before_mib} → ${result.backend_rss_peak_mib} |`;
    if (v.timeline) {
      process.stderr.write('t_ms  backend%  nginx% (master,workers...)  loader%  machine busy% (of 2 cores)  backend_fds  inflight  published  answered\n');
      timeline.sort((a, b) => a.t_ms - b.t_ms);
      for (const r of timeline) {
        process.stderr.write(`${String(r.t_ms).padStart(5)}  ${String(r.backend_cpu_pct).padStart(4)}  ${r.nginx_cpu_pct.join(',').padEnd(22)}  ${String(r.loader_cpu_pct).padStart(4)}  ${String(r.machine_busy_pct).padStart(4)}  ${String(r.backend_fds).padStart(6)}  ${String(r.inflight ?? '').padStart(6)}  ${String(r.published ?? '').padStart(6)}  ${String(r.answered).padStart(6)}\n`);
      }
    }
    const file = saveResult('long-tasks', result, v.out);
    process.stdout.write(JSON.stringify(result) + '\n' + result.markdown + '\n');
    L(`saved ${file}`);
  } finally {
    for (const session of sockets) session.close();
    if (stack) await stack.stop();
  }
}

main().catch((e) => {
  process.stderr.write(String(e.stack ?? e) + '\n');
  process.exit(1);
});
