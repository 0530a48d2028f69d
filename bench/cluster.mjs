#!/usr/bin/env node
// tools/call throughput and p99 through a two-node cluster vs one node, same run.
//
//   node bench/cluster.mjs [--clients 64] [--duration 10] [--warmup 2] [--transports ws,http] [--out FILE]
//
// Layouts (all with external `httmcp backend` processes sharing HTTMCP_SESSION_SECRET,
// so that every layout has the same process shape):
//   one-node          one `start --backends B1` (no Redis), backend B1 publishes to it
//   one-node+redis    the same with `--redis` (nchan's Redis store)
//   two-node+redis    nodes A and B, both `start --redis R --backends B1,B2`; B1 publishes
//                     to A's publish listener, B2 to B's (Redis carries messages across)
// For each layout and transport, two `bench/load.mjs` processes run at once with clients/2
// each: against the single node twice, or one per node in the cluster. rps is their sum;
// p50 is the requests-weighted mean of the two p50s and p99 the larger of the two p99s
// (load.mjs keeps latencies per process). CPU per call sums utime+stime of every nginx and
// backend process over the measured window. Also checks that a session initialized on
// node A answers a tools/call sent to node B.

import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readProcCpu } from './load.mjs';
import {
  CLI, childrenOf, freePort, gitCommit, limits, log as mkLog, r1, saveResult, sleep, spawnJson, spawnLoad, startStack, stopChild, waitInit,
} from './scale-lib.mjs';

const { values: v } = parseArgs({
  options: {
    clients: { type: 'string', default: '64' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    transports: { type: 'string', default: 'ws,http' },
    layouts: { type: 'string', default: 'one-node,one-node+redis,two-node+redis' },
    out: { type: 'string' },
  },
});
const L = mkLog('cluster');
const SECRET = randomBytes(32).toString('hex');

async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore', detached: true });
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    const ok = await new Promise((res) => {
      const s = require_net().connect(port, '127.0.0.1', () => {
        s.end();
        res(true);
      });
      s.on('error', () => res(false));
    });
    if (ok) return { url: `redis://127.0.0.1:${port}`, pid: child.pid, stop: () => stopChild(child) };
  }
  throw new Error('redis-server did not start');
}
import net from 'node:net';
const require_net = () => net;

async function startBackend(port, publishUrl) {
  const p = spawnJson(process.execPath, [CLI, 'backend', '--listen', `127.0.0.1:${port}`, '--publish-url', publishUrl], {
    name: 'backend',
    env: { HTTMCP_SESSION_SECRET: SECRET },
  });
  return { pid: p.child.pid, stop: () => stopChild(p.child) };
}

async function startLayout(name, redis) {
  const nodes = name.startsWith('two') ? 2 : 1;
  const backendPorts = await Promise.all(Array.from({ length: nodes }, freePort));
  const publishPorts = await Promise.all(Array.from({ length: nodes }, freePort));
  const stacks = [];
  for (let i = 0; i < nodes; i++) {
    stacks.push(
      await startStack({
        workers: 1,
        redis: name.includes('redis') ? redis.url : undefined,
        backends: backendPorts.map((p) => `127.0.0.1:${p}`),
        publishListen: `127.0.0.1:${publishPorts[i]}`,
        // The backends' secret: nginx proves itself to them with a key derived from it.
        env: { HTTMCP_SESSION_SECRET: SECRET },
      }),
    );
  }
  const backends = [];
  for (let i = 0; i < nodes; i++) backends.push(await startBackend(backendPorts[i], `http://127.0.0.1:${publishPorts[i]}`));
  for (const s of stacks) await waitInit(s.url);
  const nginxPids = stacks.flatMap((s) => [s.nginxPid, ...childrenOf(s.nginxPid)]);
  const backendPids = backends.flatMap((b) => [b.pid, ...childrenOf(b.pid)]).filter((p) => {
    try {
      return readProcCpu(p).comm === 'node';
    } catch {
      return false;
    }
  });
  return {
    name,
    urls: stacks.map((s) => s.url),
    nginxPids,
    backendPids,
    stop: async () => {
      for (const b of backends) await b.stop();
      for (const s of stacks) await s.stop();
    },
  };
}

async function runLoad(transport, url, clients) {
  const { code, result, stderr } = await spawnLoad(['--transport', transport, '--url', url, '--clients', String(clients), '--duration', v.duration, '--warmup', v.warmup]);
  return result ?? { failed: true, error: stderr.slice(-500) || `exit ${code}` };
}

