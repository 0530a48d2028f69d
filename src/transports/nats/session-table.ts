/** What the table needs to know about a session to expire and evict it. */
export interface Expirable {
  /** Requests being handled for it right now; a busy session never expires for idleness. */
  readonly busy: boolean;
  /** Ends the session (aborts its handlers, frees its server). */
  close(): void;
}

/** Bounds of a {@link SessionTable}. */
export interface SessionTableOptions {
  /** Most sessions kept; beyond it the least recently used (idle first) is closed. */
  capacity: number;
  /** A session not busy and unused this long is closed. */
  idleMs: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * The sessions one server process holds, keyed by client id: bounded in number, and forgetting
 * sessions left idle, so that clients that vanish without a word cost nothing for long.
 *
 * A forgotten session is not lost: the next message of its client rebuilds it from the
 * headers every message carries (see {@link NatsSession}).
 */
export class SessionTable<S extends Expirable> {
  /** Insertion order is recency: a used session is moved to the end. */
  private readonly sessions = new Map<string, { session: S; lastUsed: number }>();
  private readonly capacity: number;
  private readonly idleMs: number;
  private readonly now: () => number;

  constructor(options: SessionTableOptions) {
    if (!(options.capacity > 0)) throw new RangeError('capacity must be positive');
    if (!(options.idleMs > 0)) throw new RangeError('idleMs must be positive');
    this.capacity = options.capacity;
    this.idleMs = options.idleMs;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** The session of `key`, marked as just used. */
  use(key: string): S | undefined {
    const entry = this.sessions.get(key);
    if (!entry) return undefined;
    this.sessions.delete(key);
    entry.lastUsed = this.now();
    this.sessions.set(key, entry);
    return entry.session;
  }

  /** The session of `key` without touching its recency. */
  peek(key: string): S | undefined {
    return this.sessions.get(key)?.session;
  }

  /** Adds a session, closing the least recently used one (an idle one if any) when full. */
  add(key: string, session: S): void {
    this.remove(key);
    this.sessions.set(key, { session, lastUsed: this.now() });
    if (this.sessions.size <= this.capacity) return;
    let victim: string | undefined;
    for (const [k, entry] of this.sessions) {
      if (k === key) continue;
      victim ??= k;
      if (!entry.session.busy) {
        victim = k;
        break;
      }
    }
    if (victim !== undefined) this.remove(victim);
  }

  /** Closes and forgets the session of `key`; whether there was one. */
  remove(key: string): boolean {
    const entry = this.sessions.get(key);
    if (!entry) return false;
    this.sessions.delete(key);
    entry.session.close();
    return true;
  }

  /** Closes sessions idle longer than `idleMs`; returns how many. */
  sweep(): number {
    const cutoff = this.now() - this.idleMs;
    let closed = 0;
    for (const [key, entry] of [...this.sessions]) {
      if (entry.lastUsed <= cutoff && !entry.session.busy) {
        this.remove(key);
        closed++;
      }
    }
    return closed;
  }

  /** Every session, least recently used first. */
  values(): S[] {
    return [...this.sessions.values()].map((entry) => entry.session);
  }

  /** Closes and forgets every session. */
  clear(): void {
    for (const key of [...this.sessions.keys()]) this.remove(key);
  }
}
