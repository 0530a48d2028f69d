import {
  CLIENT_CAPABILITIES_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  ProtocolErrorCode,
  UnsupportedProtocolVersionError,
  type InboundModernRoute,
  type JSONRPCNotification,
  type JSONRPCRequest,
  type McpServer,
  type RequestId,
  type Transport,
} from '@modelcontextprotocol/server';
import { authInfoOfRequest } from '../auth/auth-info.js';
import { withoutCredentials } from '../auth/principal.js';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import type { Principal } from '../auth/principal.js';
import type { Logger } from '../log.js';
import type { NchanPublisher } from '../nchan/publisher.js';
import { limitError, type BackendLimits } from '../session/limits.js';
import { StreamCloser } from '../session/stream-closer.js';
import { Quota, type QuotaScope } from '../util/quota.js';
import type { Answer } from './endpoint.js';
import { checkParamHeaders, checkStandardHeaders, HEADER_MISMATCH, paramDeclarations, type ParamDeclaration } from './modern-headers.js';
import { EntryShortcut } from './entry-shortcut.js';
import { ModernClassifier } from './modern-classify.js';
import { isModernChannel, modernChannel } from './modern-channel.js';
import { MultiplexTransport, servedBy, type ExchangeSink, type Headers } from './modern-transport.js';
import { StatusHold } from './status-hold.js';

/** Protocol revisions served on the 2026-era (per-request envelope) path. */
export const MODERN_PROTOCOL_VERSIONS: readonly string[] = ['2026-07-28'];

/** Status the backend answers to ask nginx for an nchan-held SSE stream (nginx.conf.template). */
const STREAM_STATUS = 460;

/**
 * Methods of the 2025 era that 2026-07-28 removed. The pinned instance would serve those
 * httmcp registers itself (`logging/setLevel`, `resources/subscribe`), so they are refused here.
 */
const REMOVED_IN_2026 = new Set([
  'initialize',
  'ping',
  'logging/setLevel',
  'resources/subscribe',
  'resources/unsubscribe',
]);

/**
 * HTTP status of a JSON-RPC error that refuses the request itself rather than reporting what a
 * handler did (the 2026-07-28 Streamable HTTP binding; what the SDK's own entry answers).
 */
const REFUSAL_STATUS: Readonly<Record<number, number>> = {
  [ProtocolErrorCode.ParseError]: 400,
  [ProtocolErrorCode.InvalidRequest]: 400,
  [ProtocolErrorCode.MethodNotFound]: 404,
  [ProtocolErrorCode.UnsupportedProtocolVersion]: 400,
  [ProtocolErrorCode.MissingRequiredClientCapability]: 400,
  [HEADER_MISMATCH]: 400,
};

/**
 * The HTTP exchange a 2026 POST came on (node's `ServerResponse`), watched while its status is
 * held past the inline budget: its client (nginx, for its own client) may leave meanwhile.
 */
