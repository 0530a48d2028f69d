#!/usr/bin/env node
// Idle sessions: memory per held, initialized, idle session.
//
//   node bench/idle-sessions.mjs [--ws 10000] [--sse 5000] [--get 5000] [--workers 8]
//        [--per-client 5000] [--sdk-sessions 20000] [--sdk-streams 15000] [--skip-sdk]
//        [--patch SED_EXPR] [--settle 5] [--out FILE]
//
// httmcp: starts `httmcp start --workers W --publish-listen 127.0.0.1:P`, then, in phases,
//   1. opens --ws WebSocket sessions (initialize + notifications/initialized each) and measures;
//   2. adds --sse legacy SSE sessions (GET stream, `endpoint` event, POST initialize, reply on
//      the stream, POST initialized) and --get Streamable HTTP sessions (POST initialize,
//      POST initialized, GET stream held) and measures again, all sessions still held.
//   Memory: sum of RSS (and PSS) of nginx master + workers from /proc, backend RSS, nchan
//   shared memory from the publish listener's /status; per session = delta / sessions.
// SDK: starts bench/sdk-stateful-server.mjs (--expose-gc), opens --sdk-sessions stateful
//   sessions (initialize + initialized), measures, then opens the standalone GET SSE stream on
//   --sdk-streams of them and measures again.
// --patch applies a sed expression to the stack's rendered nginx.conf (in its temp prefix) and
//   reloads nginx before the load (to try config changes without touching nginx/).
// Client sockets are spread over several processes (--per-client each): every process has
// the same open-files limit as this shell.
//
// Internal: --role client runs one holder process (prints {ready...}; "status" on stdin
// prints the counts of sessions still open).

import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import http from 'node:http';
import WebSocket from 'ws';
import {
  BENCH_DIR, KiB, fdCount, freePort, gitCommit, limits, log as mkLog, nchanStatus, nginxMem, procMem, r1, saveResult, sleep,
  spawnJson, startStack, stopChild,
} from './scale-lib.mjs';
import { join } from 'node:path';
import { readFileSync, unlinkSync } from 'node:fs';

const { values: v } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    url: { type: 'string' },
    mode: { type: 'string' },
    count: { type: 'string', default: '0' },
    streams: { type: 'string', default: '0' },
    concurrency: { type: 'string', default: '100' },
    ws: { type: 'string', default: '10000' },
    sse: { type: 'string', default: '5000' },
    get: { type: 'string', default: '5000' },
    workers: { type: 'string', default: '8' },
    'per-client': { type: 'string', default: '5000' },
    'sdk-sessions': { type: 'string', default: '20000' },
    'sdk-streams': { type: 'string', default: '15000' },
    'skip-sdk': { type: 'boolean', default: false },
    'skip-httmcp': { type: 'boolean', default: false },
    patch: { type: 'string', multiple: true },
    settle: { type: 'string', default: '5' },
    out: { type: 'string' },
  },
});

const PV = '2025-06-18';
const initMsg = (id) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: PV, capabilities: {}, clientInfo: { name: 'idle', version: '1' } } });
const INITIALIZED = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });

