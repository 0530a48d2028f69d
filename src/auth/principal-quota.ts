import { BoundedMap } from '../util/bounded-map.js';
import type { RateCounter, RedisRateCounter } from './rate-counter.js';

/**
 * What one authenticated principal may hold and send on one server, counted by the backend where
 * nginx cannot count it (docs/auth.md, "Rate limits per principal"):
 *
 * - open WebSocket sessions: a WebSocket is served at the edge with no hop through the core,
 *   whose `limit_conn` counts every other request and stream of a principal;
 * - calls of one tool, prompt or resource by clients that name it only in the body (before
 *   protocol 2026-07-28 there is no `Mcp-Name` header for nginx's per-tool `limit_req`).
 *
 * Per process: a cluster of N backends admits up to N times these, unless the call rates are
 * counted in a shared Redis ({@link RedisRateCounter}, which falls back to this count when Redis
 * does not answer; docs/auth.md, "Across a cluster").
 */
export interface PrincipalQuotaOptions {
  /** Open WebSocket sessions of one principal on one server (default 128, as nginx's per-principal connections). */
  webSockets?: number;
  /** Calls per second of one tool, prompt or resource by one principal (default 20, as nginx's). */
  toolRatePerSecond?: number;
  /** Calls above that rate admitted at once (default 40, as nginx's). */
  toolBurst?: number;
  /** Principal-and-tool pairs whose rate is tracked; the oldest are forgotten past it (default 100,000). */
  trackedTools?: number;
  /**
   * Age after which a counted WebSocket may be checked with nchan when its principal is at the
   * limit, in ms (default 10 s): one whose close was never reported (a worker that died) must
   * not hold its slot for good.
   */
  staleCheckAfterMs?: number;
}

/** A refused open or call: what the client is told (HTTP 429 + Retry-After, and `data` of the JSON-RPC error). */
export interface QuotaRefusal {
  limit: 'connections' | 'rate';
  retryAfterSeconds: number;
  message: string;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Where a caller keeps the bucket key of its last {@link PrincipalQuota.takeCall}, one per
 * holder that calls for one principal on one server (a session): a session's calls mostly name
 * the tool of its last call, and reusing that key (whose hash V8 keeps in the string) spares
 * building and hashing a new one per call. Opaque to the caller.
 */
export interface CallKeyMemo {
  lastCall?: { principal: string; server: string; kind: string; name: string; key: string };
}

/** Per-principal WebSocket counts and per-tool token buckets of one backend process. */
export class PrincipalQuota implements RateCounter {
  /** nginx counts the calls whose `Mcp-Name` names their tool, on this node as this count does. */
  readonly countsEveryCall = false;
  readonly webSockets: number;
  readonly toolRatePerSecond: number;
  readonly toolBurst: number;
  /** Open WebSocket sessions by principal and server. */
  private readonly openByKey = new Map<string, Set<string>>();
  /** The key each open WebSocket session counts against, and when it opened. */
  private readonly keyOfSession = new Map<string, { key: string; openedAt: number }>();
  private readonly staleCheckAfterMs: number;
  private readonly buckets: BoundedMap<string, Bucket>;

  constructor(options: PrincipalQuotaOptions = {}, private readonly now: () => number = Date.now) {
    this.webSockets = options.webSockets ?? 128;
    this.toolRatePerSecond = options.toolRatePerSecond ?? 20;
    this.toolBurst = options.toolBurst ?? 40;
    for (const [name, value, least] of [['webSockets', this.webSockets, 1], ['toolRatePerSecond', this.toolRatePerSecond, 1], ['toolBurst', this.toolBurst, 0]] as const) {
      if (!Number.isInteger(value) || value < least) throw new RangeError(`principal quota ${name} must be an integer of at least ${least}, got ${value}`);
    }
    this.buckets = new BoundedMap(options.trackedTools ?? 100_000);
    this.staleCheckAfterMs = options.staleCheckAfterMs ?? 10_000;
  }

  /**
   * Counts a WebSocket session `principal` opens on `server`, or refuses it past the limit. Open
   * sessions are counted until {@link webSocketClosed} (nchan's unsubscribe hook) forgets them;
   * at most one entry per open WebSocket, which nginx's client cap bounds.
   */
  openWebSocket(principal: string, server: string, session: string): QuotaRefusal | undefined {
    const key = `${principal}\n${server}`;
    let open = this.openByKey.get(key);
    if (open && open.size >= this.webSockets && !open.has(session)) {
      return {
        limit: 'connections',
        retryAfterSeconds: 5,
        message: `Too many open WebSockets of this principal on this server (at most ${this.webSockets}): close some or retry after 5 s`,
      };
    }
    if (!open) this.openByKey.set(key, (open = new Set()));
    open.add(session);
    this.keyOfSession.set(session, { key, openedAt: this.now() });
    return undefined;
  }

  /**
   * The oldest `count` WebSockets counted for `principal` on `server` that opened at least
   * `staleCheckAfterMs` ago: when the principal is at its limit, the caller asks nchan whether
   * they still have a subscriber and reports the ones that do not as closed.
   */
  staleCandidates(principal: string, server: string, count: number): string[] {
    const open = this.openByKey.get(`${principal}\n${server}`);
    const candidates: string[] = [];
    if (!open) return candidates;
    const before = this.now() - this.staleCheckAfterMs;
    // A Set iterates in insertion order: the oldest first.
    for (const session of open) {
      if (candidates.length >= count || this.keyOfSession.get(session)!.openedAt > before) break;
      candidates.push(session);
    }
    return candidates;
  }

  /** A WebSocket session closed: it no longer counts. Unknown sessions are ignored. */
  webSocketClosed(session: string): void {
    const key = this.keyOfSession.get(session)?.key;
    if (key === undefined) return;
    this.keyOfSession.delete(session);
    const open = this.openByKey.get(key);
    open?.delete(session);
    if (open?.size === 0) this.openByKey.delete(key);
  }

  /** WebSocket sessions counted now (all principals and servers). */
  get openWebSocketCount(): number {
    return this.keyOfSession.size;
  }

  /**
   * Takes one call of `target` (a tool's, prompt's or resource's kind and name) by `principal`
   * on `server` from its token bucket (`toolRatePerSecond`, `toolBurst` more at once: nginx's
   * `limit_req ... burst nodelay`), or refuses it with the time until the next one is allowed.
   * `memo`: see {@link CallKeyMemo}.
   */
  takeCall(principal: string, server: string, target: { kind: string; name: string }, memo?: CallKeyMemo): QuotaRefusal | undefined {
    const last = memo?.lastCall;
    let key: string;
    if (last !== undefined && last.name === target.name && last.kind === target.kind && last.principal === principal && last.server === server) {
      key = last.key;
    } else {
      key = `${principal}\n${server}\n${target.kind}\n${target.name}`;
      if (memo) memo.lastCall = { principal, server, kind: target.kind, name: target.name, key };
    }
    const now = this.now();
    const capacity = this.toolBurst + 1;
    // Updated in place: a Map.set per call (to keep the map in least-recently-used order) cost
    // as much as the rest of the check. The oldest pairs are forgotten first instead.
    let bucket = this.buckets.get(key);
    if (bucket === undefined) this.buckets.set(key, (bucket = { tokens: capacity, at: now }));
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.toolRatePerSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / this.toolRatePerSecond));
      return {
        limit: 'rate',
        retryAfterSeconds,
        message: `Too many calls of ${target.kind} ${target.name} by this principal (at most ${this.toolRatePerSecond} per second): retry after ${retryAfterSeconds} s`,
      };
    }
    bucket.tokens -= 1;
    return undefined;
  }
}
