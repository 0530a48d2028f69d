#!/usr/bin/env node
// Single-client attacks, each measured by what OTHER clients still get.
//
//   node bench/attacks.mjs [--quick] [--only a,b,...] [--workers 1] [--probe 300]
//        [--url URL --prefix DIR --backend-pid PID] [--out FILE] [--attacker-process]
//
// Starts a stack like `npm start` does (`httmcp start`, its defaults: one nginx worker) unless
// --url is given, then runs a CONTROL client the whole time: two official SDK clients (Streamable
// HTTP and WebSocket) from 127.0.0.2, each starting a `tools/call add` every 100 ms whatever the
// previous one is doing (an open loop, so a stall shows as latency, not as fewer samples). The
// attacker is always 127.0.0.1, so per-address limits at the edge can tell the two apart.
//
// For each attack:
//   - capacity before: how many of --probe fresh sessions (half WebSocket, half legacy SSE, from
//     100 other addresses in 127.0.3.0/24, all held open together) open within 10 s;
//   - the attack (bounded in count and time), and the control's p50/p99/max and errors during
//     it and during the 10 s after it ended;
//   - capacity 10 s after the attack ended, workers that died ("exited on signal" in nginx's
//     error log), the backend's RSS, and what each attack leaves behind (files, calls in flight).
// Targets (issue 10): capacity back to its baseline within 10 s, 0 worker deaths, control p99
// under 250 ms during any single-client attack. `--quick` runs every attack smaller (under 3 min).
// Results: one JSON file (bench/results/<date>-attacks[-quick].json) and a markdown table.

import { parseArgs } from 'node:util';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { Agent, fetch as undiciFetch } from 'undici';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { childrenOf, cpuTicks, machineTicks, stackBuild, errorLogCounts, gitCommit, httpGetText, limits, log as mkLog, procMem, r1, saveResult, sleep, startStack } from './scale-lib.mjs';
import { CallError, INITIALIZED, LegacySseSession, initializeBody, sourceAddresses, streamablePost, streamableSession, wsSession } from './raw-mcp.mjs';

const { values: v } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    workers: { type: 'string', default: '1' },
    probe: { type: 'string' },
    url: { type: 'string' },
    prefix: { type: 'string' },
    'backend-pid': { type: 'string' },
    out: { type: 'string' },
    // Seconds after an attack ends before capacity is measured again.
    settle: { type: 'string', default: '10' },
    // idle-ws-hog: open the attacker's WebSockets from a child process, so the handshakes' cost
    // in Node stays out of the control's event loop (as with an attacker on another machine).
    'attacker-process': { type: 'boolean', default: false },
    // Internal: this process is that child (`--hog-child URL TARGET`).
    'hog-child': { type: 'string' },
  },
});
const L = mkLog('attacks');
const QUICK = v.quick;
const ATTACKER = '127.0.0.1';
const CONTROL = '127.0.0.2';
const PROBE_SOURCES = Array.from({ length: 100 }, (_, i) => `127.0.3.${i + 1}`);
const SETTLE_MS = Number(v.settle) * 1000;
const CONTROL_INTERVAL_MS = 100;
const CONTROL_TIMEOUT_MS = 10_000;

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
const pct = (a, q) => (a.length ? a[Math.min(a.length - 1, Math.max(0, Math.ceil(q * a.length) - 1))] : null);
const bump = (o, k) => (o[k] = (o[k] ?? 0) + 1);

// ------------------------------------------------------------------ the control client

/** `ws` with the control's source address: the SDK's WebSocket transport takes no options. */
class ControlWebSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols, { localAddress: CONTROL, perMessageDeflate: false });
  }
}

/**
 * One SDK client calling `add` every 100 ms. Samples are `{t, ms, ok, kind}` (t: start time).
 * A client whose transport closed is reconnected once a second (each failure counts as an error).
 */
class ControlClient {
  constructor(kind, url) {
    this.kind = kind;
    this.url = url;
    this.samples = [];
    this.client = null;
    this.connecting = null;
    this.reconnects = 0;
    // undici's Client option, not a `connect` one: under `connect` it is silently ignored.
    this.dispatcher = new Agent({ localAddress: CONTROL, connections: 16 });
  }

