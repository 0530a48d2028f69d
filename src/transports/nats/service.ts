import { Empty, nuid, type Msg, type NatsConnection, type NatsError, type Service, type ServiceMsg, type Subscription } from 'nats';
import { ProtocolErrorCode, type JSONRPCMessage, type RequestId } from '@modelcontextprotocol/server';
import { createLogger, type Logger } from '../../log.js';
import type { HTTMCP } from '../../server/httmcp.js';
import {
  NATS_DEFAULTS,
  NATS_HEADERS,
  decodeMessage,
  encodeMessage,
  headerRecord,
  headersOf,
  idKey,
  isPublishableSubject,
  kindOf,
  readHello,
  serviceSubject,
  workerSubject,
} from './protocol.js';
import { NatsSession } from './session.js';
import { SessionTable } from './session-table.js';

/** How {@link serveNats} serves a server. */
export interface NatsServeOptions {
  /** First token of the default subjects (default `mcp`). */
  prefix?: string;
  /** Subject clients send to (default `{prefix}.service.{name}.request`). */
  subject?: string;
  /** Queue group shared by the processes serving this server (default `httmcp`; letters, digits, `-`, `_`). */
  queue?: string;
  /** Name in the NATS service API, `$SRV.INFO.{serviceName}` (default: the server's name). */
  serviceName?: string;
  /** Most client sessions this process keeps (default 10,000); the least recently used go first. */
  maxSessions?: number;
  /** A client session idle this long is forgotten (default 15 minutes); it is rebuilt if the client returns. */
  sessionIdleMs?: number;
  /** Requests one client session may have running (default 100, as `HTTMCP_MAX_INFLIGHT_PER_SESSION`). */
  maxInflightPerSession?: number;
  /** Where to log (default: the httmcp logger, on stderr). */
  logger?: Logger;
}

/** How {@link NatsService.stop} ends serving. */
export interface NatsStopOptions {
  /**
   * How long requests being handled may run to completion after this process stopped taking new
   * ones (default 0). Clients whose requests are still running after it re-send them to another
   * process (see {@link NatsClientTransport}).
   */
  graceMs?: number;
}

/** Room left in a NATS message for the headers of a publish. */
const HEADER_ROOM = 4096;
const SEMVER = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/**
 * One {@link HTTMCP} server served over NATS request/reply by this process; see {@link serveNats}.
 *
 * Subjects: clients send every message to the service subject (a queue group: any one process
 * takes it and acknowledges with its own worker subject), and receive replies, progress,
 * notifications and server requests on their own subject. A client sends the cancellation of a
 * request and its responses to server requests to the worker subject of the process concerned,
 * and probes that subject to notice a process that died.
 */
export class NatsService {
  /** The MCP server's name. */
  readonly name: string;
  /** This process's id for the server (the last token of {@link workerSubject}). */
  readonly id: string;
  /** Where clients send their messages. */
  readonly subject: string;
  /** This process's own subject for the server. */
  readonly workerSubject: string;
  readonly queue: string;
  /** Name in the NATS service API. */
  readonly serviceName: string;

  private readonly sessions: SessionTable<NatsSession>;
  private readonly logger: Logger;
  private readonly sweeper: NodeJS.Timeout;
  private worker: Subscription | undefined;
  private stopping: Promise<void> | undefined;
  private readonly maxInflightPerSession: number | undefined;

  private constructor(
    private readonly server: HTTMCP,
    private readonly nc: NatsConnection,
    private readonly service: Service,
    ids: { id: string; subject: string; workerSubject: string; queue: string; serviceName: string },
    options: NatsServeOptions,
  ) {
    this.name = server.name;
    this.id = ids.id;
    this.subject = ids.subject;
    this.workerSubject = ids.workerSubject;
    this.queue = ids.queue;
    this.serviceName = ids.serviceName;
    this.logger = (options.logger ?? createLogger()).child({ server: server.name, worker: ids.id });
    this.maxInflightPerSession = options.maxInflightPerSession;
    const idleMs = options.sessionIdleMs ?? 15 * 60_000;
    this.sessions = new SessionTable({ capacity: options.maxSessions ?? 10_000, idleMs });
    this.sweeper = setInterval(() => this.sessions.sweep(), Math.max(10, Math.min(idleMs / 2, 30_000)));
    this.sweeper.unref();
  }

