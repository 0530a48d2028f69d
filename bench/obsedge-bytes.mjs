#!/usr/bin/env node
// Are the bytes nginx and the load generator handle different with observability on? Starts the
// two stacks of `bench/slices.mjs --compare observability` (same environments and flags), then
// for each: the generated nginx.conf, one Streamable HTTP tools/call exchange on a raw socket
// (request and response bytes as sent and received, headers included) and one WebSocket
// tools/call (the upgrade response and the reply frame's payload). Prints a diff of what differs
// with the per-exchange byte counts, and the nginx.conf diff (ports and paths normalized).
//
//   npm run build && node bench/obsedge-bytes.mjs [--out FILE]
//
// Why: bench/README.md, "### obsedge (2026-12-06)".

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { freePort } from './scale-lib.mjs';
import { startOtlpSink } from './lib/otlp-sink.mjs';
import { startedInfo } from './lib/started.mjs';

const { values } = parseArgs({ options: { out: { type: 'string' } } });
const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

async function startStack(label, env, args = []) {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'start', '--port', String(port), '--json', ...args], {
    env: { ...process.env, HTTMCP_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.push(child);
  const info = await startedInfo(child, `httmcp start (${label})`);
  // nginx rewrites its argv into one title: "nginx: master process /usr/sbin/nginx -p P -c C ...".
  const title = readFileSync(`/proc/${info.nginxPid}/cmdline`, 'utf8');
  const prefix = / -p (\S+)/.exec(title)[1];
  const conf = / -c (\S+)/.exec(title)[1];
  return { label, port, url: info.servers.demo, conf: readFileSync(conf.startsWith('/') ? conf : `${prefix}/${conf}`, 'utf8'), prefix, child };
}

/** One raw HTTP/1.1 exchange: the bytes of the response (head and body) as they arrived. */
function exchange(port, request) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks = [];
    let timer;
    sock.on('data', (d) => {
      chunks.push(d);
      clearTimeout(timer);
      timer = setTimeout(() => sock.destroy(), 150); // the whole response, however it is framed
    });
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    sock.on('error', reject);
    sock.write(request);
  });
}
const post = (url, headers, body) => {
  const u = new URL(url);
  let head = `POST ${u.pathname} HTTP/1.1\r\nhost: ${u.host}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  return `${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
};
const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'httmcp-bench-load', version: '1.0.0' } } });
const CALL = (id) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } });

async function httpCall(stack) {
  const base = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
  const init = await exchange(stack.port, post(stack.url, base, INIT));
  const sid = /mcp-session-id: *([^\r\n]+)/i.exec(init)?.[1];
  const headers = { ...base, 'mcp-protocol-version': '2025-06-18', ...(sid ? { 'mcp-session-id': sid } : {}) };
  await exchange(stack.port, post(stack.url, headers, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })));
  const request = post(stack.url, headers, CALL(1000));
  const response = await exchange(stack.port, request);
  return { request_bytes: request.length, response_bytes: response.length, response: normalize(response, sid) };
}

async function wsCall(stack) {
  const ws = new WebSocket(stack.url.replace(/^http/, 'ws'), 'mcp');
  let upgrade = '';
  ws.on('upgrade', (res) => (upgrade = Object.entries(res.headers).map(([k, v]) => `${k}: ${v}`).join('\n')));
  const frames = [];
  const waiting = new Map();
  ws.on('message', (d) => {
    const text = d.toString();
    frames.push(text);
    const id = JSON.parse(text).id;
    waiting.get(id)?.(text);
  });
  await once(ws, 'open');
  const reply = (id, msg) => new Promise((r) => (waiting.set(id, r), ws.send(msg)));
  await reply(1, INIT);
  ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
  const text = await reply(1000, CALL(1000));
  ws.close();
  return { upgrade: normalize(upgrade), reply_bytes: Buffer.byteLength(text), reply: text };
}

/** The parts that differ between any two runs (dates, session ids, ports) replaced by placeholders. */
function normalize(s, sid) {
  let out = s.replace(/date: [^\r\n]+/gi, 'date: <date>').replace(/sec-websocket-accept: [^\r\n]+/gi, 'sec-websocket-accept: <key>');
  if (sid) out = out.split(sid).join('<session>');
  return out;
}
const normConf = (c, s) => c.split(s.prefix).join('<prefix>').replace(new RegExp(`\\b${s.port}\\b`, 'g'), '<port>');

function lineDiff(a, b) {
  const al = a.split('\n');
  const bl = b.split('\n');
  const out = [];
  for (let i = 0; i < Math.max(al.length, bl.length); i++) if (al[i] !== bl[i]) out.push(`${i + 1}: - ${al[i] ?? ''}\n${i + 1}: + ${bl[i] ?? ''}`);
  return out;
}

const log = (m) => process.stderr.write(`[obsedge-bytes] ${m}\n`);
const running = []; // every started stack's launcher, stopped at the end whatever happened
const sink = await startOtlpSink();
const metricsPort = await freePort();
const stacks = [];
try {
  stacks.push(await startStack('off', { HTTMCP_REQUEST_METRICS: 'off', OTEL_TRACES_EXPORTER: '', OTEL_EXPORTER_OTLP_ENDPOINT: '' }));
  stacks.push(
    await startStack(
      'on',
      { HTTMCP_REQUEST_METRICS: 'on', OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' },
      ['--metrics-listen', `127.0.0.1:${metricsPort}`],
    ),
  );
  const result = {};
  for (const s of stacks) {
    log(`${s.label}: port ${s.port}, HTTP`);
    const http = await httpCall(s);
    log(`${s.label}: WebSocket`);
    result[s.label] = { http, ws: await wsCall(s), conf_bytes: normConf(s.conf, s).length };
  }
  const [off, on] = stacks;
  const confDiff = lineDiff(normConf(off.conf, off), normConf(on.conf, on));
  const httpDiff = lineDiff(result.off.http.response, result.on.http.response);
  const upgradeDiff = lineDiff(result.off.ws.upgrade, result.on.ws.upgrade);
  const wsDiff = result.off.ws.reply === result.on.ws.reply ? [] : [`- ${result.off.ws.reply}`, `+ ${result.on.ws.reply}`];
  console.log(`nginx.conf: ${confDiff.length} differing lines\n${confDiff.join('\n')}`);
  console.log(`HTTP tools/call: request ${result.off.http.request_bytes} / ${result.on.http.request_bytes} bytes, response ${result.off.http.response_bytes} / ${result.on.http.response_bytes} bytes (off / on); ${httpDiff.length} differing lines\n${httpDiff.join('\n')}`);
  console.log(`WebSocket upgrade: ${upgradeDiff.length} differing lines\n${upgradeDiff.join('\n')}`);
  console.log(`WebSocket reply: ${result.off.ws.reply_bytes} / ${result.on.ws.reply_bytes} bytes; ${wsDiff.length ? 'differs' : 'identical'}\n${wsDiff.join('\n')}`);
  console.log(`\n--- off HTTP response ---\n${result.off.http.response}\n--- on HTTP response ---\n${result.on.http.response}`);
  if (values.out) writeFileSync(values.out, JSON.stringify({ date: new Date().toISOString(), conf_diff: confDiff, ...result }, null, 2));
} finally {
  for (const child of running) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  await sink.stop();
}
