#!/usr/bin/env node
// Closed-loop load generator for MCP `tools/call`.
//
// It shares the machine's cores with the server under test, so it is kept
// cheap: no SDK Client objects, pre-built request strings, one raw `ws`
// socket or one raw keep-alive TCP connection per client, callbacks in the hot
// loops. Every client keeps exactly one request outstanding.
//
//   node bench/load.mjs --transport ws|http --url http://127.0.0.1:P/mcp/demo \
//        [--clients 16] [--duration 10] [--warmup 2] [--pid PID[,PID...]] \
//        [--tool add] [--args '{"a":1,"b":2}'] [--timeout 10000] [--ws-deflate] [--rate N] \
//        [--era 2025|2026] [--http-client raw|undici]
//
// ws:   N WebSocket connections, subprotocol "mcp"; initialize, wait for the
//       reply, notifications/initialized, then loop tools/call.
// http: Streamable HTTP; initialize (keeps mcp-session-id if the server returns
//       one), notifications/initialized, then each client loops POST tools/call
//       (--era 2026: no handshake, the standard headers and the `_meta` envelope).
//       JSON bodies are parsed whole; a text/event-stream body is read until the
//       message with our id arrives.
//       --http-client raw (default; env BENCH_HTTP_CLIENT): one keep-alive HTTP/1.1
//       connection on a raw socket per client, parsed by bench/lib/http1.mjs
//       (a third to a half of undici's CPU per call: bench/README.md, "### loadgen").
//       --http-client undici: an undici Pool, the instrument before 2026-12-06.
//
// --rate N: at most N calls per second in all (each client on its own schedule, N / clients per
//       second, staggered), so two servers compared at the same N do the same work per second and
//       their CPU per call compares (closed loop, the faster one also batches more per wake-up).
//
// Output: one JSON line on stdout (progress/diagnostics on stderr):
//   {transport, clients, duration, requests, errors, rps, p50_ms, p90_ms,
//    p99_ms, max_ms, ..., cpu_us_per_call?, cpu_by_pid?}
// Only responses completed inside the measured window count; the warmup is
// discarded. `errors` = non-2xx, transport failures, JSON-RPC errors and tool
// results with isError:true (the `add` call never legitimately fails).
// With --pid, utime+stime of each pid is read from /proc/PID/stat at the start
// and end of the measured window; cpu_us_per_call = summed CPU / requests.
// loadgen_cores: this process's CPU over the window in cores; machine: the machine's CPU over
// the window by kind from /proc/stat (task_cores, irq_cores, steal_cores, idle_cores) and, with
// --pid, measured_cores (the pids and this process), others_cores (every other process: the
// machine was not quiet) and top_others (the three other processes that used the most).
//
// runLoad({..., progress}): `progress` ({calls: 0, errors: 0}) counts every reply and failure in
// every phase as it happens, so a caller can read the counts at any moment (bench/lib/slice-load.mjs
// keeps one run going for minutes and measures it in 1-s slices).

import { parseArgs } from 'node:util';
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import WebSocket from 'ws';
import { Pool } from 'undici';
import { machineTicks } from './lib/steady.mjs';
import { findById, RawHttpConnection } from './lib/raw-http.mjs';

export const PROTOCOL_VERSION = '2025-06-18';
/** The 2026-era revision `--era 2026` speaks: no initialize, a `_meta` envelope on every request. */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';

// ---------------------------------------------------------------- /proc CPU

let clkTck = 0;
function clockTicks() {
  if (clkTck) return clkTck;
  try {
    clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    clkTck = 100;
  }
  return clkTck;
}

/** utime+stime of a process in microseconds, plus its command name. */
export function readProcCpu(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // comm may contain spaces/parens: fields after the last ')' start at field 3.
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  const f = stat.slice(close + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]); // fields 14 (utime), 15 (stime)
  return { comm, us: (ticks * 1e6) / clockTicks() };
}

/** utime+stime in clock ticks and the command name of every process on the machine. */
function allProcTicks() {
  const out = new Map();
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) > 57) continue; // not a pid
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const f = stat.slice(close + 2).split(' ');
      out.set(Number(name), { comm: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(f[11]) + Number(f[12]) });
    } catch {}
  }
  return out;
}