  async connect() {
    const client = new Client({ name: `control-${this.kind}`, version: '1' });
    const transport =
      this.kind === 'streamable'
        ? new StreamableHTTPClientTransport(new URL(this.url), { fetch: (u, init) => undiciFetch(u, { ...init, dispatcher: this.dispatcher }) })
        : new WebSocketClientTransport(new URL(this.url.replace(/^http/, 'ws')));
    const previous = globalThis.WebSocket;
    globalThis.WebSocket = ControlWebSocket;
    try {
      await client.connect(transport);
    } finally {
      globalThis.WebSocket = previous;
    }
    client.onclose = () => {
      if (this.client === client) this.client = null;
    };
    this.client = client;
  }

  start() {
    this.timer = setInterval(() => this.tick(), CONTROL_INTERVAL_MS);
  }

  tick() {
    const t = performance.now();
    if (!this.client) {
      this.samples.push({ t, ms: null, ok: false, kind: 'disconnected' });
      if (!this.connecting && (!this.lastTry || t - this.lastTry > 1000)) {
        this.lastTry = t;
        this.reconnects++;
        this.connecting = this.connect()
          .catch(() => {})
          .finally(() => (this.connecting = null));
      }
      return;
    }
    this.client
      .callTool({ name: 'add', arguments: { a: 1, b: 2 } }, undefined, { timeout: CONTROL_TIMEOUT_MS })
      .then(
        (r) => this.samples.push({ t, ms: performance.now() - t, ok: !r.isError, kind: r.isError ? 'tool_error' : null }),
        (e) => this.samples.push({ t, ms: performance.now() - t, ok: false, kind: String(e.code ?? e.message ?? e).slice(0, 60) }),
      );
  }

  async stop() {
    clearInterval(this.timer);
    await sleep(500);
    await this.client?.close().catch(() => {});
    await this.dispatcher.close().catch(() => {});
  }
}

/** The control's latency and errors over calls started in [from, to). */
function controlStats(controls, from, to) {
  const out = {};
  for (const c of controls) {
    const inWindow = c.samples.filter((s) => s.t >= from && s.t < to);
    const ok = inWindow.filter((s) => s.ok).map((s) => s.ms).sort((a, b) => a - b);
    const errors = {};
    for (const s of inWindow) if (!s.ok) bump(errors, s.kind);
    // A call still running past the end of the window counts at its age so far: a stall that
    // outlasts the window must not vanish from the figures.
    out[c.kind] = { calls: inWindow.length, ok: ok.length, p50_ms: r1(pct(ok, 0.5)), p99_ms: r1(pct(ok, 0.99)), max_ms: r1(ok.at(-1)), errors: inWindow.length - ok.length, error_kinds: errors };
  }
  const all = controls.flatMap((c) => c.samples.filter((s) => s.t >= from && s.t < to));
  const ok = all.filter((s) => s.ok).map((s) => s.ms).sort((a, b) => a - b);
  out.all = { calls: all.length, p50_ms: r1(pct(ok, 0.5)), p99_ms: r1(pct(ok, 0.99)), max_ms: r1(ok.at(-1)), errors: all.length - ok.length };
  return out;
}

// ------------------------------------------------------------------ capacity

/**
 * Opens `n` fresh sessions at once (half WebSocket, half legacy SSE, from 100 addresses), holds
 * every one that opened until all attempts are settled, then closes them. Returns how many opened.
 */
async function capacity(url, n) {
  const t0 = performance.now();
  const kinds = {};
  const open = [];
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const localAddress = PROBE_SOURCES[i % PROBE_SOURCES.length];
      try {
        if (i % 2 === 0) open.push(await wsSession(url, { localAddress, timeoutMs: 10_000 }).then((ws) => ({ close: () => ws.terminate() })));
        else open.push(await LegacySseSession.open(url, { localAddress, timeoutMs: 10_000 }));
      } catch (e) {
        bump(kinds, e.kind ?? e.code ?? 'error');
      }
    }),
  );
  for (const s of open) s.close();
  return { attempted: n, opened: open.length, failures: kinds, ms: Math.round(performance.now() - t0) };
}

// ------------------------------------------------------------------ attacks

/** A keep-alive agent bound to the attacker's address. */
const attackerAgent = (maxSockets) => new http.Agent({ keepAlive: true, maxSockets, localAddress: ATTACKER });