  /** @internal Use {@link serveNats}. */
  static async start(server: HTTMCP, nc: NatsConnection, options: NatsServeOptions = {}): Promise<NatsService> {
    const prefix = options.prefix ?? NATS_DEFAULTS.prefix;
    const id = nuid.next();
    const subject = options.subject ?? serviceSubject(server.name, prefix);
    const worker = workerSubject(server.name, id, prefix);
    const queue = options.queue ?? NATS_DEFAULTS.queue;
    const serviceName = options.serviceName ?? server.name;
    if (!isPublishableSubject(subject)) throw new TypeError(`${JSON.stringify(subject)} is not a NATS subject one can publish to`);
    const { tools, resources, prompts } = server.catalog;
    const { version, title, instructions } = server.options;
    const service = await nc.services.add({
      name: serviceName,
      version: SEMVER.test(version) ? version : '0.0.0',
      description: title ?? instructions ?? `MCP server ${server.name}`,
      queue,
      metadata: {
        'mcp.server': server.name,
        'mcp.version': version,
        'mcp.subject': subject,
        'mcp.worker': worker,
        'mcp.tools': JSON.stringify(tools),
        'mcp.resources': JSON.stringify(resources),
        'mcp.prompts': JSON.stringify(prompts),
      },
    });
    const served = new NatsService(server, nc, service, { id, subject, workerSubject: worker, queue, serviceName }, options);
    served.worker = nc.subscribe(worker, { callback: (error, msg) => served.onWorkerMessage(error, msg) });
    service.addEndpoint('request', {
      subject,
      handler: (error, msg) => served.onRequest(error, msg),
      metadata: { 'mcp.worker': worker },
    });
    void service.stopped.then((error) => {
      if (error) served.logger.error({ err: error }, 'NATS service stopped');
    });
    await nc.flush();
    served.logger.debug({ subject, worker, queue }, 'serving over NATS');
    return served;
  }

  /** Client sessions this process holds. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Client requests this process is handling. */
  get inflightCount(): number {
    return this.sessions.values().reduce((sum, session) => sum + session.inflightCount, 0);
  }

  /**
   * Stops taking requests (other processes of the queue group get them from now on), lets the
   * running ones finish for up to `graceMs`, then ends every session. The connection stays open.
   */
  stop(options: NatsStopOptions = {}): Promise<void> {
    this.stopping ??= this.shutdown(options.graceMs ?? 0);
    return this.stopping;
  }

  private async shutdown(graceMs: number): Promise<void> {
    if (!this.service.isStopped) await this.service.stop().catch(() => undefined);
    const deadline = Date.now() + graceMs;
    while (this.inflightCount > 0 && Date.now() < deadline && !this.nc.isClosed()) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    clearInterval(this.sweeper);
    this.worker?.unsubscribe();
    this.sessions.clear();
  }

  private onRequest(error: NatsError | null, msg: ServiceMsg): void {
    if (error) {
      this.logger.error({ err: error }, 'NATS request subscription failed');
      return;
    }
    const h = msg.headers;
    const clientId = h?.get(NATS_HEADERS.clientId) ?? '';
    const replyTo = h?.get(NATS_HEADERS.replyTo) ?? '';
    if (!clientId || clientId.length > 256 || !isPublishableSubject(replyTo)) {
      msg.respondError(400, `${NATS_HEADERS.clientId} and ${NATS_HEADERS.replyTo} (a plain subject) are required`);
      return;
    }
    let message: JSONRPCMessage;
    try {
      message = decodeMessage(msg.data);
    } catch (cause) {
      msg.respondError(400, `the body is not one JSON-RPC message: ${(cause as Error).message}`);
      return;
    }
    if (this.stopping) {
      // Stopped between delivery and now: refuse, so the client re-sends it elsewhere.
      msg.respondError(503, 'this process is stopping');
      return;
    }
    msg.respond(Empty, { headers: this.workerHeaders() });

    this.deliver(this.sessions.use(clientId) ?? this.open(clientId, replyTo), message, msg);
  }

  /** A new session for a client: a fresh SDK server from the HTTMCP definitions, on a {@link NatsSession}. */
  private open(clientId: string, replyTo: string): NatsSession {
    const session = new NatsSession(
      clientId,
      replyTo,
      (subject, m) => this.publish(subject, m, clientId),
      (e) => this.logger.warn({ err: e, client: clientId }, 'session problem'),
      this.maxInflightPerSession,
    );
    this.sessions.add(clientId, session);
    // Messages queue in the session behind its connection to the SDK server.
    session.after(
      this.server.connect(session).catch((e: unknown) => {
        this.logger.error({ err: e, client: clientId }, 'could not start a session');
        void session.close();
      }),
    );
    return session;
  }