/**
 * The processes other than `exclude` that used the most CPU between two {@link allProcTicks}
 * snapshots, as "comm(pid) cores": who took the machine from the measured processes.
 */
function topOthers(before, after, exclude, seconds, n = 3) {
  const used = [];
  for (const [pid, a] of after) {
    if (exclude.has(pid)) continue;
    const ticks = a.ticks - (before.get(pid)?.ticks ?? a.ticks);
    if (ticks > 0) used.push({ who: `${a.comm}(${pid})`, cores: ticks / clockTicks() / seconds });
  }
  return used.sort((x, y) => y.cores - x.cores).slice(0, n).map((u) => `${u.who} ${u.cores.toFixed(2)}`);
}

// ---------------------------------------------------------------- latencies

class Recorder {
  constructor() {
    this.buf = new Float64Array(1 << 16);
    this.n = 0;
  }
  add(ms) {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = ms;
  }
  summary() {
    const a = this.buf.subarray(0, this.n).sort();
    // nearest-rank percentile
    const p = (q) => (a.length ? a[Math.min(a.length - 1, Math.max(0, Math.ceil(q * a.length) - 1))] : null);
    let sum = 0;
    for (let i = 0; i < a.length; i++) sum += a[i];
    return {
      mean_ms: a.length ? sum / a.length : null,
      p50_ms: p(0.5),
      p90_ms: p(0.9),
      p99_ms: p(0.99),
      max_ms: a.length ? a[a.length - 1] : null,
    };
  }
}

// ---------------------------------------------------------------- helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x, d = 3) => (x == null || !Number.isFinite(x) ? x : Math.round(x * 10 ** d) / 10 ** d);

function initializeMessage(id) {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: {
      protocolVersion: PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: 'httmcp-bench-load', version: '1.0.0' },
    },
  });
}
const INITIALIZED = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });

/**
 * Returns a function id -> request string; the constant parts are built once. On the 2026 era
 * every request carries the per-request `_meta` envelope instead of a session.
 */
function callBuilder(tool, args, era = '2025') {
  const params = { name: tool, arguments: args };
  if (era === '2026') {
    params._meta = {
      'io.modelcontextprotocol/protocolVersion': MODERN_PROTOCOL_VERSION,
      'io.modelcontextprotocol/clientCapabilities': {},
      'io.modelcontextprotocol/clientInfo': { name: 'httmcp-bench-load', version: '1.0.0' },
    };
  }
  const tail = `,"method":"tools/call","params":${JSON.stringify(params)}}`;
  return (id) => `{"jsonrpc":"2.0","id":${id}${tail}`;
}

/** Classify a JSON-RPC reply: null = success, otherwise an error kind. */
function replyError(msg) {
  if (msg.error) return `jsonrpc_error_${msg.error.code ?? 'unknown'}`;
  if (msg.result && msg.result.isError) return 'tool_error';
  return null;
}

// ---------------------------------------------------------------- run state

class Run {
  constructor(opts) {
    this.opts = opts;
    this.phase = 'init'; // init -> warmup -> measure -> stop
    this.rec = new Recorder();
    this.errors = 0;
    this.errorKinds = new Map();
    this.warmupRequests = 0;
    this.warmupErrors = 0;
    this.sseResponses = 0;
    this.nextId = 1000;
    // --rate: each client sends on its own schedule (clients / rate seconds apart, staggered);
    // a client behind schedule sends at once, so the rate is a ceiling, not a promise.
    this.interval = opts.rate > 0 ? (1000 * opts.clients) / opts.rate : 0;
    this.due = [];
    this.progress = opts.progress;
  }
  /** Milliseconds client `idx` waits before its next call (0: send now). */
  pace(idx) {
    if (this.interval === 0) return 0;
    const now = performance.now();
    const due = this.due[idx] ?? now + (idx * this.interval) / this.opts.clients;
    if (due > now + 1) {
      this.due[idx] = due;
      return due - now;
    }
    this.due[idx] = Math.max(due, now - this.interval) + this.interval;
    return 0;
  }
  ok(ms) {
    if (this.progress !== null) this.progress.calls++;
    if (this.phase === 'measure') this.rec.add(ms);
    else if (this.phase === 'warmup') this.warmupRequests++;
  }
  fail(kind) {
    if (this.progress !== null) this.progress.errors++;
    if (this.phase === 'measure') {
      this.errors++;
      this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1);
    } else if (this.phase === 'warmup') {
      this.warmupErrors++;
      this.errorKinds.set(`warmup:${kind}`, (this.errorKinds.get(`warmup:${kind}`) ?? 0) + 1);
    }
  }
}

