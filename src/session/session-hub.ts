import { randomBytes } from 'node:crypto';
import {
  ProtocolErrorCode as ErrorCode,
  type AuthInfo,
  type ClientCapabilities,
  type JSONRPCMessage,
  type JSONRPCNotification,
  type JSONRPCRequest,
  type MessageExtraInfo,
  type RequestId,
  type Transport,
  type TransportSendOptions,
} from '@modelcontextprotocol/server';
import type { Logger } from '../log.js';
import type { NchanPublisher } from '../nchan/publisher.js';
import { BoundedMap } from '../util/bounded-map.js';
import { Quota, type QuotaScope } from '../util/quota.js';
import { limitError, resolveLimits, type BackendLimits } from './limits.js';
import { StreamCloser } from './stream-closer.js';
import { authExtraOfRequest, authInfoOfRequest } from '../auth/auth-info.js';
import { PRINCIPAL_HEADER, withoutCredentials, type Principal } from '../auth/principal.js';
import type { RequestFacts, RequestFactsSource } from '../server/request-facts.js';
import type { Observation, RequestObserver } from '../observability/request-observer.js';

/**
 * The channel every session of server `name` also subscribes to (see the session location in
 * nginx.conf.template): one publish reaches them all, for example `notifications/tools/list_changed`.
 */
export function broadcastChannel(name: string): string {
  return `httmcp.broadcast.${name}`;
}

/** How the client holds its session open. */
export type Wire = 'websocket' | 'sse' | 'streamable';

/** What the http layer must answer nginx for one forwarded message. */
export type Delivery =
  /** Answer 200 with this body: nchan publishes it into the session (or returns it as JSON). */
  | { kind: 'reply'; body: string }
  /** Nothing to publish now (204 for nchan; 202 on Streamable HTTP). */
  | { kind: 'none' }
  /** Streamable HTTP: hold an SSE stream on this channel; the reply arrives there later. */
  | { kind: 'stream'; channel: string }
  /** The message itself is bad; on Streamable HTTP this is an HTTP 400 with this JSON-RPC body. */
  | { kind: 'invalid'; body: string };

/** Tunables of a hub; see {@link SessionHubOptions}. */
export interface SessionHubOptions {
  /** The server's name: messages for every session go to its broadcast channel. */
  name: string;
  publisher: NchanPublisher;
  logger: Logger;
  /**
   * How long a request may run before its HTTP exchange is released (204, or a stream on
   * Streamable HTTP) and its reply published later. Nchan serializes one WebSocket's messages,
   * so this is the longest a slow call can delay the next message of its session. Default 50 ms.
   */
  inlineBudgetMs?: number;
  /** Largest reply returned inline; larger ones go through the publish listener. */
  inlineReplyMax?: number;
  /** Largest message published at all; a larger reply becomes a JSON-RPC error. */
  publishMax?: number;
  /**
   * How often to check that WebSocket/SSE clients with work still running are connected
   * (default 10 s; a request is checked once it has run that long). nchan does not fire its
   * unsubscribe hook for a WebSocket that closes while one of its messages is upstream, so the
   * hook alone would leave such handlers running. Each check is one channel-status request per
   * session, so a short interval costs many requests when many long calls run at once.
   */
  livenessIntervalMs?: number;
  /** Bounds of what clients can make the hub keep or run (defaults: {@link DEFAULT_LIMITS}). */
  limits?: Partial<BackendLimits>;
}

/** What a hub keeps right now, for `/healthz`, tests and capacity planning. */
export interface HubRetained {
  inflight: number;
  /** Sessions whose declared capabilities are kept, and their bytes of JSON. */
  capabilities: number;
  capabilitiesBytes: number;
  /** Legacy SSE sessions whose stream ended and which may come back. */
  leaving: number;
  /** Requests sent to clients that have not answered yet. */
  serverRequests: number;
  /** Event ids of request streams remembered for resuming. */
  resumeEvents: number;
  /** Finished request streams waiting for their client before they are ended. */
  streamClosers: number;
  /** Whatever the server on the hub reports (subscriptions, log levels). */
  [more: string]: number;
}

/** One forwarded message with the session it arrived on. */
export interface Forwarded {
  session: string;
  wire: Wire;
  /** The client's headers (for WebSocket: those of its handshake). */
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Who sent it, when the edge authenticated the request (reaches handlers as `ctx.auth`). */
  auth?: Principal | undefined;
  /**
   * Hold the exchange until the reply is ready instead of releasing it after the budget
   * (Streamable HTTP batches: their replies go back together as one JSON array).
   */
  holdUntilReplied?: boolean;
  /** Who the client is (per-principal bounds); '' or absent for anonymous clients. */
  principal?: string;
  /**
   * The body already parsed (one message of a batch, or a call the per-principal quota read);
   * `body` is then not read. Undefined: the hub parses `body` (JSON.parse never gives undefined).
   */
  parsed?: unknown;
}