const cpuOf = (pids) => {
  let us = 0;
  for (const p of pids) {
    try {
      us += readProcCpu(p).us;
    } catch {}
  }
  return us;
};

/** A session opened on node A, used on node B (Streamable HTTP, JSON replies). */
async function crossNodeCheck(urlA, urlB) {
  const H = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const r = await fetch(urlA, { method: 'POST', headers: H, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }) });
  const sid = r.headers.get('mcp-session-id');
  await r.text();
  const h = { ...H, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
  await (await fetch(urlB, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text();
  const c = await fetch(urlB, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'add', arguments: { a: 2, b: 3 } } }) });
  const text = await c.text();
  return { status: c.status, ok: c.status === 200 && text.includes('"5"') || text.includes('"text":"5"'), body: text.slice(0, 200) };
}

async function main() {
  const clients = Number(v.clients);
  const redis = await startRedis();
  L(`redis ${redis.url}`);
  const rows = [];
  const checks = {};
  try {
    for (const layoutName of v.layouts.split(',')) {
      const layout = await startLayout(layoutName, redis);
      L(`${layoutName}: ${layout.urls.join(' ')} nginx ${layout.nginxPids} backends ${layout.backendPids}`);
      try {
        if (layout.urls.length === 2) checks[layoutName] = await crossNodeCheck(layout.urls[0], layout.urls[1]).catch((e) => ({ ok: false, error: e.message }));
        for (const transport of v.transports.split(',')) {
          const urls = layout.urls.length === 2 ? layout.urls : [layout.urls[0], layout.urls[0]];
          const all = [...layout.nginxPids, ...layout.backendPids];
          const runs = urls.map((u) => runLoad(transport, u, clients / 2));
          await sleep(Number(v.warmup) * 1000 + 300); // init + warmup of load.mjs
          const c0 = cpuOf(layout.nginxPids);
          const b0 = cpuOf(layout.backendPids);
          await sleep(Number(v.duration) * 1000 - 600);
          const c1 = cpuOf(layout.nginxPids);
          const b1 = cpuOf(layout.backendPids);
          const res = await Promise.all(runs);
          const okRes = res.filter((r) => !r.failed);
          const requests = okRes.reduce((a, r) => a + r.requests, 0);
          const rps = okRes.reduce((a, r) => a + r.rps, 0);
          const window = Number(v.duration) - 0.6;
          const callsInWindow = rps * window;
          const row = {
            layout: layoutName,
            transport,
            clients,
            rps: r1(rps),
            p50_ms: okRes.length ? r1(okRes.reduce((a, r) => a + r.p50_ms * r.requests, 0) / requests) : null,
            p99_ms: okRes.length ? r1(Math.max(...okRes.map((r) => r.p99_ms))) : null,
            p99_by_process: okRes.map((r) => r1(r.p99_ms)),
            errors: okRes.reduce((a, r) => a + r.errors, 0),
            failed_processes: res.length - okRes.length,
            backend_cpu_us_per_call: r1((b1 - b0) / callsInWindow),
            nginx_cpu_us_per_call: r1((c1 - c0) / callsInWindow),
            raw: res,
          };
          rows.push(row);
          L(JSON.stringify({ ...row, raw: undefined }));
          await sleep(1000);
        }
      } finally {
        await layout.stop();
      }
    }
  } finally {
    await redis.stop();
  }
  const md =
    '| layout | transport | clients | rps | p50 ms | p99 ms (max of 2 loaders) | errors | backend CPU µs/call | nginx CPU µs/call |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n' +
    rows.map((r) => `| ${r.layout} | ${r.transport} | ${r.clients} | ${Math.round(r.rps)} | ${r.p50_ms} | ${r.p99_ms} | ${r.errors} | ${r.backend_cpu_us_per_call} | ${r.nginx_cpu_us_per_call} |`).join('\n');
  const result = { date: new Date().toISOString(), commit: gitCommit(), limits: limits(), options: v, cross_node_check: checks, rows, markdown: md };
  const file = saveResult('cluster', result, v.out);
  process.stdout.write(md + '\ncross-node: ' + JSON.stringify(checks) + '\n');
  L(`saved ${file}`);
}

main().catch((e) => {
  process.stderr.write(String(e.stack ?? e) + '\n');
  process.exit(1);
});
