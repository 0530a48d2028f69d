import { LoggingLevelSchema } from '@modelcontextprotocol/core';
import {
  CLIENT_CAPABILITIES_META_KEY,
  isInputRequiredResult,
  McpServer,
  ProtocolError,
  ProtocolErrorCode,
  ResourceTemplate,
  type CallToolResult,
  type ClientCapabilities,
  type LoggingLevel,
  type RequestId,
  type RequestOptions,
  type ServerContext,
  type ServerNotification,
  type ServerRequest,
  type Transport,
} from '@modelcontextprotocol/server';
import type { Router } from 'express';
import { z, type ZodRawShape } from 'zod';
import { principalOfAuthInfo } from '../auth/auth-info.js';
import { Gateway } from '../gateway.js';
import { createLogger, type Logger } from '../log.js';
import { NchanEndpoint } from '../http/endpoint.js';
import { ListChangedFanout, ListenEndpoint, ListenFanout, type ListKind } from '../listen/index.js';
import { InstrumentedTransport } from '../observability/instrument.js';
import { observeRequests } from '../observability/request-observer.js';
import { createNchanRouter } from '../http/router.js';
import { createAuthRoutes } from '../http/auth-endpoint.js';
import { DEFAULT_LIMITS, LIMIT_SETTINGS, type BackendLimits } from '../session/limits.js';
import type { SessionHub } from '../session/session-hub.js';
import { modernRequestFacts, type ModernRequestFacts } from '../http/modern-transport.js';
import { rememberRequestAuthInfo } from './request-auth.js';
import type { ModernEndpoint } from '../http/modern.js';
import type { InputRound } from '../mrtr/input-round.js';
import type { MultiRound } from '../mrtr/multi-round.js';
import { inputMethods, runInRound, type SessionAsker } from './input.js';
import { HandlerContext, ResourceHandlerContext, type ContextFields, type ContextSources } from './handler-context.js';
import { BoundedMap } from '../util/bounded-map.js';
import { Subscriptions } from './subscriptions.js';
import { toPromptResult, toResourceResult, toToolResult } from './content.js';
import { definitionsOf } from './decorators.js';
import { PaginatingTransport } from './paginate.js';
import { factsOfContext } from './request-facts.js';
import { Scopes, ScopedTransport, scopeRefusal } from './scopes.js';
import { CacheHintTransport, cacheHintFromEnv, checkCacheHint, serverCacheHints, type CacheHint, type CacheHints, type ItemKind } from './cache-hints.js';
import type { Tasks, TaskSupport } from '../tasks/extension.js';
import { tasksForModern } from '../tasks/modern-tasks.js';
import type {
  Context,
  ResourceContext,
  Definition,
  PromptHandler,
  PromptOptions,
  ResourceHandler,
  ResourceOptions,
  ToolHandler,
  ToolOptions,
} from './types.js';

