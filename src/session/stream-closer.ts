import type { Logger } from '../log.js';
import type { NchanPublisher } from '../nchan/publisher.js';

/** How long to wait for a client to attach to its stream before leaving it to nchan's expiry. */
const GIVE_UP_MS = 60_000;

/**
 * Ends Streamable HTTP request streams once their final reply is in them.
 *
 * SDK clients do not hang up after the reply, so the server must. Deleting the channel ends every
 * subscriber after it has received the messages already published, but a channel deleted before
 * the client attached would lose them; so the delete waits until nchan reports a subscriber.
 * A client that never attaches leaves the messages in nchan's buffer until they expire, where a
 * later resume can still find them.
 */
export class StreamCloser {
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private waiting = 0;

  /**
   * @param capacity - most streams waiting for their client at once; past it a finished stream
   *   is left to nchan's message timeout (each waiting one polls nchan up to once a second).
   */
  constructor(
    private readonly publisher: NchanPublisher,
    private readonly logger: Logger,
    private readonly capacity = 10_000,
  ) {}

  /** Streams being ended now (waiting for their client, or for the delete). */
  get pending(): number {
    return this.waiting;
  }

  /**
   * Deletes `channel` once a subscriber is attached and `graceMs` more have passed; resolves when
   * done (or given up). The grace covers nchan still writing the last message: a delete during
   * that write ends the stream before the client has it (seen with replies of 600 KB).
   */
  closeWhenRead(channel: string, graceMs = 0): Promise<void> {
    if (this.waiting >= this.capacity) {
      this.logger.warn({ channel, capacity: this.capacity }, 'too many request streams waiting to be ended (HTTMCP_MAX_STREAM_CLOSERS); this one is left to expire');
      return Promise.resolve();
    }
    this.waiting++;
    return new Promise<void>((resolve) =>
      void this.attempt(channel, Date.now(), 5, () => {
        this.waiting--;
        resolve();
      }, graceMs),
    );
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private async attempt(channel: string, since: number, delayMs: number, done: () => void, graceMs: number): Promise<void> {
    if (this.closed) return done();
    try {
      const info = await this.publisher.info(channel);
      if (info && info.subscribers > 0) {
        if (graceMs > 0) await new Promise((r) => setTimeout(r, graceMs).unref());
        await this.publisher.delete(channel);
      }
      if (!info || info.subscribers > 0) return done();
    } catch (error) {
      this.logger.warn({ channel, err: error }, 'could not end a request stream');
      return done();
    }
    if (Date.now() - since > GIVE_UP_MS) {
      this.logger.info({ channel }, 'no client attached to a finished request stream; left to expire');
      return done();
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.attempt(channel, since, Math.min(delayMs * 2, 1000), done, graceMs);
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }
}