interface Inflight {
  session: string;
  /** Its session and headers as handlers see them (see {@link SessionHub.requestFacts}). */
  facts: HubRequestFacts;
  wire: Wire;
  originalId: RequestId;
  key: string;
  /**
   * Where this request's messages go once its HTTP exchange is released: the session, or on
   * Streamable HTTP a stream of its own, named only when first needed (most calls never are).
   */
  channel: string | undefined;
  /** Present while the HTTP exchange that brought the request is still open. */
  pending?: { resolve: (delivery: Delivery) => void; timer: NodeJS.Timeout };
  /** Publishes of this request, in order. */
  chain: Promise<void>;
  startedAt: number;
  principal: string;
  /** The tool of a `tools/call`, for the request's log lines. */
  tool: string | undefined;
  /** What the hub's {@link SessionHub.observer} records of it, told at its end. */
  observed: Observation | undefined;
  /**
   * Streamable HTTP: since when the request's stream may have no client (nchan's unsubscribe
   * hook, or a sweep that found no subscriber); a check an interval later ends the request if
   * nobody is there.
   */
  leftAt?: number;
}

/**
 * The SDK {@link Transport} for every nchan-held session of one MCP server.
 *
 * One SDK `Server` is connected to one hub and serves all sessions: the hub gives each incoming
 * request a process-unique id (clients all start counting at 0) and maps replies back, so the
 * protocol layer keeps working per request while nothing is kept per idle session. Messages the
 * server sends for a request go inline while its HTTP exchange is open, otherwise they are
 * published to the session (or, on Streamable HTTP, to that request's stream).
 */
export class SessionHub implements Transport, RequestFactsSource {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;
  /** Called when a session ends (its client left or deleted it), to drop what it left behind. */
  onSessionClosed?: (session: string) => void;
  /**
   * Told when each request arrives and when it ends (per-tool metrics and spans). The hub tells
   * it itself, where a transport layer would keep a second table of open requests and hook a
   * promise on every reply (bench/README.md, "obsfold"). Undefined: nothing runs per request.
   */
  observer?: RequestObserver;

  /** The server's name (its URL segment, `/mcp/{name}`). */
  readonly name: string;
  private readonly publisher: NchanPublisher;
  /**
   * What each client declared at `initialize` (as JSON: its size is what it costs), so requests
   * to it (sampling, elicitation, roots) can fail fast when it cannot answer. Bounded in count
   * and bytes; unknown after a restart or once forgotten, which is harmless.
   */
  private readonly capabilities: BoundedMap<string, string>;
  /** Bounds of this hub; see {@link BackendLimits}. */
  readonly limits: BackendLimits;
  private readonly running: Quota;
  /** Extra counts for {@link retained}, from the server on this hub. */
  retainedByServer?: () => Record<string, number>;
  private readonly logger: Logger;
  private readonly inlineBudgetMs: number;
  private readonly inlineReplyMax: number;
  private readonly publishMax: number;
  private readonly streams: StreamCloser;
  private readonly livenessIntervalMs: number;
  private readonly liveness: NodeJS.Timeout;
  private sweeping = false;
  private closing = false;

  private nextId = 1;
  private closedSessions = 0;
  private readonly inflight = new Map<number, Inflight>();
  /** `${session}\n${JSON id}` -> hub id, to route `notifications/cancelled`. */
  private readonly bySessionId = new Map<string, number>();
  /**
   * Legacy SSE sessions whose stream ended, and when: their client may come back with
   * Last-Event-ID, so their requests keep running until a sweep finds the channel still empty.
   */
  private readonly leaving: BoundedMap<string, number>;
  /**
   * Sessions a sweep found without a subscriber, and when it first did. One empty sighting is
   * not proof that the client left: during an `nginx -s reload` the new workers count no
   * subscriber until the clients of the old ones reconnect (about 2 s). A session is ended only
   * when it is still empty at a sweep an interval later.
   */
  private readonly unattended: BoundedMap<string, number>;
  /** Ids of requests the server sent to clients -> the session that must answer. */
  private readonly serverRequests: BoundedMap<RequestId, string>;
  /** Streamable HTTP request stream channel -> its request (for nchan's unsubscribe hook). */
  private readonly byChannel = new Map<string, number>();
  /**
   * `${session}\n${event id}` -> the request whose stream carried that event, so a client that
   * lost its stream and comes back with Last-Event-ID is sent to that request's stream.
   */
  private readonly streamEvents: BoundedMap<string, { entry: Inflight; channel: string; ambiguous?: true }>;