/** Identity and behaviour of an {@link HTTMCP} server. */
export interface HTTMCPOptions {
  /** Server name; also the URL segment: the server is served at `/mcp/{name}`. */
  name: string;
  version: string;
  title?: string;
  /** Instructions sent to clients in the `initialize` result. */
  instructions?: string;
  /** Where this server meets nginx+nchan; defaults to the process-wide gateway from the environment. */
  gateway?: Gateway;
  /** How long a request to the client (sampling, elicitation, roots) may take; default 60 s. */
  requestTimeoutMs?: number;
  /** Items per page of tools/list, prompts/list, resources/list and templates (default 100). */
  pageSize?: number;
  /** Largest page of those lists in bytes of JSON of items, one item at least (default 1 MiB). */
  pageBytes?: number;
  /**
   * Cache hint of every cacheable 2026-07-28 result of this server (`server/discover`, the four
   * lists, `resources/read`): how long a client may keep it (`ttlMs`) and whether shared caches
   * may (`cacheScope: 'public'`). Default `{ ttlMs: 0, cacheScope: 'private' }`: immediately
   * stale, never shared; `HTTMCP_CACHE_TTL_MS` and `HTTMCP_CACHE_SCOPE` set it for every server
   * that sets none. Items narrow it (`cacheHint` of a tool, prompt or resource), and
   * results shown per principal (scopes) are never public. 2025-era results carry no hints.
   */
  cacheHint?: CacheHint;
  /** Per operation, field by field over {@link HTTMCPOptions.cacheHint} (the SDK's `cacheHints`). */
  cacheHints?: CacheHints;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** A server attached to a gateway: its hub, the SDK server on it, and the HTTP faces. */
interface Mounted {
  gateway: Gateway;
  hub: SessionHub;
  server: McpServer;
  endpoint: NchanEndpoint;
  /** `subscriptions/listen` streams (2026-07-28) and the one publish per event they get. */
  listen: ListenEndpoint;
  fanout: ListenFanout;
  router?: Router;
  /** The Tasks extension of the 2026-era instance, when a tool runs as a task. */
  tasks?: Tasks<ModernRequestFacts>;
}
const LEVELS = LoggingLevelSchema.options;
/** Subscription limits that all clients share: worth reclaiming abandoned subscriptions for. */
const SERVER_WIDE = new Set([LIMIT_SETTINGS.subscriptionsTotal, LIMIT_SETTINGS.subscriptionsTotalBytes]);
/** The SDK v2 handler context (`ctx` of `setRequestHandler` and `register*` callbacks). */
type Extra = ServerContext;

/**
 * An MCP server: tools, resources and prompts declared with decorators or plain functions and
 * zod schemas, served through nginx+nchan by {@link HTTMCP.router}, and over any other SDK
 * transport with {@link HTTMCP.connect}.
 *
 * The definitions are plain data; every transport gets its own SDK `McpServer` built from them.
 *
 * @example
 * const calc = new HTTMCP({ name: 'calc', version: '1.0.0' })
 *   .tool('add', { input: { a: z.number(), b: z.number() } }, ({ a, b }) => a + b);
 * app.use(calc.router);
 */
export class HTTMCP {
  readonly name: string;
  readonly options: HTTMCPOptions;
  private readonly definitions: Definition[] = [];
  /** The scopes of tools, prompts and resources declared with `scopes` (enforced when authentication is on). */
  readonly scopes = new Scopes();
  /** The scopes of tools declared with `scopes`, by tool name (see {@link HTTMCP.scopes} for prompts and resources). */
  get toolScopes(): ReadonlyMap<string, readonly string[]> {
    return this.scopes.tools;
  }
  private readonly servers = new Set<McpServer>();
  /** The SDK's per-operation `cacheHints` (undefined: the SDK's safe default). */
  private readonly cacheHints: CacheHints | undefined;
  /** `cacheHint` of items that declared one: kind -> name (tools, prompts) or URI (template) -> hint. */
  private readonly itemHints = new Map<ItemKind, Map<string, CacheHint>>();
  /** The multi-round-trip input of SDK servers that serve the 2026 era (see {@link createMcpServer}). */
  private readonly multiRounds = new WeakMap<McpServer, MultiRound>();
  /** Per-session `logging/setLevel`, bounded so idle sessions cannot grow it without limit. */
  private logLevelMap: BoundedMap<string, LoggingLevel> | undefined;
  private mounted: Mounted | undefined;
  /** `resources/subscribe`: uri -> subscriber (session id, or one SDK server's client) -> sender. */
  private subscriptionMap: Subscriptions | undefined;
  /** Identities of SDK servers connected to single-client transports, for subscriptions. */
  private readonly serverIds = new WeakMap<McpServer, string>();
  private nextServerId = 1;

  constructor(options: HTTMCPOptions) {
    if (!NAME.test(options.name)) {
      throw new TypeError(`server name ${JSON.stringify(options.name)} must match ${NAME} (it is a URL segment)`);
    }
    this.name = options.name;
    this.options = options;
    // The environment's hint is the default of servers that set none (`HTTMCP_CACHE_TTL_MS`, `HTTMCP_CACHE_SCOPE`).
    this.cacheHints = serverCacheHints(options.cacheHint ?? cacheHintFromEnv(), options.cacheHints);
  }

  /** Adds a tool. The handler's arguments are typed from `options.input`. */
  tool<I extends ZodRawShape | undefined = undefined, O extends ZodRawShape | undefined = undefined>(
    name: string,
    options: ToolOptions<I, O>,
    handler: ToolHandler<I, O>,
  ): this {
    return this.add({ kind: 'tool', name, options, handler } as Definition);
  }

  /** Adds a resource; a URI with `{variables}` adds a resource template. */
  resource<U extends string>(name: string, uri: U, options: ResourceOptions, handler: ResourceHandler<U>): this {
    return this.add({ kind: 'resource', name, uri, options, handler } as Definition);
  }

  /** Adds a prompt. The handler's arguments are typed from `options.args`. */
  prompt<A extends ZodRawShape | undefined = undefined>(name: string, options: PromptOptions<A>, handler: PromptHandler<A>): this {
    return this.add({ kind: 'prompt', name, options, handler } as Definition);
  }

  /** Adds every tool, resource and prompt declared with decorators on `instances`. */
  register(...instances: object[]): this {
    for (const instance of instances) {
      const found = definitionsOf(instance);
      if (found.length === 0) {
        throw new TypeError(`${instance.constructor.name} has no @tool, @resource or @prompt methods`);
      }
      for (const definition of found) this.add(definition);
    }
    return this;
  }

  /**
   * Tells every client subscribed to `uri` (`resources/subscribe`) that it changed
   * (`notifications/resources/updated`). Subscriptions live in this process: on several
   * backends, call it where the subscription was made (sessions stick to one backend).
   */
  async resourceUpdated(uri: string): Promise<void> {
    // 2026-07-28 listen streams: one publish, whoever listens, on every node.
    await this.mounted?.fanout.resourceUpdated(uri);
    const senders = this.subscriptions.senders(uri);
    if (senders.length === 0) return;
    const notification: ServerNotification = { method: 'notifications/resources/updated', params: { uri } };
    await Promise.all(senders.map((send) => send(notification)));
  }

