// Shared helpers for the scaling benchmarks (idle-sessions, long-tasks, cluster):
// starting httmcp stacks / processes, /proc memory, nchan status, results files.

import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = resolve(BENCH_DIR, '..');
// HTTMCP_BENCH_CLI: another build's CLI (e.g. /work/main/dist/src/cli/main.js for a "before" run).
export const CLI = process.env.HTTMCP_BENCH_CLI ?? join(REPO_DIR, 'dist', 'src', 'cli', 'main.js');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const log = (tag) => (m) => process.stderr.write(`[${tag}] ${m}\n`);
export const KiB = 1024;
export const r1 = (x) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 10) / 10);
/** The median of a list of numbers (NaN for none). */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Spawn detached; resolve the first JSON line on stdout. */
export function spawnJson(cmd, args, { name, env, timeoutMs = 60_000, cwd = REPO_DIR } = {}) {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const tail = [];
  child.stderr.setEncoding('utf8').on('data', (d) => {
    tail.push(d);
    if (tail.length > 40) tail.shift();
  });
  const lines = [];
  const waiters = [];
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      let obj;
      try {
        obj = JSON.parse(line);
      } catch {
        continue;
      }
      const w = waiters.shift();
      if (w) w.resolve(obj);
      else lines.push(obj);
    }
  });
  let exited = false;
  child.on('exit', (code, sig) => {
    exited = true;
    for (const w of waiters.splice(0)) w.reject(new Error(`${name} exited (${code ?? sig}): ${tail.join('').slice(-1500)}`));
  });
  const next = (ms = timeoutMs) =>
    lines.length
      ? Promise.resolve(lines.shift())
      : exited
        ? Promise.reject(new Error(`${name} exited: ${tail.join('').slice(-1500)}`))
        : new Promise((resolve, reject) => {
            const w = { resolve, reject };
            waiters.push(w);
            setTimeout(() => {
              const i = waiters.indexOf(w);
              if (i >= 0) {
                waiters.splice(i, 1);
                reject(new Error(`${name}: no JSON line within ${ms} ms; stderr: ${tail.join('').slice(-1500)}`));
              }
            }, ms).unref();
          });
  return { child, next, stderrTail: () => tail.join('') };
}

/**
 * Runs `node bench/load.mjs ...argv` in a process of its own (so that its CPU is not the
 * harness's) and resolves once it exits: its exit code, its last stdout line parsed (null when
 * that is not JSON: its result line is the last) and its stderr.
 */
export function spawnLoad(argv) {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [join(BENCH_DIR, 'load.mjs'), ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    child.on('exit', (code) => {
      let result = null;
      try {
        result = JSON.parse(out.trim().split('\n').pop());
      } catch {}
      resolvePromise({ code, result, stderr: err });
    });
  });
}

export async function stopChild(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    try {
      child.kill('SIGTERM');
    } catch {}
  }
  if (!(await Promise.race([done.then(() => true), sleep(8000).then(() => false)]))) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  }
}