// ---------------------------------------------------------------- ws clients

function wsUrl(url) {
  return url.replace(/^http/, 'ws');
}

class WsClient {
  constructor(run, idx, buildCall) {
    this.run = run;
    this.idx = idx;
    this.buildCall = buildCall;
    this.pendingId = -1;
    this.sentAt = 0;
    this.done = null; // resolve() once the loop has stopped
    this.closed = false;
  }

  connect() {
    const { url, timeout, wsDeflate } = this.run.opts;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl(url), 'mcp', {
        perMessageDeflate: wsDeflate,
        handshakeTimeout: timeout,
        headers: this.run.opts.headers,
      });
      this.ws = ws;
      const initId = this.run.nextId++;
      let initDone = false;
      const initTimer = setTimeout(() => {
        if (!initDone) {
          initDone = true;
          reject(new Error(`client ${this.idx}: initialize timed out`));
          ws.terminate();
        }
      }, timeout);
      ws.on('open', () => ws.send(initializeMessage(initId)));
      ws.on('error', (err) => {
        if (!initDone) {
          initDone = true;
          clearTimeout(initTimer);
          reject(err);
        }
      });
      ws.on('close', (code) => {
        this.closed = true;
        if (!initDone) {
          initDone = true;
          clearTimeout(initTimer);
          reject(new Error(`client ${this.idx}: closed during initialize (code ${code})`));
          return;
        }
        if (this.pendingId !== -1) {
          this.pendingId = -1;
          this.run.fail('ws_closed');
        }
        this.finish();
      });
      ws.on('message', (data) => {
        let parsed;
        try {
          parsed = JSON.parse(data.toString());
        } catch {
          return;
        }
        if (!initDone) {
          const m = findById(parsed, initId);
          if (!m) return;
          initDone = true;
          clearTimeout(initTimer);
          if (m.error) {
            reject(new Error(`client ${this.idx}: initialize failed: ${JSON.stringify(m.error)}`));
            return;
          }
          ws.send(INITIALIZED);
          resolve();
          return;
        }
        if (this.pendingId === -1) return;
        const m = findById(parsed, this.pendingId);
        if (!m) return; // not ours (notification, stray reply): ignore
        const ms = performance.now() - this.sentAt;
        this.pendingId = -1;
        const err = replyError(m);
        if (err) this.run.fail(err);
        else this.run.ok(ms);
        this.next();
      });
    });
  }

  start() {
    return new Promise((resolve) => {
      this.done = resolve;
      this.next();
    });
  }

  next() {
    if (this.run.phase === 'stop' || this.closed) return this.finish();
    const wait = this.run.pace(this.idx);
    if (wait > 0) {
      setTimeout(() => this.next(), wait);
      return;
    }
    const id = this.run.nextId++;
    this.pendingId = id;
    this.sentAt = performance.now();
    this.ws.send(this.buildCall(id));
  }

  /** Called by the run's sweeper (no per-call timers in the hot loop). */
  checkTimeout(now) {
    if (this.pendingId !== -1 && now - this.sentAt > this.run.opts.timeout) {
      this.pendingId = -1;
      this.run.fail('timeout');
      this.next();
    }
  }

  finish() {
    if (this.done) {
      const d = this.done;
      this.done = null;
      d();
    }
  }

  close() {
    try {
      this.ws.close();
    } catch {}
    setTimeout(() => this.ws.terminate(), 500).unref();
  }
}

// ---------------------------------------------------------------- http clients

