import type { JSONRPCMessage, TransportSendOptions } from '@modelcontextprotocol/server';
import type { Logger } from '../log.js';
import type { NchanPublisher } from '../nchan/publisher.js';
import { TransportMiddleware } from '../server/transport-middleware.js';
import { LIST_KINDS, listChannel, mentionsStandIn, resourceChannel, type ListKind } from './channels.js';
import { stamped } from './listen-endpoint.js';

/**
 * The publishing side of `subscriptions/listen` (MCP 2026-07-28): one publish per event to the
 * shared channel every listen stream of that event subscribes to, on every nginx node (nchan's
 * Redis store carries it to the others), however many listen.
 */
export class ListenFanout {
  constructor(
    readonly server: string,
    private readonly publisher: NchanPublisher,
    private readonly logger: Logger,
  ) {}

  /** `notifications/{kind}/list_changed` to every listen stream that asked for it. */
  async listChanged(kind: ListKind): Promise<void> {
    await this.publish(listChannel(this.server, kind), stamped(`notifications/${kind}/list_changed`));
  }

  /** `notifications/resources/updated` to every listen stream subscribed to `uri`. */
  async resourceUpdated(uri: string): Promise<void> {
    if (mentionsStandIn(uri)) {
      this.logger.warn({ server: this.server, uri }, 'resources/updated not sent to listen streams: the URI contains the reserved @@SUBSCRIPTION_ID@@');
      return;
    }
    await this.publish(resourceChannel(this.server, uri), stamped('notifications/resources/updated', { uri }));
  }

  /** Failures are logged by the publisher; an event nobody could get is not the caller's error. */
  private async publish(channel: string, message: string): Promise<void> {
    await this.publisher.publish(channel, message).catch(() => undefined);
  }
}

const LIST_CHANGED = new Map<string, ListKind>(LIST_KINDS.map((kind) => [`notifications/${kind}/list_changed`, kind]));

/**
 * Between an SDK server and its transport: every `list_changed` the server sends for all its
 * clients (no related request) also goes to the server's listen streams, once. Put it on ONE
 * server instance per HTTMCP server, so that each event is published once.
 */
export class ListChangedFanout extends TransportMiddleware {
  constructor(
    inner: ConstructorParameters<typeof TransportMiddleware>[0],
    private readonly fanout: ListenFanout,
  ) {
    super(inner);
  }

  // Not async and no rest parameters: every reply of the server passes here, and those cost an
  // array, a promise and an async frame each.
  override send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const kind = 'method' in message && options?.relatedRequestId === undefined ? LIST_CHANGED.get(message.method) : undefined;
    if (kind === undefined) return this.inner.send(message, options);
    return this.both(message, options, kind);
  }

  private async both(message: JSONRPCMessage, options: TransportSendOptions | undefined, kind: ListKind): Promise<void> {
    await Promise.all([this.inner.send(message, options), this.fanout.listChanged(kind)]);
  }
}
