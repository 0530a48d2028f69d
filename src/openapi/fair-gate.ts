/** How many calls may go to one API origin at once, in total and per client. */
export interface FairGateLimits {
  /** Calls in flight to the origin, all clients together (the connection pool's size). */
  capacity: number;
  /** Calls in flight of one client; its further calls wait in its own queue. */
  perClient: number;
  /** Calls of one client that may wait; beyond that a call is refused at once ({@link GateFullError}). */
  perClientQueue: number;
}

/** A call refused because its client already has as many calls waiting as it may. */
export class GateFullError extends Error {
  override readonly name = 'GateFullError';
}

interface Waiter {
  grant: () => void;
  signal: AbortSignal;
  onAbort: () => void;
}

interface ClientState {
  key: string;
  running: number;
  queue: Waiter[];
  /** When this client was last given a slot (a counter, for round-robin among equals). */
  servedAt: number;
}

/**
 * Admission of calls to one upstream API origin, fair across clients.
 *
 * One client's calls can hold at most `perClient` of the `capacity` slots; its further calls wait
 * in its own queue (bounded). When a slot frees, it goes to the waiting client with the fewest
 * calls running, ties broken round-robin (the one served longest ago), never simply to the oldest
 * waiter: a client with many slow calls queued cannot make another client's call wait behind
 * all of them, only behind one slot's turn at worst. Nothing is kept for a client with nothing
 * running or waiting.
 */
export class FairGate {
  private readonly clients = new Map<string, ClientState>();
  private running = 0;
  private served = 0;

  constructor(readonly limits: FairGateLimits) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isInteger(value) || value < (name === 'perClientQueue' ? 0 : 1)) throw new RangeError(`${name} must be a whole number${name === 'perClientQueue' ? '' : ' above 0'}, got ${value}`);
    }
  }

  /** Calls running now (all clients). */
  get inFlight(): number {
    return this.running;
  }

  /** Calls waiting now (all clients). */
  get waiting(): number {
    let n = 0;
    for (const state of this.clients.values()) n += state.queue.length;
    return n;
  }

  /**
   * Waits for a slot for `client`; resolves with the function that gives it back (call it exactly
   * once, when the call's connection is free again). Rejects with {@link GateFullError} at once
   * when the client's queue is full, and with the signal's reason when `signal` aborts first.
   */
  acquire(client: string, signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(reasonOf(signal));
    const state = this.stateOf(client);
    if (state.running < this.limits.perClient && this.running < this.limits.capacity) {
      return Promise.resolve(this.take(state));
    }
    if (state.queue.length >= this.limits.perClientQueue) {
      this.forgetIfIdle(client, state);
      return Promise.reject(
        new GateFullError(`this client already has ${state.running} calls to the API running and ${state.queue.length} waiting (the limits are ${this.limits.perClient} and ${this.limits.perClientQueue}); try again when one has finished`),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        signal,
        grant: () => {
          signal.removeEventListener('abort', waiter.onAbort);
          resolve(this.take(state));
        },
        onAbort: () => {
          const at = state.queue.indexOf(waiter);
          if (at >= 0) state.queue.splice(at, 1);
          this.forgetIfIdle(client, state);
          reject(reasonOf(signal));
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      state.queue.push(waiter);
    });
  }

  private stateOf(client: string): ClientState {
    let state = this.clients.get(client);
    if (!state) {
      state = { key: client, running: 0, queue: [], servedAt: -1 };
      this.clients.set(client, state);
    }
    return state;
  }

  private take(state: ClientState): () => void {
    this.running++;
    state.running++;
    state.servedAt = this.served++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      state.running--;
      this.dispatch();
      this.forgetIfIdle(state.key, state);
    };
  }

  /** Gives free slots to waiting clients: fewest running first, then the one served longest ago. */
  private dispatch(): void {
    while (this.running < this.limits.capacity) {
      let next: ClientState | undefined;
      for (const state of this.clients.values()) {
        if (state.queue.length === 0 || state.running >= this.limits.perClient) continue;
        if (!next || state.running < next.running || (state.running === next.running && state.servedAt < next.servedAt)) next = state;
      }
      if (!next) return;
      next.queue.shift()!.grant();
    }
  }

  private forgetIfIdle(client: string, state: ClientState): void {
    if (state.running === 0 && state.queue.length === 0 && this.clients.get(client) === state) this.clients.delete(client);
  }
}

function reasonOf(signal: AbortSignal): unknown {
  return signal.reason ?? new Error('aborted');
}
