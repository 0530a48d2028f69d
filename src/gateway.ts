import type { RequestId } from '@modelcontextprotocol/server';
import type { Logger } from './log.js';
import { createLogger } from './log.js';
import { NchanPublisher } from './nchan/publisher.js';
import { NchanStatusReader } from './nchan/status.js';
import { ModernEndpoint, type ModernEndpointOptions } from './http/modern.js';
import { StatusHold } from './http/status-hold.js';
import { openTaskStore, resolveTaskSettings, TASK_STORE_SETTING, taskSettingsFromEnv, type TaskSettings } from './tasks/settings.js';
import type { TaskStore } from './tasks/store.js';
import { MultiRound } from './mrtr/multi-round.js';
import { SessionHub, type HubRetained, type Wire } from './session/session-hub.js';
import { OpenCounts } from './observability/open-counts.js';
import { limitsFromEnv, resolveLimits, type BackendLimits } from './session/limits.js';
import { DEFAULT_MESSAGE_BUFFER, parseNginxSeconds, type MessageBuffer } from './session/resume.js';
import { principalFromHeaders, SessionIds } from './session/session-id.js';
import { PrincipalQuota, type PrincipalQuotaOptions } from './auth/principal-quota.js';
import { RedisRateCounter, type RateCounter } from './auth/rate-counter.js';
import { Authenticator, type AuthOptions } from './auth/authenticator.js';
import { authFromEnv } from './auth/config.js';
import { decodePrincipal, principalKey, PRINCIPAL_HEADER, type Principal } from './auth/principal.js';
import { BoundedMap } from './util/bounded-map.js';
import { deriveBackendKey } from './http/backend-guard.js';
import { BackendMetrics } from './observability/metrics.js';
import { MIN_GC_FOLD_MS } from './observability/process-metrics.js';
import { CallLog } from './console/call-log.js';