// ======================================================================= client role
async function clientRole() {
  const url = new URL(v.url);
  const mode = v.mode;
  const count = Number(v.count);
  const streams = Number(v.streams);
  const conc = Number(v.concurrency);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const open = new Set();
  const errors = {};
  const err = (k) => (errors[k] = (errors[k] ?? 0) + 1);
  let closedAfterReady = 0;

  const post = (path, body, headers = {}) =>
    new Promise((res, rej) => {
      const req = http.request(
        { host: url.hostname, port: url.port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } },
        (r) => {
          let b = '';
          r.setEncoding('utf8').on('data', (d) => (b += d)).on('end', () => res({ status: r.statusCode, headers: r.headers, body: b }));
        },
      );
      req.on('error', rej);
      req.setTimeout(30_000, () => req.destroy(new Error('post timeout')));
      req.end(body);
    });

  /** Hold a GET event-stream; onData gets text until it returns true, then data is dropped. */
  const holdStream = (path, headers, onData) =>
    new Promise((res, rej) => {
      const req = http.get({ host: url.hostname, port: url.port, path, agent: false, headers: { accept: 'text/event-stream', ...headers } }, (r) => {
        if (r.statusCode !== 200) {
          r.resume();
          return rej(new Error(`stream status ${r.statusCode}`));
        }
        const s = { req, res: r };
        open.add(s);
        let wanting = Boolean(onData);
        let buf = '';
        r.setEncoding('utf8');
        r.on('data', (d) => {
          if (!wanting) return;
          buf += d;
          if (onData(buf, s)) {
            wanting = false;
            buf = '';
          }
        });
        r.on('close', () => {
          if (open.delete(s) && ready) closedAfterReady++;
        });
        res(s);
      });
      req.on('error', rej);
    });

  async function oneWs(i) {
    await new Promise((resolve, reject) => {
      const ws = new WebSocket(url.href.replace(/^http/, 'ws'), 'mcp', { perMessageDeflate: false, handshakeTimeout: 30_000 });
      let done = false;
      const fail = (e) => {
        if (!done) {
          done = true;
          reject(e);
        }
      };
      ws.on('open', () => ws.send(initMsg(1)));
      ws.on('error', fail);
      ws.on('close', (code) => {
        fail(new Error(`closed ${code}`));
        if (open.delete(ws) && ready) closedAfterReady++;
      });
      ws.on('message', (data) => {
        if (done) return;
        const m = JSON.parse(data.toString());
        if (m.id !== 1) return;
        done = true;
        if (m.error) return reject(new Error('init error'));
        ws.send(INITIALIZED);
        open.add(ws);
        resolve();
      });
    });
  }

  async function oneSse() {
    let endpoint;
    let gotInit;
    const initSeen = new Promise((r) => (gotInit = r));
    let endpointSeen;
    const epPromise = new Promise((r) => (endpointSeen = r));
    await holdStream(url.pathname, {}, (buf) => {
      if (!endpoint) {
        const m = buf.match(/event: endpoint\n(?:id: [^\n]*\n)?data: ([^\n]+)\n/);
        if (m) {
          endpoint = m[1];
          endpointSeen();
        }
        return false;
      }
      if (buf.includes('"id":1')) {
        gotInit();
        return true;
      }
      return false;
    });
    await Promise.race([epPromise, sleep(30_000).then(() => Promise.reject(new Error('no endpoint event')))]);
    const r = await post(endpoint, initMsg(1));
    if (r.status >= 300) throw new Error(`sse init POST ${r.status}`);
    await Promise.race([initSeen, sleep(30_000).then(() => Promise.reject(new Error('no init reply on stream')))]);
    const r2 = await post(endpoint, INITIALIZED);
    if (r2.status >= 300) throw new Error(`sse initialized POST ${r2.status}`);
  }

  async function oneStreamable(i, withStream = true) {
    const r = await post(url.pathname, initMsg(1));
    if (r.status !== 200) throw new Error(`init ${r.status}`);
    const sid = r.headers['mcp-session-id'];
    if (!sid) throw new Error('no session id');
    const h = { 'mcp-session-id': sid, 'mcp-protocol-version': PV };
    const r2 = await post(url.pathname, INITIALIZED, h);
    if (r2.status >= 300) throw new Error(`initialized ${r2.status}`);
    if (withStream) await holdStream(url.pathname, h, null);
    return sid;
  }

  const fn =
    mode === 'ws' ? oneWs : mode === 'sse' ? oneSse : mode === 'get' ? (i) => oneStreamable(i, true) : mode === 'sdk' ? (i) => oneStreamable(i, i < streams) : null;
  if (!fn) throw new Error(`unknown mode ${mode}`);
  let next = 0;
  let ok = 0;
  let failed = 0;
  let ready = false;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: Math.min(conc, count) }, async () => {
      while (next < count) {
        const i = next++;
        try {
          await fn(i);
          ok++;
        } catch (e) {
          failed++;
          err(String(e.code ?? e.message).slice(0, 60));
        }
      }
    }),
  );
  ready = true;
  process.stdout.write(JSON.stringify({ ready: true, mode, ok, failed, errors, held: open.size, ms: Date.now() - t0 }) + '\n');
  const rl = createInterface({ input: process.stdin });
  rl.on('line', () => process.stdout.write(JSON.stringify({ status: true, mode, held: open.size, closedAfterReady }) + '\n'));
  rl.on('close', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
}

