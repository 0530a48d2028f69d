import { randomBytes } from 'node:crypto';
import { Empty, ErrorCode as NatsErrorCode, NatsError, ServiceError, type NatsConnection, type Msg, type Subscription } from 'nats';
import type {
  Implementation,
  JSONRPCMessage,
  JSONRPCNotification,
  JSONRPCRequest,
  LoggingLevel,
  MessageExtraInfo,
  RequestId,
  Transport,
} from '@modelcontextprotocol/server';
import {
  NATS_DEFAULTS,
  NATS_HEADERS,
  clientHeaders,
  clientSubject,
  decodeMessage,
  encodeMessage,
  headersOf,
  idKey,
  isPublishableSubject,
  kindOf,
  serviceSubject,
  type ClientHello,
  type ControlVerb,
} from './protocol.js';

/** JSON-RPC code of a request the transport gave up on (the SDK v1's `ErrorCode.ConnectionClosed`; v2 has no wire code for it). */
const CONNECTION_CLOSED = -32000;

/** Where a {@link NatsClientTransport} finds its server and how it rides out failures. */
export interface NatsClientTransportOptions {
  /** Name of the MCP server: messages go to `{prefix}.service.{server}.request`. */
  server?: string;
  /** The service subject itself, instead of `server`. */
  subject?: string;
  /** First token of the default subjects (default `mcp`). */
  prefix?: string;
  /**
   * This client's id, also its MCP session id on the servers (default: 128 random bits). Whoever
   * knows it can act in the session: keep it secret, and separate tenants with NATS permissions.
   */
  clientId?: string;
  /** Where this client receives (default `{prefix}.response.{clientId}`). */
  replySubject?: string;
  /** How long a server process has to acknowledge a message before it is sent again (default 2000 ms). */
  ackTimeoutMs?: number;
  /** Sends of one message before giving up when no process takes it (default 8, backing off to 1 s apart). */
  deliveryAttempts?: number;
  /** How often the processes handling this client's requests are probed (default 1000 ms). */
  livenessIntervalMs?: number;
  /** Unanswered probes in a row after which a process is taken for dead (default 3). */
  livenessMisses?: number;
  /**
   * What happens to the requests a dead process was handling: `retry` (default) sends them again
   * to the queue group, so another process runs them from the start (at-least-once: a tool may
   * run twice); `fail` answers them with an error.
   */
  failover?: 'retry' | 'fail';
}

/** One of the client's requests, from its send to its response. */
interface Outgoing {
  readonly key: string;
  readonly message: JSONRPCRequest;
  readonly data: Uint8Array;
  /** The process that acknowledged it, once one has. */
  worker: string | undefined;
  /** A cancellation that came before any process acknowledged the request. */
  cancel?: JSONRPCNotification;
}

/** A request a server process sent this client, under the id the SDK client saw. */
interface Incoming {
  readonly id: RequestId;
  readonly worker: string;
}

/** A request this client is waiting on, as {@link NatsClientTransport.inflight} reports it. */
export interface NatsInflightRequest {
  id: RequestId;
  method: string;
  /** Subject of the process handling it; undefined while it is being (re)delivered. */
  worker: string | undefined;
}

/**
 * An SDK client {@link Transport} to an MCP server served over NATS with {@link serveNats}:
 * `await client.connect(new NatsClientTransport(nc, { server: 'calc' }))`.
 *
 * Every message goes to the server's service subject, a queue group: one process takes it and
 * acknowledges with its own subject. Replies, progress, log messages and the server's own
 * requests (sampling, elicitation, roots) arrive on this client's subject. Cancellations and
 * responses to server requests go straight to the process concerned. Each message carries the
 * client's `initialize` parameters and log level in headers, so any process can serve it.
 *
 * Failover: while requests are running, the processes handling them are probed every
 * `livenessIntervalMs`. A process NATS reports gone (no responders: its connection closed, as on
 * a crash or kill) or that misses `livenessMisses` probes is dead, and its requests are sent again
 * to the queue group (`failover: 'retry'`), so the call completes on another process. The SDK
 * sees one response per request: duplicates are dropped.
 */