/** Settings shared by every server of one backend process. */
export interface GatewayOptions {
  /** nchan's private publish listener: `http://host:port` or `unix:/path.sock` (`HTTMCP_PUBLISH_URL`). */
  publishUrl: string;
  /**
   * HMAC secret for session ids, shared by all backends of a deployment
   * (`HTTMCP_SESSION_SECRET`). Generated at start when unset: sessions then survive only as long
   * as this process.
   */
  sessionSecret?: string;
  /**
   * Authentication at the edge (off when unset): nginx asks this backend for a verdict on each
   * request's token and passes the principal on; sessions are then bound to the principal.
   * `HTTMCP_OAUTH_ISSUER`, `HTTMCP_API_KEYS` and `HTTMCP_PUBLIC_URL` (see docs/auth.md).
   */
  auth?: AuthOptions | Authenticator;
  /**
   * With {@link auth}: per-principal WebSocket and per-tool limits counted here, where nginx
   * cannot count them (`HTTMCP_PRINCIPAL_CONNECTIONS`, `HTTMCP_PRINCIPAL_TOOL_RATE`,
   * `HTTMCP_PRINCIPAL_TOOL_BURST`, the settings of nginx's own per-principal limits).
   */
  principalQuota?: PrincipalQuotaOptions;
  /**
   * With {@link auth}: count the per-principal call rates in this Redis, shared by every node on
   * it, instead of in this process (`HTTMCP_RATE_STORE`; `httmcp start --redis` sets it to
   * nchan's Redis; `off` keeps the count in this process). The server's rate is
   * `HTTMCP_PRINCIPAL_RATE`/`_BURST` (default 50, burst 100), the tool's {@link principalQuota}'s;
   * past `timeoutMs` (`HTTMCP_RATE_STORE_TIMEOUT_MS`, default 100) a call is counted on this node
   * instead (docs/auth.md, "Across a cluster").
   */
  sharedRates?: { url: string; timeoutMs?: number; ratePerSecond?: number; burst?: number };
  /**
   * Who the client is, for binding sessions; default: a digest of its Authorization header, or
   * with {@link auth} the verified principal's issuer and subject.
   */
  principal?: (headers: Record<string, string | string[] | undefined>) => string;
  /** See {@link SessionHubOptions.inlineBudgetMs} (`HTTMCP_INLINE_BUDGET_MS`). */
  inlineBudgetMs?: number;
  /**
   * How long from its arrival a 2026-era POST that has sent nothing yet keeps its HTTP exchange
   * past the inline budget, so that a refusal raised meanwhile still gets its HTTP 4xx
   * (`HTTMCP_STATUS_HOLD_MS`, default 1000; at most the inline budget turns it off). See
   * {@link StatusHold}.
   */
  statusHoldMs?: number;
  /** Most 2026-era POSTs held so at once in this process (`HTTMCP_STATUS_HOLD_MAX`, default 256); the rest move to their stream at the inline budget. */
  statusHoldMax?: number;
  /** Largest client message in bytes (`HTTMCP_MAX_MESSAGE`, default 4 MiB). */
  maxMessageBytes?: number;
  /** Largest reply answered inline; keep below nginx's subrequest_output_buffer_size. */
  inlineReplyMax?: number;
  /** See {@link SessionHubOptions.livenessIntervalMs} (`HTTMCP_LIVENESS_INTERVAL_MS`). */
  livenessIntervalMs?: number;
  /** Per-attempt timeout of a publish to nchan in ms (`HTTMCP_PUBLISH_TIMEOUT_MS`, default 5000). */
  publishTimeoutMs?: number;
  /**
   * nchan's message buffer, the same values nginx runs with (`HTTMCP_MESSAGE_BUFFER_LENGTH`,
   * default 200; `HTTMCP_MESSAGE_TIMEOUT`, default 10m): tells a resuming client when events
   * it missed may be gone.
   */
  messageBuffer?: MessageBuffer;
  /**
   * Bounds of what one client can make the backend keep or run: requests in flight,
   * subscriptions, declared capabilities, batch length... (`HTTMCP_MAX_*`; see
   * {@link BackendLimits} and docs/operations.md, "Limits").
   */
  limits?: Partial<BackendLimits>;
  logger?: Logger;
  /**
   * Record per-tool call counts, errors and latency (`HTTMCP_REQUEST_METRICS`, default on; `off`
   * leaves `/metrics` with the gateway's own counters, nchan's and the process's).
   */
  requestMetrics?: boolean;
  /** See {@link BackendMetricsOptions.maxToolsPerServer} (`HTTMCP_METRICS_MAX_TOOLS`, default 500). */
  metricsMaxTools?: number;
  /** See {@link BackendMetricsOptions.gcFoldMs} (`HTTMCP_GC_FOLD_MS`, default 5000). */
  gcFoldMs?: number;
  /**
   * Where tasks (the `io.modelcontextprotocol/tasks` extension) are kept: a store, or a
   * `redis://` URL every backend on it shares (`HTTMCP_TASK_STORE`; `httmcp start --redis` sets
   * it to nchan's Redis). Default: in this process.
   */
  taskStore?: TaskStore | string;
  /** Task ttl, poll interval, per-principal bounds and lease (`HTTMCP_TASK_*`, docs/operations.md). */
  taskSettings?: Partial<TaskSettings>;
  /**
   * Lifetime of the signed `requestState` of a multi-round-trip request in seconds
   * (`HTTMCP_REQUEST_STATE_TTL`, default 600): a client must answer within it.
   */
  requestStateTtlSeconds?: number;
  /**
   * Largest `inputResponses` of a 2026-era retry, and of the answers its `requestState` carries,
   * in bytes of JSON (`HTTMCP_MAX_INPUT_RESPONSES_BYTES`, default 256 KiB).
   */
  maxInputResponsesBytes?: number;
  /** Longest wait for nchan's status (a scrape, a console poll), in ms (`HTTMCP_NCHAN_STATUS_TIMEOUT_MS`, default 1000). */
  nchanStatusTimeoutMs?: number;
  /** How long nchan's status is reused by scrapes and console polls, in ms (`HTTMCP_NCHAN_STATUS_CACHE_MS`, default 1000). */
  nchanStatusCacheMs?: number;
  /**
   * @internal False: 2026-era requests and their replies take the SDK `serveStdio` entry's own
   * way to the pinned instance (src/http/entry-shortcut.ts); tests compare the two. Default true.
   */
  entryShortcut?: boolean;
}

