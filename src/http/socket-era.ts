import {
  classifyInboundRequest,
  PROTOCOL_VERSION_META_KEY,
  ProtocolErrorCode,
  SUPPORTED_PROTOCOL_VERSIONS,
  UnsupportedProtocolVersionError,
  type JSONRPCRequest,
  type RequestId,
} from '@modelcontextprotocol/server';
import type { Principal } from '../auth/principal.js';
import type { Logger } from '../log.js';
import type { NchanPublisher } from '../nchan/publisher.js';
import { BoundedMap } from '../util/bounded-map.js';
import type { Answer } from './endpoint.js';
import type { ModernEndpoint, RefusedRequest, SocketDelivery } from './modern.js';
import type { ExchangeSink, Headers } from './modern-transport.js';

/** What a {@link SocketEras} needs to know of the 2025 session path of the same server. */
export interface LegacySessions {
  /** Whether the session said `initialize` (the hub keeps what it declared): it is a 2025 connection. */
  initialized(session: string): boolean;
}

/** Tunables of {@link SocketEras}. */
export interface SocketErasOptions {
  modern: ModernEndpoint;
  legacy: LegacySessions;
  publisher: NchanPublisher;
  logger: Logger;
  /** WebSocket connections pinned to 2026-07-28 that are remembered (the oldest is forgotten past it). */
  maxSockets: number;
  /** How long a request may hold nchan's upstream hop before its reply is published instead (default 50 ms). */
  inlineBudgetMs?: number;
  /** Largest reply answered on the hop; larger ones are published (default 60 KiB). */
  inlineReplyMax?: number;
}

/**
 * The era of each WebSocket connection, and the 2026 requests that arrive on one.
 *
 * The spec defines no WebSocket binding for 2026-07-28, so httmcp does what the SDK's stdio
 * entry does on its one connection: the opening message pins the era. An enveloped request pins
 * 2026-07-28; `initialize` (any message without the envelope) leaves the connection on the 2025
 * session path, as today. After that, a 2026 message on a 2025 connection gets `-32022`
 * listing the 2025 versions, and a message without the envelope on a 2026 connection gets
 * `-32602` (what the SDK answers a request without the envelope on a pinned instance).
 *
 * 2026 requests are served by the server's pinned instance (ModernEndpoint); their replies and
 * progress travel on the connection's own nchan channel, like a 2025 session's: a reply ready
 * within the inline budget goes back on nchan's upstream hop (nchan publishes it to the
 * socket), the rest is published. `notifications/cancelled` with the client's id cancels, and so
 * does closing the socket.
 *
 * What is kept: one entry per 2026 connection (bounded; a forgotten one is re-pinned by its next
 * enveloped request) holding its running requests. 2025 connections cost nothing here: they are
 * recognised by the capabilities the session hub keeps from their `initialize`.
 */
export class SocketEras {
  /** 2026 connections (session id) -> their running requests by the client's id. */
  private readonly sockets: BoundedMap<string, Map<string, SocketDelivery>>;
  private readonly modern: ModernEndpoint;
  private readonly legacy: LegacySessions;
  private readonly publisher: NchanPublisher;
  private readonly logger: Logger;
  private readonly inlineBudgetMs: number;
  private readonly inlineReplyMax: number;

  constructor(options: SocketErasOptions) {
    this.modern = options.modern;
    this.legacy = options.legacy;
    this.publisher = options.publisher;
    this.logger = options.logger;
    this.sockets = new BoundedMap(options.maxSockets);
    this.inlineBudgetMs = options.inlineBudgetMs ?? 50;
    this.inlineReplyMax = options.inlineReplyMax ?? 60 * 1024;
  }

  /** 2026 connections remembered now (for `/healthz` and tests). */
  get size(): number {
    return this.sockets.size;
  }

  /**
   * Whether a frame may be this module's to answer (see {@link message}): the connection speaks
   * 2026-07-28, or the frame names the envelope. Synchronous, so 2025 frames pay one map lookup
   * and a substring scan, and no promise.
   */
  mayTake(session: string, body: string): boolean {
    return this.sockets.get(session) !== undefined || body.includes(PROTOCOL_VERSION_META_KEY);
  }