async function readSse(body, id) {
  // Read `data:` lines; an event ends at a blank line. Returns the message
  // with our id (or null if the stream ended without it).
  const dec = new TextDecoder();
  let buf = '';
  let data = [];
  for await (const chunk of body) {
    buf += dec.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) {
      let line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (data.length) {
          let parsed = null;
          try {
            parsed = JSON.parse(data.join('\n'));
          } catch {}
          data = [];
          const m = parsed && findById(parsed, id);
          if (m) return m;
        }
      } else if (line.startsWith('data:')) {
        data.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
      }
    }
  }
  return null;
}

/** Drain the rest of an SSE body in the background; give up (and drop the connection) after `ms`. */
function drainInBackground(body, ms) {
  const t = setTimeout(() => body.destroy(), ms);
  body.on('error', () => {});
  body.on('end', () => clearTimeout(t));
  body.on('close', () => clearTimeout(t));
  body.resume();
}

/**
 * POST one JSON-RPC message. Returns {status, headers, msg} where msg is the
 * reply with `id` (null for notifications / no reply).
 */
async function postJson(pool, path, headers, payload, id, opts, run) {
  const res = await pool.request({
    path,
    method: 'POST',
    headers,
    body: payload,
    headersTimeout: opts.timeout,
    bodyTimeout: opts.timeout,
  });
  const { statusCode, body } = res;
  if (statusCode < 200 || statusCode >= 300) {
    const text = await body.text().catch(() => '');
    return { status: statusCode, headers: res.headers, msg: null, text };
  }
  if (id == null) {
    await body.dump();
    return { status: statusCode, headers: res.headers, msg: null };
  }
  const ct = res.headers['content-type'] ?? '';
  if (ct.startsWith('text/event-stream')) {
    if (run) run.sseResponses++;
    let msg;
    try {
      msg = await readSse(body, id);
    } finally {
      // The server should close the stream after the response; if it does
      // not, do not block this client on it.
      if (!body.readableEnded && !body.destroyed) drainInBackground(body, opts.timeout);
    }
    return { status: statusCode, headers: res.headers, msg };
  }
  const text = await body.text();
  let parsed = null;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: statusCode, headers: res.headers, msg: parsed && findById(parsed, id), text };
}

class HttpClient {
  constructor(run, idx, pool, path, buildCall) {
    this.run = run;
    this.idx = idx;
    this.pool = pool;
    this.path = path;
    this.buildCall = buildCall;
    this.sessionId = null;
  }

  async connect() {
    const { opts } = this.run;
    const base = {
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      ...opts.headers,
    };
    if (opts.era === '2026') {
      // No handshake and no session: the standard headers name the version, method and tool.
      this.headers = { ...base, 'mcp-protocol-version': MODERN_PROTOCOL_VERSION, 'mcp-method': 'tools/call', 'mcp-name': opts.tool };
      return;
    }
    const initId = this.run.nextId++;
    const r = await postJson(this.pool, this.path, base, initializeMessage(initId), initId, opts);
    if (r.status < 200 || r.status >= 300) {
      throw new Error(`client ${this.idx}: initialize HTTP ${r.status}: ${(r.text ?? '').slice(0, 300)}`.trim());
    }
    if (!r.msg) throw new Error(`client ${this.idx}: initialize: no JSON-RPC reply with id ${initId}`);
    if (r.msg.error) throw new Error(`client ${this.idx}: initialize failed: ${JSON.stringify(r.msg.error)}`);
    const sid = r.headers['mcp-session-id'];
    this.sessionId = Array.isArray(sid) ? sid[0] : (sid ?? null);
    this.headers = { ...base, 'mcp-protocol-version': PROTOCOL_VERSION };
    if (this.sessionId) this.headers['mcp-session-id'] = this.sessionId;
    const n = await postJson(this.pool, this.path, this.headers, INITIALIZED, null, opts);
    if (n.status < 200 || n.status >= 300) throw new Error(`client ${this.idx}: notifications/initialized HTTP ${n.status}`);
  }

