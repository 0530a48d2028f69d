import { integerSettingsFromEnv, resolveIntegerSettings } from '../util/integer-settings.js';

/**
 * JSON-RPC error code of a request refused because a bound of the backend was reached (a
 * server-defined code, -32000 to -32099; 29 as in HTTP 429). The message names the limit and
 * the setting that raises it; `data` carries both for programs.
 */
export const LIMIT_EXCEEDED = -32029;

/**
 * Every bound the backend puts on what one client can make it keep or run. Each has a default
 * (see {@link DEFAULT_LIMITS}) and an environment variable read by `Gateway.fromEnv`; the table
 * is in docs/operations.md, "Limits / Backend".
 *
 * "Per principal" bounds apply to authenticated clients (a non-empty principal, by default a
 * digest of the Authorization header). Anonymous clients all share the empty principal, so for
 * them only the per-session and total bounds apply; the edge's per-address limits stand in.
 */
export interface BackendLimits {
  /** Requests one session may have running (`HTTMCP_MAX_INFLIGHT_PER_SESSION`). */
  inflightPerSession: number;
  /** Requests one principal may have running over all its sessions (`HTTMCP_MAX_INFLIGHT_PER_PRINCIPAL`). */
  inflightPerPrincipal: number;
  /** Requests running in one server of this process (`HTTMCP_MAX_INFLIGHT`). */
  inflightTotal: number;
  /** `resources/subscribe` URIs one session may hold (`HTTMCP_MAX_SUBSCRIPTIONS_PER_SESSION`). */
  subscriptionsPerSession: number;
  /** Subscriptions one principal may hold over all its sessions (`HTTMCP_MAX_SUBSCRIPTIONS_PER_PRINCIPAL`). */
  subscriptionsPerPrincipal: number;
  /** Subscriptions one server holds in all (`HTTMCP_MAX_SUBSCRIPTIONS`). */
  subscriptionsTotal: number;
  /** Longest URI a client may subscribe to, in bytes (`HTTMCP_MAX_SUBSCRIPTION_URI`). */
  subscriptionUriBytes: number;
  /** Bytes of subscribed URIs one server holds in all (`HTTMCP_SUBSCRIPTIONS_MEMORY`). */
  subscriptionsTotalBytes: number;
  /** Largest `capabilities` an `initialize` may declare, in bytes of JSON (`HTTMCP_MAX_CLIENT_CAPABILITIES`). */
  capabilitiesBytes: number;
  /**
   * Bytes of declared capabilities kept for all sessions of a server; the oldest are forgotten
   * past it (`HTTMCP_CLIENT_CAPABILITIES_MEMORY`). Forgetting is harmless: an unknown client is
   * asked (sampling, elicitation, roots) and answers an error if it cannot.
   */
  capabilitiesTotalBytes: number;
  /**
   * Sessions whose small per-session state (capabilities, `logging/setLevel`, leaving legacy SSE
   * streams, verified and deleted ids) is kept; the oldest are forgotten past it
   * (`HTTMCP_MAX_TRACKED_SESSIONS`).
   */
  trackedSessions: number;
  /** Messages in one JSON-RPC batch (`HTTMCP_MAX_BATCH`). */
  batchLength: number;
  /** Nesting of arrays and objects in one client message (`HTTMCP_MAX_JSON_DEPTH`). */
  jsonDepth: number;
  /**
   * Requests the server sent to clients (sampling, elicitation, roots, ping) still awaiting an
   * answer; past it the oldest is forgotten and its late answer dropped (`HTTMCP_MAX_SERVER_REQUESTS`).
   */
  serverRequests: number;
  /** Event ids of Streamable HTTP request streams remembered for resuming (`HTTMCP_MAX_RESUME_EVENTS`). */
  resumeEvents: number;
  /**
   * Finished Streamable HTTP request streams waiting for their client to attach before they are
   * ended; past it a stream is left to nchan's message timeout (`HTTMCP_MAX_STREAM_CLOSERS`).
   */
  streamClosers: number;
  /**
   * Resource URIs one `subscriptions/listen` stream (2026-07-28) may subscribe to, at most 250:
   * nchan subscribes a stream to at most 255 channels (`HTTMCP_MAX_LISTEN_URIS`).
   */
  listenUris: number;
}

