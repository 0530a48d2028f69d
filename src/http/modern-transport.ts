import type { AuthInfo, JSONRPCMessage, JSONRPCNotification, JSONRPCRequest, MessageExtraInfo, RequestId, Transport, TransportSendOptions } from '@modelcontextprotocol/server';
import type { Principal } from '../auth/principal.js';

/** Request headers as Node gives them. */
export type Headers = Record<string, string | string[] | undefined>;

/** Where the messages of one 2026-era request go: its HTTP exchange, then maybe an nchan stream. */
export interface ExchangeSink {
  /** The request's reply (result or error), its id already the client's own. */
  reply(body: string, errorCode: number | undefined): void;
  /** A message tied to the request that comes before its reply (progress, log). */
  event(body: string): void;
}

/** Everything the backend keeps about one 2026-era request while it runs (and nothing after). */
export interface Exchange {
  /** The client's JSON-RPC id, restored on every message back. */
  readonly id: RequestId;
  /** Who sent it ('' for anonymous clients): per-principal bounds. */
  readonly principal: string;
  /** The client's HTTP headers (handlers read them as `ctx.headers`). */
  readonly headers: Headers;
  /** The principal the edge verified, when authentication is on (`ctx.auth`). */
  readonly auth: Principal | undefined;
  /** The same in the SDK's shape, for transport middleware below the instance (scopes). */
  readonly authInfo?: AuthInfo | undefined;
  readonly sink: ExchangeSink;
  /** Its {@link ModernRequestFacts}, made on first ask: several layers ask for each request. */
  facts?: ModernRequestFacts;
}

/** What handlers of a request delivered by a {@link MultiplexTransport} can learn about it. */
export interface ModernRequestFacts {
  /** 2026-era requests belong to no session. */
  readonly session: undefined;
  readonly headers: Headers;
  readonly auth: Principal | undefined;
  /** The same in the SDK's shape (the bearer token behind it serves OpenAPI token exchange). */
  readonly authInfo: AuthInfo | undefined;
  readonly principal: string;
  /** The id the client gave the request (handlers see an internal one as `ctx.mcpReq.id`). */
  readonly clientId: RequestId;
}

/** Ids are unique in the process, not only per server: logs and metrics can name a request by it. */
let nextInternalId = 1;

/**
 * The one connection of a server's pinned 2026-era SDK instance (see `serveStdio` in
 * modern.ts), carrying every HTTP exchange of that server at once.
 *
 * Each request is delivered with a process-unique id of its own (clients all count from 0) and
 * the reply is routed back to its exchange by that id, with the client's id restored: so one
 * `McpServer` serves every 2026 request, and the exchange table is the only per-request state,
 * freed when the reply leaves or the request is cancelled. Nothing is kept per idle client.
 */
export class MultiplexTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;
  /**
   * Notifications of the instance tied to no request (`list_changed` and the like): 2026
   * clients get them on `subscriptions/listen` streams, which whoever sets this serves.
   */
  onunrelated?: (notification: JSONRPCNotification) => void;

  private readonly exchanges = new Map<number, Exchange>();

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.exchanges.clear();
    this.onclose?.();
  }

  /** Requests running now. */
  get size(): number {
    return this.exchanges.size;
  }

  /** Hands a request to the instance; returns the internal id it runs under. */
  deliver(request: JSONRPCRequest, exchange: Exchange): number {
    const internal = nextInternalId++;
    this.exchanges.set(internal, exchange);
    this.onmessage?.({ ...request, id: internal }, exchange.authInfo ? { authInfo: exchange.authInfo } : undefined);
    return internal;
  }

  /**
   * Ends a running request: its handler's signal aborts (`notifications/cancelled` for the
   * internal id) and nothing more of it reaches its sink.
   */
  cancel(internal: number, reason: string): void {
    if (!this.exchanges.delete(internal)) return;
    const cancelled: JSONRPCNotification = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: internal, reason } };
    this.onmessage?.(cancelled);
  }

  /** The facts of a running request by the id the instance knows it by (for httmcp's `Context`). */
  requestFacts(id: RequestId): ModernRequestFacts | undefined {
    const exchange = typeof id === 'number' ? this.exchanges.get(id) : undefined;
    if (!exchange) return undefined;
    return (exchange.facts ??= { session: undefined, headers: exchange.headers, auth: exchange.auth, authInfo: exchange.authInfo, principal: exchange.principal, clientId: exchange.id });
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if ('method' in message) {
      // Progress and log messages of a request; those of a finished or cancelled one are dropped
      // (2026 has no session to deliver them to later). Messages tied to no request
      // (list_changed) reach clients through subscriptions/listen, which the instance never
      // serves here.
      const related = options?.relatedRequestId;
      if (related === undefined) {
        if (!('id' in message)) this.onunrelated?.(message);
        return;
      }
      const exchange = typeof related === 'number' ? this.exchanges.get(related) : undefined;
      if (exchange && !('id' in message)) exchange.sink.event(JSON.stringify(message));
      return;
    }
    const internal = message.id;
    const exchange = typeof internal === 'number' ? this.exchanges.get(internal) : undefined;
    if (!exchange) return; // cancelled: its client left
    this.exchanges.delete(internal as number);
    const errorCode = 'error' in message ? message.error.code : undefined;
    exchange.sink.reply(JSON.stringify({ ...message, id: exchange.id }), errorCode);
  }
}

/** The pinned instances' transports, by instance (see {@link modernRequestFacts}). */
const transports = new WeakMap<object, MultiplexTransport>();

/** Records that `server` is served by `transport` (the SDK's entry hides its own transport). */
export function servedBy(server: object, transport: MultiplexTransport): void {
  transports.set(server, transport);
}

/**
 * The facts of request `id` when `server` is a pinned 2026-era instance and the request runs:
 * what httmcp's `Context` reads for `ctx.headers`, `ctx.auth` and `ctx.requestId` (the SDK's
 * `serveStdio` entry passes handlers no transport facts of its own).
 */
export function modernRequestFacts(server: object, id: RequestId): ModernRequestFacts | undefined {
  return transports.get(server)?.requestFacts(id);
}