  async start() {
    const { run } = this;
    const { opts } = run;
    while (run.phase !== 'stop') {
      const wait = run.pace(this.idx);
      if (wait > 0) {
        await sleep(wait);
        continue;
      }
      const id = run.nextId++;
      const t0 = performance.now();
      let kind = null;
      try {
        const r = await postJson(this.pool, this.path, this.headers, this.buildCall(id), id, opts, run);
        if (r.status < 200 || r.status >= 300) kind = `http_${r.status}`;
        else if (!r.msg) kind = 'no_reply';
        else kind = replyError(r.msg);
      } catch (err) {
        kind = err?.code ?? err?.name ?? 'request_failed';
      }
      const ms = performance.now() - t0;
      if (kind) {
        run.fail(kind);
        await sleep(5); // do not spin on a dead server
      } else run.ok(ms);
    }
  }

  close() {}
}

/**
 * The light HTTP client (--http-client raw, the default): one keep-alive connection on a raw
 * socket (bench/lib/raw-http.mjs), the request written as one pre-built string in which only the
 * JSON-RPC id (and so Content-Length) changes, callbacks in the hot loop as in WsClient. Checks
 * every reply as HttpClient does.
 */
class RawHttpClient {
  constructor(run, idx, target, buildCall, encoding) {
    this.run = run;
    this.idx = idx;
    this.target = target; // {host, port, path, hostHeader}
    this.buildCall = buildCall;
    this.sessionId = null;
    this.conn = new RawHttpConnection({ host: target.host, port: target.port, timeout: run.opts.timeout, encoding });
    this.prefix = '';
    this.sentAt = 0;
    this.done = null;
    this.onReply = this.onReply.bind(this);
  }

  /** The request head up to Content-Length's value. */
  headPrefix(headers) {
    let head = `POST ${this.target.path} HTTP/1.1\r\nhost: ${this.target.hostHeader}\r\n`;
    for (const [name, value] of Object.entries(headers)) {
      if (/[\r\n]/.test(`${name}${value}`)) throw new Error(`header ${name}: CR or LF in a header`);
      head += `${name}: ${value}\r\n`;
    }
    return `${head}content-length: `;
  }

  /** One exchange outside the hot loop (initialize, notifications/initialized). */
  exchange(prefix, body, id) {
    return new Promise((resolve, reject) => {
      this.conn.send(`${prefix}${Buffer.byteLength(body)}\r\n\r\n${body}`, id, (err, reply) => (err ? reject(err) : resolve(reply)));
    });
  }

  async connect() {
    const { opts } = this.run;
    const base = { accept: 'application/json, text/event-stream', 'content-type': 'application/json', ...opts.headers };
    if (opts.era === '2026') {
      this.prefix = this.headPrefix({ ...base, 'mcp-protocol-version': MODERN_PROTOCOL_VERSION, 'mcp-method': 'tools/call', 'mcp-name': opts.tool });
      return;
    }
    const initId = this.run.nextId++;
    const r = await this.exchange(this.headPrefix(base), initializeMessage(initId), initId);
    if (r.status < 200 || r.status >= 300) {
      throw new Error(`client ${this.idx}: initialize HTTP ${r.status}: ${(r.text ?? '').slice(0, 300)}`.trim());
    }
    if (!r.msg) throw new Error(`client ${this.idx}: initialize: no JSON-RPC reply with id ${initId}`);
    if (r.msg.error) throw new Error(`client ${this.idx}: initialize failed: ${JSON.stringify(r.msg.error)}`);
    this.sessionId = r.headers['mcp-session-id'] ?? null;
    const headers = { ...base, 'mcp-protocol-version': PROTOCOL_VERSION };
    if (this.sessionId) headers['mcp-session-id'] = this.sessionId;
    this.prefix = this.headPrefix(headers);
    const n = await this.exchange(this.prefix, INITIALIZED, null);
    if (n.status < 200 || n.status >= 300) throw new Error(`client ${this.idx}: notifications/initialized HTTP ${n.status}`);
  }

  start() {
    return new Promise((resolve) => {
      this.done = resolve;
      this.next();
    });
  }