  /**
   * Tells every client that the list of `kind` changed (`notifications/{kind}/list_changed`)
   * without adding anything: for lists whose content depends on state outside the definitions.
   * Adding a tool, resource or prompt sends it already. 2025-era sessions get it on their streams;
   * 2026-07-28 `subscriptions/listen` streams that asked for it get it through one nchan publish.
   * Resolves once it has been handed to nginx (a client that cannot be reached is not the
   * caller's error).
   */
  async listChanged(kind: ListKind): Promise<void> {
    const send = {
      tools: (server: McpServer) => server.server.sendToolListChanged(),
      prompts: (server: McpServer) => server.server.sendPromptListChanged(),
      resources: (server: McpServer) => server.server.sendResourceListChanged(),
    }[kind];
    await Promise.allSettled([...this.servers].filter((server) => server.isConnected()).map(send));
  }

  /** The bounds this server applies: its gateway's, or the defaults before it is mounted. */
  private get limits(): BackendLimits {
    return this.mounted?.gateway.limits ?? DEFAULT_LIMITS;
  }

  private get subscriptions(): Subscriptions {
    return (this.subscriptionMap ??= new Subscriptions(this.limits));
  }

  private get logLevels(): BoundedMap<string, LoggingLevel> {
    return (this.logLevelMap ??= new BoundedMap(this.limits.trackedSessions));
  }

  /**
   * Whether a `tools/call` of `name` reaches a tool: only such names become metric labels and
   * span names, so clients cannot create series at will.
   */
  hasTool(name: string): boolean {
    return this.definitions.some((d) => d.kind === 'tool' && d.name === name);
  }

  /** Whether a tool of this server runs as a task (has the `task` option). */
  hasTaskTools(): boolean {
    return this.definitions.some((d) => d.kind === 'tool' && d.options.task);
  }

  /** @internal The Tasks extension of this server when it is served without a gateway (stdio). */
  standaloneTasks: Tasks | undefined;

  /** How the tool `name` takes part in tasks (its `task` option), if it does. */
  taskSupport(name: string): TaskSupport | undefined {
    const definition = this.definitions.find((d) => d.kind === 'tool' && d.name === name);
    return definition?.kind === 'tool' ? definition.options.task : undefined;
  }

  /** @internal See `Context.runAsTask`: `id` is the request id the 2026-era instance knows. */
  runAsTask(id: RequestId, server: McpServer): Promise<boolean> {
    return (this.mounted?.tasks ?? this.standaloneTasks)?.detach(id, server) ?? Promise.resolve(false);
  }

  /** @internal A tool handler threw `error`: a protocol error fails the task it runs for, if any. */
  toolThrew(id: RequestId, error: unknown): void {
    if (error instanceof ProtocolError) (this.mounted?.tasks ?? this.standaloneTasks)?.protocolError(id, error);
  }

  /**
   * Counts a finished tool call in the gateway's call log (the operator console; a server not
   * mounted on a gateway counts nothing). `error`: what it failed with, if it did.
   */
  recordCall(tool: string, startedAt: number, error?: unknown): void {
    this.mounted?.gateway.calls.record(this.name, tool, performance.now() - startedAt, error);
  }

  /** Names of everything registered, for logs and tests. */
  get catalog(): { tools: string[]; resources: string[]; prompts: string[] } {
    const names = (kind: Definition['kind']) => this.definitions.filter((d) => d.kind === kind).map((d) => d.name);
    return { tools: names('tool'), resources: names('resource'), prompts: names('prompt') };
  }

  /**
   * The Express router nginx talks to for this server (`/mcp/{name}` and its internal hops),
   * bound to `options.gateway` or the process-wide one from the environment.
   * Mount several servers' routers on one app. With authentication on (the gateway's `auth`,
   * `HTTMCP_OAUTH_ISSUER` or `HTTMCP_API_KEYS`), it also answers nginx's auth_request verdicts
   * and the Protected Resource Metadata of the gateway's servers (docs/auth.md).
   */
  get router(): Router {
    return this.mount(this.options.gateway ?? Gateway.shared());
  }

  /** The router bound to `gateway`. A server is mounted on one gateway at a time. */
  mount(gateway: Gateway): Router {
    const mounted = this.attach(gateway);
    // With auth on, every router also answers nginx's verdicts and the metadata of the gateway's servers.
    mounted.router ??= createNchanRouter(mounted.endpoint, gateway.backendKey, gateway.auth && createAuthRoutes(gateway.auth, (server) => gateway.serves(server), gateway.logger));
    return mounted.router;
  }

  /** Where the 2026-07-28 request path opens `subscriptions/listen` streams, bound to `gateway`. */
  listenEndpoint(gateway: Gateway): ListenEndpoint {
    return this.attach(gateway).listen;
  }

  /** The framework-neutral endpoint bound to `gateway` (what the router and node:http serve). */
  endpoint(gateway: Gateway): NchanEndpoint {
    return this.attach(gateway).endpoint;
  }

