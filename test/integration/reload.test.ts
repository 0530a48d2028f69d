/**
 * `nginx -s reload` (SIGHUP to the master) while clients of every transport are mid-call and
 * their streams are being pushed to. Before the fixed nchan build (scripts/nchan-patches/03-*),
 * the old workers died on signal 11 when worker_shutdown_timeout expired with any event stream
 * open, and every stream on them was deaf to what the new workers published until then.
 *
 * What a reload must cost (docs/operations.md, "Reloading nginx"):
 * - legacy SSE and Streamable HTTP: nothing. Their streams are closed at once and resume on a new
 *   worker with Last-Event-ID; every in-flight call is answered, with all of its progress, and
 *   every notification pushed across the reload arrives, once.
 * - WebSocket: the socket belongs to its worker and closes (1001); the SDK client is told at once
 *   (its pending calls fail with "Connection closed"), and a new connection works.
 */
import { jest } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { ErrorCode, LoggingMessageNotificationSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import WebSocket from 'ws';
import { z } from 'zod';
import { createExampleServers } from '../../examples/index.js';
import { HTTMCP, resumingEventSourceFetch, type Stack } from '../../src/index.js';
import { callToolWithProgress, connectClient, startTestStack, workerCrashes } from '../helpers/stack.js';

const DEBIAN_MODULE = '/usr/lib/nginx/modules/ngx_nchan_module.so';
/** Two workers: the crash needs a second worker (its IPC pipe is what had no read handler). */
const WORKERS = 2;

/** Pushes numbered notifications to the calling session after the call has returned. */
function tickServer(): HTTMCP {
  return new HTTMCP({ name: 'ticks', version: '1.0.0' }).tool(
    'tick',
    { input: { count: z.number().int().max(100), everyMs: z.number().int().max(5000) } },
    ({ count, everyMs }, ctx) => {
      void (async () => {
        for (let tick = 0; tick < count; tick++) {
          await delay(everyMs);
          await ctx.push({ method: 'notifications/message', params: { level: 'info', logger: 'ticks', data: { tick } } });
        }
      })();
      return `ticking ${count} times`;
    },
  );
}

/** Lines of the error log about workers that exited (cleanly or not). */
function workerExits(stack: Stack): string[] {
  return readFileSync(stack.errorLog, 'utf8')
    .split('\n')
    .filter((line) => /worker process \d+ exited/.test(line));
}

/** SIGHUP to the master, as `nginx -s reload` sends it. */
function reload(stack: Stack): void {
  process.kill(stack.nginxPid, 'SIGHUP');
}

/** Waits until `WORKERS` more workers than `before` have exited (the reload's old ones). */
async function oldWorkersGone(stack: Stack, before: number, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  while (workerExits(stack).length < before + WORKERS) {
    if (Date.now() > deadline) throw new Error(`old workers still running after ${timeoutMs} ms:\n${workerExits(stack).join('\n')}`);
    await delay(100);
  }
  return workerExits(stack).slice(before);
}

async function connectSse(url: string): Promise<Client> {
  const client = new Client({ name: 'reload-sse', version: '1.0.0' });
  await client.connect(new SSEClientTransport(new URL(url), { eventSourceInit: { fetch: resumingEventSourceFetch() } }));
  return client;
}

/** The tick numbers a client has been pushed, in arrival order. */
function collectTicks(client: Client): number[] {
  const ticks: number[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    const data = notification.params.data as { tick?: number };
    if (notification.params.logger === 'ticks' && typeof data.tick === 'number') ticks.push(data.tick);
  });
  return ticks;
}

function text(result: Awaited<ReturnType<Client['callTool']>>): string {
  return (result.content as Array<{ type: string; text?: string }>).map((part) => part.text ?? '').join('');
}

// One retry, for a known nchan fault this test can hit (about 1 run in 20 on a loaded 2-core
// machine): a legacy SSE stream resumed on a new worker may stop receiving after a few events
// while its channel keeps filling (docs/operations.md, "nginx is reloaded";
// bench/reload-resume.jest.ts reproduces it). Two failures in a row still fail the suite.
jest.retryTimes(1, { logErrorsBeforeRetry: true });

const STEPS = 8;
const TICKS = 10;

