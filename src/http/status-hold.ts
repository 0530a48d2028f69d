/**
 * Longest status hold accepted: well below nginx's `proxy_read_timeout` (60 s) on the backend
 * hop, which would otherwise answer 504 for a request still held.
 */
export const MAX_STATUS_HOLD_MS = 30_000;

/** Tunables of a {@link StatusHold}. */
export interface StatusHoldOptions {
  /**
   * How long, from its arrival, a 2026-era request that has sent nothing yet may keep its HTTP
   * exchange open so that a refusal still gets its HTTP status (default 1000 ms, at most
   * {@link MAX_STATUS_HOLD_MS}). At most the inline budget (0 included) turns the hold off.
   */
  holdMs?: number;
  /** Most requests held past the inline budget at once, over every server of the process (default 256). */
  maxHeld?: number;
}

/**
 * The second budget of 2026-era POSTs: how long a request still running after the inline budget
 * may keep its HTTP exchange before it moves to an nchan-held stream, and how many may do so at
 * once.
 *
 * Why: on 2026-07-28 Streamable HTTP some JSON-RPC errors must carry an HTTP status (400 for a
 * missing client capability `-32021`, a header mismatch, an unsupported version; 404 for an
 * unknown method). Once a request has moved to its stream the answer is already 200 with
 * `text/event-stream`, so a refusal raised later can only be an event on it. Holding the
 * exchange until the request's first output (progress, log, result or error) or this budget,
 * whichever comes first, lets refusals raised before any output still get their status,
 * including on a loaded machine where a quick refusal misses the 50 ms budget. The budget and
 * the count keep what the backend holds bounded: nchan still holds every long stream, and past
 * `maxHeld` a request moves at the inline budget as before.
 */
export class StatusHold {
  readonly holdMs: number;
  readonly maxHeld: number;
  private count = 0;

  constructor(options: StatusHoldOptions = {}) {
    this.holdMs = options.holdMs ?? 1000;
    this.maxHeld = options.maxHeld ?? 256;
    if (!(this.holdMs >= 0 && this.holdMs <= MAX_STATUS_HOLD_MS)) {
      throw new RangeError(`the status hold (HTTMCP_STATUS_HOLD_MS) must be 0 to ${MAX_STATUS_HOLD_MS} ms, got ${this.holdMs}`);
    }
    if (!(Number.isInteger(this.maxHeld) && this.maxHeld >= 0)) {
      throw new RangeError(`HTTMCP_STATUS_HOLD_MAX must be a whole number, got ${this.maxHeld}`);
    }
  }

  /** Requests held past the inline budget now (for `/healthz` and tests). */
  get held(): number {
    return this.count;
  }

  /**
   * A slot to hold a request whose inline budget of `budgetMs` just ran out, or false (the hold
   * is off, or `maxHeld` requests are held already). A slot taken is given back with {@link give}.
   */
  take(budgetMs: number): boolean {
    if (this.holdMs <= budgetMs || this.count >= this.maxHeld) return false;
    this.count++;
    return true;
  }

  give(): void {
    this.count--;
  }
}