  next() {
    const { run } = this;
    if (run.phase === 'stop') return this.finish();
    const wait = run.pace(this.idx);
    if (wait > 0) {
      setTimeout(() => this.next(), wait);
      return;
    }
    const id = run.nextId++;
    const body = this.buildCall(id);
    this.sentAt = performance.now();
    this.conn.send(`${this.prefix}${Buffer.byteLength(body)}\r\n\r\n${body}`, id, this.onReply);
  }

  onReply(err, reply) {
    const ms = performance.now() - this.sentAt;
    const { run } = this;
    let kind;
    if (err) kind = err.code ?? err.name ?? 'request_failed';
    else {
      if (reply.sse) run.sseResponses++;
      if (reply.status < 200 || reply.status >= 300) kind = `http_${reply.status}`;
      else if (!reply.msg) kind = 'no_reply';
      else kind = replyError(reply.msg);
    }
    if (kind) {
      run.fail(kind);
      setTimeout(() => this.next(), 5); // do not spin on a dead server
    } else {
      run.ok(ms);
      this.next();
    }
  }

  checkTimeout(now) {
    this.conn.checkTimeout(now);
  }

  finish() {
    if (this.done) {
      const d = this.done;
      this.done = null;
      d();
    }
  }

  close() {
    this.conn.close();
  }
}

// ---------------------------------------------------------------- main

