import type { JSONRPCMessage, MessageExtraInfo, RequestId, Transport, TransportSendOptions } from '@modelcontextprotocol/server';
import { requestFactsOf, type RequestFacts, type RequestFactsSource } from './request-facts.js';

/**
 * A Transport that sits between the SDK server and another Transport and passes everything
 * through: subclasses override {@link receive} (client to server) and {@link send} (server to
 * client) for the messages they change. Pagination, per-tool scopes and instrumentation are
 * such layers, so the SDK server stays unaware of them.
 */
export abstract class TransportMiddleware implements Transport, RequestFactsSource {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  constructor(protected readonly inner: Transport) {
    inner.onclose = () => this.onclose?.();
    inner.onerror = (error) => this.onerror?.(error);
    inner.onmessage = (message, extra) => this.receive(message, extra);
  }

  get sessionId(): string | undefined {
    return this.inner.sessionId;
  }

  setProtocolVersion(version: string): void {
    this.inner.setProtocolVersion?.(version);
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    return this.inner.send(message, options);
  }

  requestFacts(id: RequestId): RequestFacts | undefined {
    return requestFactsOf(this.inner, id);
  }

  /** A message from the client, on its way to the server. */
  protected receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    this.onmessage?.(message, extra);
  }
}