export interface ClientExchange {
  once(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

/** Who sent a 2026-era request and how, for handlers of {@link ModernEndpoint.hooks}. */
export interface ModernRequest {
  /** The request as the client sent it (its own id). */
  request: JSONRPCRequest;
  headers: Headers;
  /** '' for anonymous clients. */
  principal: string;
  auth: Principal | undefined;
}

/**
 * Serves one method of the 2026 era in place of the pinned instance (`subscriptions/listen`
 * held by nchan is one): the standard headers and version are checked before it is called.
 */
export type MethodHook = (request: ModernRequest) => Promise<Answer> | Answer;

/** Tunables of a {@link ModernEndpoint}. */
export interface ModernEndpointOptions {
  /** The server's name (channels and logs). */
  name: string;
  /** Builds the server's SDK instance; called once (the instance is pinned to the 2026 era). */
  factory: () => McpServer | Promise<McpServer>;
  /** Transport middleware between the instance and the exchanges (pagination, scopes, metrics). */
  wrap?: (transport: Transport) => Transport;
  publisher: NchanPublisher;
  logger: Logger;
  limits: BackendLimits;
  /** How long a request may run before its reply moves to an nchan-held stream (default 50 ms). */
  inlineBudgetMs?: number;
  /**
   * How much longer a request that has sent nothing yet keeps its HTTP exchange, so that a late
   * refusal still gets its HTTP status (see {@link StatusHold}; shared by the servers of a
   * gateway). Default: 1000 ms from arrival, at most 256 held, for this endpoint alone.
   */
  statusHold?: StatusHold;
  /** Largest reply answered inline; larger ones go through the stream (default 60 KiB). */
  inlineReplyMax?: number;
  /** Largest message published at all; a larger reply becomes a JSON-RPC error (default 8 MiB). */
  publishMax?: number;
  /**
   * How often streams of running requests are checked for a client (default 10 s): nchan's
   * unsubscribe hook ends a request whose client closed its stream, and this catches the ones
   * whose hook never came (the client left before it was subscribed, or the hook reached
   * another backend).
   */
  livenessIntervalMs?: number;
  /**
   * @internal False: requests and replies take the SDK entry's own way instead of
   * {@link EntryShortcut} (tests compare the two). Default true.
   */
  entryShortcut?: boolean;
}

/**
 * The 2026-07-28 request path of one server: every enveloped request on `/mcp/{name}` comes
 * here (never through the session hub) and is served by ONE pinned SDK instance.
 *
 * The instance is the SDK's own `serveStdio` entry on a {@link MultiplexTransport}: the entry
 * decides the era once and validates each request's envelope; the transport carries all HTTP
 * exchanges at once. Before delivery this checks what the entry cannot: the claimed version
 * (a pinned instance serves an unknown one as 2026), the standard headers against the body,
 * and methods the 2026 era removed. A reply ready within the inline budget is answered as JSON;
 * a request that sends progress or a log message first, or is still running after the inline
 * budget and then after the status hold ({@link StatusHold}: a refusal raised meanwhile still
 * gets its HTTP 4xx), moves to an SSE stream nchan holds (460 + `X-Httmcp-Stream`, as slow 2025
 * requests do), where the rest is published. Closing that stream cancels the request.
 */
export class ModernEndpoint {
  /** Methods served by a hook instead of the instance (see {@link MethodHook}). */
  readonly hooks = new Map<string, MethodHook>();
  readonly name: string;
  /** Classifies the POSTs of this server's URL (the SDK's classifier, its verdicts memoized). */
  readonly classifier = new ModernClassifier();
  private readonly mux = new MultiplexTransport();
  private readonly handle: { close(): Promise<void> };
  private readonly publisher: NchanPublisher;
  private readonly logger: Logger;
  private readonly limits: BackendLimits;
  private readonly inlineBudgetMs: number;
  private readonly statusHold: StatusHold;
  private readonly inlineReplyMax: number;
  private readonly publishMax: number;
  private readonly livenessIntervalMs: number;
  private readonly running: Quota;
  private readonly streams: StreamCloser;
  /** Stream channel -> its request, while the request runs (nchan's unsubscribe hook). */
  private readonly byChannel = new Map<string, RequestStream>();
  private readonly liveness: NodeJS.Timeout;
  private sweeping = false;
  /**
   * Tools whose arguments clients mirror in `Mcp-Param-*` headers (`x-mcp-header`), from the
   * instance's own `tools/list`; read again after it says the list changed.
   */
  private declarations: Promise<Map<string, ParamDeclaration[]>> | undefined;
  /** The same table once listed: a call then checks its headers without waiting a turn. */
  private declared: Map<string, ParamDeclaration[]> | undefined;
  /** See {@link MultiplexTransport.onunrelated}; `list_changed` also invalidates the declarations. */
  onunrelated?: (notification: JSONRPCNotification) => void;

  constructor(options: ModernEndpointOptions) {
    this.name = options.name;
    this.publisher = options.publisher;
    this.logger = options.logger;
    this.limits = options.limits;
    this.inlineBudgetMs = options.inlineBudgetMs ?? 50;
    this.statusHold = options.statusHold ?? new StatusHold();
    this.inlineReplyMax = options.inlineReplyMax ?? 60 * 1024;
    this.publishMax = options.publishMax ?? 8 * 1024 * 1024;
    this.livenessIntervalMs = options.livenessIntervalMs ?? 10_000;
    // 2026 has no sessions: per principal and in all.
    this.running = new Quota({ perSession: Number.POSITIVE_INFINITY, perPrincipal: this.limits.inflightPerPrincipal, total: this.limits.inflightTotal });
    this.streams = new StreamCloser(this.publisher, this.logger, this.limits.streamClosers);
    const factory = options.factory;
    const shortcut = new EntryShortcut(options.wrap ? options.wrap(this.mux) : this.mux, { enabled: options.entryShortcut ?? true });
    this.handle = serveStdio(
      async () => {
        const server = await factory();
        servedBy(server, this.mux);
        shortcut.attach(() => server.server.transport);
        return server;
      },
      {
      transport: shortcut,
      legacy: 'reject',
      onerror: (error) => this.logger.debug({ server: this.name, err: error }, '2026-era instance reported an error'),
      },
    );
    this.liveness = setInterval(() => void this.sweep(), this.livenessIntervalMs);
    this.liveness.unref();
    this.mux.onunrelated = (notification) => {
      if (notification.method === 'notifications/tools/list_changed') {
        this.declarations = undefined;
        this.declared = undefined;
      }
      this.onunrelated?.(notification);
    };
  }

  /** The transport of the pinned instance (its request facts feed httmcp's `Context`). */
  get transport(): MultiplexTransport {
    return this.mux;
  }

  /** Requests running now (for `/healthz` and tests). */
  get inflight(): number {
    return this.mux.size;
  }

  /** Streams of running requests (for `/healthz` and tests). */
  get streaming(): number {
    return this.byChannel.size;
  }

  /**
   * Serves one POST the classifier routed to the modern era. Never throws for bad client
   * input: that is a JSON-RPC error with the request's id and the spec's HTTP status. With
   * `exchange`, a client that leaves while the request's status is held cancels the request.
   */
  async post(headers: Headers, route: InboundModernRoute, principal: string, auth: Principal | undefined, exchange?: ClientExchange): Promise<Answer> {
    if (route.messageKind === 'notification') {
      // 2026 clients cancel by closing the request's stream; their ids mean nothing across
      // clients, so a notification has nothing to act on here.
      return { status: 202 };
    }
    const request = route.message;
    const claimed = route.classification.revision;
    if (claimed === undefined || !MODERN_PROTOCOL_VERSIONS.includes(claimed)) {
      const error = new UnsupportedProtocolVersionError({ supported: [...MODERN_PROTOCOL_VERSIONS], requested: claimed ?? 'unknown' });
      return errorAnswer(400, request.id, error.code, error.message, error.data);
    }
    const mismatch = checkStandardHeaders(headers, request, claimed);
    if (mismatch) return errorAnswer(400, request.id, HEADER_MISMATCH, mismatch.message, mismatch.data);
    const hook = this.hooks.get(request.method);
    if (hook) return hook({ request, headers, principal, auth });
    if (REMOVED_IN_2026.has(request.method)) {
      return errorAnswer(404, request.id, ProtocolErrorCode.MethodNotFound, `Method not found: ${request.method} is not part of protocol revision ${claimed}`);
    }
    if (request.method === 'tools/call') {
      const params = request.params as { name?: unknown; arguments?: unknown } | undefined;
      const declared = typeof params?.name === 'string' ? (this.declared ?? (await this.toolDeclarations())).get(params.name) : undefined;
      const mirrored = declared && checkParamHeaders(declared, params?.arguments, headers);
      if (mirrored) return errorAnswer(400, request.id, HEADER_MISMATCH, mirrored.message, mirrored.data);
    }
    const refusal = this.running.acquire('', principal);
    if (refusal !== undefined) {
      const error = this.inflightRefusal(refusal);
      return errorAnswer(200, request.id, error.code, error.message, error.data);
    }
    return new Promise<Answer>((resolve) => {
      const stream = new RequestStream(this, resolve, principal, headers, exchange);
      const authInfo = auth ? authInfoOfRequest(auth, credentialOf(headers)) : undefined;
      stream.internal = this.mux.deliver(request, { id: request.id, principal, headers: handlerHeaders(headers, auth), auth, authInfo, sink: stream });
      stream.arm(this.inlineBudgetMs, this.statusHold);
    });
  }

  /**
   * A 2026-era request that arrived on a WebSocket (src/http/socket-era.ts): the checks of
   * {@link post} that hold without per-request headers (a frame has none), then delivery to the
   * pinned instance, whose messages for it go to `sink` (the connection's own channel).
   * Returns a handle to cancel it, or the JSON-RPC error that refused it (nothing ran).
   */
  deliverFromSocket(request: JSONRPCRequest, claimed: string | undefined, headers: Headers, principal: string, auth: Principal | undefined, sink: ExchangeSink): SocketDelivery | RefusedRequest {
    if (claimed === undefined || !MODERN_PROTOCOL_VERSIONS.includes(claimed)) {
      const error = new UnsupportedProtocolVersionError({ supported: [...MODERN_PROTOCOL_VERSIONS], requested: claimed ?? 'unknown' });
      return { code: error.code, message: error.message, data: error.data };
    }
    if (REMOVED_IN_2026.has(request.method)) {
      return { code: ProtocolErrorCode.MethodNotFound, message: `Method not found: ${request.method} is not part of protocol revision ${claimed}` };
    }
    if (this.hooks.has(request.method)) {
      // Served by nchan-held HTTP streams (subscriptions/listen); docs/transports.md says why not here.
      return { code: ProtocolErrorCode.MethodNotFound, message: `Method not found: ${request.method} is not served on a WebSocket; send it by POST to /mcp/${this.name}` };
    }
    const refusal = this.running.acquire('', principal);
    if (refusal !== undefined) return this.inflightRefusal(refusal);
    let done = false;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      this.running.release('', principal);
      return true;
    };
    const authInfo = auth ? authInfoOfRequest(auth, credentialOf(headers)) : undefined;
    const counted: ExchangeSink = {
      reply: (body, errorCode) => {
        if (finish()) sink.reply(body, errorCode);
      },
      event: (body) => {
        if (!done) sink.event(body);
      },
    };
    const internal = this.mux.deliver(request, { id: request.id, principal, headers: handlerHeaders(headers, auth), auth, authInfo, sink: counted });
    return { cancel: (reason) => finish() && this.mux.cancel(internal, reason) };
  }

  private toolDeclarations(): Promise<Map<string, ParamDeclaration[]>> {
    if (this.declarations) return this.declarations;
    const listing: Promise<Map<string, ParamDeclaration[]>> = this.listDeclarations().then(
      (found) => {
        // A list_changed while listing made this table stale: it is not kept.
        if (this.declarations === listing) this.declared = found;
        return found;
      },
      (error: unknown) => {
        this.logger.warn({ server: this.name, err: error }, 'could not list the tools of the 2026-era instance');
        this.declarations = undefined;
        return new Map<string, ParamDeclaration[]>();
      },
    );
    return (this.declarations = listing);
  }

  private async listDeclarations(): Promise<Map<string, ParamDeclaration[]>> {
    const found = new Map<string, ParamDeclaration[]>();
    let cursor: string | undefined;
    do {
      const page = (await this.ask('tools/list', cursor === undefined ? {} : { cursor })) as { tools?: Array<{ name: string; inputSchema?: unknown }>; nextCursor?: string };
      for (const tool of page.tools ?? []) {
        const declared = paramDeclarations(tool.inputSchema);
        if (declared.length > 0) found.set(tool.name, declared);
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return found;
  }

  /** A request of httmcp's own to the pinned instance (as an anonymous 2026 client). */
  private ask(method: string, params: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const _meta = { [PROTOCOL_VERSION_META_KEY]: MODERN_PROTOCOL_VERSIONS[0], [CLIENT_CAPABILITIES_META_KEY]: {} };
      const sink: ExchangeSink = {
        reply: (body, errorCode) => (errorCode === undefined ? resolve((JSON.parse(body) as { result: unknown }).result) : reject(new Error(body))),
        event: () => undefined,
      };
      this.mux.deliver({ jsonrpc: '2.0', id: 0, method, params: { ...params, _meta } }, { id: 0, principal: '', headers: {}, auth: undefined, sink });
    });
  }

  /**
   * nchan's unsubscribe hook for a stream channel: when it is a running request's, its client
   * closed the stream, which cancels the request (2026 streams are not resumed). True when the
   * channel is one of this path's (a finished one included), so the caller looks no further.
   */
  streamLeft(channel: string): boolean {
    if (!isModernChannel(channel)) return false;
    this.byChannel.get(channel)?.cancel('the client closed the stream');
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.liveness);
    for (const stream of [...this.byChannel.values()]) stream.cancel('server shutting down');
    this.streams.close();
    await this.handle.close();
  }