// ======================================================================= main role
const L = mkLog('idle');

/** Spawn holder processes for `total` sessions of `mode`; resolves their ready lines. */
async function holders(url, mode, total, perClient, extra = {}) {
  const procs = [];
  let streamsLeft = extra.streams ?? 0;
  for (let left = total; left > 0; left -= perClient) {
    const n = Math.min(perClient, left);
    const s = Math.min(n, streamsLeft);
    streamsLeft -= s;
    const p = spawnJson(process.execPath, [join(BENCH_DIR, 'idle-sessions.mjs'), '--role', 'client', '--url', url, '--mode', mode, '--count', String(n), '--streams', String(s), '--concurrency', v.concurrency], { name: `holder-${mode}`, timeoutMs: 600_000 });
    procs.push(p);
  }
  const ready = await Promise.all(procs.map((p) => p.next(600_000)));
  return { procs, ready, ok: ready.reduce((a, r) => a + r.ok, 0), failed: ready.reduce((a, r) => a + r.failed, 0), errors: ready.map((r) => r.errors) };
}

async function heldCount(procs) {
  let held = 0;
  let closed = 0;
  for (const p of procs) {
    p.child.stdin.write('status\n');
    const s = await p.next(30_000);
    held += s.held;
    closed += s.closedAfterReady;
  }
  return { held, closed };
}

async function backendGc(pid) {
  const f = `/tmp/httmcp-bench-mem-${pid}.json`;
  try { unlinkSync(f); } catch {}
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    try { return JSON.parse(readFileSync(f, 'utf8')); } catch {}
  }
  return null;
}

async function snapshot(stack) {
  const gc = await backendGc(stack.backendPid);
  const n = nginxMem(stack.nginxPid);
  const b = procMem(stack.backendPid);
  const status = await nchanStatus(stack.publishUrl);
  return { nginx_rss: n.rss, nginx_pss: n.pss, nginx_procs: n.pids.length, backend_rss: b.rss, backend_hwm: b.hwm, backend_heap: gc?.heapUsed ?? null, backend_external: gc?.external ?? null, nchan: status, nginx_fds: n.pids.map(fdCount) };
}

function perSession(before, after, sessions) {
  const d = (k) => (after[k] - before[k]) / sessions / KiB;
  const shm = (after.nchan.shared_memory_used ?? 0) - (before.nchan.shared_memory_used ?? 0);
  return {
    sessions,
    nginx_rss_kib: r1(d('nginx_rss')),
    nginx_pss_kib: r1(d('nginx_pss')),
    backend_rss_kib: r1(d('backend_rss')),
    backend_heap_kib: after.backend_heap == null ? null : r1(d('backend_heap')),
    // nchan reports shared memory in KiB ("shared memory used: 123K" parses as 123)
    nchan_shm_kib: r1(shm / sessions),
    total_rss_kib: r1(d('nginx_rss') + d('backend_rss')),
  };
}