  private attach(gateway: Gateway): Mounted {
    if (this.mounted) {
      if (this.mounted.gateway !== gateway) throw new Error(`${this.name} is already mounted on another gateway`);
      return this.mounted;
    }
    const hub = gateway.createHub(this.name);
    hub.onSessionClosed = (session) => this.forgetSession(session);
    hub.retainedByServer = () => ({
      subscriptions: this.subscriptionMap?.size ?? 0,
      subscriptionsBytes: this.subscriptionMap?.bytes ?? 0,
      logLevels: this.logLevelMap?.size ?? 0,
    });
    const server = this.createMcpServer();
    // One observer per server: the hub tells it itself; the 2026 transport through a layer (below).
    const observer = observeRequests({
      server: this.name,
      metrics: gateway.requestMetrics ? gateway.metrics : undefined,
      hasTool: (name) => this.hasTool(name),
      logger: gateway.logger,
    });
    hub.observer = observer;
    const fanout = new ListenFanout(this.name, gateway.publisher, gateway.logger);
    // This instance's list_changed also goes to listen streams: the one place they are published.
    void server.connect(this.middleware(new ListChangedFanout(hub, fanout)));
    let modern: ModernEndpoint | undefined;
    // Multi-round-trip input of the 2026 instance: the intake sees each request before it, and the
    // exchange table says who sent it (its requestState is bound to that principal).
    // Task reruns run under ids only the tasks extension knows: ask it first.
    const rounds = gateway.createMultiRound(this.name, (id) => (tasks?.tasks.requestFacts(id) ?? modern?.transport.requestFacts(id))?.principal ?? '');
    const modernFactory = this.modernServerFactory(rounds);
    // Tasks (2026-07-28 extension) only for servers with task tools: others advertise nothing.
    const tasks =
      modernFactory && this.definitions.some((d) => d.kind === 'tool' && d.options.task)
        ? tasksForModern(gateway, { name: this.name, version: this.options.version }, (tool) => this.taskSupport(tool), {
            // A task's rounds are running requests of the principal that created it.
            admit: (facts) => modern?.hold(facts?.principal ?? ''),
            // Checked before a task is made: the scopes middleware sees only its rounds.
            authorize: (request, facts) => (facts?.auth && this.scopes.size > 0 ? scopeRefusal(this.scopes, request, facts.auth.scopes) : undefined),
          })
        : undefined;
    modern = modernFactory
      ? gateway.createModern(this.name, tasks ? tasks.factory(modernFactory) : modernFactory, (transport) => {
          // Task rounds enter below the middleware, so scopes and metrics see them as calls, and
          // above the intake, so a task's handler can ask for input (its requestState is bound).
          const checked = rounds.intake(tasks ? tasks.wrap(transport) : transport);
          return this.middleware(observer ? new InstrumentedTransport(checked, observer) : checked);
        })
      : undefined;
    const listen = new ListenEndpoint(this.name, gateway, this.scopes);
    // Listen streams are held by nchan, not by the pinned instance (src/listen/).
    modern?.hooks.set('subscriptions/listen', ({ request, headers }) => listen.open(request, headers));
    this.mounted = {
      gateway, hub, server,
      endpoint: new NchanEndpoint(this.name, hub, gateway, this.scopes, modern),
      listen, fanout,
      ...(tasks ? { tasks: tasks.tasks } : {}),
    };
    return this.mounted;
  }

  /** Detaches from the gateway: in-flight requests are dropped and the router stops answering. */
  async unmount(): Promise<void> {
    const mounted = this.mounted;
    this.mounted = undefined;
    await mounted?.tasks?.close();
    await mounted?.endpoint.modern?.close();
    await mounted?.server.close();
  }

  /**
   * What builds the SDK v2 instance that serves this server's 2026-07-28 requests (one per
   * server, pinned to that era: src/http/modern.ts), or undefined when it serves none. `rounds`
   * serves its multi-round-trip input (pass `rounds.serverOptions` to the instance).
   */
  protected modernServerFactory(rounds: MultiRound): (() => McpServer) | undefined {
    return () => this.createMcpServer(rounds);
  }

  /** Serves this server over any SDK transport (stdio, NATS, in-memory...). */
  async connect(transport: Transport): Promise<McpServer> {
    const server = this.createMcpServer();
    await server.connect(this.middleware(transport));
    return server;
  }

  /**
   * @internal `transport` under httmcp's middleware (pagination, per-item scopes, cache hints):
   * what an SDK server of this HTTMCP server is connected to, directly or through the SDK's
   * stdio entry.
   */
  middleware(transport: Transport): Transport {
    const hinted = new CacheHintTransport(transport, {
      itemHint: (kind, key) => this.itemHints.get(kind)?.get(key),
      dependsOnPrincipal: (kind, key) => this.dependsOnPrincipal(kind, key),
    });
    return new ScopedTransport(new PaginatingTransport(hinted, this.options.pageSize ?? 100, this.options.pageBytes), this.scopes);
  }

