import type { JSONRPCMessage, JSONRPCRequest, MessageExtraInfo, RequestId, Transport, TransportSendOptions } from '@modelcontextprotocol/server';
import { TransportMiddleware } from '../server/transport-middleware.js';
import type { RequestFacts, RequestFactsSource } from '../server/request-facts.js';
import { observeRequests, RequestObserver, type InstrumentOptions, type Observation } from './request-observer.js';

export type { InstrumentOptions } from './request-observer.js';

/**
 * `transport` with per-request metrics and a span per MCP request, or `transport` itself when
 * neither metrics nor tracing are on (then nothing runs per message). The session hub is told
 * by its {@link RequestObserver} directly (no layer); this is for every other transport (the
 * 2026-07-28 requests, a program's own).
 */
export function instrumentTransport(transport: Transport, options: InstrumentOptions): Transport {
  const observer = observeRequests(options);
  return observer ? new InstrumentedTransport(transport, observer) : transport;
}

/**
 * Transport middleware between a transport and the SDK server that tells a
 * {@link RequestObserver} when each request arrives and its reply leaves (once the transport
 * has sent it: a reply published to nchan is part of the request's time).
 */
export class InstrumentedTransport extends TransportMiddleware {
  private readonly open = new Map<RequestId, Observation>();

  constructor(
    inner: Transport,
    private readonly observer: RequestObserver,
  ) {
    super(inner);
    // This layer's own copies of the per-message hops that TransportMiddleware's code shares
    // with every layer (the message in, `sessionId`, `requestFacts`). A server's chain has four
    // layers without this one (ListChangedFanout, CacheHint, Paginating, Scoped: V8's limit for
    // a polymorphic lookup); a fifth class through the shared code turned those lookups
    // megamorphic, which cost the other layers more per call than this layer's own work
    // (bench/README.md, "obscost (2026-12-06)").
    inner.onmessage = (message, extra) => this.receive(message, extra);
  }

  override get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  override requestFacts(id: RequestId): RequestFacts | undefined {
    return (this.inner as Partial<RequestFactsSource>).requestFacts?.(id);
  }

  override async close(): Promise<void> {
    for (const observation of this.open.values()) this.observer.end(observation, 'cancelled');
    this.open.clear();
    await this.inner.close();
  }

  override send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const id = 'method' in message ? undefined : (message as { id?: RequestId }).id;
    if (id === undefined || !this.open.has(id)) return this.inner.send(message, options);
    const sent = this.inner.send(message, options);
    void sent.then(
      () => {
        const observation = this.take(id);
        if (observation) this.observer.replied(observation, message);
      },
      () => {
        const observation = this.take(id);
        if (observation) this.observer.end(observation, 'error', 'publish_failed');
      },
    );
    return sent;
  }

  protected override receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    if ('method' in message) {
      if ('id' in message) {
        const request = message as JSONRPCRequest;
        const observation = this.observer.start(request, this.requestFacts(request.id));
        if (observation) this.open.set(request.id, observation);
      } else if (message.method === 'notifications/cancelled') {
        // Transports tell the server about cancellations (client's or a closed session's) this way.
        const id = (message.params as { requestId?: RequestId } | undefined)?.requestId;
        const observation = id === undefined ? undefined : this.take(id);
        if (observation) this.observer.end(observation, 'cancelled', 'cancelled');
      }
    }
    this.onmessage?.(message, extra);
  }

  /** The observation of request `id`, no longer open. */
  private take(id: RequestId): Observation | undefined {
    const observation = this.open.get(id);
    if (observation !== undefined) this.open.delete(id);
    return observation;
  }
}