/**
 * Where httmcp servers meet nginx+nchan: the publisher, the session id signer and the limits,
 * shared by every server mounted in one process.
 */
export class Gateway {
  readonly publisher: NchanPublisher;
  readonly sessionIds: SessionIds;
  readonly logger: Logger;
  readonly maxMessageBytes: number;
  readonly principal: (headers: Record<string, string | string[] | undefined>) => string;
  readonly messageBuffer: MessageBuffer;
  /** Authentication, when it is on. */
  readonly auth: Authenticator | undefined;
  /** Per-principal WebSocket and per-tool limits (authentication on only). */
  readonly quota: PrincipalQuota | undefined;
  /**
   * Where per-principal call rates are counted (authentication on only): {@link quota} in this
   * process, or Redis with {@link GatewayOptions.sharedRates}.
   */
  readonly rates: RateCounter | undefined;
  /**
   * What nginx must send in `X-Httmcp-Backend-Key` for the backend to serve a request (derived
   * from the session secret; see {@link deriveBackendKey}).
   */
  readonly backendKey: string;
  /** The bounds every server of this gateway applies. */
  readonly limits: BackendLimits;
  /** This backend's Prometheus registry and recorders (served at `/metrics`). */
  readonly metrics: BackendMetrics;
  /** nchan's status, read through one cache by `/metrics` and the console. */
  readonly nchanStatus: NchanStatusReader;
  /** Whether per-tool metrics are recorded ({@link GatewayOptions.requestMetrics}). */
  readonly requestMetrics: boolean;
  /** Recent tool calls and per-tool counters of every server, for the operator console. */
  readonly calls = new CallLog();
  /**
   * Open sessions, streams and requests by transport and era (the console and `/metrics`): the
   * session hubs' requests and request streams are read from their state; each era's path adds
   * counters or a source of its own (see {@link OpenCounts}).
   */
  readonly open = new OpenCounts();
  private readonly options: GatewayOptions;
  /** The session secret, kept only to derive the `requestState` key from it ({@link createMultiRound}). */
  private readonly secret: string;
  private readonly hubs = new Set<SessionHub>();
  private tasks: TaskStore | undefined;
  private resolvedTaskSettings: TaskSettings | undefined;
  private readonly moderns = new Set<ModernEndpoint>();
  /** The status hold every server's 2026 path shares (one bound for the process). */
  private readonly statusHold: StatusHold;
  /** Trusted principal headers already decoded (authentication on). */
  private readonly principals = new BoundedMap<string, Principal>(10_000);
  private static instance: Gateway | undefined;

