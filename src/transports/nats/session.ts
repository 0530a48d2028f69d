import { LATEST_PROTOCOL_VERSION, type JSONRPCMessage, type LoggingLevel, type RequestId, type Transport } from '@modelcontextprotocol/server';
import type { RequestFacts, RequestFactsSource } from '../../server/request-facts.js';
import { DEFAULT_LIMITS, limitError } from '../../session/limits.js';
import { idKey, kindOf, type ClientHello } from './protocol.js';

/** Where a session's outgoing messages go. */
export type SessionPublisher = (subject: string, message: JSONRPCMessage) => void;

/** Prefix of the ids of the requests a session makes up when it replays a client's setup. */
const REPLAY_ID_PREFIX = 'httmcp-replay-';

/**
 * The SDK {@link Transport} of one client's MCP session on one server process: an SDK server
 * (`HTTMCP.connect`) runs on it, and everything it sends is published to the client's subject.
 *
 * With a queue group, a client's messages are spread over every process, so most processes meet
 * a client first through some message other than `initialize`. Such a session is rebuilt from
 * the {@link ClientHello} the client sends in headers with every message: a synthetic
 * `initialize` (protocol version, capabilities, client info), `notifications/initialized`, and
 * `logging/setLevel` whenever the client's level differs from the one this session knows. The
 * replies to those synthetic requests are swallowed; the SDK server then knows the client's
 * capabilities (sampling, elicitation, roots) as if it had seen the real handshake.
 */
export class NatsSession implements Transport, RequestFactsSource {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T) => void;

  /** The client's id: the SDK passes it to handlers as `extra.sessionId` (`ctx.sessionId`). */
  readonly sessionId: string;
  /** The subject the client receives on (the one its first message here named). */
  readonly replyTo: string;

  private readonly publish: SessionPublisher;
  private readonly warn: (error: Error) => void;
  /** The client's requests being handled: id key -> the headers of the NATS message that brought it. */
  private readonly inflight = new Map<string, Record<string, string | string[]>>();
  /** Synthetic requests awaiting their reply. */
  private readonly synthetic = new Map<string, (reply: JSONRPCMessage | undefined) => void>();
  private nextSynthetic = 1;
  private initialized = false;
  private logLevel: LoggingLevel | undefined;
  private closed = false;
  private rebuilt = false;
  /** Messages are dispatched one after another, so a replay completes before what follows it. */
  private chain: Promise<void> = Promise.resolve();

  /**
   * @param publish sends a message to a subject.
   * @param warn hears of problems that fail no request (a replay the SDK server refused); the
   *   SDK takes `onerror` over, and middleware between it and this transport may replace it.
   */
  /**
   * @param maxInflight - requests of the client handled at once; past it a request is answered
   *   with a -32029 error at once (`HTTMCP_MAX_INFLIGHT_PER_SESSION` for the nchan transports).
   */
  constructor(
    clientId: string,
    replyTo: string,
    publish: SessionPublisher,
    warn: (error: Error) => void = () => undefined,
    private readonly maxInflight: number = DEFAULT_LIMITS.inflightPerSession,
  ) {
    this.sessionId = clientId;
    this.replyTo = replyTo;
    this.publish = publish;
    this.warn = warn;
  }

  /** Whether a request of the client is being handled. */
  get busy(): boolean {
    return this.inflight.size > 0;
  }

  /** Number of the client's requests being handled. */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Whether this session was rebuilt from headers rather than opened by the client's own `initialize`. */
  get replayed(): boolean {
    return this.rebuilt;
  }

  /** The headers of a request being handled, for the handler's `ctx.headers`. */
  requestFacts(id: RequestId): RequestFacts | undefined {
    const headers = this.inflight.get(idKey(id));
    return headers === undefined ? undefined : { session: this.sessionId, headers };
  }

  async start(): Promise<void> {}

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return;
    if (kindOf(message) === 'response') {
      const key = idKey((message as { id?: RequestId }).id);
      const waiter = this.synthetic.get(key);
      if (waiter) {
        this.synthetic.delete(key);
        waiter(message);
        return;
      }
      this.inflight.delete(key);
    }
    this.publish(this.replyTo, message);
  }

  /** Ends the session: the SDK server aborts its running handlers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of this.synthetic.values()) waiter(undefined);
    this.synthetic.clear();
    this.inflight.clear();
    this.onclose?.();
  }

  /** Makes the messages received from now on wait for `ready` (the SDK server connecting). */
  after(ready: Promise<unknown>): void {
    this.chain = this.chain.then(() => ready).then(
      () => undefined,
      () => undefined,
    );
  }

  /**
   * Hands one client message to the SDK server, first rebuilding the session when this process
   * has not seen the client's `initialize`. Resolves once the message is dispatched (not handled).
   */
  receive(message: JSONRPCMessage, hello: ClientHello, headers: Record<string, string | string[]>): Promise<void> {
    const run = this.chain.then(() => this.dispatch(message, hello, headers));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async dispatch(message: JSONRPCMessage, hello: ClientHello, headers: Record<string, string | string[]>): Promise<void> {
    if (this.closed) return;
    const kind = kindOf(message);
    const method = 'method' in message ? message.method : undefined;
    const params = ('params' in message ? message.params : undefined) as Record<string, unknown> | undefined;

    if (!this.initialized) {
      this.initialized = true;
      if (method !== 'initialize') {
        this.rebuilt = true;
        await this.replayInitialize(hello);
        if (method === 'notifications/initialized') return;
      }
    }

    if (method === 'logging/setLevel' && kind === 'request') {
      this.logLevel = params?.level as LoggingLevel | undefined;
    } else if (hello.logLevel !== undefined && hello.logLevel !== this.logLevel) {
      this.logLevel = hello.logLevel;
      await this.inject('logging/setLevel', { level: hello.logLevel });
    }

    if (this.closed) return;
    if (kind === 'request') {
      const id = (message as { id: RequestId }).id;
      if (this.inflight.size >= this.maxInflight) {
        const error = limitError('inflightPerSession', { ...DEFAULT_LIMITS, inflightPerSession: this.maxInflight }, 'too many requests running in this session');
        this.publish(this.replyTo, { jsonrpc: '2.0', id, error });
        return;
      }
      this.inflight.set(idKey(id), headers);
    }
    if (method === 'notifications/cancelled') this.inflight.delete(idKey(params?.requestId));
    this.onmessage?.(message);
  }

  private async replayInitialize(hello: ClientHello): Promise<void> {
    const reply = await this.inject(
      'initialize',
      {
        protocolVersion: hello.protocolVersion ?? LATEST_PROTOCOL_VERSION,
        capabilities: hello.capabilities ?? {},
        clientInfo: hello.clientInfo ?? { name: 'unknown', version: '0' },
      },
    );
    if (reply && 'error' in reply) {
      this.warn(new Error(`replaying initialize for client ${this.sessionId} failed: ${JSON.stringify(reply.error)}`));
    }
    if (!this.closed) this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/initialized' });
  }

  /** Sends the SDK server a request of our own and waits for its (swallowed) reply. */
  private inject(method: string, params: Record<string, unknown>): Promise<JSONRPCMessage | undefined> {
    const onmessage = this.onmessage;
    if (this.closed || !onmessage) return Promise.resolve(undefined);
    const id = `${REPLAY_ID_PREFIX}${this.nextSynthetic++}`;
    return new Promise((resolve) => {
      this.synthetic.set(idKey(id), resolve);
      onmessage({ jsonrpc: '2.0', id, method, params });
    });
  }
}