  /** @internal A request of this endpoint moved to a stream. */
  streamOpened(stream: RequestStream, channel: string): void {
    this.byChannel.set(channel, stream);
  }

  /**
   * Takes a running-request slot of `principal` for work of the instance that no request of this
   * endpoint holds one for (a task's round, src/tasks/): the slot's release, or the error that
   * refuses it, as a request past the bound would get.
   */
  hold(principal: string): (() => void) | ReturnType<typeof limitError> {
    const refusal = this.running.acquire('', principal);
    if (refusal !== undefined) return this.inflightRefusal(refusal);
    let held = true;
    return () => {
      if (held) this.running.release('', principal);
      held = false;
    };
  }

  /** @internal A request of this endpoint is done (replied or cancelled). */
  finished(stream: RequestStream): void {
    this.running.release('', stream.principal);
    if (stream.channel !== undefined) this.byChannel.delete(stream.channel);
  }

  /** @internal Cancels request `internal` in the pinned instance. */
  cancelInternal(internal: number, reason: string): void {
    this.mux.cancel(internal, reason);
  }

  /** @internal */
  publish(channel: string, body: string): Promise<unknown> {
    return this.publisher.publish(channel, body);
  }

  /** @internal Ends a finished request's stream once its client has read the reply. */
  closeStream(channel: string, graceMs: number): Promise<void> {
    return this.streams.closeWhenRead(channel, graceMs);
  }