/** Runs `n` jobs with at most `c` at a time; counts outcomes by kind. */
async function pool(n, c, job) {
  const kinds = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(c, n) }, async () => {
      while (next < n) {
        const i = next++;
        try {
          bump(kinds, (await job(i)) ?? 'ok');
        } catch (e) {
          bump(kinds, e.kind ?? e.code ?? String(e.message).slice(0, 40));
        }
      }
    }),
  );
  return kinds;
}

/** A JSON-RPC error code or `ok` for a Streamable reply. */
const replyKind = (r) => (r.message?.error ? `jsonrpc_${r.message.error.code}` : `http_${r.status}`);

/** The number in `limit_conn httmcp_clients N;` of the stack's config (the edge's client cap). */
function clientCap(prefix) {
  try {
    const m = readFileSync(join(prefix, 'nginx.conf'), 'utf8').match(/limit_conn\s+httmcp_clients\s+(\d+)/);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Files and bytes under a directory (recursively). */
function dirUsage(dir) {
  let files = 0;
  let bytes = 0;
  const walk = (d) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        files++;
        try {
          bytes += statSync(p).size;
        } catch {}
      }
    }
  };
  walk(dir);
  return { files, bytes };
}

/** The backend's URL from the stack's nginx.conf (for /healthz: calls in flight). */
function backendBase(prefix) {
  try {
    const m = readFileSync(join(prefix, 'nginx.conf'), 'utf8').match(/upstream httmcp_backend \{[^}]*?server (127\.0\.0\.1:\d+|unix:[^;\s]+)/);
    return m ? (m[1].startsWith('unix:') ? m[1] : `http://${m[1]}`) : null;
  } catch {
    return null;
  }
}

async function backendInflight(ctx) {
  if (!ctx.backendBase) return null;
  try {
    return JSON.parse(await httpGetText(ctx.backendBase, '/healthz')).inflight ?? null;
  } catch (e) {
    return `unreachable (${e.code ?? e.message})`;
  }
}

/**
 * A Streamable HTTP session of the attacker's over `agent`; when the stack refuses to open one,
 * the attack's row says so (`refused`) and the agent is destroyed.
 */
async function attackerSession(ctx, agent) {
  try {
    return { session: await streamableSession(ctx.url, { localAddress: ATTACKER, agent }) };
  } catch (e) {
    agent.destroy();
    return { refused: { session: `refused: ${e.kind ?? e.message}` } };
  }
}

/**
 * Where the CPU goes during an attack: this process (the attacker and the control share it, so
 * its event loop's delay is added to every control latency), the backend, nginx (master and
 * workers) and everything else on the machine (other work on shared cores).
 */
function cpuMeter(ctx) {
  let nginxPids = [];
  try {
    const master = Number(readFileSync(join(ctx.prefix, 'nginx.pid'), 'utf8').trim());
    nginxPids = [master, ...childrenOf(master)];
  } catch {}
  const sample = () => ({ harness: cpuTicks(process.pid), backend: ctx.backendPid ? cpuTicks(ctx.backendPid) : 0, nginx: nginxPids.reduce((a, p) => a + cpuTicks(p), 0), m: machineTicks() });
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const a = sample();
  return () => {
    const b = sample();
    loop.disable();
    const d = (k) => b[k] - a[k];
    return {
      cpu_s: {
        harness: r1(d('harness') / 100),
        backend: r1(d('backend') / 100),
        nginx: r1(d('nginx') / 100),
        other: r1((b.m.busy - a.m.busy - d('harness') - d('backend') - d('nginx')) / 100),
        machine_idle: r1((b.m.idle - a.m.idle) / 100),
      },
      harness_loop_delay_ms: { p50: r1(loop.percentile(50) / 1e6), p99: r1(loop.percentile(99) / 1e6), max: r1(loop.max / 1e6) },
    };
  };
}

/**
 * Each attack: `run(ctx)` does the attack and resolves details; `hold` (optional) runs while the
 * attack holds its resources (capacity is probed then too), before `release`.
 */