  /**
   * Whether this server acts with its caller's own bearer token (RFC 8693 token exchange), so
   * that the edge must pass the client's `Authorization` header on to the backend. False: with
   * authentication on, nginx drops the header and the verdict's principal is all a call carries.
   */
  get exchangesCallerToken(): boolean {
    return false;
  }

  /**
   * Whether what clients get of `kind` (its list, or reading resource `key`) depends on who
   * asks, so that its 2026-07-28 results are never `cacheScope: 'public'`: lists filtered by
   * scopes, and resources that need scopes. Subclasses that answer per caller say so too.
   */
  protected dependsOnPrincipal(kind: ItemKind, key: string | undefined): boolean {
    switch (kind) {
      case 'tool':
        return this.scopes.tools.size > 0;
      case 'prompt':
        return this.scopes.prompts.size > 0;
      case 'resource':
      case 'template':
        return key === undefined ? this.scopes.size - this.scopes.tools.size - this.scopes.prompts.size > 0 : this.scopes.of({ kind: 'resource', name: key }) !== undefined;
    }
  }

  /**
   * A fresh SDK `McpServer` carrying every definition; kept in sync with later additions. With
   * `rounds`, its handlers ask for input in multi-round-trip requests when it serves the 2026 era.
   */
  createMcpServer(rounds?: MultiRound): McpServer {
    const { name, version, title, instructions } = this.options;
    const server = new McpServer(
      { name, version, ...(title === undefined ? {} : { title }) },
      { capabilities: { logging: {} }, ...(instructions === undefined ? {} : { instructions }), ...(this.cacheHints === undefined ? {} : { cacheHints: this.cacheHints }), ...rounds?.serverOptions },
    );
    if (rounds) this.multiRounds.set(server, rounds);
    server.server.setRequestHandler('logging/setLevel', (request, extra) => {
      this.logLevels.set(this.subscriberKey(extra, server), request.params.level);
      return {};
    });
    declareEveryKind(server);
    server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
    /** Who subscribed through this SDK server: forgotten with it (its clients cannot be reached). */
    const subscribed = new Set<string>();
    server.server.setRequestHandler('resources/subscribe', async (request, extra) => {
      const key = this.subscriberKey(extra, server);
      // The hub's sessions are forgotten when they end; one set of all of them would only grow.
      if (!this.mounted || server !== this.mounted.server) subscribed.add(key);
      const subscribe = () => this.subscriptions.add(request.params.uri, key, this.principalOf(extra, server), this.laterSender(sessionOf(extra, server), server));
      let refusal = subscribe();
      if (refusal && SERVER_WIDE.has(refusal.data.limit) && (await this.reclaimSubscriptions()) > 0) refusal = subscribe();
      if (refusal) throw new ProtocolError(refusal.code, refusal.message, refusal.data);
      return {};
    });
    server.server.setRequestHandler('resources/unsubscribe', (request, extra) => {
      this.subscriptions.remove(request.params.uri, this.subscriberKey(extra, server));
      return {};
    });
    for (const definition of this.definitions) apply(server, definition, this);
    this.servers.add(server);
    server.server.onclose = () => {
      this.servers.delete(server);
      this.forgetSession(this.serverKey(server));
      for (const key of subscribed) this.forgetSession(key);
    };
    return server;
  }

  /**
   * @internal The input round of one handler run, when `server` serves the 2026 era (undefined on
   * a 2025 one: its handlers ask the client with real requests).
   */
  inputRound(extra: Extra, server: McpServer): InputRound | undefined {
    return this.multiRounds.get(server)?.round(extra, server.server.getNegotiatedProtocolVersion());
  }

  /** @internal Builds the context handed to handlers of `server` (`round`: see {@link inputRound}). */
  context(extra: Extra, server: McpServer, tool?: string, round?: InputRound): Context {
    return this.buildContext(extra, server, tool, round, undefined);
  }

  /** @internal The context of a read of resource `uri` (see {@link context}). */
  resourceContext(extra: Extra, server: McpServer, uri: URL, round?: InputRound): ResourceContext {
    return this.buildContext(extra, server, undefined, round, uri) as ResourceHandlerContext;
  }