/** The most resource URIs a listen stream can take: nchan's 255 channels, less its ack and list_changed channels. */
export const MAX_LISTEN_URIS = 250;

export const DEFAULT_LIMITS: Readonly<BackendLimits> = Object.freeze({
  inflightPerSession: 100,
  inflightPerPrincipal: 1_000,
  inflightTotal: 10_000,
  subscriptionsPerSession: 100,
  subscriptionsPerPrincipal: 1_000,
  subscriptionsTotal: 50_000,
  subscriptionUriBytes: 2 * 1024,
  subscriptionsTotalBytes: 16 * 1024 * 1024,
  capabilitiesBytes: 16 * 1024,
  capabilitiesTotalBytes: 16 * 1024 * 1024,
  trackedSessions: 100_000,
  batchLength: 100,
  jsonDepth: 128,
  serverRequests: 10_000,
  resumeEvents: 100_000,
  streamClosers: 10_000,
  listenUris: MAX_LISTEN_URIS,
});

/** The environment variable of each limit. */
export const LIMIT_SETTINGS: Readonly<Record<keyof BackendLimits, string>> = Object.freeze({
  inflightPerSession: 'HTTMCP_MAX_INFLIGHT_PER_SESSION',
  inflightPerPrincipal: 'HTTMCP_MAX_INFLIGHT_PER_PRINCIPAL',
  inflightTotal: 'HTTMCP_MAX_INFLIGHT',
  subscriptionsPerSession: 'HTTMCP_MAX_SUBSCRIPTIONS_PER_SESSION',
  subscriptionsPerPrincipal: 'HTTMCP_MAX_SUBSCRIPTIONS_PER_PRINCIPAL',
  subscriptionsTotal: 'HTTMCP_MAX_SUBSCRIPTIONS',
  subscriptionUriBytes: 'HTTMCP_MAX_SUBSCRIPTION_URI',
  subscriptionsTotalBytes: 'HTTMCP_SUBSCRIPTIONS_MEMORY',
  capabilitiesBytes: 'HTTMCP_MAX_CLIENT_CAPABILITIES',
  capabilitiesTotalBytes: 'HTTMCP_CLIENT_CAPABILITIES_MEMORY',
  trackedSessions: 'HTTMCP_MAX_TRACKED_SESSIONS',
  batchLength: 'HTTMCP_MAX_BATCH',
  jsonDepth: 'HTTMCP_MAX_JSON_DEPTH',
  serverRequests: 'HTTMCP_MAX_SERVER_REQUESTS',
  resumeEvents: 'HTTMCP_MAX_RESUME_EVENTS',
  streamClosers: 'HTTMCP_MAX_STREAM_CLOSERS',
  listenUris: 'HTTMCP_MAX_LISTEN_URIS',
});

/** `partial` over the defaults; every value must be a positive integer. */
export function resolveLimits(partial: Partial<BackendLimits> = {}): BackendLimits {
  const limits = resolveIntegerSettings(DEFAULT_LIMITS, partial, LIMIT_SETTINGS);
  if (limits.listenUris > MAX_LISTEN_URIS) throw new RangeError(`${LIMIT_SETTINGS.listenUris} must be at most ${MAX_LISTEN_URIS} (nchan's channels per subscriber), got ${limits.listenUris}`);
  return limits;
}

/** The limits set in `env` (`HTTMCP_MAX_*`); unset ones are left out. */
export function limitsFromEnv(env: NodeJS.ProcessEnv): Partial<BackendLimits> {
  return integerSettingsFromEnv<BackendLimits>(env, LIMIT_SETTINGS);
}

/** The JSON-RPC error object for a request refused by limit `key`. */
export function limitError(key: keyof BackendLimits, limits: BackendLimits, what: string): { code: number; message: string; data: { limit: string; value: number } } {
  const setting = LIMIT_SETTINGS[key];
  return {
    code: LIMIT_EXCEEDED,
    message: `Limit reached: ${what} (at most ${limits[key]}; setting ${setting})`,
    data: { limit: setting, value: limits[key] },
  };
}
