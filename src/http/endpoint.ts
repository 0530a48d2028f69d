import { ProtocolErrorCode as ErrorCode, isInitializeRequest, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import type { Gateway } from '../gateway.js';
import type { Logger } from '../log.js';
import type { Delivery, SessionHub, Wire } from '../session/session-hub.js';
import { limitError } from '../session/limits.js';
import { gapNotice, mayHaveGap, parseLegacyEventId, parseNchanEventId, type NchanEventId } from '../session/resume.js';
import { BoundedMap } from '../util/bounded-map.js';
import { TOO_LARGE } from './io.js';
import { nestsDeeperThan } from '../util/json-depth.js';
import { missingScopes, Scopes } from '../server/scopes.js';
import { PROTOCOL_VERSION_META_KEY, type InboundLadderRejection, type InboundModernRoute } from '@modelcontextprotocol/server';
import { MODERN_PROTOCOL_VERSIONS, type ClientExchange, type ModernEndpoint } from './modern.js';
import { SocketEras } from './socket-era.js';
import type { CallKeyMemo, QuotaRefusal } from '../auth/principal-quota.js';
import { PRINCIPAL_HEADER, type Principal } from '../auth/principal.js';
import type { OpenCounter } from '../observability/open-counts.js';

/** Request headers as Node gives them. */
export type Headers = Record<string, string | string[] | undefined>;

/** What to answer nginx: framework-neutral, written by the Express and node:http adapters. */
export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** Status the backend answers to ask nginx for an nchan-held SSE stream (see nginx.conf.template). */
export const STREAM_STATUS = 460;

/** JSON-RPC code for errors that happen before a message reaches the protocol (transport level). */
const TRANSPORT_ERROR = -32000;

/**
 * Messages of a batch handed to the server between two turns of the event loop: a batch is
 * handled in slices so that one client's large batch never holds up everyone else's messages.
 */
const BATCH_SLICE = 32;

/** Methods that use one tool, prompt or resource (Scopes.targetOf): only those bodies are parsed for scopes. */
const USES_ONE_THING = /"(?:tools\/call|prompts\/get|resources\/read|resources\/subscribe|completion\/complete)"/;

/**
 * Everything nginx asks the backend about one server, independent of any HTTP framework.
 *
 * - `open`        GET /mcp/{name}: open a WebSocket or legacy SSE session, or attach the
 *                 Streamable HTTP GET stream, by X-Accel-Redirect into nchan
 * - `post`        POST /mcp/{name}: a Streamable HTTP message: JSON, 202, or a held stream
 * - `terminate`   DELETE /mcp/{name}: end a Streamable HTTP session
 * - `message`     POST /mcp/{name}/{session}/message: a WebSocket frame nchan forwarded;
 *                 200 publishes the body into the session, 204 nothing
 * - `legacyPost`  POST /mcp/{name}/{session}/post: a legacy SSE client's POST, proxied; the
 *                 reply is published to the session's stream and the POST gets 202
 * - `closed`      POST /mcp/{name}/{session}/closed: nchan's unsubscribe hook
 */
export class NchanEndpoint {
  readonly name: string;
  readonly maxMessageBytes: number;
  readonly logger: Logger;
  private readonly hub: SessionHub;
  private readonly gateway: Gateway;
  /** Ids already verified for a principal: an HMAC per message is the hot path's largest cost. */
  private readonly verified: BoundedMap<string, VerifiedSession>;
  /**
   * Streamable HTTP sessions ended by DELETE. Ids are stateless, so a deleted one would verify
   * again; this process remembers it (sessions stick to one backend) for as long as it can.
   */
  private readonly deleted: BoundedMap<string, true>;

  /** The scopes each tool needs (Streamable HTTP refuses a call without them with HTTP 403). */
  private readonly scopes: Scopes | undefined;
  /** The 2026-07-28 path (requests with the per-request envelope), when the server serves it. */
  readonly modern: ModernEndpoint | undefined;
  /** Which era each WebSocket speaks, and its 2026 requests (when the server serves 2026). */
  readonly sockets: SocketEras | undefined;
  /** Session streams handed to nchan and not reported closed, by transport (2025 era; the console). */
  private readonly openStreams: Record<Wire, { streams: OpenCounter; sessions: OpenCounter | undefined }>;

  constructor(name: string, hub: SessionHub, gateway: Gateway, scopes?: Scopes, modern?: ModernEndpoint) {
    this.name = name;
    this.scopes = scopes;
    this.modern = modern;
    this.hub = hub;
    this.gateway = gateway;
    this.maxMessageBytes = gateway.maxMessageBytes;
    this.logger = gateway.logger;
    this.verified = new BoundedMap(Math.ceil(gateway.limits.trackedSessions / 2));
    this.deleted = new BoundedMap(gateway.limits.trackedSessions);
    this.sockets = modern && new SocketEras({ modern, legacy: { initialized: (session) => hub.clientCapabilities(session) !== undefined }, publisher: gateway.publisher, logger: gateway.logger, maxSockets: gateway.limits.trackedSessions });
    const counters = (transport: Wire, sessions: boolean) => ({
      streams: gateway.open.counter(transport, '2025', 'streams'),
      sessions: sessions ? gateway.open.counter(transport, '2025', 'sessions') : undefined,
    });
    this.openStreams = { websocket: counters('websocket', true), sse: counters('sse', true), streamable: counters('streamable', false) };
  }

  /**
   * With authentication on, a request must carry the principal nginx verified (its auth_request
   * sets it, and overwrites any a client sent): one that reached the backend another way is
   * refused. So is a message on a WebSocket whose token has expired since its handshake (the
   * principal of a WebSocket is the one verified when it opened): nchan then closes the socket
   * (1008) and the client reconnects with a fresh token. Off, this costs one property check.
   */
  private unauthenticated(headers: Headers, principal = this.gateway.verifiedPrincipal(headers)): Answer | undefined {
    const auth = this.gateway.auth;
    if (!auth) return undefined;
    if (principal && (principal.expiresAt === undefined || principal.expiresAt > Date.now() / 1000)) return undefined;
    return {
      status: 401,
      headers: { 'content-type': 'application/json', 'www-authenticate': `Bearer resource_metadata="${auth.metadataUrl(this.name)}"` },
      body: errorBody(TRANSPORT_ERROR, principal ? 'Unauthorized: the token has expired' : 'Unauthorized: this server needs a bearer token'),
    };
  }

  async open(headers: Headers): Promise<Answer> {
    // A WebSocket's era is pinned by its first message, not its handshake (src/http/socket-era.ts).
    const refused = this.unauthenticated(headers) ?? (headers['x-httmcp-transport'] === 'websocket' ? undefined : this.notInModernEra(headers));
    if (refused) return refused;
    const requested = header(headers, 'mcp-session-id');
    if (requested !== undefined) {
      // Streamable HTTP: the standalone stream for server pushes, or the resumption of a stream.
      const refusal = unsupportedVersion(headers);
      if (refusal) return refusal;
      if (!this.isValid(requested, headers)) return sessionNotFound();
      if (!acceptsExactly(headers, 'text/event-stream')) return httpError(406, 'Not Acceptable: the GET stream needs Accept: text/event-stream');
      const lastEventId = header(headers, 'last-event-id');
      if (lastEventId === undefined) return this.enter(requested);
      const stream = this.hub.resume(requested, lastEventId);
      if (stream !== undefined) {
        // A request's stream: nchan replays what the client missed from its buffer, after the
        // id given here (or all of it when the request moved to a fresh channel).
        const after = stream.after === undefined ? undefined : parseNchanEventId(stream.after);
        await this.warnIfEventsLost(stream.channel, after, lastEventId);
        return { status: 200, headers: { 'x-accel-redirect': `/_httmcp/stream/${stream.channel}${redirectQuery({ after })}` } };
      }
      const after = parseNchanEventId(lastEventId);
      await this.warnIfEventsLost(requested, after, lastEventId);
      return this.enter(requested, { after });
    }
    if (headers['x-httmcp-transport'] === 'websocket') {
      const session = this.mint(headers);
      return (await this.webSocketRefused(headers, session)) ?? this.enter(session, { websocket: true });
    }
    if (!acceptsEventStream(headers)) {
      return httpError(406, 'Not Acceptable: GET opens a WebSocket or an SSE stream (Accept: text/event-stream)');
    }
    const resumed = await this.resumeLegacy(headers);
    if (resumed) return resumed;
    // Legacy HTTP+SSE (2024-11-05): the first event names the URL to POST messages to. It is
    // stored in the channel, so the subscriber that attaches right after still receives it.
    const session = this.mint(headers);
    try {
      await this.gateway.publisher.publish(session, `/mcp/${this.name}/${session}`, 'endpoint');
    } catch {
      return httpError(503, 'Service Unavailable: could not open the session, try again');
    }
    return this.enter(session, { legacy: true });
  }

  /**
   * A legacy SSE client coming back: its EventSource reconnects to the server URL with only
   * Last-Event-ID, which the edge wrote as `{session}~{nchan id}` (nginx.conf.template). A valid
   * session of this client continues after that event; anything else opens a new session.
   */
  private async resumeLegacy(headers: Headers): Promise<Answer | undefined> {
    const lastEventId = header(headers, 'last-event-id');
    const resume = parseLegacyEventId(lastEventId);
    if (!resume || !this.isValid(resume.session, headers)) return undefined;
    this.hub.sessionReturned(resume.session);
    await this.warnIfEventsLost(resume.session, resume.after, lastEventId!);
    return this.enter(resume.session, { legacy: true, after: resume.after });
  }

  /**
   * nchan resumes from its oldest kept event when the client's last one is gone, and says
   * nothing. When that may have happened, the client is told in a `notifications/message`
   * warning that follows the events nchan still had.
   */
  private async warnIfEventsLost(channel: string, after: NchanEventId | undefined, lastEventId: string): Promise<void> {
    const publisher = this.gateway.publisher;
    try {
      const info = await publisher.info(channel);
      if (!mayHaveGap(info, after, this.gateway.messageBuffer)) return;
      this.logger.warn({ server: this.name, channel, lastEventId }, 'a client resumed after events that may be gone; told it');
      await publisher.publish(channel, JSON.stringify(gapNotice(lastEventId)));
    } catch {
      // Not knowing must not stop the resume; the publisher has logged the failure.
    }
  }

  /**
   * A POST on the server's URL. `exchange` (the node response) lets a 2026-era request whose
   * status is held past the inline budget be cancelled when its client leaves meanwhile.
   */
  post(headers: Headers, body: string, exchange?: ClientExchange): Promise<Answer> {
    // Not async itself: a 2026 request's answer is the modern endpoint's promise, and a 2025
    // one's {@link postSession}'s, so no frame of this function waits on every call.
    if (!accepts(headers, 'application/json') || !accepts(headers, 'text/event-stream')) {
      return Promise.resolve(httpError(406, 'Not Acceptable: Accept must list application/json and text/event-stream'));
    }
    if (!/^application\/json\s*(;|$)/i.test(header(headers, 'content-type') ?? '')) {
      return Promise.resolve(httpError(415, 'Unsupported Media Type: Content-Type must be application/json'));
    }
    if (this.modern && claimsModernEra(headers, body)) {
      const served = this.postModern(this.modern, headers, body, exchange);
      if (served) return served;
    }
    return this.postSession(headers, body);
  }

  /** A POST of the 2025 era (Streamable HTTP): a session's message, or an `initialize` that opens one. */
  private async postSession(headers: Headers, body: string): Promise<Answer> {
    let session = header(headers, 'mcp-session-id');
    // Looked up once each: every check below and the handler's `ctx.auth` take these.
    let entry = session === undefined ? undefined : this.verified.get(session);
    const verified = session === undefined ? this.gateway.verifiedPrincipal(headers) : this.verifiedOf(headers, entry);
    const refusal = unsupportedVersion(headers) ?? this.unauthenticated(headers, verified);
    if (refusal) return refusal;
    if (nestsDeeperThan(body, this.gateway.limits.jsonDepth)) return this.tooDeep(false);
    let minted = false;
    let principal: string;
    if (session === undefined) {
      if (!looksLikeInitialize(body)) return httpError(400, 'Bad Request: Mcp-Session-Id header is required');
      principal = this.gateway.principalFor(headers, verified);
      session = this.mint(headers, principal);
      minted = true;
    } else if ((entry = this.sessionEntry(session, headers, verified, entry)) === undefined) {
      return sessionNotFound();
    } else {
      principal = entry.key;
    }
    if (body.trimStart().startsWith('[')) return this.batch(session, principal, headers, body);
    const parsed = this.parsedForChecks(body, verified);
    const forbidden = this.insufficientScope(verified, parsed);
    if (forbidden) return forbidden;
    const pending = this.callQuota(headers, parsed, principal, verified, entry);
    const refused = pending instanceof Promise ? await pending : pending;
    if (refused) return tooManyCalls(refused);
    const delivery = await this.hub.receive({ session, wire: 'streamable', headers, body, parsed, principal, auth: verified });
    // Literals, not a spread of a session header object: a spread takes V8's slow path, on every call.
    switch (delivery.kind) {
      case 'reply':
        return { status: 200, headers: minted ? { 'mcp-session-id': session, 'content-type': 'application/json' } : { 'content-type': 'application/json' }, body: delivery.body };
      case 'none':
        return { status: 202, headers: minted ? { 'mcp-session-id': session } : {} };
      case 'invalid':
        return { status: 400, headers: { 'content-type': 'application/json' }, body: delivery.body };
      case 'stream':
        return { status: STREAM_STATUS, headers: { 'mcp-session-id': session, 'x-httmcp-stream': delivery.channel } };
    }
  }

  /**
   * A POST that may be of the 2026 era: classified by its body, as the spec and the SDK do (the
   * envelope's `io.modelcontextprotocol/protocolVersion`, the header only cross-checked).
   * Undefined when it is 2025-era traffic after all, which then takes the session path.
   */
  private postModern(modern: ModernEndpoint, headers: Headers, body: string, exchange: ClientExchange | undefined): Promise<Answer> | undefined {
    const refusal = this.unauthenticated(headers);
    if (refusal) return Promise.resolve(refusal);
    if (nestsDeeperThan(body, this.gateway.limits.jsonDepth)) return Promise.resolve(this.tooDeep(false));
    if (body.trimStart().startsWith('[')) return undefined; // batches are 2025-03-26 only
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return Promise.resolve({ status: 400, headers: { 'content-type': 'application/json' }, body: errorBody(ErrorCode.ParseError, 'Parse error: the message is not valid JSON') });
    }
    const route = modern.classifier.classify(header(headers, 'mcp-protocol-version'), header(headers, 'mcp-method'), header(headers, 'mcp-name'), parsed);
    if (route.kind === 'legacy') return undefined;
    if (route.kind === 'reject') return Promise.resolve(rejection(route, parsed));
    const verified = this.gateway.verifiedPrincipal(headers);
    const forbidden = this.insufficientScope(verified, parsed);
    if (forbidden) return Promise.resolve(forbidden);
    const principal = this.gateway.principal(headers);
    // A 2026-era request names its tool in Mcp-Name, which nginx counts on this node; a count
    // shared by the cluster sees it here.
    if (this.gateway.rates?.countsEveryCall && verified) return this.postModernCounted(modern, headers, route, parsed, principal, verified, exchange);
    return modern.post(headers, route, principal, verified, exchange);
  }

  /** {@link postModern}'s request, once the cluster's rate store has taken (or refused) its call. */
  private async postModernCounted(modern: ModernEndpoint, headers: Headers, route: InboundModernRoute, parsed: unknown, principal: string, verified: Principal, exchange: ClientExchange | undefined): Promise<Answer> {
    const refused = await this.callRefused(headers, parsed, principal);
    if (refused) return tooManyCalls(refused);
    return modern.post(headers, route, principal, verified, exchange);
  }

  /** GET and DELETE belong to 2025 sessions: a 2026-era client has no use for them (405). */
  private notInModernEra(headers: Headers): Answer | undefined {
    const version = header(headers, 'mcp-protocol-version');
    if (!this.modern || version === undefined || !MODERN_PROTOCOL_VERSIONS.includes(version)) return undefined;
    return { ...httpError(405, `Method Not Allowed: protocol revision ${version} has no sessions; send requests by POST`), headers: { 'content-type': 'application/json', allow: 'POST' } };
  }

  /**
   * A Streamable HTTP request that uses a tool, prompt or resource whose scopes the principal
   * lacks (`tools/call`, `prompts/get`, `resources/read`, …): HTTP 403 with the scopes to ask
   * for, as the MCP authorization spec's step-up wants (the SDK client then asks the
   * authorization server for them and retries). Other transports get a JSON-RPC error from the
   * server's ScopedTransport: an HTTP error would close a WebSocket.
   */
  private insufficientScope(principal: Principal | undefined, parsed: unknown): Answer | undefined {
    if (!principal || !this.scopes?.size || parsed === undefined) return undefined;
    const message = parsed as { method?: unknown; params?: unknown } | null;
    if (typeof message !== 'object' || message === null || typeof message.method !== 'string') return undefined;
    const target = Scopes.targetOf(message.method, message.params);
    const needed = target ? this.scopes.of(target) : undefined;
    if (!target || missingScopes(needed, principal.scopes).length === 0) return undefined;
    const scope = [...new Set([...principal.scopes, ...needed!])].join(' ');
    const what = `${target.kind} ${target.name.replace(/["\\\r\n]/g, '')}`;
    return {
      status: 403,
      headers: {
        'content-type': 'application/json',
        'www-authenticate': `Bearer error="insufficient_scope", scope="${scope}", resource_metadata="${this.gateway.auth!.metadataUrl(this.name)}", error_description="${what} needs more scopes"`,
      },
      body: errorBody(ErrorCode.InvalidRequest, `Forbidden: ${target.kind} ${target.name} needs scope ${needed!.join(' ')} (insufficient_scope)`),
    };
  }

  /**
   * A WebSocket past its principal's limit of open WebSockets on this server: 429 for the
   * handshake, with Retry-After and a JSON-RPC error as nginx's limits answer (docs/auth.md).
   */
  private async webSocketRefused(headers: Headers, session: string): Promise<Answer | undefined> {
    const quota = this.gateway.quota;
    const principal = quota && this.gateway.verifiedPrincipal(headers) ? this.gateway.principal(headers) : undefined;
    if (!principal) return undefined;
    let refused = quota!.openWebSocket(principal, this.name, session);
    if (refused) {
      // A WebSocket whose close never reached this process (a worker that died) would hold its
      // slot for good: at the limit, ask nchan about the oldest two and forget those nobody is on.
      const stale = await Promise.all(
        quota!.staleCandidates(principal, this.name, 2).map(async (old) => {
          const info = await this.gateway.publisher.info(old).catch(() => null);
          return info === undefined || info?.subscribers === 0 ? old : undefined;
        }),
      );
      for (const old of stale) if (old !== undefined) quota!.webSocketClosed(old);
      if (stale.some((old) => old !== undefined)) refused = quota!.openWebSocket(principal, this.name, session);
    }
    if (!refused) return undefined;
    this.logger.info({ server: this.name, limit: refused.limit }, 'refused a WebSocket past its principal\'s limit');
    return tooManyCalls({ body: quotaErrorBody(null, refused), retryAfterSeconds: refused.retryAfterSeconds });
  }

  /**
   * A call's body parsed once for the checks that read what it uses (per-tool scopes, the
   * per-principal tool quota), when one of them applies to it: authentication on and a method
   * that uses one tool, prompt or resource. The hub then takes it as it is. Undefined otherwise
   * (the hub parses the body), and for a body that is not JSON (the hub answers the parse error).
   */
  private parsedForChecks(body: string, verified: Principal | undefined): unknown {
    if (!verified || (!this.gateway.quota && !this.scopes?.size) || !USES_ONE_THING.test(body)) return undefined;
    try {
      return JSON.parse(body) as unknown;
    } catch {
      return undefined;
    }
  }

  /**
   * The per-principal, per-tool rate of a call that names its tool, prompt or resource only in
   * the body (nginx's per-tool limit counts requests whose `Mcp-Name` names it), for a body
   * {@link parsedForChecks} parsed. The JSON-RPC error to answer when it is refused.
   */
  private callQuota(
    headers: Headers,
    parsed: unknown,
    principal: string,
    verified: Principal | undefined,
    memo?: CallKeyMemo,
  ): CallRefusal | undefined | Promise<CallRefusal | undefined> {
    if (!this.gateway.rates || !principal || !verified || parsed === undefined) return undefined;
    return this.callRefused(headers, parsed, principal, memo);
  }

  /** {@link callQuota} for one parsed message (also each message of a batch). */
  private callRefused(headers: Headers, parsed: unknown, principal: string, memo?: CallKeyMemo): CallRefusal | undefined | Promise<CallRefusal | undefined> {
    const message = parsed as { id?: unknown; method?: unknown; params?: unknown } | null;
    if (typeof message !== 'object' || message === null || Array.isArray(message) || typeof message.method !== 'string') return undefined;
    const target = Scopes.targetOf(message.method, message.params);
    if (!target) return undefined;
    const rates = this.gateway.rates!;
    // nginx counted it already (on this node) when the request names the same thing in Mcp-Name;
    // a cluster-wide count must see it all the same.
    if (!rates.countsEveryCall && header(headers, 'mcp-name') === target.name) return undefined;
    const taken = rates.takeCall(principal, this.name, target, memo);
    if (!(taken instanceof Promise)) return taken && callRefusal(message.id, taken, target.name);
    return taken.then((refused) => refused && callRefusal(message.id, refused, target.name));
  }

  async terminate(headers: Headers): Promise<Answer> {
    const refusal = this.notInModernEra(headers) ?? unsupportedVersion(headers) ?? this.unauthenticated(headers);
    if (refusal) return refusal;
    const session = header(headers, 'mcp-session-id');
    if (session === undefined) return httpError(400, 'Bad Request: Mcp-Session-Id header is required');
    if (!this.isValid(session, headers)) return sessionNotFound();
    this.deleted.set(session, true);
    this.verified.delete(session);
    this.hub.sessionClosed(session);
    try {
      await this.gateway.publisher.delete(session);
    } catch {
      return httpError(503, 'Service Unavailable: could not end the session stream, try again');
    }
    return { status: 200 };
  }

  async message(session: string, headers: Headers, body: string): Promise<Answer> {
    // Looked up once each: every check below and the handler's `ctx.auth` take these. A frame
    // of a WebSocket this process opened costs one lookup of its session and a compare of the
    // principal header with the one its last frame carried.
    const known = this.verified.get(session);
    const verified = this.verifiedOf(headers, known);
    if (this.unauthenticated(headers, verified)) {
      // 403 makes nchan close the WebSocket (1008) / refuse the POST, and publish nothing.
      return { status: 403, headers: { 'content-type': 'text/plain' }, body: 'unauthorized' };
    }
    const entry = this.sessionEntry(session, headers, verified, known);
    const principal = entry?.key;
    if (principal === undefined) {
      this.gateway.logger.warn({ server: this.name }, 'refused a message on a forged or foreign session id');
      // 403 makes nchan close the WebSocket / refuse the POST, and publish nothing.
      return { status: 403, headers: { 'content-type': 'text/plain' }, body: 'invalid session' };
    }
    if (nestsDeeperThan(body, this.gateway.limits.jsonDepth)) return this.tooDeep(true);
    const wire: Wire = headers['x-httmcp-transport'] === 'websocket' ? 'websocket' : 'sse';
    const parsed = this.parsedForChecks(body, verified);
    const pending = this.callQuota(headers, parsed, principal, verified, entry);
    const refused = pending instanceof Promise ? await pending : pending;
    // Published as the call's answer: an HTTP error here would close the client's WebSocket.
    if (refused) return { status: 200, headers: { 'content-type': 'application/json' }, body: refused.body };
    if (wire === 'websocket' && this.sockets?.mayTake(session, body)) {
      const served = await this.sockets.message(session, headers, body, principal, verified);
      if (served) return served;
    }
    const delivery = await this.hub.receive({ session, wire, headers, body, parsed, principal, auth: verified });
    if (delivery.kind === 'reply' || delivery.kind === 'invalid') {
      // Errors are published too: the client sees them and its WebSocket stays open.
      return { status: 200, headers: { 'content-type': 'application/json' }, body: delivery.body };
    }
    return { status: 204 };
  }

  /**
   * A legacy HTTP+SSE client's POST (2024-11-05), proxied by nginx: whatever answers it (the
   * reply, or the error for a bad message) goes to the session's event stream, published before
   * the POST is answered 202 with no body. A request that outlasts the inline budget publishes
   * its reply when it is done, as on every transport.
   */
  async legacyPost(session: string, headers: Headers, body: string | typeof TOO_LARGE): Promise<Answer> {
    const refused = this.unauthenticated(headers);
    if (refused) return refused;
    const entry = this.sessionEntry(session, headers);
    const principal = entry?.key;
    if (principal === undefined) {
      this.gateway.logger.warn({ server: this.name }, 'refused a message on a forged or foreign session id');
      return httpError(403, 'Forbidden: not a session of this client');
    }
    let reply: string | undefined;
    if (body === TOO_LARGE) {
      reply = this.tooLarge(true).body;
    } else if (nestsDeeperThan(body, this.gateway.limits.jsonDepth)) {
      reply = this.tooDeep(true).body;
    } else {
      const verified = this.gateway.verifiedPrincipal(headers);
      const parsed = this.parsedForChecks(body, verified);
      const pending = this.callQuota(headers, parsed, principal, verified, entry);
      const refused = pending instanceof Promise ? await pending : pending;
      if (refused) {
        reply = refused.body;
      } else {
        const delivery = await this.hub.receive({ session, wire: 'sse', headers, body, parsed, principal, auth: verified });
        if (delivery.kind === 'reply' || delivery.kind === 'invalid') reply = delivery.body;
      }
    }
    if (reply !== undefined) {
      try {
        await this.gateway.publisher.publish(session, reply);
      } catch {
        // Counted and logged by the publisher. The message was handled: say so, but not 202.
        return httpError(503, 'Service Unavailable: the message was handled but its answer could not be sent to the event stream');
      }
    }
    return { status: 202 };
  }

  /** A message nchan forwarded was larger than {@link maxMessageBytes}. */
  tooLarge(onNchanHop: boolean): Answer {
    const reply = errorBody(ErrorCode.InvalidRequest, `Message too large: the limit is ${this.maxMessageBytes} bytes`);
    // On nchan's hop an HTTP error would close the client's WebSocket: publish the error instead.
    return { status: onNchanHop ? 200 : 413, headers: { 'content-type': 'application/json' }, body: reply };
  }

  /** A message nested deeper than the limit: refused before it is parsed. */
  private tooDeep(onNchanHop: boolean): Answer {
    const error = limitError('jsonDepth', this.gateway.limits, 'the message nests arrays and objects too deeply');
    const body = JSON.stringify({ jsonrpc: '2.0', id: null, error });
    // On nchan's hop an HTTP error would close the client's WebSocket: publish the error instead.
    return { status: onNchanHop ? 200 : 400, headers: { 'content-type': 'application/json' }, body };
  }

  closed(session: string, headers: Headers): Answer {
    // A 2026-era request's stream: its client closed it, which cancels the request.
    if (this.modern?.streamLeft(session)) return { status: 204 };
    const stream = STREAM_CHANNEL.exec(session);
    if (stream) {
      // A Streamable HTTP request's stream lost its client (nginx.conf.template, /_httmcp/stream).
      if (this.isValid(stream[1]!, headers)) this.hub.streamLeft(session);
      return { status: 204 };
    }
    // Only nginx reaches this hook (an internal location): an unknown id is ignored.
    if (headers['x-httmcp-transport'] === 'websocket') this.gateway.quota?.webSocketClosed(session);
    // The GET stream of a Streamable HTTP session may come and go; the session lives on.
    if (header(headers, 'mcp-session-id') !== undefined) {
      this.openStreams.streamable.streams.dec();
      return { status: 204 };
    }
    if (!this.isValid(session, headers)) return { status: 204 };
    const open = headers['x-httmcp-transport'] === 'websocket' ? this.openStreams.websocket : this.openStreams.sse;
    open.streams.dec();
    open.sessions?.dec();
    if (headers['x-httmcp-transport'] === 'websocket') {
      this.sockets?.closed(session);
      this.hub.sessionClosed(session);
    } else {
      // A legacy SSE client may be reconnecting with Last-Event-ID: its work goes on for now.
      this.hub.sessionLeft(session);
    }
    return { status: 204 };
  }

  private mint(headers: Headers, principal = this.gateway.principal(headers)): string {
    const session = this.gateway.sessionIds.mint(this.name, principal);
    this.verified.set(session, { key: principal });
    return session;
  }

  /**
   * A JSON-RPC batch: allowed by the 2025-03-26 revision only (clients of later ones send
   * MCP-Protocol-Version). Every request's reply comes back in one JSON array, so the exchange
   * is held until all are done; progress of batched requests is not streamed.
   */
  private async batch(session: string, principal: string, headers: Headers, body: string): Promise<Answer> {
    const version = header(headers, 'mcp-protocol-version') ?? '2025-03-26';
    let messages: unknown;
    try {
      messages = JSON.parse(body);
    } catch {
      return { status: 400, headers: { 'content-type': 'application/json' }, body: errorBody(ErrorCode.ParseError, 'Parse error: the message is not valid JSON') };
    }
    if (version !== '2025-03-26') {
      return {
        status: 400,
        headers: { 'content-type': 'application/json' },
        body: errorBody(ErrorCode.InvalidRequest, `JSON-RPC batches were removed after protocol version 2025-03-26; this session uses ${version}`),
      };
    }
    if (!Array.isArray(messages) || messages.length === 0) {
      return { status: 400, headers: { 'content-type': 'application/json' }, body: errorBody(ErrorCode.InvalidRequest, 'Invalid Request: an empty batch') };
    }
    const limits = this.gateway.limits;
    if (messages.length > limits.batchLength) {
      const error = limitError('batchLength', limits, `a batch of ${messages.length} messages is too long`);
      return { status: 400, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: null, error }) };
    }
    const auth = this.gateway.verifiedPrincipal(headers);
    // Each call of a batch counts against its tool's rate as a call on its own would; all of them
    // before any runs, so that a count kept in Redis asks for the whole batch at once.
    const verdicts = auth && this.gateway.rates && principal ? messages.map((parsed: unknown) => this.callRefused(headers, parsed, principal)) : undefined;
    const deliveries: Array<Promise<Delivery>> = [];
    for (let i = 0; i < messages.length; i++) {
      if (i > 0 && i % BATCH_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
      const parsed: unknown = messages[i];
      const pending = verdicts?.[i];
      const refused = pending instanceof Promise ? await pending : pending;
      if (refused) {
        deliveries.push(Promise.resolve({ kind: 'invalid', body: refused.body }));
        continue;
      }
      deliveries.push(this.hub.receive({ session, wire: 'streamable', headers, body: '', parsed, principal, auth, holdUntilReplied: true }));
    }
    const done = await Promise.all(deliveries);
    const replies = done.flatMap((d) => (d.kind === 'reply' || d.kind === 'invalid' ? [d.body] : []));
    if (replies.length === 0) return { status: 202 };
    return { status: 200, headers: { 'content-type': 'application/json' }, body: `[${replies.join(',')}]` };
  }

  private isValid(session: string, headers: Headers): boolean {
    return this.sessionEntry(session, headers) !== undefined;
  }

  /**
   * The entry of a valid session of this client (its `key` is the principal the id is bound
   * to), or undefined when the id is not valid for it. `known`: the session's entry, when the
   * caller looked it up already.
   */
  private sessionEntry(session: string, headers: Headers, verified = this.gateway.verifiedPrincipal(headers), known = this.verified.get(session)): VerifiedSession | undefined {
    if (this.deleted.get(session)) return undefined;
    const principal = this.gateway.principalFor(headers, verified);
    if (known?.key !== principal) {
      if (!this.gateway.sessionIds.verify(session, this.name, principal)) return undefined;
      this.verified.set(session, (known = { key: principal }));
    }
    // Kept only when it changed: a session's requests all carry the same header, and storing each
    // request's own copy in this long-lived entry would keep that string alive past its request.
    // The gateway decodes each distinct header into one object: the same object, the same header.
    if (verified !== undefined && known.principal !== verified) {
      known.header = header(headers, PRINCIPAL_HEADER);
      known.principal = verified;
    }
    return known;
  }

  /**
   * The principal nginx verified for a request on `session` (authentication on): the one its
   * session's last request named when this one carries the same principal header, as a session's
   * requests do, else the gateway's decoded one. Comparing the header with the session's costs a
   * string compare; looking it up by value hashes its few hundred bytes on every message.
   */
  private verifiedOf(headers: Headers, known: VerifiedSession | undefined): Principal | undefined {
    if (!this.gateway.auth) return undefined;
    const value = header(headers, PRINCIPAL_HEADER);
    if (value !== undefined && known?.header === value) return known.principal;
    return this.gateway.verifiedPrincipal(headers);
  }

  /**
   * Into the session's channel. `legacy` makes the edge prefix event ids with the session (its
   * EventSource reconnects with nothing else); `after` is where nchan resumes.
   */
  private enter(session: string, options: { legacy?: boolean; websocket?: boolean; after?: NchanEventId | undefined } = {}): Answer {
    // Counted as open until nchan's unsubscribe hook says the stream closed (see closed()).
    const open = options.legacy ? this.openStreams.sse : options.websocket ? this.openStreams.websocket : this.openStreams.streamable;
    open.streams.inc();
    open.sessions?.inc();
    const query = redirectQuery({ sse: options.legacy ? session : undefined, after: options.after });
    return { status: 200, headers: { 'x-accel-redirect': `/_httmcp/session/${this.name}/${session}${query}` } };
  }
}

