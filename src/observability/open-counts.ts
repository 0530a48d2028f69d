/** How clients reach a server: a WebSocket, legacy HTTP+SSE (2024-11-05) or Streamable HTTP. */
export type TransportName = 'websocket' | 'sse' | 'streamable';

/**
 * The protocol era of what is open: `2025` for the session-based revisions (2024-11-05 to
 * 2025-11-25), `2026-07-28` for the per-request envelope without sessions.
 */
export type Era = '2025' | '2026-07-28';

/**
 * What is open: `sessions` a client keeps (WebSocket and legacy SSE; Streamable HTTP sessions
 * hold nothing open between requests, and 2026-07-28 has none), `streams` nchan holds for
 * clients (session streams, Streamable HTTP GET streams, request streams of slow requests,
 * 2026 listen streams), `requests` being handled.
 */
export type OpenKind = 'sessions' | 'streams' | 'requests';

/** One row of {@link OpenCounts.snapshot}: what clients of one transport and era hold open now. */
export interface OpenRow {
  transport: TransportName;
  era: Era;
  /** Undefined where the transport and era have no sessions that stay open. */
  sessions: number | undefined;
  streams: number;
  requests: number;
}

/** A count kept by whoever sees the opens and closes: {@link OpenCounts.counter}. */
export class OpenCounter {
  private count = 0;

  /** Something opened (or started). */
  inc(): void {
    this.count++;
  }

  /** Something closed (or ended); a close never seen opened is ignored. */
  dec(): void {
    if (this.count > 0) this.count--;
  }

  get value(): number {
    return this.count;
  }
}

/** Figures a request path reads from its own state when asked (exact, nothing kept per event). */
export type OpenSource = () => Iterable<{ transport: TransportName; era: Era; kind: OpenKind; value: number }>;

const TRANSPORTS: readonly TransportName[] = ['websocket', 'sse', 'streamable'];
const ERAS: readonly Era[] = ['2025', '2026-07-28'];
/** Where sessions stay open between requests (the console shows the others' as not applicable). */
const HAS_SESSIONS = (transport: TransportName, era: Era) => era === '2025' && transport !== 'streamable';

/**
 * Open sessions, streams and requests by transport and era, for the operator console and
 * `/metrics`. A request path either keeps {@link OpenCounter}s (an `inc()` when something opens,
 * a `dec()` when it closes: a number addition, for hot paths) or registers an {@link OpenSource}
 * that reads its own state when the console asks. Both add up.
 *
 * The 2026-07-28 path, for example: `const running = gateway.open.counter('streamable',
 * '2026-07-28', 'requests')` once, then `running.inc()` when a request is accepted and
 * `running.dec()` when its reply is out (or it is cancelled); likewise a `'streams'` counter
 * around each stream nchan holds (a slow request's, a `subscriptions/listen`).
 */
export class OpenCounts {
  private readonly counters = new Map<string, OpenCounter>();
  private readonly sources = new Set<OpenSource>();

  /** The counter of `kind` for `transport` and `era` (the same object for the same three). */
  counter(transport: TransportName, era: Era, kind: OpenKind): OpenCounter {
    const key = `${transport} ${era} ${kind}`;
    let counter = this.counters.get(key);
    if (!counter) this.counters.set(key, (counter = new OpenCounter()));
    return counter;
  }

  /** Adds figures read from a path's own state at each snapshot; returns how to remove them. */
  addSource(source: OpenSource): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }

  /** Every transport and era, counters and sources added up. */
  snapshot(): OpenRow[] {
    const rows = new Map<string, OpenRow>();
    for (const era of ERAS) {
      for (const transport of TRANSPORTS) {
        const count = (kind: OpenKind) => this.counters.get(`${transport} ${era} ${kind}`)?.value ?? 0;
        rows.set(`${transport} ${era}`, {
          transport,
          era,
          sessions: HAS_SESSIONS(transport, era) ? count('sessions') : undefined,
          streams: count('streams'),
          requests: count('requests'),
        });
      }
    }
    for (const source of this.sources) {
      for (const { transport, era, kind, value } of source()) {
        const row = rows.get(`${transport} ${era}`);
        if (!row) continue;
        if (kind === 'sessions') row.sessions = (row.sessions ?? 0) + value;
        else row[kind] += value;
      }
    }
    return [...rows.values()];
  }
}