  /** The {@link HandlerContext} of one handler run; a {@link ResourceHandlerContext} when `uri` is given. */
  private buildContext(extra: Extra, server: McpServer, tool: string | undefined, round: InputRound | undefined, uri: URL | undefined): HandlerContext {
    // Read once: the transport forgets a request's facts when its reply leaves, and handlers may
    // log or push after that (background work).
    // A task round runs under an id of the tasks extension, which keeps its request's facts.
    const modern = modernRequestFacts(server, extra.mcpReq.id) ?? this.mounted?.tasks?.requestFacts(extra.mcpReq.id, server);
    const facts = modern ?? factsOfContext(extra, server.server.transport);
    // A request on a session of the hub: its facts carry who sent it, and the SDK was not given
    // it (a context of its own with `http.authInfo` cost two objects and a spread per call).
    // Handlers still read it where the SDK puts it on a 2025 session, `ctx.extra.http.authInfo`.
    const hubAuthInfo = modern === undefined && extra.http === undefined ? facts?.authInfo : undefined;
    if (hubAuthInfo !== undefined) extra.http = { authInfo: hubAuthInfo };
    const sessionId = extra.sessionId ?? facts?.session;
    const key = sessionId ?? this.serverKey(server);
    const requestId = modern?.clientId ?? extra.mcpReq.id;
    // One object for the lazy reads and the 2025 session's questions (RequestSources), not a
    // closure each: built on every call, read by few.
    const sources = new RequestSources(this, extra, server, facts, sessionId, requestId, tool, round);
    const progressToken = extra.mcpReq._meta?.progressToken;
    // Named one by one below rather than spread: a spread takes V8's slow path, a measurable part
    // of every call.
    const input = inputMethods(round, sources);
    const fields: ContextFields = {
      sessionId,
      requestId,
      signal: extra.mcpReq.signal,
      auth: modern ? modern.auth : principalOfAuthInfo(extra.http?.authInfo),
      extra,
      progress: async (progress, total, message) => {
        if (progressToken === undefined) return;
        await extra.mcpReq.notify({
          method: 'notifications/progress',
          params: { progressToken, progress, ...(total === undefined ? {} : { total }), ...(message === undefined ? {} : { message }) },
        });
      },
      log: async (level, data, logger) => {
        // A 2026-07-28 request names its level in its `_meta` envelope, which the SDK applies;
        // 2025 sessions set theirs with `logging/setLevel`, kept here per session.
        if (extra.mcpReq.envelope !== undefined) return extra.mcpReq.log(level, data, logger);
        const threshold = this.logLevels.get(key);
        if (threshold !== undefined && LEVELS.indexOf(level) < LEVELS.indexOf(threshold)) return;
        await extra.mcpReq.notify({
          method: 'notifications/message',
          params: { level, data, ...(logger === undefined ? {} : { logger }) },
        });
      },
      push: (notification) => this.laterSender(sessionId, server)(notification as ServerNotification),
      sample: input.sample,
      elicit: input.elicit,
      roots: input.roots,
      input: input.input,
      closeStream: async () => {
        if (this.mounted && server === this.mounted.server) await this.mounted.hub.closeStream(requestId);
        else extra.http?.closeSSE?.();
      },
      runAsTask: () => this.runAsTask(extra.mcpReq.id, server),
    };
    const context = uri === undefined ? new HandlerContext(fields, sources) : new ResourceHandlerContext(fields, sources, uri);
    if (modern?.authInfo) rememberRequestAuthInfo(context, modern.authInfo);
    return context;
  }

  /**
   * How to reach the client of a request at any time, also after the request ended: through
   * the hub for a session nchan holds, else as a notification of the client's own SDK server.
   */
  private laterSender(session: string | undefined, server: McpServer): (notification: ServerNotification) => Promise<void> {
    const mounted = this.mounted;
    if (mounted && server === mounted.server && session !== undefined) {
      return (notification) => mounted.hub.push(session, { jsonrpc: '2.0', ...notification });
    }
    return (notification) => server.server.notification(notification);
  }

  /** @internal The gateway's logger handlers' loggers derive from (undefined: none given). */
  baseLogger(): Logger | undefined {
    return this.mounted?.gateway.logger ?? this.options.gateway?.logger;
  }

  /** @internal How long a question to a 2025 session's client waits by default. */
  requestTimeoutMs(): number {
    return this.options.requestTimeoutMs ?? 60_000;
  }

  /**
   * @internal What the client of a session declared at `initialize` (undefined when not known).
   * The SDK's `getClientCapabilities()` is instance-wide (the last `initialize` wins), so the hub
   * keeps them per session.
   */
  clientCapabilities(session: string | undefined, server: McpServer): ClientCapabilities | undefined {
    if (this.mounted && server === this.mounted.server && session !== undefined) return this.mounted.hub.clientCapabilities(session);
    return server.server.getClientCapabilities();
  }

  /**
   * Forgets subscriptions of sessions nobody listens on any more (their channel has no
   * subscriber): a Streamable HTTP client that left without DELETE never says so otherwise.
   */
  private reclaimSubscriptions(): Promise<number> {
    const mounted = this.mounted;
    if (!mounted) return Promise.resolve(0);
    return this.subscriptions.reclaim(async (key) => {
      if (key.startsWith('server:')) return false; // forgotten when its SDK server closes
      const info = await mounted.gateway.publisher.info(key);
      return info === undefined || info.subscribers === 0;
    });
  }

  /**
   * Who sent this request, for per-principal bounds ('' when anonymous or not known). A task's
   * round is its creator's: the principal of the request that started the round, which the task
   * store bound to the task.
   */
  protected principalOf(extra: Extra, server: McpServer): string {
    if (this.mounted && server === this.mounted.server) return this.mounted.hub.principalOf(extra.mcpReq.id) ?? '';
    const id = extra.mcpReq.id;
    return (modernRequestFacts(server, id) ?? (this.mounted?.tasks ?? this.standaloneTasks)?.requestFacts(id, server))?.principal ?? '';
  }