/**
 * A session id verified for a principal, the principal header its requests carry, and the
 * bucket key of its last call for the per-principal tool quota.
 */
interface VerifiedSession extends CallKeyMemo {
  /** The principal (key) the id was verified for. */
  readonly key: string;
  /** The principal header of the session's last request, with authentication on... */
  header?: string;
  /** ...and the principal it names (the gateway's shared, frozen object). */
  principal?: Principal | undefined;
}

/** 400 for an MCP-Protocol-Version this server does not speak (absent means 2025-03-26). */
function unsupportedVersion(headers: Headers): Answer | undefined {
  const version = header(headers, 'mcp-protocol-version');
  if (version === undefined || SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return undefined;
  return httpError(400, `Bad Request: unsupported MCP-Protocol-Version ${version} (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`);
}

/**
 * Cheap test for a POST that may be of the 2026 era (the classifier decides): its body names
 * an envelope version, or its header names a 2026 revision. 2025 traffic pays a substring scan.
 */
function claimsModernEra(headers: Headers, body: string): boolean {
  const version = header(headers, 'mcp-protocol-version');
  return (version !== undefined && MODERN_PROTOCOL_VERSIONS.includes(version)) || body.includes(PROTOCOL_VERSION_META_KEY);
}

/** The classifier's refusal of a request (bad envelope, header/body version mismatch), with its id. */
function rejection(route: InboundLadderRejection, parsed: unknown): Answer {
  const raw = (parsed as { id?: unknown } | null)?.id;
  const id = typeof raw === 'string' || Number.isInteger(raw) ? raw : null;
  const error = route.data === undefined ? { code: route.code, message: route.message } : { code: route.code, message: route.message, data: route.data };
  return { status: route.httpStatus, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id, error }) };
}

