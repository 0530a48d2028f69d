#!/usr/bin/env node
// The long-task benchmark against the cheapest backend that can answer it: what nginx+nchan,
// the load generator and Node's HTTP stack cost on their own, without httmcp's backend.
//
//   node bench/floor-backend.mjs [--workers 4] [--out FILE] [-- <long-tasks.mjs options>]
//
// A "floor" process takes nchan's upstream hop. For `tools/call sleep` on a WebSocket session it
// does the least any backend must do: read the body, JSON.parse it, answer 204, and after `ms`
// publish the reply to the session's channel (undici, keep-alive). It never validates, never
// checks the session id and runs no MCP server, so it is NOT a backend anyone should run; it is
// a measuring stick. Everything else (the WebSocket open, initialize) it proxies to a real
// `httmcp backend`. Then it runs `bench/long-tasks.mjs --url ... --backend-pid <floor>` and prints
// its result. If the floor misses a target, no backend on this design and machine can meet it.
import { spawn } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { CLI, freePort, log as mkLog, REPO_DIR, sleep, startStack, stopChild } from './scale-lib.mjs';

const L = mkLog('floor');
const HOP = /^\/mcp\/[A-Za-z0-9_-]+\/([A-Za-z0-9_.-]+)\/message$/;

function serve(listen, realAddress, publishUrl) {
  const [realHost, realPort] = realAddress.split(':');
  const pool = new Pool(publishUrl, { connections: 64 });
  const proxy = (req, res, body) => {
    const upstream = httpRequest({ host: realHost, port: Number(realPort), method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    upstream.end(body);
  };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const hop = req.method === 'POST' && req.headers['x-httmcp-transport'] === 'websocket' ? HOP.exec(req.url) : null;
      let message;
      if (hop) {
        try {
          message = JSON.parse(body.toString());
        } catch {}
      }
      if (message?.method !== 'tools/call' || message.params?.name !== 'sleep') return proxy(req, res, body);
      res.writeHead(204).end();
      const reply = JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: `slept ${message.params.arguments.ms} ms` }] } });
      setTimeout(() => {
        pool
          .request({ method: 'POST', path: `/pub/${hop[1]}`, body: reply, headers: { accept: 'application/json' } })
          .then((r) => r.body.dump(), (e) => L(`publish failed: ${e.message}`));
      }, message.params.arguments.ms);
    });
  });
  server.keepAliveTimeout = 65_000;
  let connections = 0;
  let requests = 0;
  server.on('connection', () => connections++);
  server.on('request', () => requests++);
  process.on('SIGTERM', () => {
    process.stderr.write(`[floor] ${requests} requests on ${connections} connections\n`);
    process.exit(0);
  });
  const [host, port] = listen.split(':');
  server.listen({ port: Number(port), host, backlog: 65535 }, () => process.stdout.write('ready\n'));
}

if (process.argv[2] === '--serve') {
  serve(process.argv[3], process.argv[4], process.argv[5]);
} else {
  const { values: v, positionals } = parseArgs({ options: { workers: { type: 'string', default: '4' }, out: { type: 'string' } }, allowPositionals: true });
  const [floorPort, realPort, publishPort] = [await freePort(), await freePort(), await freePort()];
  const publishUrl = `http://127.0.0.1:${publishPort}`;
  const secret = 'floor-bench-secret-0123456789abcdef01';
  const env = { ...process.env, HTTMCP_SESSION_SECRET: secret, HTTMCP_LOG_LEVEL: 'warn' };
  const real = spawn(process.execPath, [CLI, 'backend', '--listen', `127.0.0.1:${realPort}`, '--publish-url', publishUrl], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const floor = spawn(process.execPath, [new URL(import.meta.url).pathname, '--serve', `127.0.0.1:${floorPort}`, `127.0.0.1:${realPort}`, publishUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => floor.stdout.once('data', resolve));
  const stack = await startStack({ workers: Number(v.workers), backends: [`127.0.0.1:${floorPort}`], publishListen: `127.0.0.1:${publishPort}`, env });
  await sleep(500);
  L(`stack ${stack.url}, floor pid ${floor.pid}, real backend pid ${real.pid}`);
  const args = ['bench/long-tasks.mjs', '--url', stack.url, '--backend-pid', String(floor.pid), '--nginx-pid', String(stack.nginxPid), ...(v.out ? ['--out', v.out] : []), ...positionals];
  const run = spawn(process.execPath, args, { cwd: REPO_DIR, stdio: 'inherit' });
  await new Promise((resolve) => run.once('exit', resolve));
  await stack.stop();
  for (const child of [floor, real]) await stopChild(child);
}