async function runHttmcp(all) {
  const publishPort = await freePort();
  const stack = await startStack({
    workers: Number(v.workers),
    publishListen: `127.0.0.1:${publishPort}`,
    env: { NODE_OPTIONS: `--expose-gc --require ${join(BENCH_DIR, 'gc-preload.cjs')}` },
  });
  L(`stack up: nginx ${stack.nginxPid}, backend ${stack.backendPid}, prefix ${stack.prefix}`);
  const procs = [];
  try {
    if (v.patch?.length) {
      const conf = join(stack.prefix, 'nginx.conf');
      for (const e of v.patch) spawnSync('sed', ['-i', e, conf], { stdio: 'inherit' });
      const t = spawnSync('nginx', ['-p', stack.prefix, '-c', conf, '-t'], { encoding: 'utf8' });
      if (t.status !== 0) throw new Error(`patched config invalid: ${t.stderr}`);
      spawnSync('nginx', ['-p', stack.prefix, '-c', conf, '-s', 'reload'], { stdio: 'inherit' });
      L(`patched ${conf} (${v.patch.join(' ; ')}), reloaded`);
      await sleep(3000);
      all.httmcp_patch = v.patch;
    }
    const settle = Number(v.settle) * 1000;
    await sleep(settle);
    const base = await snapshot(stack);
    L(`baseline nginx rss ${(base.nginx_rss / 1048576).toFixed(1)} MiB, backend ${(base.backend_rss / 1048576).toFixed(1)} MiB`);
    const per = Number(v['per-client']);
    const nws = Number(v.ws);
    const phases = [];
    let wsH;
    if (nws > 0) {
      wsH = await holders(stack.url, 'ws', nws, per);
      procs.push(...wsH.procs);
      L(`ws: ${wsH.ok} ok, ${wsH.failed} failed ${JSON.stringify(wsH.errors)}`);
      await sleep(settle);
      const s1 = await snapshot(stack);
      phases.push({ phase: 'ws', opened: wsH.ok, failed: wsH.failed, errors: wsH.errors, snapshot: s1, per_session: perSession(base, s1, wsH.ok) });
      L(`ws per session: ${JSON.stringify(phases.at(-1).per_session)}`);
    }
    const nsse = Number(v.sse);
    const nget = Number(v.get);
    if (nsse + nget > 0) {
      const prev = phases.length ? phases.at(-1).snapshot : base;
      const [sseH, getH] = await Promise.all([
        nsse ? holders(stack.url, 'sse', nsse, per) : null,
        nget ? holders(stack.url, 'get', nget, per) : null,
      ]);
      for (const h of [sseH, getH]) if (h) procs.push(...h.procs);
      L(`sse: ${sseH?.ok} ok, ${sseH?.failed} failed ${JSON.stringify(sseH?.errors)}; get: ${getH?.ok} ok, ${getH?.failed} failed ${JSON.stringify(getH?.errors)}`);
      await sleep(settle);
      const s2 = await snapshot(stack);
      const n = (sseH?.ok ?? 0) + (getH?.ok ?? 0);
      phases.push({ phase: 'sse+get', opened_sse: sseH?.ok ?? 0, opened_get: getH?.ok ?? 0, failed: (sseH?.failed ?? 0) + (getH?.failed ?? 0), errors: [sseH?.errors, getH?.errors], snapshot: s2, per_session: perSession(prev, s2, n) });
      L(`sse+get per session: ${JSON.stringify(phases.at(-1).per_session)}`);
    }
    const held = await heldCount(procs);
    const last = phases.at(-1)?.snapshot ?? base;
    const totalOpened = phases.reduce((a, p) => a + (p.opened ?? p.opened_sse + p.opened_get), 0);
    all.httmcp = { workers: Number(v.workers), baseline: base, phases, held_at_end: held, all_sessions: perSession(base, last, totalOpened) };
    L(`held at end: ${JSON.stringify(held)}; all: ${JSON.stringify(all.httmcp.all_sessions)}`);
  } finally {
    for (const p of procs) await stopChild(p.child);
    await stack.stop();
  }
}