/**
 * The query of an X-Accel-Redirect into nchan: nginx reads the resume point from
 * `$arg_last_event_id` (never the client's own header) and a legacy stream's session from `$arg_sse`.
 */
function redirectQuery(args: { sse?: string | undefined; after?: NchanEventId | undefined }): string {
  const query = new URLSearchParams();
  if (args.sse !== undefined) query.set('sse', args.sse);
  if (args.after !== undefined) query.set('last_event_id', args.after.raw);
  return query.size === 0 ? '' : `?${query.toString()}`;
}

/** A Streamable HTTP request's stream channel, `{session}.{random}` (see SessionHub). */
const STREAM_CHANNEL = /^([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+$/;

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function accepts(headers: Headers, type: string): boolean {
  return acceptsExactly(headers, type) || (header(headers, 'accept') ?? '').includes('*/*');
}

/** A Streamable HTTP GET is only an event stream when the client says so, as the spec requires. */
function acceptsExactly(headers: Headers, type: string): boolean {
  return (header(headers, 'accept') ?? '').includes(type);
}

/**
 * A legacy SSE client may send a wildcard: supergateway's GET says `Accept: *\/*`, and the
 * 2024-11-05 transport asks nothing of the header.
 */
function acceptsEventStream(headers: Headers): boolean {
  const accept = header(headers, 'accept') ?? '';
  return accept.includes('text/event-stream') || /(^|,)\s*(\*\/\*|text\/\*)\s*(;|,|$)/.test(accept);
}

/** Cheap pre-check before minting a session; the hub does the real validation. */
function looksLikeInitialize(text: string): boolean {
  try {
    return isInitializeRequest(JSON.parse(text));
  } catch {
    return false;
  }
}

/** A call refused by its principal's rate: the JSON-RPC error to answer, and Retry-After. */
interface CallRefusal {
  body: string;
  retryAfterSeconds: number;
}

/** The answer to a call its principal's rate refused, to the request `id` it had. */
function callRefusal(id: unknown, refused: QuotaRefusal, name: string): CallRefusal {
  const replyTo = typeof id === 'string' || Number.isInteger(id) ? (id as string | number) : null;
  return { body: quotaErrorBody(replyTo, refused, name), retryAfterSeconds: refused.retryAfterSeconds };
}

/** HTTP 429 with a per-principal limit's JSON-RPC error and when to retry. */
function tooManyCalls(refused: CallRefusal): Answer {
  return { status: 429, headers: { 'content-type': 'application/json', 'retry-after': String(refused.retryAfterSeconds) }, body: refused.body };
}

/** A per-principal limit's JSON-RPC error, in the shape of nginx's own (`data.limit`, `data.per`, `data.retryAfterSeconds`). */
function quotaErrorBody(id: string | number | null, refused: QuotaRefusal, name?: string): string {
  const data = { limit: refused.limit, per: 'principal', ...(name === undefined ? {} : { name }), retryAfterSeconds: refused.retryAfterSeconds };
  return JSON.stringify({ jsonrpc: '2.0', id, error: { code: TRANSPORT_ERROR, message: refused.message, data } });
}

function errorBody(code: number, message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } });
}

function httpError(status: number, message: string): Answer {
  return { status, headers: { 'content-type': 'application/json' }, body: errorBody(TRANSPORT_ERROR, message) };
}

function sessionNotFound(): Answer {
  return httpError(404, 'Session not found: initialize a new session');
}