const ATTACKS = [
  {
    name: 'ws-ping-flood',
    what: 'one WebSocket sends 20,000 `ping` frames as fast as it can and disconnects at once, twice',
    async run(ctx) {
      const rounds = [];
      for (let round = 0; round < 2; round++) {
        const ws = await wsSession(ctx.url, { localAddress: ATTACKER });
        let replies = 0;
        ws.on('message', () => replies++);
        const frames = 20_000;
        for (let i = 1; i <= frames; i++) ws.send(`{"jsonrpc":"2.0","id":${i},"method":"ping"}`);
        const deadline = Date.now() + 10_000;
        while (ws.bufferedAmount > 0 && Date.now() < deadline) await sleep(5);
        ws.terminate();
        rounds.push({ frames, replies_before_disconnect: replies });
        await sleep(1000);
      }
      return { rounds };
    },
  },
  {
    name: 'idle-ws-hog',
    what: 'one address opens WebSockets until refused (up to the edge cap + 200) and holds them idle',
    async run(ctx) {
      const cap = clientCap(ctx.prefix) ?? 3600;
      const target = Math.min(6000, cap + 200);
      if (!v['attacker-process']) {
        const { sockets, kinds } = await hogSockets(ctx.url, target);
        ctx.release = () => sockets.forEach((s) => s.terminate());
        return { edge_client_cap: cap, attempted: target, opened: sockets.length, outcomes: kinds };
      }
      const child = spawn(process.execPath, [process.argv[1], '--hog-child', ctx.url, '--probe', String(target)], { stdio: ['pipe', 'pipe', 'inherit'] });
      const line = await new Promise((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
        });
        child.on('exit', (code) => reject(new Error(`hog child exited (${code})`)));
      });
      ctx.release = () => child.kill('SIGKILL');
      const { opened, kinds, cpu_s } = JSON.parse(line);
      return { edge_client_cap: cap, attempted: target, opened, outcomes: kinds, attacker_process: true, attacker_cpu_s_opening: cpu_s };
    },
    hold: true,
  },
  {
    name: 'rate-flood',
    what: 'one address sends `tools/call add` on 64 keep-alive connections, as fast as answered',
    async run(ctx) {
      const agent = attackerAgent(64);
      const seconds = QUICK ? 5 : 15;
      const { session, refused } = await attackerSession(ctx, agent);
      if (refused) return refused;
      const end = performance.now() + seconds * 1000;
      const kinds = {};
      let sent = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (performance.now() < end) {
            const id = ++sent;
            try {
              bump(kinds, replyKind(await streamablePost(ctx.url, `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}`, { session, waitId: id, localAddress: ATTACKER, agent, timeoutMs: 10_000 })));
            } catch (e) {
              bump(kinds, e.kind ?? 'error');
              // A refused connection comes back at once: do not spin.
              await sleep(1);
            }
          }
        }),
      );
      agent.destroy();
      return { seconds, requests: sent, rps: Math.round(sent / seconds), outcomes: kinds };
    },
  },
  {
    name: 'ping-batch',
    what: 'one POST of a JSON-RPC batch of 60,000 `ping`s (2.7 MB)',
    async run(ctx) {
      const batch = '[' + Array.from({ length: 60_000 }, (_, i) => `{"jsonrpc":"2.0","id":${i + 1},"method":"ping"}`).join(',') + ']';
      const rounds = [];
      for (let round = 0; round < (QUICK ? 1 : 2); round++) {
        const t0 = performance.now();
        try {
          // Batches exist in protocol 2025-03-26 only.
          const protocolVersion = '2025-03-26';
          const session = await streamableSession(ctx.url, { localAddress: ATTACKER, protocolVersion });
          const r = await streamablePost(ctx.url, batch, { session, localAddress: ATTACKER, protocolVersion, timeoutMs: 60_000 });
          rounds.push({ bytes: batch.length, outcome: Array.isArray(r.message) ? `http_${r.status} (${r.message.length} replies)` : replyKind(r), ms: Math.round(performance.now() - t0) });
        } catch (e) {
          rounds.push({ bytes: batch.length, outcome: e.kind ?? e.message, ms: Math.round(performance.now() - t0) });
        }
      }
      return { rounds };
    },
  },
  {
    name: 'legacy-sse-100k',
    what: 'one legacy SSE session POSTs 100 KB messages (8 at a time); files left in <prefix>/tmp/client_body',
    async run(ctx) {
      const n = QUICK ? 100 : 300;
      const pad = 'x'.repeat(100 * 1024);
      let s;
      try {
        s = await LegacySseSession.open(ctx.url, { localAddress: ATTACKER });
      } catch (e) {
        return { session: `refused: ${e.kind ?? e.message}` };
      }
      const outcomes = await pool(n, 8, async (i) => {
        const m = await s.post(`{"jsonrpc":"2.0","id":${i + 1},"method":"ping","params":{"_meta":{"pad":"${pad}"}}}`, i + 1, { timeoutMs: 10_000 });
        return m.error ? `jsonrpc_${m.error.code}` : 'ok';
      });
      s.close();
      await sleep(500);
      return { posts: n, bytes_each: pad.length, outcomes, client_body_after: dirUsage(join(ctx.prefix, 'tmp', 'client_body')) };
    },
    after(ctx) {
      return { client_body_after_settle: dirUsage(join(ctx.prefix, 'tmp', 'client_body')) };
    },
  },
  {
    name: 'subscribe-flood',
    what: 'one session sends `resources/subscribe` with 1 MB URIs (4 at a time)',
    async run(ctx) {
      const n = QUICK ? 100 : 300;
      const agent = attackerAgent(4);
      const { session, refused } = await attackerSession(ctx, agent);
      if (refused) return refused;
      const pad = 'x'.repeat(1024 * 1024);
      const outcomes = await pool(n, 4, async (i) =>
        replyKind(await streamablePost(ctx.url, `{"jsonrpc":"2.0","id":${i + 1},"method":"resources/subscribe","params":{"uri":"demo://${pad}${i}"}}`, { session, waitId: i + 1, localAddress: ATTACKER, agent, timeoutMs: 20_000 })),
      );
      agent.destroy();
      return { requests: n, uri_bytes: pad.length, outcomes };
    },
  },
  {
    name: 'initialize-flood',
    what: 'one address sends `initialize` with 100 KB of capabilities (16 at a time), never closing a session',
    async run(ctx) {
      const n = QUICK ? 500 : 2000;
      const agent = attackerAgent(16);
      const pad = 'x'.repeat(100 * 1024);
      const body = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: { experimental: { pad: { pad } } }, clientInfo: { name: 'flood', version: '1' } } });
      const outcomes = await pool(n, 16, async () => replyKind(await streamablePost(ctx.url, body, { waitId: 0, localAddress: ATTACKER, agent, timeoutMs: 20_000 })));
      agent.destroy();
      return { requests: n, capabilities_bytes: pad.length, outcomes };
    },
  },
  {
    name: 'long-task-leave',
    what: 'one session starts 2,000 Streamable `long_task` calls (60 × 1 s), then the client leaves',
    async run(ctx) {
      const n = QUICK ? 500 : 2000;
      const agent = attackerAgent(Infinity);
      const { session, refused } = await attackerSession(ctx, agent);
      if (refused) return refused;
      const outcomes = {};
      for (let i = 0; i < n; i++) {
        streamablePost(ctx.url, `{"jsonrpc":"2.0","id":${i + 1},"method":"tools/call","params":{"name":"long_task","arguments":{"steps":60,"stepMs":1000}}}`, { session, waitId: i + 1, localAddress: ATTACKER, agent, timeoutMs: 120_000 }).then(
          (r) => bump(outcomes, replyKind(r)),
          (e) => bump(outcomes, e.kind ?? 'error'),
        );
      }
      await sleep(3000);
      const inflightAtLeave = await backendInflight(ctx);
      const outcomesBeforeLeaving = { ...outcomes };
      agent.destroy();
      await sleep(200);
      return { calls: n, backend_inflight_when_client_left: inflightAtLeave, outcomes_before_leaving: outcomesBeforeLeaving };
    },
    async after(ctx) {
      const settled = await backendInflight(ctx);
      // Another 10 s: a liveness sweep that runs every 10 s may only now have noticed.
      await sleep(10_000);
      return { backend_inflight_after_settle: settled, backend_inflight_10s_later: await backendInflight(ctx) };
    },
  },
];