  constructor(options: GatewayOptions) {
    this.options = options;
    this.logger = options.logger ?? createLogger();
    let secret = options.sessionSecret;
    if (!secret) {
      secret = SessionIds.generateSecret();
      this.logger.warn('HTTMCP_SESSION_SECRET is not set: generated one, so sessions end when this process does');
    }
    this.sessionIds = new SessionIds(secret);
    this.secret = secret;
    this.backendKey = deriveBackendKey(secret);
    this.publisher = new NchanPublisher({
      url: options.publishUrl,
      logger: this.logger,
      ...(options.publishTimeoutMs === undefined ? {} : { timeoutMs: options.publishTimeoutMs }),
    });
    this.maxMessageBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
    this.statusHold = new StatusHold({
      ...(options.statusHoldMs === undefined ? {} : { holdMs: options.statusHoldMs }),
      ...(options.statusHoldMax === undefined ? {} : { maxHeld: options.statusHoldMax }),
    });
    this.auth = options.auth === undefined || options.auth instanceof Authenticator ? options.auth : new Authenticator(options.auth);
    this.quota = this.auth ? new PrincipalQuota(options.principalQuota) : undefined;
    const shared = options.sharedRates;
    this.rates =
      this.quota && shared
        ? new RedisRateCounter({
            ...shared,
            toolRatePerSecond: this.quota.toolRatePerSecond,
            toolBurst: this.quota.toolBurst,
            fallback: this.quota,
            logger: this.logger,
          })
        : this.quota;
    this.principal =
      options.principal ??
      (this.auth
        ? (headers) => keyOfVerified(this.verifiedPrincipal(headers))
        : principalFromHeaders);
    this.messageBuffer = options.messageBuffer ?? DEFAULT_MESSAGE_BUFFER;
    this.limits = resolveLimits(options.limits);
    this.requestMetrics = options.requestMetrics ?? true;
    this.open.addSource(() => this.hubFigures());
    this.nchanStatus = new NchanStatusReader({
      publishUrl: options.publishUrl,
      ...(options.nchanStatusTimeoutMs === undefined ? {} : { timeoutMs: options.nchanStatusTimeoutMs }),
      ...(options.nchanStatusCacheMs === undefined ? {} : { cacheMs: options.nchanStatusCacheMs }),
    });
    this.metrics = new BackendMetrics({
      figures: () => this.stats(),
      open: () => this.open.snapshot(),
      nchanStatus: this.nchanStatus,
      ...(options.metricsMaxTools === undefined ? {} : { maxToolsPerServer: options.metricsMaxTools }),
      ...(options.gcFoldMs === undefined ? {} : { gcFoldMs: options.gcFoldMs }),
    });
  }