  private deliver(session: NatsSession, message: JSONRPCMessage, msg: Msg): void {
    session
      .receive(message, readHello(msg.headers), headerRecord(msg.headers))
      .catch((e: unknown) => this.logger.error({ err: e, client: session.sessionId }, 'could not dispatch a message'));
  }

  /** Probes, goodbyes, cancellations and responses to this process's requests. */
  private onWorkerMessage(error: NatsError | null, msg: Msg): void {
    if (error) {
      this.logger.error({ err: error }, 'NATS worker subscription failed');
      return;
    }
    const h = msg.headers;
    const control = h?.get(NATS_HEADERS.control);
    const clientId = h?.get(NATS_HEADERS.clientId) ?? '';
    if (control === 'ping') {
      msg.respond(Empty, { headers: this.workerHeaders() });
      return;
    }
    if (control === 'close') {
      if (this.sessions.remove(clientId)) this.logger.debug({ client: clientId }, 'client left');
      msg.respond(Empty, { headers: this.workerHeaders() });
      return;
    }
    let message: JSONRPCMessage;
    try {
      message = decodeMessage(msg.data);
    } catch {
      this.logger.warn({ client: clientId }, 'dropped a worker message that is not JSON-RPC');
      return;
    }
    const kind = kindOf(message);
    const session = this.sessions.use(clientId);
    if (!session || !(kind === 'response' || (kind === 'notification' && 'method' in message && message.method === 'notifications/cancelled'))) {
      this.logger.debug({ client: clientId, kind, known: session !== undefined }, 'dropped a worker message');
      msg.respond(Empty, { headers: this.workerHeaders() });
      return;
    }
    this.deliver(session, message, msg);
    msg.respond(Empty, { headers: this.workerHeaders() });
  }

  /** Publishes one message of a session to its client, replacing a response too large for NATS by an error. */
  private publish(subject: string, message: JSONRPCMessage, clientId: string): void {
    if (this.nc.isClosed()) return;
    let data = encodeMessage(message);
    const limit = (this.nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM;
    if (data.length > limit) {
      if (kindOf(message) !== 'response') {
        this.logger.warn({ client: clientId, bytes: data.length, limit }, 'dropped a notification larger than the NATS max_payload');
        return;
      }
      const id = (message as { id?: RequestId }).id;
      this.logger.warn({ client: clientId, id, bytes: data.length, limit }, 'response larger than the NATS max_payload replaced by an error');
      data = encodeMessage({
        jsonrpc: '2.0',
        id: id ?? null,
        error: { code: ProtocolErrorCode.InternalError, message: `the response of ${data.length} bytes exceeds what NATS carries (${limit} bytes)` },
      } as unknown as JSONRPCMessage);
    }
    try {
      this.nc.publish(subject, data, { headers: this.workerHeaders() });
    } catch (e) {
      this.logger.warn({ err: e, client: clientId, key: idKey((message as { id?: unknown }).id) }, 'could not publish to the client');
    }
  }

  private workerHeaders() {
    return headersOf({ [NATS_HEADERS.worker]: this.workerSubject });
  }
}

/**
 * Serves `server` over NATS on connection `nc`, in a queue group with every other process
 * serving it, and registers it in the NATS service API (`$SRV.PING`, `$SRV.INFO`, `$SRV.STATS`)
 * with its subjects and the names of its tools, resources and prompts as metadata.
 *
 * Each client gets a fresh SDK server per process it reaches, kept in a bounded table and
 * forgotten when idle; a process that never saw a client's `initialize` rebuilds the session
 * from headers (see {@link NatsSession}), so no process needs another's state.
 *
 * @example
 * const nc = await connect({ servers: 'nats://127.0.0.1:4222' });
 * const served = await serveNats(calc, nc);       // mcp.service.calc.request
 * // ...
 * await served.stop({ graceMs: 10_000 });
 * await nc.drain();
 */
export function serveNats(server: HTTMCP, nc: NatsConnection, options?: NatsServeOptions): Promise<NatsService> {
  return NatsService.start(server, nc, options);
}