  /** @internal */
  get replyLimits(): { inline: number; publish: number } {
    return { inline: this.inlineReplyMax, publish: this.publishMax };
  }

  /** @internal */
  warn(fields: Record<string, unknown>, message: string): void {
    this.logger.warn({ server: this.name, ...fields }, message);
  }

  private inflightRefusal(scope: QuotaScope): ReturnType<typeof limitError> {
    return scope === 'principal'
      ? limitError('inflightPerPrincipal', this.limits, 'too many requests running for this client')
      : limitError('inflightTotal', this.limits, 'too many requests running on this server');
  }

  /**
   * Ends requests whose stream has had no client for a whole interval: their unsubscribe hook
   * never came (the client left before nchan subscribed it, or the hook went to another backend).
   */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const streams = [...this.byChannel.entries()];
      for (let i = 0; i < streams.length; i += 32) {
        await Promise.all(
          streams.slice(i, i + 32).map(async ([channel, stream]) => {
            const info = await this.publisher.info(channel).catch(() => 'unknown' as const);
            if (info === 'unknown' || this.byChannel.get(channel) !== stream) return;
            const now = Date.now();
            if (info !== undefined && info.subscribers > 0) stream.leftAt = undefined;
            else if (stream.leftAt === undefined) stream.leftAt = now;
            else if (now - stream.leftAt >= this.livenessIntervalMs * 0.9) stream.cancel('nobody is on the stream');
          }),
        );
      }
    } finally {
      this.sweeping = false;
    }
  }
}

