import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { pino } from 'pino';
import WebSocket from 'ws';
import { createExampleServers } from '../../examples/index.js';
import { startStack, type Stack, type StackOptions } from '../../src/index.js';

// Node 20 has no global WebSocket; the SDK's WebSocketClientTransport needs one.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

/** The three ways an SDK client reaches `/mcp/{name}`. */
export const TRANSPORTS = ['websocket', 'sse', 'streamable'] as const;
export type TransportKind = (typeof TRANSPORTS)[number];

/** A real nginx+nchan stack on an ephemeral port with the example servers (demo, notes). */
export async function startTestStack(options: Partial<StackOptions> = {}): Promise<Stack> {
  return startStack({
    servers: createExampleServers(),
    port: 0,
    workerProcesses: 1,
    logger: pino({ level: process.env.HTTMCP_TEST_LOG ?? 'silent' }),
    ...options,
    // Tests open hundreds of sessions from 127.0.0.1: per-client limits out of the way unless a
    // test sets them (edge-limits.test.ts).
    clientLimits: { connections: 65535, ratePerSecond: 1_000_000, burst: 1_000_000, ...options.clientLimits },
    principalLimits: { connections: 65535, ratePerSecond: 1_000_000, burst: 1_000_000, toolRatePerSecond: 1_000_000, toolBurst: 1_000_000, ...options.principalLimits },
    // Tests check that handlers of a client that left are aborted; do not wait 10 s for it.
    gateway: { livenessIntervalMs: 2000, ...options.gateway },
  });
}

/** An official SDK client transport of `kind` for `url` (`http://.../mcp/{name}`). */
export function clientTransport(kind: TransportKind, url: string): Transport {
  switch (kind) {
    case 'websocket':
      return new WebSocketClientTransport(new URL(url.replace(/^http/, 'ws')));
    case 'sse':
      return new SSEClientTransport(new URL(url));
    case 'streamable':
      return new StreamableHTTPClientTransport(new URL(url));
  }
}

/** An initialized SDK `Client` on `kind`. */
export async function connectClient(kind: TransportKind, url: string, capabilities: Record<string, unknown> = {}): Promise<Client> {
  const client = new Client({ name: `test-${kind}`, version: '1.0.0' }, { capabilities });
  await client.connect(clientTransport(kind, url));
  return client;
}

/**
 * Lines of nginx's error log saying a worker died on a signal (a crash). Tests assert this is
 * empty after they have thrown bad input at the stack.
 */
export function workerCrashes(stack: Stack): string[] {
  return readFileSync(stack.errorLog, 'utf8')
    .split('\n')
    .filter((line) => /exited on signal|worker process \d+ exited with code [^0]/.test(line));
}

const progressTaps = new WeakMap<Client, number[]>();

/**
 * Calls a tool with a progress token and returns its result with every progress value the
 * transport delivered for it, in order. The SDK client's own `onprogress` can miss the last one
 * when it arrives in the same read as the result: it dispatches notifications a microtask later
 * than responses, so the response retires the handler first (typescript-sdk issue #2580). This
 * reads the transport's messages instead, which is what the server side is answerable for.
 * Calls on one client must not overlap.
 */
export async function callToolWithProgress(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  options: { timeout?: number } = {},
): Promise<{ result: Awaited<ReturnType<Client['callTool']>>; progress: number[] }> {
  let seen = progressTaps.get(client);
  if (!seen) {
    const transport = client.transport!;
    const forward = transport.onmessage!;
    const tap: number[] = [];
    transport.onmessage = (message, extra) => {
      if ('method' in message && message.method === 'notifications/progress') tap.push((message.params as { progress: number }).progress);
      forward.call(transport, message, extra);
    };
    progressTaps.set(client, (seen = tap));
  }
  seen.length = 0;
  const result = await client.callTool({ name, arguments: args }, undefined, { ...options, onprogress: () => undefined });
  return { result, progress: [...seen] };
}
