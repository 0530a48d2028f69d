/** Which bound of a {@link Quota} refused a unit. */
export type QuotaScope = 'session' | 'principal' | 'total';

/** The bounds of a {@link Quota}. */
export interface QuotaLimits {
  perSession: number;
  perPrincipal: number;
  total: number;
}

/**
 * Counts units (running requests, subscriptions) held per session, per principal and in all,
 * and refuses one past any bound. O(1) per acquire and release; a holder with nothing held
 * costs no memory. The empty principal (anonymous clients, who all share it) is counted only
 * per session and in total: it is nobody in particular.
 */
export class Quota {
  private readonly sessions = new Map<string, number>();
  private readonly principals = new Map<string, number>();
  private held = 0;

  constructor(private readonly limits: QuotaLimits) {}

  /** Units held in all. */
  get total(): number {
    return this.held;
  }

  /** Units `session` holds. */
  of(session: string): number {
    return this.sessions.get(session) ?? 0;
  }

  /** Takes one unit, or says which bound refused it (and takes nothing). */
  acquire(session: string, principal: string): QuotaScope | undefined {
    if (this.held >= this.limits.total) return 'total';
    const bySession = this.sessions.get(session) ?? 0;
    if (bySession >= this.limits.perSession) return 'session';
    if (principal !== '') {
      const byPrincipal = this.principals.get(principal) ?? 0;
      if (byPrincipal >= this.limits.perPrincipal) return 'principal';
      this.principals.set(principal, byPrincipal + 1);
    }
    this.sessions.set(session, bySession + 1);
    this.held++;
    return undefined;
  }

  /** Gives back one unit taken by {@link acquire}. */
  release(session: string, principal: string): void {
    this.held--;
    decrement(this.sessions, session);
    if (principal !== '') decrement(this.principals, principal);
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const count = map.get(key) ?? 0;
  if (count <= 1) map.delete(key);
  else map.set(key, count - 1);
}
