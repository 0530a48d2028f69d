/** Shared helpers of the unit tests (not a test file itself). */
import { Writable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/server';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import type { Logger } from '../../src/log.js';
import type { ChannelInfo, NchanPublisher } from '../../src/nchan/publisher.js';
import type { HTTMCP } from '../../src/server/httmcp.js';

export { waitFor } from '../helpers/wait.js';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A client connected in-process to `server`, with every message the server sent it. */
export interface Connection {
  client: Client;
  mcp: McpServer;
  /** Messages the server sent to this client, in order. */
  received: JSONRPCMessage[];
  close(): Promise<void>;
}

export async function connectClient(server: HTTMCP, options: { sessionId?: string } = {}): Promise<Connection> {
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  if (options.sessionId !== undefined) serverTransport.sessionId = options.sessionId;
  const mcp = await server.connect(serverTransport);
  const client = new Client({ name: 'unit-test-client', version: '1.0.0' });
  await client.connect(clientTransport);
  const received: JSONRPCMessage[] = [];
  const deliver = clientTransport.onmessage!;
  clientTransport.onmessage = (message, extra) => {
    received.push(message);
    deliver(message, extra);
  };
  return { client, mcp, received, close: () => client.close() };
}

/** One call a {@link FakePublisher} received. */
export type PublisherCall =
  | { op: 'publish'; channel: string; body: string; event: string }
  | { op: 'info'; channel: string }
  | { op: 'delete'; channel: string };

/**
 * Stands in for nchan's publish listener: records every call. `subscribers` says what `info`
 * reports for a channel (default: one subscriber, so streams get deleted at once).
 */
export class FakePublisher {
  readonly calls: PublisherCall[] = [];
  subscribers = new Map<string, number>();
  /** When set, publishes reject with this error. */
  failWith: Error | undefined;

  async publish(channel: string, body: string, event = 'message'): Promise<ChannelInfo> {
    this.calls.push({ op: 'publish', channel, body, event });
    if (this.failWith) throw this.failWith;
    return { messages: 1, subscribers: this.subscribers.get(channel) ?? 1 };
  }

  async info(channel: string): Promise<ChannelInfo | undefined> {
    this.calls.push({ op: 'info', channel });
    return { messages: 1, subscribers: this.subscribers.get(channel) ?? 1 };
  }

  async delete(channel: string): Promise<void> {
    this.calls.push({ op: 'delete', channel });
  }

  /** The parsed bodies published to `channel`. */
  /** The JSON-RPC messages published (to `channel`), without Streamable HTTP priming events. */
  published(channel?: string): Array<Record<string, unknown>> {
    return this.bodies(channel)
      .filter((body) => body !== '')
      .map((body) => JSON.parse(body) as Record<string, unknown>);
  }

  /** Every body published (to `channel`), in order, priming events (empty bodies) included. */
  bodies(channel?: string): string[] {
    return this.calls
      .filter((c): c is Extract<PublisherCall, { op: 'publish' }> => c.op === 'publish' && (channel === undefined || c.channel === channel))
      .map((c) => c.body);
  }

  asPublisher(): NchanPublisher {
    return this as unknown as NchanPublisher;
  }
}

/** A real pino logger whose records are kept in memory. */
export function captureLogger(): { logger: Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) records.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: 'trace' }, stream), records };
}