/** True while `pid` runs (a zombie waiting for its reaper counts as gone). */
export function running(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Children of a pid (from /proc). */
export function childrenOf(pid) {
  const out = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const st = readFileSync(`/proc/${n}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === pid) out.push(Number(n));
    } catch {}
  }
  return out;
}

/** utime+stime of a process in clock ticks (100 per second here); 0 once it is gone. */
export function cpuTicks(pid) {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** The machine's CPU time by kind (clock ticks) from the first line of /proc/stat. */
export function machineTicks() {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { busy: user + nice + system + irq + softirq + steal, softirq, idle: idle + iowait };
}

/**
 * {rss, pss, hwm} in bytes of one process. `pss: false` skips smaps_rollup (pss null): the
 * kernel walks the page tables for it, which is what a sampler in a busy loop should not do.
 */
export function procMem(pid, { pss: wantPss = true } = {}) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number((status.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm')) ?? [])[1] ?? 0) * 1024;
  let pss = null;
  if (wantPss) try {
    const roll = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    pss = Number((roll.match(/^Pss:\s+(\d+)/m) ?? [])[1]) * 1024;
  } catch {}
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), pss };
}

/**
 * Sum of memory over nginx master + its workers. `pids` (from an earlier call) skips the scan of
 * /proc for the workers, and `pss: false` the smaps_rollup reads: both for samplers.
 */
export function nginxMem(masterPid, { pids = [masterPid, ...childrenOf(masterPid)], pss: wantPss = true } = {}) {
  let rss = 0;
  let pss = 0;
  for (const p of pids) {
    try {
      const m = procMem(p, { pss: wantPss });
      rss += m.rss;
      pss += m.pss ?? 0;
    } catch {}
  }
  return { pids, rss, pss };
}

export function fdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** GET a URL (tcp or `unix:/path` + path) and return the body text. */
export function httpGetText(url, path = '') {
  return new Promise((res, rej) => {
    const opts = url.startsWith('unix:') ? { socketPath: url.slice(5), path: path || '/' } : new URL(path, url);
    const req = http.get(opts, (r) => {
      let b = '';
      r.setEncoding('utf8').on('data', (d) => (b += d)).on('end', () => res(b));
    });
    req.on('error', rej);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}

/** nchan_stub_status parsed into an object of numbers. */
export async function nchanStatus(publishUrl) {
  try {
    const text = await httpGetText(publishUrl, '/status');
    const out = {};
    for (const line of text.split('\n')) {
      const m = line.match(/^([^:]+):\s*([\d.]+)K?\s*$/);
      if (m) out[m[1].trim().replace(/\s+/g, '_')] = Number(m[2]);
    }
    return out;
  } catch (err) {
    return { error: String(err.message ?? err) };
  }
}

/**
 * Benchmarks load one stack from one address (127.0.0.1): the per-client limits of a public
 * deployment (docs/operations.md, "Edge") would refuse them, so they are lifted.
 */
export const BENCH_CLIENT_LIMIT_FLAGS = ['--client-connections', '65535', '--client-rate', '1000000', '--client-burst', '1000000'];

/**
 * Start `httmcp start --json` (detached) and wait until its demo endpoint answers. `clientLimits:
 * 'default'` keeps the per-client limits `npm start` has (bench/attacks.mjs measures them).
 */
export async function startStack({ port, workers = 1, redis, backends, publishListen, prefix, env, extra = [], nodeArgs = [], clientLimits = 'lifted' } = {}) {
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: run npx tsc -p tsconfig.build.json first`);
  port ??= await freePort();
  const limitFlags = clientLimits === 'default' ? [] : BENCH_CLIENT_LIMIT_FLAGS;
  const argv = [...nodeArgs, CLI, 'start', '--port', String(port), '--json', '--workers', String(workers), ...limitFlags, ...extra];
  if (redis) argv.push('--redis', redis);
  if (backends) argv.push('--backends', backends.join(','));
  if (publishListen) argv.push('--publish-listen', publishListen);
  if (prefix) argv.push('--prefix', prefix);
  const p = spawnJson(process.execPath, argv, { name: 'httmcp start', env });
  const info = await p.next(60_000);
  const url = info.servers?.demo ?? `http://127.0.0.1:${port}/mcp/demo`;
  if (!backends) await waitInit(url);
  return { ...info, url, child: p.child, stop: () => stopChild(p.child) };
}

/** POST initialize until 2xx. */
export async function waitInit(url, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const u = new URL(url);
      const status = await new Promise((res, rej) => {
        const req = http.request(
          { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } },
          (r) => {
            r.resume();
            res(r.statusCode);
          },
        );
        req.on('error', rej);
        req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'wait', version: '1' } } }));
      });
      if (status >= 200 && status < 300) return;
      last = status;
    } catch (e) {
      last = e.code ?? e.message;
    }
    await sleep(200);
  }
  throw new Error(`${url} not ready (${last})`);
}

export function limits() {
  const sh = (c) => {
    try {
      return execFileSync('sh', ['-c', c], { encoding: 'utf8' }).trim();
    } catch {
      return null;
    }
  };
  return { nofile_soft: sh('ulimit -Sn'), nofile_hard: sh('ulimit -Hn'), nproc: sh('nproc'), node: process.version, nginx: sh('nginx -v 2>&1') };
}

export function gitCommit() {
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_DIR, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: REPO_DIR, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha}-dirty` : sha;
  } catch {
    return null;
  }
}

/** The CLI the stacks are started with, and the commit of the checkout it was built from. */
export function stackBuild() {
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dirname(CLI), encoding: 'utf8' }).trim();
    return { cli: CLI, commit: sha };
  } catch {
    return { cli: CLI, commit: null };
  }
}

export function saveResult(name, data, out) {
  const file = out ?? join(BENCH_DIR, 'results', `${new Date().toISOString().slice(0, 10)}-${name}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}

/**
 * Counts of the nginx error-log lines that matter to the attack and burst benchmarks, from
 * `<prefix>/logs/error.log`: workers that died on a signal, connects to the core's and the
 * backend's unix sockets refused with EAGAIN (a listen queue full), connection slots running out, and the edge's limit refusals.
 */
export function errorLogCounts(prefix) {
  let text = '';
  try {
    text = readFileSync(join(prefix, 'logs', 'error.log'), 'utf8');
  } catch {
    return null;
  }
  const count = (re) => (text.match(re) ?? []).length;
  return {
    exited_on_signal: count(/exited on signal/g),
    core_connect_eagain: count(/connect\(\) to unix:\S*\/core(-\d+)?\.sock failed \(11: /g),
    backend_connect_eagain: count(/connect\(\) to unix:\S*\/backend(-\d+)?\.sock failed \(11: /g),
    worker_connections_not_enough: count(/worker_connections are not enough/g),
    limiting_connections: count(/limiting connections/g),
    limiting_requests: count(/limiting requests/g),
    crit_or_alert: count(/\[(crit|alert|emerg)\]/g),
  };
}