  /** Who per-client state belongs to: the request's session, or the one client of an SDK server. */
  private subscriberKey(extra: Extra, server: McpServer): string {
    return sessionOf(extra, server) ?? this.serverKey(server);
  }

  /** The key of the one client of an SDK server on a single-client transport. */
  private serverKey(server: McpServer): string {
    let id = this.serverIds.get(server);
    if (!id) this.serverIds.set(server, (id = `server:${this.nextServerId++}`));
    return id;
  }

  /** Drops what a session left behind (subscriptions, log level) when it ends. */
  private forgetSession(key: string): void {
    this.logLevelMap?.delete(key);
    this.subscriptionMap?.forget(key);
  }

  private add(definition: Definition): this {
    if (this.definitions.some((d) => d.kind === definition.kind && d.name === definition.name)) {
      throw new TypeError(`${this.name}: a ${definition.kind} named ${JSON.stringify(definition.name)} is already registered`);
    }
    if (definition.kind === 'resource' && this.definitions.some((d) => d.kind === 'resource' && d.uri === definition.uri)) {
      throw new TypeError(`${this.name}: a resource at ${JSON.stringify(definition.uri)} is already registered`);
    }
    const hint = definition.options.cacheHint;
    if (hint) checkCacheHint(hint, `${this.name}: ${definition.kind} ${definition.name}`);
    for (const server of this.servers) apply(server, definition, this);
    this.definitions.push(definition);
    if (hint) {
      const kind: ItemKind = definition.kind === 'resource' ? (definition.uri.includes('{') ? 'template' : 'resource') : definition.kind;
      const key = definition.kind === 'resource' ? definition.uri : definition.name;
      let hints = this.itemHints.get(kind);
      if (!hints) this.itemHints.set(kind, (hints = new Map()));
      hints.set(key, hint);
    }
    const scopes = definition.options.scopes;
    if (scopes?.length) {
      if (definition.kind === 'tool') this.scopes.tools.set(definition.name, [...scopes]);
      else if (definition.kind === 'prompt') this.scopes.prompts.set(definition.name, [...scopes]);
      else this.scopes.setResource(definition.uri, [...scopes]);
    }
    return this;
  }
}

let fallbackLogger: Logger | undefined;

/**
 * What one handler run's {@link HandlerContext} reads on demand (its logger, headers, the
 * client's capabilities) and how a 2025 session's client is asked (`sample`, `elicit`, `roots`,
 * `input`): one object per call holding the request's values, where closures over them cost a
 * function object each on every call, read or not.
 */
class RequestSources implements ContextSources, SessionAsker {
  constructor(
    private readonly owner: HTTMCP,
    private readonly extra: Extra,
    private readonly server: McpServer,
    private readonly facts: { headers?: Record<string, string | string[] | undefined> } | undefined,
    private readonly sessionId: string | undefined,
    private readonly requestId: RequestId,
    private readonly tool: string | undefined,
    private readonly round: InputRound | undefined,
  ) {}

  logger(): Logger {
    const base = this.owner.baseLogger() ?? defaultLogger();
    const sessionId = this.sessionId;
    return base.child({ server: this.owner.name, ...(sessionId === undefined ? { request: this.requestId } : { session: sessionId }), ...(this.tool === undefined ? {} : { tool: this.tool }) });
  }

  headers(): Record<string, string | string[] | undefined> | undefined {
    return this.facts?.headers;
  }