  constructor(options: SessionHubOptions) {
    this.name = options.name;
    this.publisher = options.publisher;
    // Every line of the hub names its server (one child logger per server, not per request).
    this.logger = options.logger.child({ server: options.name });
    this.inlineBudgetMs = options.inlineBudgetMs ?? 50;
    this.inlineReplyMax = options.inlineReplyMax ?? 60 * 1024;
    this.publishMax = options.publishMax ?? 8 * 1024 * 1024;
    this.limits = resolveLimits(options.limits);
    this.capabilities = new BoundedMap(this.limits.trackedSessions, { max: this.limits.capabilitiesTotalBytes, of: (json) => json.length });
    this.leaving = new BoundedMap(this.limits.trackedSessions);
    this.unattended = new BoundedMap(this.limits.trackedSessions);
    this.serverRequests = new BoundedMap(this.limits.serverRequests);
    this.streamEvents = new BoundedMap(this.limits.resumeEvents);
    this.running = new Quota({
      perSession: this.limits.inflightPerSession,
      perPrincipal: this.limits.inflightPerPrincipal,
      total: this.limits.inflightTotal,
    });
    this.streams = new StreamCloser(this.publisher, this.logger, this.limits.streamClosers);
    this.livenessIntervalMs = options.livenessIntervalMs ?? 10_000;
    this.liveness = setInterval(() => void this.sweep(), this.livenessIntervalMs);
    this.liveness.unref();
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.liveness);
    for (const [hubId, entry] of this.inflight) {
      this.release(entry);
      this.forget(hubId, entry);
      if (entry.observed) this.observer?.end(entry.observed, 'cancelled');
    }
    this.streams.close();
    this.onclose?.();
  }

  /** Number of requests being handled right now (for metrics and tests). */
  get inflightCount(): number {
    return this.inflight.size;
  }

  /**
   * Requests running now by transport, and on Streamable HTTP the request streams nchan holds
   * for them (released from their POST), for the operator console. Read from the requests
   * themselves, so never out of step.
   */
  openFigures(): Record<Wire, { requests: number; streams: number }> {
    const figures = { websocket: { requests: 0, streams: 0 }, sse: { requests: 0, streams: 0 }, streamable: { requests: 0, streams: 0 } };
    for (const entry of this.inflight.values()) {
      figures[entry.wire].requests++;
      if (entry.wire === 'streamable' && entry.pending === undefined) figures.streamable.streams++;
    }
    return figures;
  }

  /** Counts of everything this hub keeps between messages (see docs/operations.md, "Limits"). */
  get retained(): HubRetained {
    return {
      inflight: this.inflight.size,
      capabilities: this.capabilities.size,
      capabilitiesBytes: this.capabilities.totalWeight,
      leaving: this.leaving.size,
      serverRequests: this.serverRequests.size,
      resumeEvents: this.streamEvents.size,
      streamClosers: this.streams.pending,
      ...this.retainedByServer?.(),
    };
  }

  /** Who sent request `hubId` (the id the server sees), while it runs: '' when anonymous. */
  principalOf(hubId: RequestId): string | undefined {
    return typeof hubId === 'number' ? this.inflight.get(hubId)?.principal : undefined;
  }

  /** The session and headers of a request being handled, by the id the hub delivered it with. */
  requestFacts(hubId: RequestId): RequestFacts | undefined {
    return typeof hubId === 'number' ? this.inflight.get(hubId)?.facts : undefined;
  }

  /** Sessions this hub saw end (client left or deleted it) since it started, for `/metrics`. */
  get closedSessionCount(): number {
    return this.closedSessions;
  }

  /**
   * Handles one message a client sent on a verified session and says what to answer nginx.
   * Never throws for bad client input: that becomes a JSON-RPC error.
   */
  async receive(forwarded: Forwarded): Promise<Delivery> {
    const delivery = await this.classify(forwarded);
    if (delivery.kind === 'invalid' && forwarded.wire !== 'streamable' && !fitsIn(delivery.body, this.inlineReplyMax)) {
      // An error echoing a huge client-chosen id would overflow nginx's subrequest buffer on
      // nchan's hop (a worker crash on the WebSocket path): publish it instead of answering inline.
      try {
        await this.publisher.publish(forwarded.session, this.limit(delivery.body, JSON.parse(delivery.body) as JSONRPCMessage));
      } catch (error) {
        this.onerror?.(error as Error);
      }
      return { kind: 'none' };
    }
    return delivery;
  }

  private async classify(forwarded: Forwarded): Promise<Delivery> {
    const parsed = forwarded.parsed !== undefined ? classifyJson(forwarded.parsed) : parseMessage(forwarded.body);
    if ('error' in parsed) return { kind: 'invalid', body: JSON.stringify(parsed.error) };
    // Headers, session and, for a request, who sent it reach handlers through requestFacts(), not
    // the SDK's extra (see request-facts.ts): given `authInfo` in a request's extra, the SDK builds
    // two more objects per call (`ctx.http` and a spread copy of it) that httmcp makes only
    // when a handler has none (HTTMCP.buildContext).
    const message = parsed.message;
    if (parsed.kind === 'request') return this.receiveRequest(forwarded, message as JSONRPCRequest);
    const extra: MessageExtraInfo | undefined = forwarded.auth ? authenticatedExtra(forwarded) : undefined;

    switch (parsed.kind) {
      case 'notification': {
        const notification = message as JSONRPCNotification;
        if (notification.method === 'notifications/cancelled') {
          const hubId = this.bySessionId.get(sessionKey(forwarded.session, notification.params?.requestId as RequestId));
          if (hubId !== undefined) this.cancel(hubId, notification.params?.reason, extra);
          return { kind: 'none' };
        }
        this.onmessage?.(notification, extra);
        return { kind: 'none' };
      }
      case 'response': {
        // A response to a request the server sent: only the session it was sent to may answer.
        const id = (message as { id: RequestId }).id;
        const origin = this.serverRequests.get(id);
        if (origin !== forwarded.session) {
          this.logger.warn({ session: forwarded.session, id }, 'dropped a response to no request of this session');
          return { kind: 'none' };
        }
        this.serverRequests.delete(id);
        this.onmessage?.(message, extra);
        return { kind: 'none' };
      }
    }
  }

  /**
   * A legacy SSE stream ended. Its client reconnects on its own (the stream's `retry:`) and
   * resumes with Last-Event-ID, so nothing is cancelled now: the liveness sweeps end the
   * session if nobody is subscribed to it at two of them an interval apart.
   */
  sessionLeft(session: string): void {
    this.leaving.set(session, Date.now());
  }

  /** A client resumed the session: it is not leaving after all. */
  sessionReturned(session: string): void {
    this.leaving.delete(session);
    this.unattended.delete(session);
  }

  /**
   * Ends a session's in-flight work when its client went away (WebSocket closed, SSE stream
   * aborted, Streamable HTTP session deleted): every running handler sees its signal abort.
   */
  sessionClosed(session: string): void {
    this.leaving.delete(session);
    this.unattended.delete(session);
    this.closedSessions++;
    if (this.running.of(session) > 0) {
      for (const [hubId, entry] of this.inflight) {
        if (entry.session === session) this.cancel(hubId, 'session closed');
      }
    }
    this.capabilities.delete(session);
    this.onSessionClosed?.(session);
  }

  /**
   * nchan's unsubscribe hook for a Streamable HTTP request's stream: its client went away. The
   * spec lets a client come back for the rest (GET with Last-Event-ID), so the request is ended
   * only when a sweep an interval later still finds nobody on its stream.
   */
  streamLeft(channel: string): void {
    const hubId = this.byChannel.get(channel);
    const entry = hubId === undefined ? undefined : this.inflight.get(hubId);
    if (!entry || entry.leftAt !== undefined) return;
    entry.leftAt = Date.now();
    // One interval from now rather than at the sweep after next; at most one timer per request.
    setTimeout(() => void this.checkStream(hubId!, entry), this.livenessIntervalMs).unref();
  }

  /** The capabilities the session's client declared, if this process saw its `initialize`. */
  clientCapabilities(session: string): ClientCapabilities | undefined {
    const json = this.capabilities.get(session);
    return json === undefined ? undefined : (JSON.parse(json) as ClientCapabilities);
  }

  /**
   * Aborts a request's handler. The SDK sends no reply for a cancelled request, so the hub
   * forgets the request here and ends whatever still waits for it.
   */
  private cancel(hubId: number, reason: unknown, extra?: MessageExtraInfo): void {
    const entry = this.inflight.get(hubId);
    if (!entry) return;
    this.forget(hubId, entry);
    if (entry.observed) this.observer?.end(entry.observed, 'cancelled', 'cancelled');
    const params = reason === undefined ? { requestId: hubId } : { requestId: hubId, reason: String(reason) };
    this.onmessage?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params }, extra);
    if (entry.pending) {
      clearTimeout(entry.pending.timer);
      entry.pending.resolve({ kind: 'none' });
      entry.pending = undefined;
    } else if (entry.wire === 'streamable') {
      void entry.chain.then(() => this.streams.closeWhenRead(this.channelOf(entry)));
    }
  }

  /** Ends the hub's bookkeeping of a request that is done or cancelled. */
  private forget(hubId: number, entry: Inflight): void {
    this.inflight.delete(hubId);
    this.bySessionId.delete(entry.key);
    this.running.release(entry.session, entry.principal);
    if (entry.channel !== undefined && this.byChannel.get(entry.channel) === hubId) this.byChannel.delete(entry.channel);
  }

  /** Publishes a message to a session later, outside any request. */
  async push(session: string, message: JSONRPCMessage): Promise<void> {
    await this.publisher.publish(session, this.limit(JSON.stringify(message), message));
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (!('method' in message)) return this.sendResponse(message);
    const related = options?.relatedRequestId;
    const entry = typeof related === 'number' ? this.inflight.get(related) : undefined;
    if (!entry) {
      if (related === undefined) {
        // Not tied to any request (list_changed and the like): for every session of the server.
        await this.publisher.publish(broadcastChannel(this.name), JSON.stringify(message)).catch((error: unknown) => this.onerror?.(error as Error));
      } else {
        this.logger.warn({ method: message.method, related }, 'message for a request that already ended was not delivered');
      }
      return;
    }
    if ('id' in message) this.rememberServerRequest(message.id, entry.session);
    if (entry.pending && entry.wire === 'streamable') {
      // A Streamable HTTP request that talks before it answers needs an SSE stream.
      this.release(entry);
    }
    await this.enqueuePublish(entry, JSON.stringify(message));
  }

  private receiveRequest(forwarded: Forwarded, message: JSONRPCRequest): Promise<Delivery> {
    const key = sessionKey(forwarded.session, message.id);
    if (this.bySessionId.has(key)) {
      return Promise.resolve(invalid(message.id, ErrorCode.InvalidRequest, `Request id ${JSON.stringify(message.id)} is already in use`));
    }
    let capabilities: string | undefined;
    if (message.method === 'initialize') {
      const declared = (message.params as { capabilities?: ClientCapabilities } | undefined)?.capabilities;
      capabilities = declared === undefined ? undefined : jsonOf(declared);
      if (declared !== undefined && (capabilities === undefined || !fitsIn(capabilities, this.limits.capabilitiesBytes))) {
        return Promise.resolve(refused(message.id, limitError('capabilitiesBytes', this.limits, 'the client capabilities declared at initialize are too large')));
      }
    }
    const principal = forwarded.principal ?? '';
    const refusal = this.running.acquire(forwarded.session, principal);
    if (refusal !== undefined) return Promise.resolve(refused(message.id, this.inflightRefusal(refusal)));
    const hubId = this.nextId++;
    const facts = new HubRequestFacts(forwarded);
    const entry: Inflight = {
      session: forwarded.session,
      wire: forwarded.wire,
      originalId: message.id,
      key,
      channel: forwarded.wire === 'streamable' ? undefined : forwarded.session,
      chain: Promise.resolve(),
      startedAt: Date.now(),
      principal,
      facts,
      tool: message.method === 'tools/call' ? toolOf(message.params) : undefined,
      observed: this.observer?.start(message, facts),
    };
    const delivery = new Promise<Delivery>((resolve) => {
      const timer = setTimeout(() => this.release(entry), forwarded.holdUntilReplied ? 2 ** 31 - 1 : this.inlineBudgetMs);
      entry.pending = { resolve, timer };
    });
    this.inflight.set(hubId, entry);
    this.bySessionId.set(key, hubId);
    if (capabilities !== undefined) this.capabilities.set(forwarded.session, capabilities);
    this.onmessage?.({ ...message, id: hubId });
    return delivery;
  }

  private async sendResponse(message: JSONRPCMessage & { id?: RequestId }): Promise<void> {
    const hubId = message.id;
    const entry = typeof hubId === 'number' ? this.inflight.get(hubId) : undefined;
    if (!entry) {
      this.logger.error({ id: hubId }, 'reply to an unknown request');
      return;
    }
    this.forget(hubId as number, entry);
    const reply = { ...message, id: entry.originalId };
    const body = this.limit(JSON.stringify(reply), reply, entry);

    const pending = entry.pending;
    // Bytes, not UTF-16 units: nginx's subrequest buffer counts bytes, and a reply of non-ASCII
    // text under the limit in characters can be three times as large in bytes.
    if (pending && fitsIn(body, this.inlineReplyMax)) {
      clearTimeout(pending.timer);
      entry.pending = undefined;
      await entry.chain; // progress published before the reply reaches the client first
      pending.resolve({ kind: 'reply', body });
      if (entry.observed) this.observer?.replied(entry.observed, message);
      return;
    }
    if (pending) this.release(entry);
    await this.enqueuePublish(entry, body);
    // Once published: a reply nchan carries is part of the request's time (a failed publish is
    // counted by the publisher, httmcp_publish_failures_total).
    if (entry.observed) this.observer?.replied(entry.observed, message);
    // Give nchan time to write the reply out before the delete ends the stream: a few ms for a
    // small reply, about a quarter of a second for 600 KB.
    const graceMs = 20 + Math.ceil(body.length / 2500);
    if (entry.wire === 'streamable') void entry.chain.then(() => this.streams.closeWhenRead(this.channelOf(entry), graceMs));
  }

  private inflightRefusal(scope: QuotaScope): ReturnType<typeof limitError> {
    switch (scope) {
      case 'session':
        return limitError('inflightPerSession', this.limits, 'too many requests running in this session');
      case 'principal':
        return limitError('inflightPerPrincipal', this.limits, 'too many requests running for this client');
      case 'total':
        return limitError('inflightTotal', this.limits, 'too many requests running on this server');
    }
  }

  /**
   * Ends the sessions of WebSocket/SSE clients that left while their requests kept running
   * (their channel had no subscriber at two sweeps an interval apart), and of legacy SSE clients
   * whose stream ended and that did not come back.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = Date.now();
      const sessions = new Set<string>();
      const streams: Array<[number, Inflight]> = [];
      for (const [hubId, entry] of this.inflight) {
        if (entry.pending) continue;
        // Every stream, every sweep, even one a sweep saw a client on: its unsubscribe hook may
        // never arrive (nginx could not reach the backend, or the client left before nchan
        // subscribed it), and one empty sighting only starts the clock, so a stream still being
        // attached is safe. A client that left is so found within two intervals, hook or not.
        if (entry.wire === 'streamable') streams.push([hubId, entry]);
        else if (now - entry.startedAt >= this.livenessIntervalMs) sessions.add(entry.session);
      }
      for (const [session, since] of this.leaving) {
        if (now - since < this.livenessIntervalMs) break; // oldest first: the rest are newer
        this.leaving.delete(session);
        sessions.add(session);
      }
      for (const [session] of this.unattended) sessions.add(session);
      for (const session of sessions) await this.checkSession(session);
      // A few at a time: thousands of abandoned streams are checked in seconds, not minutes.
      for (let i = 0; i < streams.length; i += 32) {
        await Promise.all(streams.slice(i, i + 32).map(([hubId, entry]) => this.checkStream(hubId, entry)));
      }
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * A WebSocket or SSE session with work running, or a legacy SSE session whose stream ended:
   * ended when nobody was subscribed to it at two sweeps an interval apart.
   */
  private async checkSession(session: string): Promise<void> {
    const info = await this.publisher.info(session).catch(() => 'unknown' as const);
    if (info === 'unknown') return;
    if (info !== undefined && info.subscribers > 0) {
      this.unattended.delete(session);
      return;
    }
    // When nchan answered (see checkStream), and with the same slack for a sweep's clock.
    const now = Date.now();
    const since = this.unattended.get(session);
    if (since === undefined) {
      this.unattended.set(session, now);
    } else if (now - since >= this.livenessIntervalMs * 0.9) {
      this.logger.info({ session }, 'client left and did not come back; ending its session');
      this.sessionClosed(session);
    }
  }

  /**
   * A Streamable HTTP request whose stream may have lost its client: ended when nobody was on it
   * for a whole interval (nchan's unsubscribe hook or an earlier sweep started the clock).
   */
  private async checkStream(hubId: number, entry: Inflight): Promise<void> {
    if (this.inflight.get(hubId) !== entry || this.closing) return;
    const info = await this.publisher.info(this.channelOf(entry)).catch(() => 'unknown' as const);
    if (info === 'unknown' || this.inflight.get(hubId) !== entry) return;
    // When nchan answered, not when the sweep began: a sweep through thousands of streams takes
    // seconds, which must not come off a client's time to come back.
    const now = Date.now();
    if (info !== undefined && info.subscribers > 0) {
      entry.leftAt = undefined;
    } else if (entry.leftAt === undefined) {
      entry.leftAt = now;
    } else if (now - entry.leftAt >= this.livenessIntervalMs * 0.9) {
      // Not a full interval: the next sweep's clock may read a few ms short of one, and missing
      // it would cost the client's work another whole interval.
      this.logger.info(requestFields(entry), 'the client of a Streamable HTTP request left its stream and did not come back; ending the request');
      this.cancel(hubId, 'client left');
    }
  }

  /**
   * Lets the HTTP exchange go: 204 on nchan's hop; on Streamable HTTP an SSE stream, which opens
   * with a priming event (an id and no data) so the client can resume it from the start.
   */
  private release(entry: Inflight): void {
    const pending = entry.pending;
    if (!pending) return;
    clearTimeout(pending.timer);
    entry.pending = undefined;
    if (entry.wire === 'streamable') {
      void this.enqueuePublish(entry, '');
      pending.resolve({ kind: 'stream', channel: this.channelOf(entry) });
    } else {
      pending.resolve({ kind: 'none' });
    }
  }

  /**
   * Ends the SSE stream a Streamable HTTP request's messages travel on, before the request is
   * done (SEP-1699 polling): the client reconnects with Last-Event-ID and the rest of the
   * request's messages, its reply included, reach it on the resumed stream. Nchan can only end a
   * stream by deleting its channel, so the request continues on a fresh one.
   */
  closeStream(hubId: RequestId): Promise<void> {
    const entry = typeof hubId === 'number' ? this.inflight.get(hubId) : undefined;
    if (!entry || entry.wire !== 'streamable') return Promise.resolve();
    this.release(entry);
    const closing = entry.chain.then(async () => {
      const channel = this.channelOf(entry);
      await this.streams.closeWhenRead(channel);
      if (this.byChannel.get(channel) === hubId) this.byChannel.delete(channel);
      entry.channel = undefined;
    });
    entry.chain = closing.catch(() => undefined);
    return entry.chain;
  }

  /**
   * Where a Streamable HTTP client resuming after `lastEventId` continues: the request stream
   * that event was on, and whether to replay after it or (when the request has moved to a fresh
   * channel since, see {@link closeStream}) from the start. Undefined when the event was not on a
   * request stream: then it is the session's own stream.
   */
  resume(session: string, lastEventId: string): { channel: string; after?: string } | undefined {
    const seen = this.streamEvents.get(`${session}\n${lastEventId}`);
    if (!seen) return undefined;
    const channel = this.channelOf(seen.entry);
    // Event ids are per channel (time:counter): an id from the old channel means nothing in the
    // new one, and the same id may have been given on both. Unless the id certainly belongs to
    // the current channel, replay it from the start: duplicates are harmless, gaps are not.
    return channel === seen.channel && !seen.ambiguous ? { channel, after: lastEventId } : { channel };
  }

  private enqueuePublish(entry: Inflight, body: string): Promise<void> {
    const next = entry.chain.then(
      () =>
        this.publisher.publish(this.channelOf(entry), body).then((info) => {
          if (entry.wire === 'streamable' && info.lastMessageId) this.recordStreamEvent(entry, info.lastMessageId);
        }),
      () => undefined,
    );
    entry.chain = next.catch(() => undefined);
    return next.catch((error: unknown) => {
      // The publisher already logged and counted it; the SDK reports it through onerror too.
      this.onerror?.(error as Error);
    });
  }

  /** Replaces a reply nchan could not carry by an error the client can act on. */
  private limit(body: string, message: JSONRPCMessage & { id?: RequestId }, entry?: Inflight): string {
    if (fitsIn(body, this.publishMax)) return body;
    const size = Buffer.byteLength(body, 'utf8');
    this.logger.error({ ...(entry ? requestFields(entry) : {}), size, max: this.publishMax }, 'message larger than the publish limit');
    const id = 'id' in message ? message.id : null;
    return JSON.stringify({
      jsonrpc: '2.0',
      id,
      error: { code: ErrorCode.InternalError, message: `Reply of ${size} bytes exceeds the ${this.publishMax}-byte limit` },
    });
  }

  private recordStreamEvent(entry: Inflight, eventId: string): void {
    const key = `${entry.session}\n${eventId}`;
    const channel = this.channelOf(entry);
    const earlier = this.streamEvents.get(key);
    const ambiguous = earlier !== undefined && (earlier.channel !== channel || earlier.entry !== entry);
    this.streamEvents.set(key, ambiguous ? { entry, channel, ambiguous: true } : { entry, channel });
  }

  private rememberServerRequest(id: RequestId, session: string): void {
    // Past the bound the oldest is forgotten: its answer, should it still come, is dropped and
    // the SDK's own request timeout ends the wait.
    this.serverRequests.set(id, session);
  }

  /**
   * The request's channel; on Streamable HTTP a stream channel `{session}.{random}` of its own,
   * named when first needed (most calls never need one).
   */
  private channelOf(entry: Inflight): string {
    if (entry.channel !== undefined) return entry.channel;
    const channel = `${entry.session}.${randomBytes(9).toString('base64url')}`;
    entry.channel = channel;
    const hubId = this.bySessionId.get(entry.key);
    if (hubId !== undefined && this.inflight.get(hubId) === entry) this.byChannel.set(channel, hubId);
    return channel;
  }
}