test('a reload mid-call: no worker dies, SSE and Streamable HTTP lose nothing, WebSocket clients are told and reconnect', async () => {
  const stack = await startTestStack({
    servers: [...createExampleServers(), tickServer()],
    workerProcesses: WORKERS,
    workerShutdownTimeout: '30s',
    // The production interval: with the tests' 2 s one a sweep's verdict would depend on how
    // fast a loaded machine lets the clients reconnect (streams closed 1 s after the reload,
    // then the 1 s `retry:`), not on the reload.
    gateway: { livenessIntervalMs: 10_000 },
  });
  // nchan patch 03 gives a channel's first messages in a new worker the ids of the worker's start
  // + 3 s, past what the old workers gave; workers started within the same second would share it.
  const reloadNotBefore = Date.now() + 1100;
  const clients: Client[] = [];
  try {
    const demo = stack.servers.demo!;
    const ticksUrl = stack.servers.ticks!;
    // Resumable clients: legacy SSE and Streamable HTTP (whose standalone GET stream gets the ticks).
    const resumable = [await connectSse(demo), await connectSse(demo), await connectClient('streamable', demo), await connectClient('streamable', demo)];
    const tickers = [await connectSse(ticksUrl), await connectClient('streamable', ticksUrl)];
    const sockets = [await connectClient('websocket', demo), await connectClient('websocket', demo)];
    clients.push(...resumable, ...tickers, ...sockets);
    const ticks = tickers.map(collectTicks);
    const closed = sockets.map((client) => new Promise<void>((resolve) => (client.onclose = resolve)));
    // A raw WebSocket, to read the close code the SDK client does not show.
    const raw = new WebSocket(demo.replace(/^http/, 'ws'), 'mcp');
    await new Promise((resolve, reject) => raw.once('open', resolve).once('error', reject));
    const rawClose = new Promise<number>((resolve) => raw.once('close', (code) => resolve(code)));
    await delay(300); // the Streamable clients' GET streams attach

    // In flight across the reload: a 2 s task with progress on every client, and ticks pushed to
    // the ticker sessions' streams every 200 ms.
    const exitsBefore = workerExits(stack).length;
    const tasks = resumable.map((client) => callToolWithProgress(client, 'long_task', { steps: STEPS, stepMs: 250 }, { timeout: 20_000 }));
    const socketTasks = sockets.map((client) =>
      client.callTool({ name: 'long_task', arguments: { steps: STEPS, stepMs: 250 } }, undefined, { timeout: 20_000 }).then(
        () => 'answered',
        (error: unknown) => error,
      ),
    );
    for (const client of tickers) expect(text(await client.callTool({ name: 'tick', arguments: { count: TICKS, everyMs: 200 } }))).toBe(`ticking ${TICKS} times`);
    await delay(Math.max(600, reloadNotBefore - Date.now()));
    reload(stack);

    // Every in-flight call on a resumable transport is answered, with all of its progress.
    for (const { result, progress } of await Promise.all(tasks)) {
      expect(text(result)).toBe(`finished ${STEPS} steps`);
      expect(progress).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    }
    // Every tick arrives once, in order, on the resumed streams (well before the 30 s timeout
    // would have ended a stream left on an old worker).
    const deadline = Date.now() + 10_000;
    while (ticks.some((list) => list.length < TICKS) && Date.now() < deadline) await delay(100);
    await delay(300);
    expect(ticks).toEqual(tickers.map(() => Array.from({ length: TICKS }, (_, i) => i)));

    // WebSocket clients are told: the socket closes with 1001 (going away), pending calls fail
    // at once with "Connection closed" (not a timeout), and a new connection works.
    await Promise.all(closed);
    expect(await rawClose).toBe(1001);
    for (const outcome of await Promise.all(socketTasks)) {
      expect(outcome).toBeInstanceOf(McpError);
      expect((outcome as McpError).code).toBe(ErrorCode.ConnectionClosed);
    }
    const again = await connectClient('websocket', demo);
    clients.push(again);
    expect(text(await again.callTool({ name: 'add', arguments: { a: 2, b: 3 } }))).toBe('5');

    // The resumable sessions go on without a new initialize.
    for (const client of resumable) expect(text(await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } }))).toBe('2');

    // The old workers are gone long before worker_shutdown_timeout (30 s): their streams were
    // closed, not left open until nginx cut them.
    const exits = await oldWorkersGone(stack, exitsBefore, 15_000);
    expect(exits.filter((line) => !/exited with code 0$/.test(line))).toEqual([]);
    expect(workerCrashes(stack)).toEqual([]);
  } finally {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await stack.stop();
  }
}, 60_000);

/**
 * worker_shutdown_timeout expiring with streams open: the old worker still holds a call it proxies
 * upstream (held inline by a long inline budget), so nginx cuts what is left when the timeout
 * expires, calling the read handler of every open connection. Debian's nchan crashes there.
 */
const TIMEOUT_CASES = [
  { module: 'the fixed build', path: undefined, crashes: false },
  ...(existsSync(DEBIAN_MODULE) ? [{ module: "Debian's module (control)", path: DEBIAN_MODULE, crashes: true }] : []),
];

test.each(TIMEOUT_CASES)('worker_shutdown_timeout expiring with event streams open, $module: crash $crashes', async ({ path, crashes }) => {
  const saved = process.env.HTTMCP_NCHAN_MODULE;
  if (path) process.env.HTTMCP_NCHAN_MODULE = path;
  let stack: Stack;
  try {
    stack = await startTestStack({ workerProcesses: WORKERS, workerShutdownTimeout: '1s', gateway: { inlineBudgetMs: 10_000 } });
  } finally {
    if (saved === undefined) delete process.env.HTTMCP_NCHAN_MODULE;
    else process.env.HTTMCP_NCHAN_MODULE = saved;
  }
  const clients: Client[] = [];
  try {
    clients.push(await connectSse(stack.servers.demo!), await connectClient('streamable', stack.servers.demo!));
    await delay(300);
    const exitsBefore = workerExits(stack).length;
    // Held upstream for 3 s, so the old worker is still busy when the 1 s timeout expires.
    const held = clients[1]!.callTool({ name: 'sleep', arguments: { ms: 3000 } }, undefined, { timeout: 10_000 }).catch(() => 'cut');
    await delay(300);
    reload(stack);
    await oldWorkersGone(stack, exitsBefore, 15_000);
    await held;
    if (crashes) expect(workerCrashes(stack).join('\n')).toMatch(/exited on signal 11/);
    else expect(workerCrashes(stack)).toEqual([]);
  } finally {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await stack.stop();
  }
}, 60_000);