async function runSdk(all) {
  const p = spawnJson(process.execPath, ['--expose-gc', join(BENCH_DIR, 'sdk-stateful-server.mjs'), '--port', '0'], { name: 'sdk-stateful' });
  const info = await p.next();
  const procs = [];
  const stats = async () => JSON.parse(await (await fetch(new URL('/_stats', info.url))).text());
  try {
    await sleep(1000);
    const base = { ...procMem(info.pid), ...(await stats()) };
    const n = Number(v['sdk-sessions']);
    const k = Math.min(n, Number(v['sdk-streams']));
    // phase 1: sessions without streams
    const h = await holders(info.url, 'sdk', n, Number(v['per-client']), { streams: 0 });
    procs.push(...h.procs);
    await sleep(Number(v.settle) * 1000);
    const s1 = { ...procMem(info.pid), ...(await stats()) };
    const phases = [
      {
        phase: 'sessions (no stream)', opened: h.ok, failed: h.failed, errors: h.errors, server_sessions: s1.sessions,
        rss_kib: r1((s1.rss - base.rss) / h.ok / KiB), heap_after_gc_kib: r1((s1.heapUsed - base.heapUsed) / h.ok / KiB), snapshot: s1,
      },
    ];
    L(`sdk sessions: ${JSON.stringify(phases[0])}`);
    // phase 2: more sessions with a held GET stream each
    if (k > 0) {
      const h2 = await holders(info.url, 'sdk', k, Number(v['per-client']), { streams: k });
      procs.push(...h2.procs);
      await sleep(Number(v.settle) * 1000);
      const s2 = { ...procMem(info.pid), ...(await stats()) };
      phases.push({
        phase: 'sessions with GET stream', opened: h2.ok, failed: h2.failed, errors: h2.errors, server_sessions: s2.sessions,
        rss_kib: r1((s2.rss - s1.rss) / h2.ok / KiB), heap_after_gc_kib: r1((s2.heapUsed - s1.heapUsed) / h2.ok / KiB), snapshot: s2,
      });
      L(`sdk sessions+stream: ${JSON.stringify(phases[1])}`);
    }
    const held = await heldCount(procs);
    all.sdk = { baseline: base, phases, held_streams_at_end: held };
  } finally {
    for (const q of procs) await stopChild(q.child);
    await stopChild(p.child);
  }
}

function markdown(all) {
  const rows = ['| server | sessions | nginx RSS KiB/session | nginx PSS KiB/session | nchan shm KiB/session | backend RSS KiB/session | backend heap after GC KiB/session | total RSS KiB/session |', '|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const p of all.httmcp?.phases ?? []) {
    const s = p.per_session;
    const name = p.phase === 'ws' ? 'httmcp, WebSocket' : `httmcp, legacy SSE + Streamable GET (${p.opened_sse} + ${p.opened_get})`;
    rows.push(`| ${name} | ${s.sessions} | ${s.nginx_rss_kib} | ${s.nginx_pss_kib} | ${s.nchan_shm_kib} | ${s.backend_rss_kib} | ${s.backend_heap_kib} | ${s.total_rss_kib} |`);
  }
  if (all.httmcp) {
    const s = all.httmcp.all_sessions;
    rows.push(`| httmcp, all held together | ${s.sessions} | ${s.nginx_rss_kib} | ${s.nginx_pss_kib} | ${s.nchan_shm_kib} | ${s.backend_rss_kib} | ${s.backend_heap_kib} | ${s.total_rss_kib} |`);
  }
  for (const p of all.sdk?.phases ?? []) rows.push(`| SDK stateful, ${p.phase} | ${p.opened} | – | – | – | ${p.rss_kib} | ${p.heap_after_gc_kib} | ${p.rss_kib} |`);
  return rows.join('\n');
}

async function main() {
  const all = { date: new Date().toISOString(), commit: gitCommit(), limits: limits(), argv: process.argv.slice(2) };
  if (!v['skip-httmcp']) await runHttmcp(all);
  if (!v['skip-sdk']) await runSdk(all);
  all.markdown = markdown(all);
  const file = saveResult('idle-sessions', all, v.out);
  process.stdout.write(all.markdown + '\n');
  L(`saved ${file}`);
}

if (v.role === 'client') clientRole().catch((e) => {
  process.stderr.write(String(e.stack ?? e) + '\n');
  process.exit(1);
});
else main().catch((e) => {
  process.stderr.write(String(e.stack ?? e) + '\n');
  process.exit(1);
});