/** What a log line about one request carries besides the server: its session, the client's id and the tool. */
function requestFields(entry: Inflight): Record<string, unknown> {
  return { session: entry.session, request: entry.originalId, ...(entry.tool === undefined ? {} : { tool: entry.tool }) };
}

/** The tool a `tools/call` names, if it names one. */
function toolOf(params: unknown): string | undefined {
  const name = (params as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? name : undefined;
}

type Parsed =
  | { kind: 'request' | 'notification' | 'response'; message: JSONRPCMessage }
  | { error: object };

/**
 * Classifies a client message by the JSON-RPC envelope rules of the SDK's schema (jsonrpc 2.0,
 * integer or string ids, object params, exactly one of result or error). A structural check
 * instead of the zod union: this runs for every message, and the SDK validates each method's
 * params itself right after.
 */
function parseMessage(body: string): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { error: errorReply(null, ErrorCode.ParseError, 'Parse error: the message is not valid JSON') };
  }
  return classifyJson(json);
}

function classifyJson(json: unknown): Parsed {
  if (Array.isArray(json)) {
    return { error: errorReply(null, ErrorCode.InvalidRequest, 'JSON-RPC batches are not supported') };
  }
  if (typeof json !== 'object' || json === null) return invalidEnvelope(null);
  const m = json as Record<string, unknown>;
  const hasId = 'id' in m;
  const idOk = typeof m.id === 'string' || Number.isInteger(m.id);
  const id = idOk ? (m.id as RequestId) : null;
  if (m.jsonrpc !== '2.0') return invalidEnvelope(id);
  // The SDK's schemas are strict: a message with any other member would be dropped unanswered.
  for (const key in m) if (!ENVELOPE_KEYS.has(key)) return invalidEnvelope(id);
  if (typeof m.method === 'string') {
    if ('result' in m || 'error' in m) return invalidEnvelope(id);
    if (m.params !== undefined && !isObject(m.params)) return invalidEnvelope(id);
    if (!hasId) return { kind: 'notification', message: m as unknown as JSONRPCMessage };
    return idOk ? { kind: 'request', message: m as unknown as JSONRPCMessage } : invalidEnvelope(null);
  }
  if (!idOk) return invalidEnvelope(null);
  const isResult = 'result' in m && isObject(m.result) && !('error' in m);
  const error = m.error as { code?: unknown; message?: unknown } | undefined;
  const isError = !('result' in m) && isObject(error) && Number.isInteger(error.code) && typeof error.message === 'string';
  return isResult || isError ? { kind: 'response', message: m as unknown as JSONRPCMessage } : invalidEnvelope(id);
}