/** A 2026-era request running for a WebSocket client (see {@link ModernEndpoint.deliverFromSocket}). */
export interface SocketDelivery {
  /** Ends it: the handler's signal aborts and nothing more reaches its sink. */
  cancel(reason: string): void;
}

/** A JSON-RPC error that refused a request before it ran. */
export interface RefusedRequest {
  code: number;
  message: string;
  data?: unknown;
}

/**
 * One 2026-era request's way back to its client: the HTTP exchange while it is open, then the
 * request's own nchan stream. It is the request's entry in the exchange table (as its sink).
 */
class RequestStream implements ExchangeSink {
  internal = 0;
  channel: string | undefined;
  /** Since when the stream has been seen without a client (the liveness sweep). */
  leftAt: number | undefined;
  private pending: ((answer: Answer) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private done = false;
  /** Its client left: what is still queued for the stream is not published. */
  private left = false;
  /** Publishes of this request's stream, in order; none for a request answered inline. */
  private chain: Promise<void> | undefined;
  /** The status hold's slot, while the exchange is held past the inline budget. */
  private hold: StatusHold | undefined;
  /** Cancels the request when its client leaves while it is held (bound once, on the first hold). */
  private onLeft: (() => void) | undefined;

  constructor(
    private readonly owner: ModernEndpoint,
    resolve: (answer: Answer) => void,
    readonly principal: string,
    private readonly headers: Headers,
    private readonly exchange: ClientExchange | undefined,
  ) {
    this.pending = resolve;
  }

  arm(budgetMs: number, hold: StatusHold): void {
    if (this.pending && !this.done) this.timer = setTimeout(() => this.budgetSpent(budgetMs, hold), budgetMs);
  }

  /**
   * The inline budget ran out and the request has sent nothing: it keeps its exchange until its
   * first output or the end of the status hold (a refusal then still gets its HTTP status), or
   * moves to its stream now when the hold is off or full.
   */
  private budgetSpent(budgetMs: number, hold: StatusHold): void {
    if (!this.pending || !hold.take(budgetMs)) return this.release();
    this.hold = hold;
    if (this.exchange) this.exchange.once('close', (this.onLeft ??= () => this.clientLeft()));
    this.timer = setTimeout(() => this.release(), hold.holdMs - budgetMs);
  }

  /** The client left while the request was held: its exchange is gone, so is the request. */
  private clientLeft(): void {
    if (!this.hold) return;
    this.unhold();
    this.pending = undefined;
    this.cancel('the client left before the request answered');
  }

  /** Gives back the status hold's slot, if the request holds one. */
  private unhold(): void {
    if (!this.hold) return;
    this.hold.give();
    this.hold = undefined;
    if (this.exchange && this.onLeft) this.exchange.off('close', this.onLeft);
  }

  event(body: string): void {
    if (this.done) return;
    // A request that talks before it answers needs its stream.
    this.release();
    this.enqueue(body);
  }

  reply(body: string, errorCode: number | undefined): void {
    if (this.done) return;
    this.done = true;
    this.owner.finished(this);
    const limits = this.owner.replyLimits;
    if (!fitsIn(body, limits.publish)) body = tooLarge(body, limits.publish, this.owner);
    const pending = this.pending;
    if (pending && fitsIn(body, limits.inline)) {
      clearTimeout(this.timer);
      this.unhold();
      this.pending = undefined;
      const status = errorCode === undefined ? 200 : (REFUSAL_STATUS[errorCode] ?? 200);
      pending({ status, headers: { 'content-type': 'application/json' }, body });
      return;
    }
    this.release();
    this.enqueue(body);
    const channel = this.channel!;
    // Give nchan time to write the reply out before the delete ends the stream.
    const graceMs = 20 + Math.ceil(body.length / 2500);
    void (this.chain ?? Promise.resolve()).then(() => this.owner.closeStream(channel, graceMs));
  }

  /** The client left (or the server is closing): the handler's signal aborts, nothing more is sent. */
  cancel(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.left = true;
    clearTimeout(this.timer);
    this.unhold();
    this.owner.finished(this);
    this.owner.cancelInternal(this.internal, reason);
    const pending = this.pending;
    this.pending = undefined;
    // Only when the exchange is still open (the server is closing): answer it rather than hang.
    pending?.({ status: 503, headers: { 'content-type': 'text/plain' }, body: 'server shutting down\n' });
  }

  /** Lets the HTTP exchange go: 460 asks nginx to hold an SSE stream on the request's channel. */
  private release(): void {
    const pending = this.pending;
    if (!pending) return;
    clearTimeout(this.timer);
    this.unhold();
    this.pending = undefined;
    this.channel = modernChannel(this.headers);
    this.owner.streamOpened(this, this.channel);
    pending({ status: STREAM_STATUS, headers: { 'x-httmcp-stream': this.channel } });
  }

  private enqueue(body: string): void {
    const channel = this.channel!;
    this.chain = (this.chain ?? Promise.resolve()).then(
      () =>
        this.left
          ? undefined
          : this.owner.publish(channel, body).then(
              () => undefined,
              (error: unknown) => this.owner.warn({ channel, err: error }, 'could not publish to a 2026 request stream'),
            ),
    );
  }
}

function credentialOf(headers: Headers): string | undefined {
  const credential = headers.authorization;
  return typeof credential === 'string' ? credential : undefined;
}

/** The headers a handler sees: without the credential (and the edge's principal) when the edge authenticated the client. */
function handlerHeaders(headers: Headers, auth: Principal | undefined): Headers {
  if (!auth) return headers;
  return withoutCredentials(headers);
}

function errorAnswer(status: number, id: RequestId, code: number, message: string, data?: unknown): Answer {
  const error = data === undefined ? { code, message } : { code, message, data };
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id, error }) };
}

/** True when `text` is at most `max` bytes in UTF-8 (most texts decided without counting). */
function fitsIn(text: string, max: number): boolean {
  return text.length * 3 <= max || (text.length <= max && Buffer.byteLength(text, 'utf8') <= max);
}

/** A reply nchan could not carry becomes an error the client can act on. */
function tooLarge(body: string, max: number, owner: ModernEndpoint): string {
  const size = Buffer.byteLength(body, 'utf8');
  owner.warn({ size, max }, 'a 2026 reply is larger than the publish limit');
  const id = (JSON.parse(body) as { id: RequestId }).id;
  return JSON.stringify({ jsonrpc: '2.0', id, error: { code: ProtocolErrorCode.InternalError, message: `Reply of ${size} bytes exceeds the ${max}-byte limit` } });
}