export async function runLoad(o) {
  const opts = {
    transport: o.transport,
    url: o.url,
    clients: Number(o.clients ?? 16),
    duration: Number(o.duration ?? 10),
    warmup: Number(o.warmup ?? 2),
    pids: o.pids ?? [],
    tool: o.tool ?? 'add',
    args: o.args ?? { a: 1, b: 2 },
    timeout: Number(o.timeout ?? 10000),
    // Calls per second for all clients together (0: closed loop, as fast as replies come).
    rate: Number(o.rate ?? 0),
    wsDeflate: Boolean(o.wsDeflate),
    // Extra headers on every request and WebSocket handshake (bench/auth.mjs: Authorization).
    headers: o.headers ?? {},
    era: String(o.era ?? '2025'),
    // HTTP mode's client: 'raw' (one raw keep-alive socket per client, the lighter instrument) or
    // 'undici' (an undici Pool, the instrument before 2026-12-06). BENCH_HTTP_CLIENT sets the
    // default, so the benches that run this file (run.mjs, auth.mjs) pass --http-client through.
    httpClient: String(o.httpClient ?? (process.env.BENCH_HTTP_CLIENT || 'raw')),
    // Live counters of replies and failures in every phase (see the header), or null.
    progress: o.progress ?? null,
    log: o.log ?? ((m) => process.stderr.write(`[load] ${m}\n`)),
  };
  if (opts.transport !== 'ws' && opts.transport !== 'http') throw new Error('--transport must be ws or http');
  if (!opts.url) throw new Error('--url is required');
  if (opts.era !== '2025' && opts.era !== '2026') throw new Error('--era must be 2025 or 2026');
  if (opts.era === '2026' && opts.transport !== 'http') throw new Error('--era 2026 needs --transport http (2026-07-28 has no WebSocket binding)');
  if (opts.httpClient !== 'raw' && opts.httpClient !== 'undici') throw new Error('--http-client must be raw or undici');
  if (!(opts.clients >= 1)) throw new Error('--clients must be >= 1');
  if (!(opts.duration > 0)) throw new Error('--duration must be > 0');

  const run = new Run(opts);
  const buildCall = callBuilder(opts.tool, opts.args, opts.era);
  let pool = null;
  let clients;
  if (opts.transport === 'ws') {
    clients = Array.from({ length: opts.clients }, (_, i) => new WsClient(run, i, buildCall));
  } else if (opts.httpClient === 'raw') {
    const u = new URL(opts.url);
    if (u.protocol !== 'http:') throw new Error('--http-client raw speaks plain http:// only (use --http-client undici)');
    const target = {
      host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(u.port || 80),
      path: u.pathname + u.search,
      hostHeader: u.host,
    };
    // Plain ASCII requests are written as latin1, the cheapest encoding (same bytes).
    const ascii = /^[\x00-\x7f]*$/.test(buildCall(1) + JSON.stringify(opts.headers));
    clients = Array.from({ length: opts.clients }, (_, i) => new RawHttpClient(run, i, target, buildCall, ascii ? 'latin1' : 'utf8'));
  } else {
    const u = new URL(opts.url);
    pool = new Pool(u.origin, {
      // one connection per client; headroom for SSE bodies still draining
      connections: opts.clients * 2,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connect: { timeout: opts.timeout },
    });
    clients = Array.from(
      { length: opts.clients },
      (_, i) => new HttpClient(run, i, pool, u.pathname + u.search, buildCall),
    );
  }

  // Connect + initialize every client before the clock starts.
  const initStart = performance.now();
  const settled = await Promise.allSettled(clients.map((c) => c.connect()));
  const failed = settled.filter((s) => s.status === 'rejected');
  if (failed.length) {
    for (const c of clients) c.close();
    await pool?.destroy().catch(() => {});
    throw new Error(
      `${failed.length}/${opts.clients} clients failed to initialize; first: ${failed[0].reason?.message ?? failed[0].reason}`,
    );
  }
  const sessions = clients.filter((c) => c.sessionId).length;
  opts.log(
    `${opts.clients} ${opts.transport} clients initialized in ${round(performance.now() - initStart, 1)} ms` +
      (opts.transport === 'http' ? ` (${sessions} with mcp-session-id)` : ''),
  );

  // warmup -> measure -> stop
  run.phase = opts.warmup > 0 ? 'warmup' : 'measure';
  const loops = clients.map((c) => c.start());
  const sweeper =
    (opts.transport === 'ws' || opts.httpClient === 'raw') && opts.timeout > 0
      ? setInterval(() => {
          const now = performance.now();
          for (const c of clients) c.checkTimeout(now);
        }, Math.max(50, Math.min(1000, opts.timeout / 4)))
      : null;
  if (opts.warmup > 0) await sleep(opts.warmup * 1000);

  const cpuBefore = new Map();
  for (const pid of opts.pids) {
    // A pid may be gone: nginx's cache loader exits a minute after the start, and a bench run
    // passes every nginx pid it found then. Its CPU is not on the request path.
    try {
      cpuBefore.set(pid, readProcCpu(pid));
    } catch (err) {
      cpuBefore.set(pid, { error: err.message });
    }
  }
  const selfBefore = process.cpuUsage();
  const machineBefore = machineTicks();
  const procsBefore = opts.pids.length ? allProcTicks() : null;
  const t0 = performance.now();
  run.phase = 'measure';
  await sleep(opts.duration * 1000);
  run.phase = 'stop';
  const elapsed = (performance.now() - t0) / 1000;
  const selfCpu = process.cpuUsage(selfBefore);
  const machineAfter = machineTicks();
  const procsAfter = procsBefore ? allProcTicks() : null;
  const cpuAfter = new Map();
  for (const pid of opts.pids) {
    try {
      cpuAfter.set(pid, readProcCpu(pid));
    } catch (err) {
      cpuAfter.set(pid, { error: err.message });
    }
  }

  // Let in-flight requests finish (they are no longer counted).
  const drained = await Promise.race([
    Promise.all(loops).then(() => true),
    sleep(Math.min(opts.timeout, 5000) + 100).then(() => false),
  ]);
  if (sweeper) clearInterval(sweeper);
  for (const c of clients) c.close();
  if (pool) await Promise.race([pool.close().catch(() => {}), sleep(1000)]).then(() => pool.destroy().catch(() => {}));

  const requests = run.rec.n;
  const result = {
    transport: opts.transport,
    url: opts.url,
    clients: opts.clients,
    duration: round(elapsed, 3),
    warmup: opts.warmup,
    requests,
    errors: run.errors,
    rps: round(requests / elapsed, 1),
    ...Object.fromEntries(Object.entries(run.rec.summary()).map(([k, v]) => [k, round(v, 3)])),
  };
  if (run.errorKinds.size) result.error_kinds = Object.fromEntries(run.errorKinds);
  if (run.warmupErrors) result.warmup_errors = run.warmupErrors;
  if (opts.transport === 'http') {
    result.era = opts.era;
    result.http_client = opts.httpClient;
    result.sessions = sessions;
    if (run.sseResponses) result.sse_responses = run.sseResponses;
  }
  if (!drained) result.undrained = true;
  result.loadgen_cpu_us_per_call = requests ? round((selfCpu.user + selfCpu.system) / requests, 2) : null;
  // The kernel's share (system time: loopback TCP sends run the receiver's side too).
  result.loadgen_sys_us_per_call = requests ? round(selfCpu.system / requests, 2) : null;
  // Cores' worth of CPU over the window: this process's, and the machine's by kind (/proc/stat).
  const selfUs = selfCpu.user + selfCpu.system;
  result.loadgen_cores = round(selfUs / (elapsed * 1e6), 3);
  const coresOf = (kind) => round((machineAfter[kind] - machineBefore[kind]) / clockTicks() / elapsed, 3);
  result.machine = { cores: os.cpus().length, task_cores: coresOf('task'), irq_cores: coresOf('irq'), steal_cores: coresOf('steal'), idle_cores: coresOf('idle') };
  if (opts.pids.length) {
    let total = 0;
    const byPid = {};
    for (const pid of opts.pids) {
      const a = cpuBefore.get(pid);
      const b = cpuAfter.get(pid);
      if (a.error || b.error) {
        byPid[pid] = { comm: a.comm, error: a.error ?? b.error };
        continue;
      }
      const us = b.us - a.us;
      total += us;
      byPid[pid] = {
        comm: a.comm,
        cpu_us_per_call: requests ? round(us / requests, 2) : null,
        cpu_pct: round((us / (elapsed * 1e6)) * 100, 1),
      };
    }
    result.cpu_us_per_call = requests ? round(total / requests, 2) : null;
    // What ran besides the measured processes and this one (other helpers, the harness,
    // kernel threads): CPU they may have taken from the measured ones.
    result.machine.measured_cores = round((total + selfUs) / (elapsed * 1e6), 3);
    result.machine.others_cores = round(result.machine.task_cores - result.machine.measured_cores, 3);
    result.machine.top_others = topOthers(procsBefore, procsAfter, new Set([...opts.pids, process.pid]), elapsed);
    result.cpu_pct = round((total / (elapsed * 1e6)) * 100, 1);
    result.cpu_by_pid = byPid;
    result.clk_tck = clockTicks();
  }
  return result;
}

