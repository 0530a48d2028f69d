import type { JSONRPCMessage, MessageExtraInfo, RequestId, Transport, TransportSendOptions } from '@modelcontextprotocol/server';
import { TransportMiddleware } from '../server/transport-middleware.js';

/**
 * Methods the SDK's `serveStdio` entry answers itself on a 2026-pinned connection instead of
 * passing them to the instance: they always go through the entry.
 */
const ENTRY_SERVED = new Set(['initialize', 'subscriptions/listen']);

/** Tunables of an {@link EntryShortcut}. */
export interface EntryShortcutOptions {
  /**
   * False: every message takes the entry's way, both ways (what tests compare the shortcut
   * against). Default true.
   */
  enabled?: boolean;
}

/**
 * The transport a server's pinned 2026-era instance is served on through the SDK's `serveStdio`
 * entry (src/http/modern.ts), with a shortcut, both ways, for the messages the entry only
 * passes on.
 *
 * Why: once the entry has built and connected its instance, it hands every message other than
 * `initialize` and `subscriptions/listen` to the instance's connection unchanged, after an async
 * queue and three zod checks of the whole message (each a full schema parse): about a fifth of
 * the backend's CPU for a quick `tools/call`. httmcp has already classified and checked each
 * request (envelope, version, standard headers, methods removed in 2026) before delivery, so
 * those messages go straight to the instance's connection (`server.transport.onmessage`, which
 * is what the entry calls), exactly as the entry would deliver them. Until the instance is
 * connected, and for the methods the entry serves, messages take the entry's way.
 *
 * Replies (results and errors) of requests that took the shortcut come back the same way: the
 * connection's `send` passes a message without a `method` to the entry's transport (this one)
 * unchanged, after two more whole-message zod checks that only find out whether to settle a
 * request the entry delivered itself, and a listen check that only concerns notifications.
 * So those replies go straight to {@link send}; notifications (progress, logs, `list_changed`,
 * which the entry routes to its listen streams), replies of requests the entry delivered, and
 * anything sent after the connection closed (the entry drops it) still take the entry's way.
 */
export class EntryShortcut extends TransportMiddleware {
  /** The instance's own connection, once the entry has connected it (see {@link attach}). */
  private connection: (() => Transport | undefined) | undefined;
  /** The connection whose replies take the shortcut (see {@link shortcutReplies}). */
  private shortcut: Transport | undefined;
  /** Requests the entry delivered itself (before the instance was connected): their replies settle its bookkeeping. */
  private readonly viaEntry = new Set<RequestId>();
  private closed = false;
  private readonly enabled: boolean;

  constructor(inner: Transport, options: EntryShortcutOptions = {}) {
    super(inner);
    this.enabled = options.enabled ?? true;
  }

  /**
   * Tells where the instance's connection is found (`() => server.server.transport`): undefined
   * until the entry has connected the instance, which the entry does before it delivers
   * anything to it.
   */
  attach(connection: () => Transport | undefined): void {
    if (this.enabled) this.connection = connection;
  }

  override close(): Promise<void> {
    this.closed = true;
    return super.close();
  }

  override send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.viaEntry.size > 0 && !('method' in message)) this.viaEntry.delete(message.id as RequestId);
    return super.send(message, options);
  }

  protected override receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    if (!this.closed && 'method' in message && !ENTRY_SERVED.has(message.method)) {
      const connection = this.connection?.();
      const deliver = connection?.onmessage;
      if (deliver) {
        if (connection !== this.shortcut) this.shortcutReplies(connection!);
        // No extra: the entry passes none to a pinned instance either (handlers read the
        // request's facts from the multiplexing transport).
        return deliver(message);
      }
    }
    if ('method' in message) {
      if ('id' in message) this.viaEntry.add(message.id);
      // A cancelled request gets no reply to settle it.
      else if (message.method === 'notifications/cancelled' && this.viaEntry.size > 0) this.viaEntry.delete((message.params as { requestId?: RequestId } | undefined)?.requestId as RequestId);
    }
    this.onmessage?.(message, extra);
  }

  /** Sends the replies `connection` is given for requests that took the shortcut straight here. */
  private shortcutReplies(connection: Transport): void {
    this.shortcut = connection;
    const entryWay = connection.send.bind(connection);
    connection.send = (message, options) => {
      // A closed connection is no longer the instance's (the SDK clears it): the entry drops the message.
      if ('method' in message || this.connection?.() !== connection || (this.viaEntry.size > 0 && this.viaEntry.has(message.id as RequestId))) {
        return entryWay(message, options);
      }
      return this.send(message, options);
    };
  }
}