  clientCapabilities(): ClientCapabilities | undefined {
    // A 2026-07-28 request declares them in its envelope; a 2025 session at initialize.
    return this.round
      ? ((this.extra.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined)
      : this.owner.clientCapabilities(this.sessionId, this.server);
  }

  async ask<T>(capability: keyof ClientCapabilities, request: ServerRequest, timeoutMs: number | undefined): Promise<T> {
    const capabilities = this.owner.clientCapabilities(this.sessionId, this.server);
    // Unknown capabilities (a session opened before a backend restart) are tried: the client
    // answers with an error if it cannot, and the timeout bounds the wait.
    if (capabilities && capabilities[capability] === undefined) {
      throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `The client does not support ${request.method} (it did not declare the ${capability} capability)`);
    }
    // `mcpReq.send`, not `mcpReq.elicitInput`/`requestSampling`: only it relates the request to
    // this one, which is how the hub knows which session to send it to.
    const options: RequestOptions = { timeout: timeoutMs ?? this.owner.requestTimeoutMs() };
    return (await this.extra.mcpReq.send(request as { method: ServerRequest['method']; params?: Record<string, unknown> }, options)) as T;
  }
}

/** The process logger for handlers of a server not mounted on a gateway (stdio, NATS, tests). */
function defaultLogger(): Logger {
  return (fallbackLogger ??= createLogger());
}

/** The session a request belongs to: the transport's, or the one the hub delivered it for. */
function sessionOf(extra: Extra, server: McpServer): string | undefined {
  return extra.sessionId ?? factsOfContext(extra, server.server.transport)?.session;
}

/**
 * The SDK installs the handlers of a kind (tools, resources, prompts) on its first registration
 * and refuses to after connecting; registering and removing a placeholder of each kind before
 * connecting lets tools, resources and prompts be added at any time later.
 */
function declareEveryKind(server: McpServer): void {
  const placeholder = '__httmcp_placeholder__';
  server.registerTool(placeholder, {}, () => ({ content: [] })).remove();
  server.registerResource(placeholder, `httmcp://${placeholder}`, {}, () => ({ contents: [] })).remove();
  server.registerPrompt(placeholder, {}, () => ({ messages: [] })).remove();
}

/**
 * A zod shape as the zod object the SDK takes (what it would make of a raw shape itself). A whole
 * zod schema passes as it is: the typed API asks for a shape, but a schema with `.meta()` or a
 * strict root needs the object (see examples/everything.ts).
 */
function objectSchema(shape: ZodRawShape | undefined): z.ZodType {
  if (shape === undefined) return z.object({});
  return isZodSchema(shape) ? shape : z.object(shape);
}

function isZodSchema(value: object): value is z.ZodType {
  return typeof (value as { _zod?: unknown })._zod === 'object';
}

/** The text of a tool result that reports an error, for the call log. */
function toolErrorText(result: CallToolResult): string {
  const text = result.content.find((part) => part.type === 'text');
  return text && 'text' in text ? text.text : 'isError';
}

function apply(server: McpServer, definition: Definition, owner: HTTMCP): void {
  switch (definition.kind) {
    case 'tool': {
      const { options, handler } = definition;
      const structured = options.output !== undefined;
      server.registerTool(
        definition.name,
        {
          ...(options.title === undefined ? {} : { title: options.title }),
          ...(options.description === undefined ? {} : { description: options.description }),
          ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
          // Schemas as zod objects (the v2 SDK's preferred form; a raw shape becomes the same object).
          inputSchema: objectSchema(options.input),
          ...(options.output === undefined ? {} : { outputSchema: objectSchema(options.output) }),
        },
        async (args: unknown, extra: Extra) => {
          const started = performance.now();
          try {
            const round = owner.inputRound(extra, server);
            const ctx = owner.context(extra, server, definition.name, round);
            const returned = await runInRound(round, handler, args as never, ctx);
            // Asking for input (2026-07-28), or the SDK's explicit `inputRequired(...)` form.
            if (isInputRequiredResult(returned)) {
              owner.recordCall(definition.name, started);
              return returned;
            }
            const result = toToolResult(returned, structured);
            owner.recordCall(definition.name, started, result.isError ? toolErrorText(result) : undefined);
            return result;
          } catch (error) {
            owner.recordCall(definition.name, started, error ?? 'error');
            owner.toolThrew(extra.mcpReq.id, error);
            throw error;
          }
        },
      );
      return;
    }
    case 'resource': {
      const { options, handler, uri } = definition;
      const metadata = {
        ...(options.title === undefined ? {} : { title: options.title }),
        ...(options.description === undefined ? {} : { description: options.description }),
        ...(options.mimeType === undefined ? {} : { mimeType: options.mimeType }),
        // The SDK puts it on this resource's reads, over the server's `resources/read` hint.
        ...(options.cacheHint === undefined ? {} : { cacheHint: options.cacheHint }),
      };
      const read = async (url: URL, variables: Record<string, string | string[]>, extra: Extra) => {
        const round = owner.inputRound(extra, server);
        const ctx = owner.resourceContext(extra, server, url, round);
        const returned = await runInRound(round, handler, variables as never, ctx);
        return isInputRequiredResult(returned) ? returned : toResourceResult(returned, url, options.mimeType);
      };
      if (uri.includes('{')) {
        const complete = options.complete
          ? Object.fromEntries(
              Object.entries(options.complete).map(([variable, suggest]) => [
                variable,
                (value: string, context?: { arguments?: Record<string, string> }) => suggest(value, { arguments: context?.arguments ?? {} }),
              ]),
            )
          : undefined;
        server.registerResource(definition.name, new ResourceTemplate(uri, { list: undefined, ...(complete ? { complete } : {}) }), metadata, read);
      } else {
        server.registerResource(definition.name, uri, metadata, (url, extra) => read(url, {}, extra));
      }
      return;
    }
    case 'prompt': {
      const { options, handler } = definition;
      server.registerPrompt(
        definition.name,
        {
          ...(options.title === undefined ? {} : { title: options.title }),
          ...(options.description === undefined ? {} : { description: options.description }),
          ...(options.args === undefined ? {} : { argsSchema: objectSchema(options.args) }),
        },
        async (...params: unknown[]) => {
          const [args, extra] = (options.args === undefined ? [{}, params[0]] : params) as [unknown, Extra];
          const round = owner.inputRound(extra, server);
          const ctx = owner.context(extra, server, undefined, round);
          const returned = await runInRound(round, handler, args as never, ctx);
          return isInputRequiredResult(returned) ? returned : toPromptResult(returned, options.description);
        },
      );
      return;
    }
  }
}
