/**
 * A bare SDK v2 server pinned to the 2026-07-28 era through the SDK's public `serveStdio` entry,
 * on an in-memory transport that multiplexes requests the way httmcp's HTTP path does (each
 * request gets a process-unique id on the way in, its reply is routed back by it). For tests of
 * the 2026 machinery without nginx (pattern: bench/era2026-spike-server.mjs).
 */
import type { JSONRPCMessage, McpServer, RequestId, Transport, TransportSendOptions } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';

export const MODERN = '2026-07-28';

/** A JSON-RPC reply as the client would get it (its own id restored). */
export interface Reply {
  jsonrpc: '2.0';
  id: RequestId;
  result?: Record<string, unknown> & { resultType?: string };
  error?: { code: number; message: string; data?: unknown };
}

/** `params` with the 2026 per-request envelope in `_meta`. */
export function enveloped(params: Record<string, unknown>, capabilities: Record<string, unknown> = { elicitation: { form: {}, url: {} }, sampling: {}, roots: {} }) {
  const meta = (params._meta ?? {}) as Record<string, unknown>;
  return {
    ...params,
    _meta: {
      ...meta,
      'io.modelcontextprotocol/protocolVersion': MODERN,
      'io.modelcontextprotocol/clientCapabilities': capabilities,
      'io.modelcontextprotocol/clientInfo': { name: 'pinned-2026-test', version: '1.0.0' },
    },
  };
}

/** The multiplexing transport; `sent` keeps what was not a reply (what httmcp would publish). */
export class MuxTransport implements Transport {
  onmessage?: Transport['onmessage'];
  onclose?: () => void;
  onerror?: (error: Error) => void;
  /** Messages that were not replies (progress, logs...), with the internal id they relate to. */
  readonly sent: { message: JSONRPCMessage; relatedRequestId?: RequestId }[] = [];
  private readonly pending = new Map<number, { id: RequestId; resolve: (reply: Reply) => void }>();
  private readonly principals = new Map<number, string>();
  private nextId = 1;

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.onclose?.();
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if ('id' in message && message.id !== undefined && ('result' in message || 'error' in message)) {
      const exchange = this.pending.get(message.id as number);
      if (!exchange) return;
      this.pending.delete(message.id as number);
      this.principals.delete(message.id as number);
      exchange.resolve({ ...(message as unknown as Reply), id: exchange.id });
      return;
    }
    this.sent.push({ message, ...(options?.relatedRequestId === undefined ? {} : { relatedRequestId: options.relatedRequestId }) });
  }

  /** Delivers one request as `principal`; resolves with its reply. */
  request(method: string, params: Record<string, unknown>, principal = '', id: RequestId = 1): Promise<Reply> {
    const internal = this.nextId++;
    this.principals.set(internal, principal);
    return new Promise((resolve) => {
      this.pending.set(internal, { id, resolve });
      this.onmessage?.({ jsonrpc: '2.0', id: internal, method, params } as JSONRPCMessage);
    });
  }

  /** Who sent the request with internal id `id`. */
  principalOf(id: RequestId): string {
    return this.principals.get(id as number) ?? '';
  }
}

/** Serves `server` pinned to 2026-07-28 on `transport` (wrapped by `wrap`, e.g. a RetryIntake). */
export function servePinned(server: McpServer, transport: Transport): { close(): Promise<void> } {
  return serveStdio(() => server, { transport, legacy: 'reject', onerror: () => undefined });
}