export class NatsClientTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  /** This client's id: its session id on every server process. */
  readonly clientId: string;
  /** The subject this client sends to. */
  readonly subject: string;
  /** The subject this client receives on. */
  readonly replySubject: string;

  private readonly ackTimeoutMs: number;
  private readonly deliveryAttempts: number;
  private readonly livenessIntervalMs: number;
  private readonly livenessMisses: number;
  private readonly failover: 'retry' | 'fail';
  private readonly hello: ClientHello = {};
  private readonly requests = new Map<string, Outgoing>();
  /** Requests of server processes, by the id given to the SDK client. */
  private readonly incoming = new Map<string, Incoming>();
  /** `${worker} ${original id}` to the id given to the SDK client, to route a server's cancellation. */
  private readonly incomingByOrigin = new Map<string, number>();
  private nextIncoming = 1;
  /** Every process that acknowledged a message of this client: told when the client leaves. */
  private readonly workers = new Set<string>();
  private readonly misses = new Map<string, number>();
  private subscription: Subscription | undefined;
  private liveness: NodeJS.Timeout | undefined;
  private probing = false;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    options: NatsClientTransportOptions,
  ) {
    const prefix = options.prefix ?? NATS_DEFAULTS.prefix;
    if (options.subject === undefined && options.server === undefined) throw new TypeError('NatsClientTransport needs `server` or `subject`');
    this.clientId = options.clientId ?? randomBytes(16).toString('base64url');
    this.subject = options.subject ?? serviceSubject(options.server!, prefix);
    this.replySubject = options.replySubject ?? clientSubject(this.clientId, prefix);
    for (const subject of [this.subject, this.replySubject]) {
      if (!isPublishableSubject(subject)) throw new TypeError(`${JSON.stringify(subject)} is not a plain NATS subject`);
    }
    this.ackTimeoutMs = options.ackTimeoutMs ?? 2000;
    this.deliveryAttempts = Math.max(1, options.deliveryAttempts ?? 8);
    this.livenessIntervalMs = options.livenessIntervalMs ?? 1000;
    this.livenessMisses = Math.max(1, options.livenessMisses ?? 3);
    this.failover = options.failover ?? 'retry';
  }

  /** The requests this client is waiting on, and which process handles each. */
  get inflight(): NatsInflightRequest[] {
    return [...this.requests.values()].map((entry) => ({ id: entry.message.id, method: entry.message.method, worker: entry.worker }));
  }

  async start(): Promise<void> {
    if (this.subscription) throw new Error('NatsClientTransport already started');
    if (this.closed) throw new Error('NatsClientTransport is closed');
    this.subscription = this.nc.subscribe(this.replySubject, { callback: (error, msg) => this.onReply(error, msg) });
    // The subscription must be known to the NATS server before any reply can come.
    await this.nc.flush();
    this.liveness = setInterval(() => void this.probe(), this.livenessIntervalMs);
    this.liveness.unref();
    void this.nc.closed().then(() => this.close());
  }

  /** Called by the SDK client with the version the server chose; sent with every later message. */
  setProtocolVersion(version: string): void {
    this.hello.protocolVersion = version;
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed || !this.subscription) throw new Error('NatsClientTransport is not started or already closed');
    switch (kindOf(message)) {
      case 'request':
        return this.sendRequest(message as JSONRPCRequest);
      case 'notification':
        return this.sendNotification(message as JSONRPCNotification);
      case 'response':
        return this.sendResponse(message);
    }
  }

  /** Stops receiving and tells every process that served this client to end its session there. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.liveness);
    for (const worker of this.workers) this.control(worker, 'close');
    this.workers.clear();
    this.subscription?.unsubscribe();
    this.requests.clear();
    this.incoming.clear();
    this.incomingByOrigin.clear();
    this.onclose?.();
  }

  private async sendRequest(message: JSONRPCRequest): Promise<void> {
    const params = (message.params ?? {}) as Partial<ClientHello> & { clientInfo?: Implementation; level?: LoggingLevel };
    if (message.method === 'initialize') {
      this.hello.protocolVersion = params.protocolVersion;
      this.hello.clientInfo = params.clientInfo;
      this.hello.capabilities = params.capabilities;
    } else if (message.method === 'logging/setLevel') {
      this.hello.logLevel = params.level;
    }
    const entry: Outgoing = { key: idKey(message.id), message, data: encodeMessage(message), worker: undefined };
    this.requests.set(entry.key, entry);
    try {
      await this.dispatch(entry);
    } catch (error) {
      if (this.requests.get(entry.key) === entry) this.requests.delete(entry.key);
      throw error;
    }
  }

  private async sendNotification(message: JSONRPCNotification): Promise<void> {
    if (message.method === 'notifications/cancelled') {
      const entry = this.requests.get(idKey(message.params?.requestId));
      if (!entry) return; // answered already, or never sent
      this.requests.delete(entry.key);
      if (entry.worker !== undefined) this.toWorker(entry.worker, message);
      else entry.cancel = message; // forwarded to whichever process acknowledges it
      return;
    }
    await this.deliver(encodeMessage(message), () => false);
  }

  private async sendResponse(message: JSONRPCMessage): Promise<void> {
    const key = idKey((message as { id?: RequestId }).id);
    const origin = this.incoming.get(key);
    if (!origin) {
      this.onerror?.(new Error(`no server request ${key} to answer`));
      return;
    }
    this.forget(key, origin);
    this.toWorker(origin.worker, { ...message, id: origin.id } as JSONRPCMessage);
  }

  /** Delivers a request to some process and records which one took it. */
  private async dispatch(entry: Outgoing): Promise<void> {
    const abandoned = () => this.requests.get(entry.key) !== entry;
    const worker = await this.deliver(entry.data, abandoned);
    if (worker === undefined) return;
    if (!abandoned()) {
      entry.worker = worker;
      return;
    }
    // Cancelled while being delivered: the process that took it must hear of it.
    if (entry.cancel) this.toWorker(worker, entry.cancel);
  }

  /**
   * Sends a message to the service subject until a process acknowledges it; returns that
   * process's subject, or undefined when `abandoned()` said to stop trying.
   */
  private async deliver(data: Uint8Array, abandoned: () => boolean): Promise<string | undefined> {
    let last: Error | undefined;
    for (let attempt = 1; attempt <= this.deliveryAttempts; attempt++) {
      if (this.closed || abandoned()) return undefined;
      let reply: Msg;
      try {
        reply = await this.nc.request(this.subject, data, { timeout: this.ackTimeoutMs, headers: clientHeaders(this.clientId, this.replySubject, this.hello) });
      } catch (error) {
        if (!(error instanceof NatsError) || (error.code !== NatsErrorCode.NoResponders && error.code !== NatsErrorCode.Timeout)) throw error;
        last = error;
        // Nobody listens: wait for a process to (re)join. A timeout was already a wait.
        if (error.code === NatsErrorCode.NoResponders) await sleep(Math.min(50 * 2 ** (attempt - 1), 1000));
        continue;
      }
      const refused = ServiceError.toServiceError(reply);
      if (refused) {
        if (refused.code !== 503) throw new Error(`${this.subject} refused the message: ${refused.message} (${refused.code})`);
        last = refused; // a process that is stopping: another one will take it
        continue;
      }
      const worker = reply.headers?.get(NATS_HEADERS.worker);
      if (!worker || !isPublishableSubject(worker)) throw new Error(`${this.subject} acknowledged without a valid ${NATS_HEADERS.worker} header`);
      this.workers.add(worker);
      return worker;
    }
    throw new Error(`no MCP server process took the message on ${this.subject} (${this.deliveryAttempts} attempts): ${last?.message ?? 'unknown'}`);
  }

  private onReply(error: NatsError | null, msg: Msg): void {
    if (error) {
      this.onerror?.(error);
      return;
    }
    let message: JSONRPCMessage;
    try {
      message = decodeMessage(msg.data);
    } catch (cause) {
      this.onerror?.(new Error(`dropped a message on ${this.replySubject} that is not JSON-RPC: ${(cause as Error).message}`));
      return;
    }
    const worker = msg.headers?.get(NATS_HEADERS.worker) ?? '';
    switch (kindOf(message)) {
      case 'response': {
        const key = idKey((message as { id?: RequestId }).id);
        // One response per request reaches the SDK: a re-sent request may be answered twice.
        if (!this.requests.delete(key)) return;
        this.emit(message);
        return;
      }
      case 'request': {
        const request = message as JSONRPCRequest;
        if (!isPublishableSubject(worker)) {
          this.onerror?.(new Error(`dropped a server request without a valid ${NATS_HEADERS.worker} header`));
          return;
        }
        const local = this.nextIncoming++;
        this.incoming.set(idKey(local), { id: request.id, worker });
        this.incomingByOrigin.set(`${worker} ${idKey(request.id)}`, local);
        this.emit({ ...request, id: local });
        return;
      }
      case 'notification': {
        const notification = message as JSONRPCNotification;
        if (notification.method === 'notifications/cancelled') {
          // A server process withdrew one of its requests: name it as the SDK client knows it.
          const local = this.incomingByOrigin.get(`${worker} ${idKey(notification.params?.requestId)}`);
          if (local === undefined) return;
          this.forget(idKey(local), this.incoming.get(idKey(local))!);
          this.emit({ ...notification, params: { ...notification.params, requestId: local } });
          return;
        }
        this.emit(notification);
        return;
      }
    }
  }

  private forget(key: string, origin: Incoming): void {
    this.incoming.delete(key);
    this.incomingByOrigin.delete(`${origin.worker} ${idKey(origin.id)}`);
  }

  /** Probes every process handling a request of this client; re-sends the requests of dead ones. */
  private async probe(): Promise<void> {
    if (this.probing || this.closed) return;
    const busy = new Set<string>();
    for (const entry of this.requests.values()) if (entry.worker !== undefined) busy.add(entry.worker);
    if (busy.size === 0) return;
    this.probing = true;
    try {
      await Promise.all([...busy].map((worker) => this.probeWorker(worker)));
    } finally {
      this.probing = false;
    }
  }

  private async probeWorker(worker: string): Promise<void> {
    try {
      await this.nc.request(worker, Empty, { timeout: this.livenessIntervalMs, headers: this.controlHeaders('ping') });
      this.misses.delete(worker);
    } catch (error) {
      if (!(error instanceof NatsError) || this.closed) return;
      if (error.code === NatsErrorCode.NoResponders) {
        this.lost(worker, 'went away');
      } else if (error.code === NatsErrorCode.Timeout) {
        const misses = (this.misses.get(worker) ?? 0) + 1;
        this.misses.set(worker, misses);
        if (misses >= this.livenessMisses) this.lost(worker, `did not answer ${misses} probes`);
      }
    }
  }

  /** A process is gone: its requests go to another process, or fail, as `failover` says. */
  private lost(worker: string, why: string): void {
    this.workers.delete(worker);
    this.misses.delete(worker);
    for (const entry of [...this.requests.values()]) {
      if (entry.worker !== worker) continue;
      entry.worker = undefined;
      if (this.failover === 'fail') {
        this.fail(entry, new Error(`the MCP server process handling this request ${why}`));
        continue;
      }
      this.dispatch(entry).catch((error: unknown) => this.fail(entry, error as Error));
    }
  }

  /** Ends a request with an error response, as if the server had sent it. */
  private fail(entry: Outgoing, error: Error): void {
    if (this.requests.get(entry.key) !== entry) return;
    this.requests.delete(entry.key);
    this.emit({ jsonrpc: '2.0', id: entry.message.id, error: { code: CONNECTION_CLOSED, message: error.message } });
  }

  /**
   * Hands a message to the SDK client on a turn of its own. NATS delivers a burst of messages in
   * one go, and the SDK handles a notification a microtask later but a response at once: the last
   * progress notification of a call would otherwise arrive after its response, and be dropped.
   */
  private emit(message: JSONRPCMessage): void {
    setImmediate(() => {
      if (!this.closed) this.onmessage?.(message);
    });
  }

  private toWorker(worker: string, message: JSONRPCMessage): void {
    try {
      this.nc.publish(worker, encodeMessage(message), { headers: clientHeaders(this.clientId, this.replySubject, this.hello) });
    } catch (error) {
      this.onerror?.(error as Error);
    }
  }

  private control(worker: string, verb: ControlVerb): void {
    try {
      this.nc.publish(worker, Empty, { headers: this.controlHeaders(verb) });
    } catch {
      // the connection is gone: the processes forget this client when it stays idle
    }
  }

  private controlHeaders(verb: ControlVerb) {
    return headersOf({ [NATS_HEADERS.control]: verb, [NATS_HEADERS.clientId]: this.clientId });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
