import type { ServerNotification } from '@modelcontextprotocol/server';
import { limitError, type BackendLimits } from '../session/limits.js';
import { Quota } from '../util/quota.js';

/** Delivers a notification to one subscriber, now or any time later. */
export type Sender = (notification: ServerNotification) => Promise<void>;

/** Why a subscription was refused: a JSON-RPC error object naming the limit. */
export type Refusal = ReturnType<typeof limitError>;

/**
 * `resources/subscribe` state of one server: uri -> subscriber -> how to reach it. Bounded per
 * subscriber (a session, or the one client of an SDK server), per principal and in all, and in
 * URI length, so no client can grow it without limit.
 */
export class Subscriptions {
  private readonly byUri = new Map<string, Map<string, Sender>>();
  /** What each subscriber holds, so a session that ends is forgotten without a scan. */
  private readonly bySubscriber = new Map<string, { principal: string; uris: Set<string> }>();
  private readonly quota: Quota;
  /** Bytes (UTF-16 units) of the URIs held, counted once per subscription. */
  private uriBytes = 0;
  private reclaiming = false;
  private lastReclaim = 0;

  constructor(private readonly limits: BackendLimits) {
    this.quota = new Quota({
      perSession: limits.subscriptionsPerSession,
      perPrincipal: limits.subscriptionsPerPrincipal,
      total: limits.subscriptionsTotal,
    });
  }

  /** Subscriptions held in all. */
  get size(): number {
    return this.quota.total;
  }

  /** What the subscribed URIs take, in characters (each subscription counts its own copy). */
  get bytes(): number {
    return this.uriBytes;
  }

  /** Subscribes `subscriber` to `uri`, or says which limit refused it. */
  add(uri: string, subscriber: string, principal: string, send: Sender): Refusal | undefined {
    if (uri.length > this.limits.subscriptionUriBytes || Buffer.byteLength(uri) > this.limits.subscriptionUriBytes) {
      return limitError('subscriptionUriBytes', this.limits, 'the resource URI is too long to subscribe to');
    }
    const senders = this.byUri.get(uri);
    if (senders?.has(subscriber)) {
      senders.set(subscriber, send);
      return undefined;
    }
    if (this.uriBytes + uri.length > this.limits.subscriptionsTotalBytes) {
      return limitError('subscriptionsTotalBytes', this.limits, 'the subscribed URIs of this server take too much memory');
    }
    const held = this.bySubscriber.get(subscriber);
    // A subscriber keeps the principal it first subscribed with: that is what its units count against.
    const owner = held?.principal ?? principal;
    switch (this.quota.acquire(subscriber, owner)) {
      case 'session':
        return limitError('subscriptionsPerSession', this.limits, 'this session holds too many resource subscriptions');
      case 'principal':
        return limitError('subscriptionsPerPrincipal', this.limits, 'this client holds too many resource subscriptions');
      case 'total':
        return limitError('subscriptionsTotal', this.limits, 'this server holds too many resource subscriptions');
    }
    this.uriBytes += uri.length;
    if (senders) senders.set(subscriber, send);
    else this.byUri.set(uri, new Map([[subscriber, send]]));
    if (held) held.uris.add(uri);
    else this.bySubscriber.set(subscriber, { principal: owner, uris: new Set([uri]) });
    return undefined;
  }

  remove(uri: string, subscriber: string): void {
    const held = this.bySubscriber.get(subscriber);
    if (!held?.uris.delete(uri)) return;
    this.quota.release(subscriber, held.principal);
    this.uriBytes -= uri.length;
    if (held.uris.size === 0) this.bySubscriber.delete(subscriber);
    const senders = this.byUri.get(uri);
    senders?.delete(subscriber);
    if (senders?.size === 0) this.byUri.delete(uri);
  }

  /** Drops every subscription of `subscriber` (its session ended). */
  forget(subscriber: string): void {
    const held = this.bySubscriber.get(subscriber);
    if (!held) return;
    for (const uri of [...held.uris]) this.remove(uri, subscriber);
  }

  /**
   * Makes room when the server-wide bounds are reached: subscribers whose client is gone (a
   * Streamable HTTP session that never said DELETE, a socket whose close went unreported) are
   * forgotten. Looks at up to `max` subscribers, oldest first (one still there moves to the back,
   * so the next call looks at others), at most once per `everyMs`, so a flood of refused
   * subscribes does not turn into a flood of checks. Returns how many were forgotten.
   */
  async reclaim(isGone: (subscriber: string) => Promise<boolean>, max = 32, everyMs = 1000): Promise<number> {
    const now = Date.now();
    if (this.reclaiming || now - this.lastReclaim < everyMs) return 0;
    this.reclaiming = true;
    this.lastReclaim = now;
    let forgotten = 0;
    try {
      const oldest = [...takeFirst(this.bySubscriber.keys(), max)];
      const gone = await Promise.all(oldest.map((subscriber) => isGone(subscriber).catch(() => false)));
      oldest.forEach((subscriber, i) => {
        const held = this.bySubscriber.get(subscriber);
        if (!held) return;
        if (gone[i]) {
          this.forget(subscriber);
          forgotten++;
        } else {
          this.bySubscriber.delete(subscriber);
          this.bySubscriber.set(subscriber, held);
        }
      });
    } finally {
      this.reclaiming = false;
    }
    return forgotten;
  }

  /** Who to tell that `uri` changed. */
  senders(uri: string): Sender[] {
    const senders = this.byUri.get(uri);
    return senders ? [...senders.values()] : [];
  }
}

function* takeFirst<T>(items: Iterable<T>, n: number): Generator<T> {
  if (n <= 0) return;
  for (const item of items) {
    yield item;
    if (--n === 0) return;
  }
}
