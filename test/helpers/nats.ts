import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connect, type NatsConnection } from 'nats';
import { z } from 'zod';
import { HTTMCP } from '../../src/index.js';
import { CLI, startCli } from './cli.js';
import { freePort } from '../../src/stack/stack.js';
import { NatsClientTransport, type NatsClientTransportOptions } from '../../src/transports/index.js';

/** The `httmcp` command, built: its `stdio` and `nats` subcommands. */
export const TRANSPORTS_CLI = CLI;

/** A `nats-server` of a test's own, on an ephemeral port of 127.0.0.1. */
export interface NatsTestServer {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** The nats-server binary: `$HTTMCP_NATS_SERVER`, the Debian package's, or the one on PATH. */
function natsServerBinary(): string {
  if (process.env.HTTMCP_NATS_SERVER) return process.env.HTTMCP_NATS_SERVER;
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
}

/** Starts `nats-server -a 127.0.0.1 -p PORT` and resolves once it accepts connections. */
export async function startNatsServer(): Promise<NatsTestServer> {
  const port = await freePort();
  const child = spawn(natsServerBinary(), ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d));
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`could not start nats-server (apt-get install nats-server): ${error.message}`)));
    child.once('exit', (code) => reject(new Error(`nats-server exited ${code}: ${log}`)));
  });
  await Promise.race([waitForPort(port, 10_000), exited]);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    process: child,
    stop: async () => {
      await stopProcess(child, 'SIGTERM');
    },
  };
}

/** Signals a child and waits for it to exit. */
export function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not accept connections on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A NATS connection that fails fast in tests. */
export function connectNats(url: string): Promise<NatsConnection> {
  return connect({ servers: url, maxReconnectAttempts: 0 });
}

/** An initialized SDK client over NATS to server `server`. */
export async function connectNatsClient(
  nc: NatsConnection,
  server: string,
  options: { capabilities?: Record<string, unknown>; transport?: Omit<NatsClientTransportOptions, 'server'> } = {},
): Promise<{ client: Client; transport: NatsClientTransport }> {
  const client = new Client({ name: 'test-nats', version: '1.0.0' }, { capabilities: options.capabilities ?? {} });
  const transport = new NatsClientTransport(nc, { server, ...options.transport });
  await client.connect(transport);
  return { client, transport };
}

/** A `nats` command process (the fixture CLI), with the JSON line it printed once serving. */
export interface NatsCliProcess {
  child: ChildProcess;
  info: { url: string; pid: number; servers: { name: string; subject: string; worker: string; queue: string }[] };
  stderr(): string;
}

/** Starts `httmcp nats [args] --json` and resolves once it serves. */
export function startNatsCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<NatsCliProcess> {
  return startCli<NatsCliProcess['info']>(['nats', ...args], env);
}

/** What the {@link createProbeServer} tools saw, for tests to assert on. */
export interface ProbeEvents {
  /** Handlers whose signal aborted: which process, which request. */
  aborted: { label: string; reason: string }[];
  /** Every run of `slow`, by process label. */
  runs: string[];
}

/**
 * A server whose tools exercise what a transport must carry: server-to-client requests,
 * cancellation, logging, late pushes, session identity and large results. `label` names the
 * process in results, so tests can tell which one handled a call.
 */
export function createProbeServer(label: string, events: ProbeEvents = { aborted: [], runs: [] }): { server: HTTMCP; events: ProbeEvents } {
  const server = new HTTMCP({ name: 'probe', version: '1.0.0' })
    .tool('where', {}, () => label)
    .tool('whoami', {}, (_args, ctx) => ({ label, sessionId: ctx.sessionId, clientHeader: ctx.headers['mcp-client-id'] }))
    .tool('slow', { input: { ms: z.number().int().min(0) } }, async ({ ms }, ctx) => {
      events.runs.push(label);
      await delay(ms, undefined, { signal: ctx.signal });
      return `${label} slept ${ms} ms`;
    })
    .tool('wait_for_cancel', {}, async (_args, ctx) => {
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) resolve();
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        setTimeout(resolve, 20_000).unref();
      });
      events.aborted.push({ label, reason: String(ctx.signal.reason ?? 'not aborted') });
      return 'never cancelled';
    })
    .tool('ask_model', { input: { prompt: z.string() } }, async ({ prompt }, ctx) => {
      const result = await ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 20 });
      return `${label}: ${result.content.type === 'text' ? result.content.text : '?'}`;
    })
    .tool('ask_user', {}, async (_args, ctx) => {
      const result = await ctx.elicit({
        message: 'Your name?',
        requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
      });
      return `${label}: ${result.action} ${String(result.content?.name ?? '')}`;
    })
    .tool('list_roots', {}, async (_args, ctx) => {
      const { roots } = await ctx.roots();
      return `${label}: ${roots.map((r) => r.uri).join(' ')}`;
    })
    .tool('chatty', {}, async (_args, ctx) => {
      await ctx.log('info', `${label} info`);
      await ctx.log('error', `${label} error`);
      return label;
    })
    .tool('later', {}, (_args, ctx) => {
      setTimeout(() => void ctx.push({ method: 'notifications/message', params: { level: 'info', data: `${label} later` } }), 100);
      return 'soon';
    })
    .tool('big', { input: { bytes: z.number().int().min(0) } }, ({ bytes }) => 'x'.repeat(bytes));
  return { server, events };
}