// ------------------------------------------------------------------ main

/** Starts what the attacks run against: a new `httmcp start` stack, or the one given by --url. */
async function openTarget() {
  if (v.url) return { url: v.url, prefix: v.prefix, backendPid: Number(v['backend-pid']) || null, stop: async () => {} };
  // `npm start`'s defaults, per-client limits included (the other benchmarks lift those).
  const stack = await startStack({ workers: v.workers === 'auto' ? 'auto' : Number(v.workers), clientLimits: 'default' });
  return { url: stack.url, prefix: stack.prefix, backendPid: stack.backendPid, stop: () => stack.stop() };
}

/**
 * One attack on `ctx` (a running stack): baseline (control + capacity), the attack, 10 s, capacity
 * again; every figure of the row.
 */
async function runAttack(attack, ctx, probeN) {
  ctx.backendBase = ctx.prefix ? backendBase(ctx.prefix) : null;
  const logCounts = () => (ctx.prefix ? errorLogCounts(ctx.prefix) : null);
  const rssMiB = () => {
    try {
      return ctx.backendPid ? r1(procMem(ctx.backendPid, { pss: false }).rss / 1048576) : null;
    } catch {
      return 'gone';
    }
  };
  const controls = [new ControlClient('streamable', ctx.url), new ControlClient('websocket', ctx.url)];
  try {
    for (const c of controls) await c.connect();
    for (const c of controls) c.start();
    const b0 = performance.now();
    await sleep(QUICK ? 1500 : 5000);
    const baselineControl = controlStats(controls, b0, performance.now());
    const capacityBefore = await capacity(ctx.url, probeN);
    const logBefore = logCounts();
    const rssBefore = rssMiB();
    const loadBefore = loadavg();
    L(`${attack.name}: baseline control p99 ${baselineControl.all.p99_ms} ms, capacity ${capacityBefore.opened}/${probeN}; ${attack.what}`);
    ctx.release = null;
    const start = performance.now();
    const meter = cpuMeter(ctx);
    let details;
    try {
      details = await attack.run(ctx);
    } catch (e) {
      details = { harness_error: String(e.stack ?? e).slice(0, 400) };
    }
    let capacityDuring = null;
    if (attack.hold) {
      capacityDuring = await capacity(ctx.url, probeN);
      await sleep(QUICK ? 1000 : 5000);
      ctx.release?.();
    }
    const end = performance.now();
    const cpuDuring = meter();
    await sleep(SETTLE_MS);
    const settled = performance.now();
    const capacityAfter = await capacity(ctx.url, probeN);
    const after = attack.after ? await attack.after(ctx) : {};
    const logAfter = logCounts();
    const logDelta = logAfter && logBefore ? Object.fromEntries(Object.keys(logAfter).map((k) => [k, logAfter[k] - logBefore[k]])) : null;
    const during = controlStats(controls, start, end);
    const afterStats = controlStats(controls, end, settled);
    // The target is judged on the attack and the 10 s after it: an attack whose cost lands after
    // the attacker is done (queued frames, a batch being worked off) must not escape it.
    const whole = controlStats(controls, start, settled);
    const row = {
      attack: attack.name,
      what: attack.what,
      load_average_before: loadBefore,
      load_average_after: loadavg(),
      attack_ms: Math.round(end - start),
      details: { ...details, ...after },
      control_baseline: baselineControl,
      control_during: during,
      control_after: afterStats,
      control_attack_and_after: whole,
      capacity_before: capacityBefore,
      capacity_during: capacityDuring,
      capacity_after: capacityAfter,
      backend_rss_mib: { before: rssBefore, after: rssMiB() },
      nginx_error_log: logDelta,
      during: cpuDuring,
      control_reconnects: Object.fromEntries(controls.map((c) => [c.kind, c.reconnects])),
    };
    row.targets = {
      capacity_back: capacityAfter.opened >= capacityBefore.opened,
      no_worker_deaths: logDelta ? logDelta.exited_on_signal === 0 : null,
      control_p99_under_250ms: whole.all.p99_ms != null && whole.all.p99_ms < 250 && whole.all.errors === 0,
    };
    L(`${attack.name}: during the attack, CPU s ${JSON.stringify(cpuDuring.cpu_s)}; harness event-loop delay ms ${JSON.stringify(cpuDuring.harness_loop_delay_ms)}`);
    L(
      `${attack.name}: ${row.attack_ms} ms; control during p50/p99/max ${during.all.p50_ms}/${during.all.p99_ms}/${during.all.max_ms} ms, ${during.all.errors} errors; after: p99 ${afterStats.all.p99_ms}, ${afterStats.all.errors} errors; capacity ${capacityBefore.opened} → ${capacityAfter.opened}/${probeN}; deaths ${logDelta?.exited_on_signal}; load ${row.load_average_after[0]}`,
    );
    return row;
  } finally {
    for (const c of controls) await c.stop().catch(() => {});
  }
}