  /**
   * A WebSocket frame nchan forwarded: the answer when the era decides it (a 2026 request, or a
   * message of the other era), undefined when it takes the 2025 session path. 2025 traffic pays
   * one map lookup and a substring scan. Errors are answered 200 so that nchan publishes them
   * to the socket instead of closing it.
   */
  async message(session: string, headers: Headers, body: string, principal: string, auth: Principal | undefined): Promise<Answer | undefined> {
    const answer = await this.answer(session, headers, body, principal, auth);
    if (answer?.body === undefined || Buffer.byteLength(answer.body, 'utf8') <= this.inlineReplyMax) return answer;
    // An error echoing a huge client-chosen id would overflow nginx's subrequest buffer on
    // nchan's hop (a worker crash on the WebSocket path): published instead.
    try {
      await this.publisher.publish(session, answer.body);
    } catch (error) {
      this.logger.warn({ channel: session, err: error }, 'could not publish to a 2026 WebSocket');
    }
    return { status: 204 };
  }

  private async answer(session: string, headers: Headers, body: string, principal: string, auth: Principal | undefined): Promise<Answer | undefined> {
    const pinned = this.sockets.get(session);
    if (pinned === undefined && !body.includes(PROTOCOL_VERSION_META_KEY)) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return pinned ? errorAnswer(null, ProtocolErrorCode.ParseError, 'Parse error: the message is not valid JSON') : undefined;
    }
    const route = classifyInboundRequest({ httpMethod: 'POST', ...frameHeaders(parsed), body: parsed });
    if (pinned) {
      if (route.kind === 'modern') {
        if (route.messageKind === 'notification') return this.notification(pinned, route.message.method, route.message.params);
        return this.serve(session, pinned, route.message, route.classification.revision, headers, principal, auth);
      }
      if (route.kind === 'reject') return errorAnswer(idOf(parsed), route.code, route.message, route.data);
      const message = parsed as { id?: unknown; method?: unknown };
      // A response or a notification without the envelope: 2026 clients answer nothing and
      // cancel with notifications/cancelled, which the envelope-less form may be.
      if (typeof message.method !== 'string' || message.id === undefined) {
        if (message.method === 'notifications/cancelled') return this.notification(pinned, message.method, (parsed as { params?: unknown }).params);
        return { status: 204 };
      }
      return errorAnswer(
        idOf(parsed),
        ProtocolErrorCode.InvalidParams,
        `Invalid params: this WebSocket speaks protocol 2026-07-28 (its first request carried the _meta envelope), so every request needs "${PROTOCOL_VERSION_META_KEY}" in params._meta; open another WebSocket for a 2025 session`,
      );
    }
    if (route.kind === 'legacy') return undefined;
    if (route.kind === 'reject') return errorAnswer(idOf(parsed), route.code, route.message, route.data);
    if (this.legacy.initialized(session)) {
      const error = new UnsupportedProtocolVersionError({ supported: [...SUPPORTED_PROTOCOL_VERSIONS], requested: route.classification.revision ?? 'unknown' });
      return errorAnswer(idOf(parsed), error.code, `${error.message}: this WebSocket opened a 2025 session (initialize); open another WebSocket for 2026-07-28 requests`, error.data);
    }
    // Only a request pins: a notification before any request has nothing to act on.
    if (route.messageKind === 'notification') return { status: 204 };
    return this.serve(session, undefined, route.message, route.classification.revision, headers, principal, auth);
  }

  /** The socket closed (nchan's unsubscribe hook): its 2026 requests are cancelled, its pin forgotten. */
  closed(session: string): void {
    const running = this.sockets.get(session);
    if (!running) return;
    this.sockets.delete(session);
    for (const request of running.values()) request.cancel('the client closed the WebSocket');
  }

  private notification(running: Map<string, SocketDelivery>, method: string, params: unknown): Answer {
    if (method === 'notifications/cancelled') {
      const p = params as { requestId?: RequestId; reason?: unknown } | undefined;
      const key = JSON.stringify(p?.requestId ?? null);
      const request = running.get(key);
      if (request) {
        running.delete(key);
        request.cancel(typeof p?.reason === 'string' ? p.reason : 'cancelled by the client');
      }
    }
    return { status: 204 };
  }

  private serve(
    session: string,
    pinned: Map<string, SocketDelivery> | undefined,
    request: JSONRPCRequest,
    claimed: string | undefined,
    headers: Headers,
    principal: string,
    auth: Principal | undefined,
  ): Promise<Answer> {
    return new Promise<Answer>((resolve) => {
      const key = JSON.stringify(request.id);
      let running = pinned;
      let delivery: SocketDelivery | undefined;
      const reply = new SocketReply(session, this.publisher, this.logger, this.inlineReplyMax, resolve, () => {
        if (delivery && running?.get(key) === delivery) running.delete(key);
      });
      const admitted = this.modern.deliverFromSocket(request, claimed, headers, principal, auth, reply);
      if (isRefusal(admitted)) {
        resolve(errorAnswer(request.id, admitted.code, admitted.message, admitted.data));
        return;
      }
      delivery = admitted;
      if (!running) {
        // The opening request was accepted: from now on this connection speaks 2026-07-28.
        running = new Map();
        this.sockets.set(session, running);
      }
      if (!reply.finished) running.set(key, delivery);
      reply.arm(this.inlineBudgetMs);
    });
  }
}

