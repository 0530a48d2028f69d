import type { JSONRPCMessage, MessageExtraInfo, Transport } from '@modelcontextprotocol/server';
import { TransportMiddleware } from '../server/transport-middleware.js';

/**
 * Methods the SDK's `serveStdio` entry answers itself on a 2026-pinned connection instead of
 * passing them to the instance: they always go through the entry.
 */
const ENTRY_SERVED = new Set(['initialize', 'subscriptions/listen']);

/**
 * The transport a server's pinned 2026-era instance is served on through the SDK's `serveStdio`
 * entry (src/http/modern.ts), with a shortcut for the messages the entry only passes on.
 *
 * Why: once the entry has built and connected its instance, it hands every message other than
 * `initialize` and `subscriptions/listen` to the instance's connection unchanged, after an async
 * queue and three zod checks of the whole message (each a full schema parse): about a fifth of
 * the backend's CPU for a quick `tools/call`. httmcp has already classified and checked each
 * request (envelope, version, standard headers, methods removed in 2026) before delivery, so
 * those messages go straight to the instance's connection (`server.transport.onmessage`, which
 * is what the entry calls), exactly as the entry would deliver them. Until the instance is
 * connected, and for the methods the entry serves, messages take the entry's way. Replies are
 * untouched: they leave through the entry's connection as before.
 */
export class EntryShortcut extends TransportMiddleware {
  /** The instance's own connection, once the entry has connected it (see {@link attach}). */
  private connection: (() => Transport | undefined) | undefined;
  private closed = false;

  /**
   * Tells where the instance's connection is found (`() => server.server.transport`): undefined
   * until the entry has connected the instance, which the entry does before it delivers
   * anything to it.
   */
  attach(connection: () => Transport | undefined): void {
    this.connection = connection;
  }

  override close(): Promise<void> {
    this.closed = true;
    return super.close();
  }

  protected override receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    if (!this.closed && 'method' in message && !ENTRY_SERVED.has(message.method)) {
      const deliver = this.connection?.()?.onmessage;
      // No extra: the entry passes none to a pinned instance either (handlers read the
      // request's facts from the multiplexing transport).
      if (deliver) return deliver(message);
    }
    this.onmessage?.(message, extra);
  }
}