/** The hog's WebSockets: `target` handshakes from the attacker's address, 200 at a time. */
async function hogSockets(url, target) {
  const sockets = [];
  const kinds = await pool(target, 200, async () => {
    const ws = await new Promise((resolve, reject) => {
      const s = new WebSocket(url.replace(/^http/, 'ws'), 'mcp', { perMessageDeflate: false, handshakeTimeout: 10_000, localAddress: ATTACKER });
      s.on('open', () => resolve(s));
      s.on('unexpected-response', (_, res) => (reject(new CallError(`http_${res.statusCode}`)), s.terminate()));
      s.on('error', (e) => reject(new CallError(e.code ?? 'ws_error')));
    });
    ws.on('error', () => {});
    sockets.push(ws);
  });
  return { sockets, kinds };
}

async function main() {
  if (v['hog-child']) {
    // Opens the hog's sockets, says so on one line, and holds them until killed.
    const { sockets, kinds } = await hogSockets(v['hog-child'], Number(v.probe));
    process.stdout.write(`${JSON.stringify({ opened: sockets.length, kinds, cpu_s: r1(cpuTicks(process.pid) / 100) })}\n`);
    return new Promise(() => {});
  }
  const only = v.only ? new Set(v.only.split(',')) : null;
  const attacks = ATTACKS.filter((a) => !only || only.has(a.name));
  if (only && attacks.length !== only.size) throw new Error(`--only: unknown attack; known: ${ATTACKS.map((a) => a.name).join(', ')}`);
  const probeN = Number(v.probe ?? (QUICK ? 100 : 300));
  const results = [];
  const t0run = performance.now();
  // A fresh stack per attack (unless --url): what one attack leaves broken must not be charged
  // to the next.
  for (const attack of attacks) {
    const ctx = await openTarget();
    try {
      results.push(await runAttack(attack, ctx, probeN));
    } finally {
      await ctx.stop();
    }
  }
  const result = {
    date: new Date().toISOString(),
    commit: gitCommit(),
    stack_build: stackBuild(),
    limits: limits(),
    command: `node bench/attacks.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    quick: QUICK,
    workers: v.workers,
    probe: probeN,
    settle_s: SETTLE_MS / 1000,
    control: { address: CONTROL, interval_ms: CONTROL_INTERVAL_MS, transports: ['streamable', 'websocket'] },
    attacker: ATTACKER,
    wall_s: Math.round((performance.now() - t0run) / 1000),
    attacks: results,
  };
  result.markdown = markdown(result);
  const file = saveResult(QUICK ? 'attacks-quick' : 'attacks', result, v.out);
  process.stdout.write(result.markdown + '\n');
  L(`saved ${file} (${result.wall_s} s)`);
  const missed = results.filter((r) => Object.values(r.targets).some((t) => t === false));
  process.exitCode = missed.length ? 2 : 0;
}

function markdown(res) {
  const yes = (b) => (b == null ? '?' : b ? 'yes' : '**no**');
  const lines = [
    '| attack | load (1 min) | control p50 / p99 / max ms during | errors during | p99 ms / errors in the 10 s after | capacity before → during → 10 s after | worker deaths | targets met (capacity, deaths, p99) |',
    '|---|---:|---|---:|---|---|---:|---|',
  ];
  for (const r of res.attacks) {
    const d = r.control_during.all;
    const a = r.control_after.all;
    // (the p99 target is judged on the attack and the 10 s after together)
    lines.push(
      `| ${r.attack} | ${r.load_average_before[0]} | ${d.p50_ms} / ${d.p99_ms} / ${d.max_ms} | ${d.errors} | ${a.p99_ms} / ${a.errors} | ${r.capacity_before.opened} → ${r.capacity_during ? r.capacity_during.opened : '–'} → ${r.capacity_after.opened} of ${r.capacity_after.attempted} | ${r.nginx_error_log?.exited_on_signal ?? '?'} | ${yes(r.targets.capacity_back)}, ${yes(r.targets.no_worker_deaths)}, ${yes(r.targets.control_p99_under_250ms)} |`,
    );
  }
  return lines.join('\n');
}

main().catch((e) => {
  process.stderr.write(String(e.stack ?? e) + '\n');
  process.exit(1);
});