/**
 * The way back of one 2026 request on a WebSocket: nchan's upstream hop while it is open (200
 * with the reply, which nchan publishes to the socket), then the socket's channel.
 */
class SocketReply implements ExchangeSink {
  finished = false;
  private pending: ((answer: Answer) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Publishes of this request, in order: progress before the reply. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly channel: string,
    private readonly publisher: NchanPublisher,
    private readonly logger: Logger,
    private readonly inlineReplyMax: number,
    resolve: (answer: Answer) => void,
    private readonly done: () => void,
  ) {
    this.pending = resolve;
  }

  arm(budgetMs: number): void {
    if (this.pending) this.timer = setTimeout(() => this.release(), budgetMs);
  }

  event(body: string): void {
    this.enqueue(body);
  }

  reply(body: string): void {
    this.finished = true;
    this.done();
    const pending = this.pending;
    if (pending && Buffer.byteLength(body, 'utf8') <= this.inlineReplyMax) {
      clearTimeout(this.timer);
      this.pending = undefined;
      // Progress already published reaches the client before the reply nchan publishes.
      void this.chain.then(() => pending({ status: 200, headers: { 'content-type': 'application/json' }, body }));
      return;
    }
    this.release();
    this.enqueue(body);
  }

  /** Lets nchan's hop go (204: nothing to publish now); the rest is published to the socket. */
  private release(): void {
    const pending = this.pending;
    if (!pending) return;
    clearTimeout(this.timer);
    this.pending = undefined;
    void this.chain.then(() => pending({ status: 204 }));
  }

  private enqueue(body: string): void {
    this.chain = this.chain.then(() =>
      this.publisher.publish(this.channel, body).then(
        () => undefined,
        (error: unknown) => this.logger.warn({ channel: this.channel, err: error }, 'could not publish to a 2026 WebSocket'),
      ),
    );
  }
}

/**
 * The standard headers a frame would have had as an HTTP request, from its own body: a frame
 * has no headers, so there is nothing to contradict the body and the classifier checks the
 * envelope alone.
 */
function frameHeaders(parsed: unknown): { protocolVersionHeader?: string; mcpMethodHeader?: string; mcpNameHeader?: string } {
  if (typeof parsed !== 'object' || parsed === null) return {};
  const message = parsed as { method?: unknown; params?: { name?: unknown; uri?: unknown; _meta?: Record<string, unknown> } };
  const version = message.params?._meta?.[PROTOCOL_VERSION_META_KEY];
  const name = message.params?.name ?? message.params?.uri;
  return {
    ...(typeof version === 'string' ? { protocolVersionHeader: version } : {}),
    ...(typeof message.method === 'string' ? { mcpMethodHeader: message.method } : {}),
    ...(typeof name === 'string' ? { mcpNameHeader: name } : {}),
  };
}

function isRefusal(value: SocketDelivery | RefusedRequest): value is RefusedRequest {
  return 'code' in value;
}

function idOf(parsed: unknown): RequestId | null {
  const raw = (parsed as { id?: unknown } | null)?.id;
  return typeof raw === 'string' || Number.isInteger(raw) ? (raw as RequestId) : null;
}

/** A JSON-RPC error for the socket: 200, so nchan publishes it rather than closing the connection. */
function errorAnswer(id: RequestId | null, code: number, message: string, data?: unknown): Answer {
  const error = data === undefined ? { code, message } : { code, message, data };
  return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id, error }) };
}