function parsePids(s) {
  if (!s) return [];
  return s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`bad pid: ${x}`);
      return n;
    });
}

async function main() {
  const { values: v } = parseArgs({
    options: {
      transport: { type: 'string', default: 'http' },
      url: { type: 'string' },
      clients: { type: 'string', default: '16' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      pid: { type: 'string', multiple: true },
      tool: { type: 'string', default: 'add' },
      args: { type: 'string', default: '{"a":1,"b":2}' },
      timeout: { type: 'string', default: '10000' },
      rate: { type: 'string', default: '0' },
      'ws-deflate': { type: 'boolean', default: false },
      era: { type: 'string', default: '2025' },
      'http-client': { type: 'string' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help || !v.url) {
    process.stderr.write(
      'usage: node bench/load.mjs --transport ws|http --url http://127.0.0.1:P/mcp/demo\n' +
        '         [--clients 16] [--duration 10] [--warmup 2] [--pid PID[,PID...]]\n' +
        "         [--tool add] [--args '{\"a\":1,\"b\":2}'] [--timeout ms] [--ws-deflate] [--era 2025|2026] [--rate N] [--quiet]\n" +
        '         [--http-client raw|undici]\n',
    );
    process.exit(v.help ? 0 : 2);
  }
  const result = await runLoad({
    transport: v.transport,
    url: v.url,
    clients: v.clients,
    duration: v.duration,
    warmup: v.warmup,
    pids: (v.pid ?? []).flatMap(parsePids),
    tool: v.tool,
    args: JSON.parse(v.args),
    timeout: v.timeout,
    rate: v.rate,
    wsDeflate: v['ws-deflate'],
    era: v.era,
    httpClient: v['http-client'],
    log: v.quiet ? () => {} : undefined,
  });
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`[load] error: ${err?.stack ?? err}\n`);
    process.exit(1);
  });
}
