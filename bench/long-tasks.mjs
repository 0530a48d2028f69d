#!/usr/bin/env node
// Long tasks: N concurrent 2-second tool calls over WebSocket through nginx.
//
//   node bench/long-tasks.mjs [--sessions 5000] [--calls-per-session 1] [--ms 2000]
//        [--deadline 2600] [--workers 4] [--url URL --backend-pid PID] [--out FILE]
//
// Starts `httmcp start --workers W` (unless --url is given), opens --sessions WebSocket
// sessions (initialize + notifications/initialized each, before the clock starts), then sends
// `tools/call sleep {ms}` on every session at once (calls-per-session each, ids distinct) and
// waits for every reply. Reports, per call, the time from its own send and from the start of
// the burst (the first send): max, p99, p50, and how many finished within --deadline ms of the
// burst start. The backend's RSS is sampled every 20 ms from /proc during the burst (peak), and
// VmHWM is read at the end.

import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { gitCommit, limits, log as mkLog, nginxMem, procMem, r1, saveResult, sleep, startStack } from './scale-lib.mjs';

const { values: v } = parseArgs({
  options: {
    sessions: { type: 'string', default: '5000' },
    'calls-per-session': { type: 'string', default: '1' },
    ms: { type: 'string', default: '2000' },
    deadline: { type: 'string', default: '2600' },
    workers: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '200' },
    url: { type: 'string' },
    'backend-pid': { type: 'string' },
    'nginx-pid': { type: 'string' },
    out: { type: 'string' },
  },
});
const L = mkLog('long');
const PV = '2025-06-18';

function pct(a, q) {
  return a.length ? a[Math.min(a.length - 1, Math.max(0, Math.ceil(q * a.length) - 1))] : null;
}

async function openSession(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), 'mcp', { perMessageDeflate: false, handshakeTimeout: 30_000 });
    let done = false;
    ws.on('open', () =>
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: PV, capabilities: {}, clientInfo: { name: 'long', version: '1' } } })),
    );
    ws.on('error', (e) => !done && ((done = true), reject(e)));
    ws.on('close', (c) => !done && ((done = true), reject(new Error(`closed ${c}`))));
    ws.on('message', (d) => {
      if (done) return;
      const m = JSON.parse(d.toString());
      if (m.id !== 0) return;
      done = true;
      ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
      resolve(ws);
    });
  });
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
    stack = await startStack({ workers: Number(v.workers) });
    url = stack.url;
    backendPid = stack.backendPid;
    nginxPid = stack.nginxPid;
    L(`stack up: ${url} nginx ${nginxPid} backend ${backendPid} workers ${v.workers}`);
  }
  const sockets = [];
  try {
    // open sessions
    const t0 = performance.now();
    let next = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: Number(v.concurrency) }, async () => {
        while (next < nSessions) {
          next++;
          try {
            sockets.push(await openSession(url));
          } catch {
            failed++;
          }
        }
      }),
    );
    L(`${sockets.length} sessions open (${failed} failed) in ${Math.round(performance.now() - t0)} ms`);
    await sleep(2000);
    const before = procMem(backendPid);
    const nginxBefore = nginxPid ? nginxMem(nginxPid).rss : null;

    // the burst
    const total = sockets.length * perSession;
    const sentAt = new Float64Array(total);
    const doneAt = new Float64Array(total);
    let answered = 0;
    let errors = 0;
    const errorKinds = {};
    let peakRss = before.rss;
    let peakNginx = nginxBefore ?? 0;
    const sampler = setInterval(() => {
      try {
        peakRss = Math.max(peakRss, procMem(backendPid).rss);
        if (nginxPid) peakNginx = Math.max(peakNginx, nginxMem(nginxPid).rss);
      } catch {}
    }, 20);
    let allDone;
    const finished = new Promise((r) => (allDone = r));
    sockets.forEach((ws, s) => {
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString());
        if (typeof m.id !== 'number' || m.id < 1) return;
        const i = m.id - 1;
        if (doneAt[i]) return;
        doneAt[i] = performance.now();
        if (m.error || m.result?.isError) {
          errors++;
          const k = m.error ? `jsonrpc_${m.error.code}` : 'tool_error';
          errorKinds[k] = (errorKinds[k] ?? 0) + 1;
        }
        if (++answered === total) allDone();
      });
      ws.on('close', () => {
        errorKinds.closed = (errorKinds.closed ?? 0) + 1;
      });
    });
    const burstStart = performance.now();
    for (let c = 0; c < perSession; c++) {
      for (let s = 0; s < sockets.length; s++) {
        const i = c * sockets.length + s;
        sentAt[i] = performance.now();
        sockets[s].send(`{"jsonrpc":"2.0","id":${i + 1},"method":"tools/call","params":{"name":"sleep","arguments":{"ms":${ms}}}}`);
      }
    }
    const sendEnd = performance.now();
    const timeoutMs = ms + 30_000;
    await Promise.race([finished, sleep(timeoutMs)]);
    const end = performance.now();
    clearInterval(sampler);
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
      limits: limits(),
      url,
      workers: stack ? Number(v.workers) : null,
      sessions: sockets.length,
      session_failures: failed,
      calls_per_session: perSession,
      calls: total,
      tool_ms: ms,
      deadline_ms: deadline,
      answered,
      unanswered: total - answered,
      errors,
      error_kinds: errorKinds,
      send_loop_ms: r1(sendEnd - burstStart),
      wall_ms: r1(end - burstStart),
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
    };
    result.markdown =
      '| sessions | calls | tool ms | answered | errors | within ' + deadline + ' ms | max ms (from burst) | p99 ms (from burst) | p50 ms (from burst) | max ms (from own send) | backend RSS before → peak MiB |\n' +
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n' +
      `| ${result.sessions} | ${total} | ${ms} | ${answered} | ${errors} | ${within} | ${result.from_burst_start_ms.max} | ${result.from_burst_start_ms.p99} | ${result.from_burst_start_ms.p50} | ${result.from_send_ms.max} | ${result.backend_rss_before_mib} → ${result.backend_rss_peak_mib} |`;
    const file = saveResult('long-tasks', result, v.out);
    process.stdout.write(JSON.stringify(result) + '\n' + result.markdown + '\n');
    L(`saved ${file}`);
  } finally {
    for (const ws of sockets) ws.terminate();
    if (stack) await stack.stop();
  }
}

main().catch((e) => {
  process.stderr.write(String(e.stack ?? e) + '\n');
  process.exit(1);
});
