/**
 * A burst of concurrent Streamable HTTP requests loses none at the edge-to-core hop (issue 10,
 * point 11). Every POST crosses a unix socket from the edge to the core; a unix socket whose
 * listen queue is full fails connect() at once with EAGAIN, and nginx answers 502 (TCP would
 * retry the SYN instead). The kernel caps the queue at net.core.somaxconn (4096 by default), so
 * 5,000 concurrent calls through one socket lost some. Here the queue is made small (256), so
 * that 1,000 requests at once overflow one socket (measured: 107 and 445 of 1,000 lost); the core
 * listens on as many sockets as the edge's client cap needs. The in-process backend is a unix
 * socket too (nchan sends each WebSocket message upstream on a connection of its own), with the
 * same rule. bench/long-tasks.mjs measures the 5,000-call bursts themselves.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import WebSocket from 'ws';
import type { Stack } from '../../src/index.js';
import { INITIALIZE_PARAMS, STREAMABLE_ACCEPT } from '../helpers/raw-clients.js';
import { startTestStack, workerCrashes } from '../helpers/stack.js';

const CORE_BACKLOG = 256;
const CALLS = 1000;
/** Clients come from many loopback addresses, as many machines would (per-address limits). */
const SOURCES = 50;

let stack: Stack;

beforeAll(async () => {
  stack = await startTestStack({ coreBacklog: CORE_BACKLOG });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
});

/** POSTs one JSON-RPC message; resolves the status and (for initialize) the session id. */
function post(agent: http.Agent, url: URL, body: string, session?: string): Promise<{ status: number; session?: string }> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: STREAMABLE_ACCEPT, 'mcp-protocol-version': '2025-06-18' };
    if (session) headers['mcp-session-id'] = session;
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers, agent }, (res) => {
      const id = res.headers['mcp-session-id'];
      // The reply itself (JSON, or the SSE stream of a call) is not needed: the status tells
      // whether the request got through to the backend.
      res.destroy();
      resolve({ status: res.statusCode ?? 0, session: typeof id === 'string' ? id : undefined });
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ status: 0, session: error.code }));
    req.end(body);
  });
}

test('the core and the backend listen on enough sockets for the edge client cap at a small listen queue', () => {
  const config = readFileSync(`${stack.prefix}/nginx.conf`, 'utf8');
  const cap = Number(/limit_conn httmcp_clients (\d+);/.exec(config)![1]);
  const sockets = config.match(/listen unix:\S+\/core(-\d+)?\.sock backlog=256;/g) ?? [];
  expect(sockets.length).toBe(Math.min(16, Math.ceil(cap / CORE_BACKLOG)));
  expect(sockets.length).toBeGreaterThan(1);
  expect(config.match(/server unix:\S+\/backend(-\d+)?\.sock max_fails=0;/g)?.length).toBe(sockets.length);
});

test(`${CALLS} concurrent Streamable HTTP initializes, then ${CALLS} concurrent calls: none lost at the edge-to-core hop`, async () => {
  const url = new URL(stack.servers.demo!);
  // One keep-alive connection per client, kept from its initialize to its call, as an SDK
  // client's fetch does: the calls then reach nginx all at once.
  const agents = Array.from({ length: SOURCES }, (_, i) => new http.Agent({ keepAlive: true, maxSockets: CALLS / SOURCES, localAddress: `127.0.1.${i + 1}` }));
  try {
    const init = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: INITIALIZE_PARAMS });
    const sessions = await Promise.all(Array.from({ length: CALLS }, (_, i) => post(agents[i % SOURCES]!, url, init)));
    expect(sessions.filter((r) => r.status !== 200).map((r) => r.status)).toEqual([]);
    const calls = await Promise.all(
      sessions.map((s, i) =>
        post(agents[i % SOURCES]!, url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'sleep', arguments: { ms: 300 } } }), s.session),
      ),
    );
    expect(calls.filter((r) => r.status !== 200).map((r) => r.status)).toEqual([]);
  } finally {
    for (const agent of agents) agent.destroy();
  }
  // A refused connect may have been retried on another socket; none may have been the last try.
  expect(readFileSync(stack.errorLog, 'utf8').match(/no live upstreams.*/g) ?? []).toEqual([]);
  expect(workerCrashes(stack)).toEqual([]);
}, 60_000);

test(`${CALLS} WebSockets send a call at once: none lost on the hop to the backend, no worker dies`, async () => {
  const url = stack.servers.demo!.replace(/^http/, 'ws');
  const sockets: WebSocket[] = [];
  try {
    // Opened 100 at a time, as clients arriving over a while would be.
    for (let i = 0; i < CALLS; i += 100) {
      sockets.push(
        ...(await Promise.all(
          Array.from({ length: 100 }, (_, j) =>
            new Promise<WebSocket>((resolve, reject) => {
              const ws = new WebSocket(url, 'mcp', { perMessageDeflate: false, localAddress: `127.0.2.${((i + j) % SOURCES) + 1}` });
              ws.once('open', () => resolve(ws));
              ws.once('error', reject);
            }),
          ),
        )),
      );
    }
    const replies = sockets.map(
      (ws) =>
        new Promise<string>((resolve) => {
          ws.on('message', (data) => {
            const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
            if (message.id === 2) resolve(message.result ? 'ok' : 'error');
          });
          ws.once('close', (code) => resolve(`closed ${code}`));
        }),
    );
    for (const ws of sockets) {
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INITIALIZE_PARAMS }));
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'sleep', arguments: { ms: 300 } } }));
    }
    const outcomes = await Promise.all(replies);
    expect(outcomes.filter((outcome) => outcome !== 'ok')).toEqual([]);
  } finally {
    for (const ws of sockets) ws.terminate();
  }
  expect(readFileSync(stack.errorLog, 'utf8').match(/no live upstreams.*/g) ?? []).toEqual([]);
  expect(workerCrashes(stack)).toEqual([]);
}, 60_000);