/**
 * True when `text` is at most `max` bytes in UTF-8. A UTF-16 unit is at most 3 bytes, so most
 * texts are decided without counting.
 */
function fitsIn(text: string, max: number): boolean {
  return text.length * 3 <= max || (text.length <= max && Buffer.byteLength(text, 'utf8') <= max);
}

const ENVELOPE_KEYS = new Set(['jsonrpc', 'id', 'method', 'params', 'result', 'error']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalidEnvelope(id: RequestId | null): Parsed {
  return { error: errorReply(id, ErrorCode.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message') };
}

function errorReply(id: RequestId | null, code: number, message: string): object {
  return { jsonrpc: '2.0', id, error: { code, message } };
}

function invalid(id: RequestId | null, code: number, message: string): Delivery {
  return { kind: 'invalid', body: JSON.stringify(errorReply(id, code, message)) };
}

/** A well-formed request the server will not run now: a JSON-RPC error reply to it. */
function refused(id: RequestId, error: object): Delivery {
  return { kind: 'reply', body: JSON.stringify({ jsonrpc: '2.0', id, error }) };
}

/** JSON of a client-sent value, or undefined when it cannot be written (nesting too deep). */
function jsonOf(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

function sessionKey(session: string, id: RequestId | undefined): string {
  return `${session}\n${JSON.stringify(id)}`;
}

/**
 * The extra of a message whose sender the edge authenticated: handlers get who is calling
 * (`authInfo`), never the credential, so nothing they forward can leak it.
 */
function authenticatedExtra(forwarded: Forwarded): MessageExtraInfo {
  return authExtraOfRequest(forwarded.auth!, credentialOf(forwarded.headers));
}

/** The `Authorization` header a message came with (the shared auth memos are keyed by it). */
function credentialOf(headers: Forwarded['headers']): string | undefined {
  const credential = headers.authorization;
  return typeof credential === 'string' ? credential : undefined;
}

/**
 * The session and headers of one request. The headers a handler sees are a copy (with the
 * session, without the credential), made on first read: most handlers never read them.
 */
class HubRequestFacts implements RequestFacts {
  private copied: Record<string, string | string[] | undefined> | undefined;
  readonly session: string;
  // Not the whole Forwarded: a context a handler keeps must not keep the request body alive.
  private readonly clientHeaders: Forwarded['headers'];
  private readonly authenticated: boolean;
  /** Who sent it, when the edge authenticated it (one shared object per principal and credential). */
  readonly authInfo: AuthInfo | undefined;

  constructor(forwarded: Forwarded) {
    this.session = forwarded.session;
    this.clientHeaders = forwarded.headers;
    this.authenticated = forwarded.auth !== undefined;
    this.authInfo = forwarded.auth === undefined ? undefined : authInfoOfRequest(forwarded.auth, credentialOf(forwarded.headers));
  }

  get headers(): Record<string, string | string[] | undefined> {
    return (this.copied ??= handlerHeaders(this.clientHeaders, this.session, this.authenticated));
  }

  /** What {@link headers} has under `name`, without making the copy. */
  header(name: string): string | string[] | undefined {
    if (name === 'mcp-session-id') return this.session;
    // The two withoutCredentials() drops.
    if (this.authenticated && (name === 'authorization' || name === PRINCIPAL_HEADER)) return undefined;
    return this.clientHeaders[name];
  }
}

/** The headers a handler sees: the client's, with its session, and without the credential when the edge authenticated it. */
function handlerHeaders(client: Forwarded['headers'], session: string, authenticated: boolean): Record<string, string | string[] | undefined> {
  if (!authenticated) return { ...client, 'mcp-session-id': session };
  const headers = withoutCredentials(client);
  headers['mcp-session-id'] = session;
  return headers;
}