  /** A gateway configured from `HTTMCP_*` environment variables. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, overrides: Partial<GatewayOptions> = {}): Gateway {
    const publishUrl = overrides.publishUrl ?? env.HTTMCP_PUBLISH_URL;
    if (!publishUrl) {
      throw new Error('HTTMCP_PUBLISH_URL is not set: it names nchan\'s publish listener (for example unix:/run/httmcp/publish.sock)');
    }
    const number = (name: string): number | undefined => {
      const raw = env[name];
      if (raw === undefined || raw === '') return undefined;
      const value = Number(raw);
      if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
      return value;
    };
    const options: GatewayOptions = { publishUrl };
    const secret = env.HTTMCP_SESSION_SECRET;
    if (secret) options.sessionSecret = secret;
    const budget = number('HTTMCP_INLINE_BUDGET_MS');
    if (budget !== undefined) options.inlineBudgetMs = budget;
    const hold = number('HTTMCP_STATUS_HOLD_MS');
    if (hold !== undefined) options.statusHoldMs = hold;
    const holdMax = number('HTTMCP_STATUS_HOLD_MAX');
    if (holdMax !== undefined) options.statusHoldMax = holdMax;
    const maxMessage = number('HTTMCP_MAX_MESSAGE');
    if (maxMessage !== undefined) options.maxMessageBytes = maxMessage;
    const publishTimeout = number('HTTMCP_PUBLISH_TIMEOUT_MS');
    if (publishTimeout !== undefined) options.publishTimeoutMs = publishTimeout;
    const inlineMax = number('HTTMCP_INLINE_REPLY_MAX');
    if (inlineMax !== undefined) options.inlineReplyMax = inlineMax;
    const liveness = number('HTTMCP_LIVENESS_INTERVAL_MS');
    if (liveness !== undefined) options.livenessIntervalMs = liveness;
    const requestMetrics = env.HTTMCP_REQUEST_METRICS;
    if (requestMetrics !== undefined && requestMetrics !== '') {
      if (!/^(on|off|1|0|true|false)$/.test(requestMetrics)) throw new Error(`HTTMCP_REQUEST_METRICS must be on or off, got ${JSON.stringify(requestMetrics)}`);
      options.requestMetrics = /^(on|1|true)$/.test(requestMetrics);
    }
    const maxTools = number('HTTMCP_METRICS_MAX_TOOLS');
    if (maxTools !== undefined) options.metricsMaxTools = maxTools;
    const gcFold = number('HTTMCP_GC_FOLD_MS');
    if (gcFold !== undefined && gcFold < MIN_GC_FOLD_MS) throw new Error(`HTTMCP_GC_FOLD_MS must be at least ${MIN_GC_FOLD_MS} (ms), got ${gcFold}`);
    if (gcFold !== undefined) options.gcFoldMs = gcFold;
    const taskStore = env[TASK_STORE_SETTING];
    if (taskStore) options.taskStore = taskStore;
    const taskSettings = taskSettingsFromEnv(env);
    if (Object.keys(taskSettings).length > 0) options.taskSettings = taskSettings;
    const stateTtl = number('HTTMCP_REQUEST_STATE_TTL');
    if (stateTtl !== undefined) options.requestStateTtlSeconds = stateTtl;
    const maxInputResponses = number('HTTMCP_MAX_INPUT_RESPONSES_BYTES');
    if (maxInputResponses !== undefined) options.maxInputResponsesBytes = maxInputResponses;
    const statusTimeout = number('HTTMCP_NCHAN_STATUS_TIMEOUT_MS');
    if (statusTimeout !== undefined) options.nchanStatusTimeoutMs = statusTimeout;
    const statusCache = number('HTTMCP_NCHAN_STATUS_CACHE_MS');
    if (statusCache !== undefined) options.nchanStatusCacheMs = statusCache;
    const bufferLength = number('HTTMCP_MESSAGE_BUFFER_LENGTH');
    const bufferTimeout = env.HTTMCP_MESSAGE_TIMEOUT ? parseNginxSeconds(env.HTTMCP_MESSAGE_TIMEOUT) : undefined;
    if (bufferLength !== undefined || bufferTimeout !== undefined) {
      options.messageBuffer = {
        length: bufferLength ?? DEFAULT_MESSAGE_BUFFER.length,
        timeoutSeconds: bufferTimeout ?? DEFAULT_MESSAGE_BUFFER.timeoutSeconds,
      };
    }
    const limits = limitsFromEnv(env);
    if (Object.keys(limits).length > 0) options.limits = limits;
    const quota: PrincipalQuotaOptions = {};
    const webSockets = number('HTTMCP_PRINCIPAL_CONNECTIONS');
    if (webSockets !== undefined) quota.webSockets = webSockets;
    const toolRate = number('HTTMCP_PRINCIPAL_TOOL_RATE');
    if (toolRate !== undefined) quota.toolRatePerSecond = toolRate;
    const toolBurst = number('HTTMCP_PRINCIPAL_TOOL_BURST');
    if (toolBurst !== undefined) quota.toolBurst = toolBurst;
    if (Object.keys(quota).length > 0) options.principalQuota = quota;
    const rateStore = env.HTTMCP_RATE_STORE;
    // `off`: counted in this process even where the stack has a Redis (`--redis`).
    if (rateStore && rateStore !== 'off') {
      const timeoutMs = number('HTTMCP_RATE_STORE_TIMEOUT_MS');
      const ratePerSecond = number('HTTMCP_PRINCIPAL_RATE');
      const burst = number('HTTMCP_PRINCIPAL_BURST');
      options.sharedRates = {
        url: rateStore,
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
        ...(ratePerSecond === undefined ? {} : { ratePerSecond }),
        ...(burst === undefined ? {} : { burst }),
      };
    }
    if (!('auth' in overrides)) {
      const auth = authFromEnv(env);
      if (auth) options.auth = auth;
    }
    return new Gateway({ ...options, ...overrides, limits: { ...options.limits, ...overrides.limits } });
  }

  /**
   * The principal nginx verified for this request (its trusted header), or undefined when
   * authentication is off or the request did not come through the edge's check.
   */
  verifiedPrincipal(headers: Record<string, string | string[] | undefined>): Principal | undefined {
    if (!this.auth) return undefined;
    const raw = headers[PRINCIPAL_HEADER];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value === undefined) return undefined;
    // Decoded once per distinct header: a session's requests all carry the same one.
    let principal = this.principals.get(value);
    if (principal === undefined) {
      principal = decodePrincipal(value);
      if (principal) this.principals.set(value, principal);
    }
    return principal;
  }

  /**
   * {@link principal} of a request whose {@link verifiedPrincipal} the caller looked up already:
   * the hot path looks it up once per request, not once per check.
   */
  principalFor(headers: Record<string, string | string[] | undefined>, verified: Principal | undefined): string {
    if (this.auth === undefined || this.options.principal !== undefined) return this.principal(headers);
    return keyOfVerified(verified);
  }

  /** The process-wide gateway used by servers that were not given one (from the environment). */
  static shared(): Gateway {
    return (Gateway.instance ??= Gateway.fromEnv());
  }

  /** nchan's publish listener (`http://host:port` or `unix:/path.sock`). */
  get publishUrl(): string {
    return this.options.publishUrl;
  }

  /**
   * The 2026-07-28 request path of the server named `name`, served by one instance from
   * `factory` (see {@link ModernEndpoint}); same inline budget and reply limits as its hub.
   */
  createModern(name: string, factory: ModernEndpointOptions['factory'], wrap?: ModernEndpointOptions['wrap']): ModernEndpoint {
    const { inlineBudgetMs, inlineReplyMax, livenessIntervalMs, entryShortcut } = this.options;
    const modern = new ModernEndpoint({
      name,
      factory,
      ...(wrap === undefined ? {} : { wrap }),
      publisher: this.publisher,
      logger: this.logger,
      limits: this.limits,
      statusHold: this.statusHold,
      ...(inlineBudgetMs === undefined ? {} : { inlineBudgetMs }),
      ...(inlineReplyMax === undefined ? {} : { inlineReplyMax }),
      ...(livenessIntervalMs === undefined ? {} : { livenessIntervalMs }),
      ...(entryShortcut === undefined ? {} : { entryShortcut }),
    });
    // The console's and /metrics' 2026 figures, read from the endpoints' own state at each look.
    if (this.moderns.size === 0) this.open.addSource(() => this.modernOpen());
    this.moderns.add(modern);
    return modern;
  }

  /** 2026-07-28 requests running and request streams nchan holds, over every server. */
  private modernOpen(): { transport: 'streamable'; era: '2026-07-28'; kind: 'requests' | 'streams'; value: number }[] {
    let requests = 0;
    let streams = 0;
    for (const modern of this.moderns) {
      requests += modern.inflight;
      streams += modern.streaming;
    }
    return [
      { transport: 'streamable', era: '2026-07-28', kind: 'requests', value: requests },
      { transport: 'streamable', era: '2026-07-28', kind: 'streams', value: streams },
    ];
  }

  /** The task settings every server of this gateway applies. */
  get taskSettings(): TaskSettings {
    return (this.resolvedTaskSettings ??= resolveTaskSettings(this.options.taskSettings));
  }

  /** Where every server of this gateway keeps its tasks (made on first use). */
  get taskStore(): TaskStore {
    if (!this.tasks) {
      const configured = this.options.taskStore;
      this.tasks =
        typeof configured === 'object'
          ? configured
          : openTaskStore(configured, (error) => this.logger.warn({ err: error }, 'task store (Redis) connection error'));
    }
    return this.tasks;
  }

  /**
   * Multi-round-trip requests of one SDK instance of the server `name` (2026-07-28): its
   * `requestState` is signed with a key derived from this gateway's session secret, so every
   * backend of the deployment verifies it. `principal` tells who sent a request by the id the
   * instance knows it by.
   */
  createMultiRound(name: string, principal: (id: RequestId) => string): MultiRound {
    const { requestStateTtlSeconds, maxInputResponsesBytes } = this.options;
    return new MultiRound({
      server: name,
      sessionSecret: this.secret,
      principal,
      maxInFlight: this.limits.inflightTotal,
      ...(requestStateTtlSeconds === undefined ? {} : { ttlSeconds: requestStateTtlSeconds }),
      ...(maxInputResponsesBytes === undefined ? {} : { maxInputResponsesBytes }),
    });
  }

  /**
   * Whether a server named `name` is mounted on this gateway: the servers an Express app's
   * routers answer auth verdicts and metadata for (each router for all of them, see router.ts).
   */
  serves(name: string): boolean {
    for (const hub of this.hubs) if (hub.name === name) return true;
    return false;
  }

  /** A session hub for the server named `name`. */
  createHub(name: string): SessionHub {
    const { inlineBudgetMs, inlineReplyMax, livenessIntervalMs } = this.options;
    const hub = new SessionHub({
      name,
      publisher: this.publisher,
      logger: this.logger,
      ...(inlineBudgetMs === undefined ? {} : { inlineBudgetMs }),
      ...(inlineReplyMax === undefined ? {} : { inlineReplyMax }),
      ...(livenessIntervalMs === undefined ? {} : { livenessIntervalMs }),
      limits: this.limits,
    });
    this.hubs.add(hub);
    const onclose = hub.onclose;
    hub.onclose = () => {
      this.hubs.delete(hub);
      onclose?.();
    };
    return hub;
  }

  /** The 2025-era requests and request streams of every hub, for {@link open}. */
  private *hubFigures(): Iterable<{ transport: Wire; era: '2025'; kind: 'requests' | 'streams'; value: number }> {
    for (const hub of this.hubs) {
      for (const [transport, figures] of Object.entries(hub.openFigures()) as Array<[Wire, { requests: number; streams: number }]>) {
        yield { transport, era: '2025', kind: 'requests', value: figures.requests };
        yield { transport, era: '2025', kind: 'streams', value: figures.streams };
      }
    }
  }

  /**
   * Requests being handled, publish counters, and what every server keeps between messages
   * (`retained`, summed over servers: see docs/operations.md, "Limits"), for metrics and tests.
   */
  stats(): { inflight: number; sessionsClosed: number; published: number; retried: number; failed: number; rateFallbacks: number; retained: Record<string, number> } {
    let inflight = 0;
    let sessionsClosed = 0;
    const retained: Record<string, number> = {};
    // 2026-era requests: all a server keeps for them lives from arrival to reply.
    retained.modernInflight = 0;
    retained.modernStreams = 0;
    // 2026-era POSTs whose exchange is held past the inline budget (the status hold).
    retained.modernHeld = this.statusHold.held;
    for (const modern of this.moderns) {
      inflight += modern.inflight;
      retained.modernInflight += modern.inflight;
      retained.modernStreams += modern.streaming;
    }
    for (const hub of this.hubs) {
      inflight += hub.inflightCount;
      sessionsClosed += hub.closedSessionCount;
      for (const [key, value] of Object.entries(hub.retained as HubRetained)) retained[key] = (retained[key] ?? 0) + value;
    }
    const rateFallbacks = this.rates instanceof RedisRateCounter ? this.rates.fallbacks : 0;
    return { inflight, sessionsClosed, ...this.publisher.stats, rateFallbacks, retained };
  }

  async close(): Promise<void> {
    // A store given in the options belongs to whoever gave it.
    if (this.tasks && typeof this.options.taskStore !== 'object') await this.tasks.close().catch(() => {});
    if (this.rates instanceof RedisRateCounter) await this.rates.close();
    await this.metrics.close();
    await this.nchanStatus.close();
    await this.publisher.close();
  }
}

/** With authentication on, a session is bound to the verified principal's issuer and subject. */
const principalKeys = new WeakMap<Principal, string>();
function principalKeyOf(principal: Principal): string {
  let key = principalKeys.get(principal);
  if (key === undefined) principalKeys.set(principal, (key = principalKey(principal)));
  return key;
}

/** What a request's session id is bound to with authentication on: its verified principal's key, or '' without one. */
function keyOfVerified(verified: Principal | undefined): string {
  return verified ? principalKeyOf(verified) : '';
}
