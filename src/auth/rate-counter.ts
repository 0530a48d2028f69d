import { createHash } from 'node:crypto';
import { createClient } from 'redis';
import type { Logger } from '../log.js';
import type { CallKeyMemo, PrincipalQuota, QuotaRefusal } from './principal-quota.js';

/**
 * Where the backend counts the per-principal rate of calls of one tool, prompt or resource
 * (docs/auth.md, "Rate limits per principal"). {@link PrincipalQuota} counts in this process
 * (synchronously); {@link RedisRateCounter} counts in a Redis every node shares, so one
 * principal's rate holds across a cluster.
 */
export interface RateCounter {
  /**
   * Takes one call of `target` by `principal` on `server`, or refuses it. A counter that answers
   * synchronously returns the verdict itself; callers await only a promise, so the in-process
   * path costs no tick.
   */
  takeCall(principal: string, server: string, target: { kind: string; name: string }, memo?: CallKeyMemo): QuotaRefusal | undefined | Promise<QuotaRefusal | undefined>;
  /**
   * Whether this counter also counts calls nginx counted already (a request whose `Mcp-Name`
   * names its tool). nginx counts per node: a cluster-wide counter must see every call.
   */
  readonly countsEveryCall: boolean;
}

/** Options of a {@link RedisRateCounter}. */
export interface RedisRateCounterOptions {
  /** `redis://host:port` (or `rediss://`): every node of the cluster names the same one. */
  url: string;
  /** Calls per second of one tool, prompt or resource by one principal on one server (default 20). */
  toolRatePerSecond?: number;
  /** Calls above that rate admitted at once (default 40). */
  toolBurst?: number;
  /** Calls per second of anything one principal uses on one server (default 50). */
  ratePerSecond?: number;
  /** Calls above that rate admitted at once (default 100). */
  burst?: number;
  /**
   * Longest wait for Redis's answer, in ms (default 100): past it, or with Redis unreachable, the
   * call is counted by `fallback` (this node's count) instead. Fail-open to the per-node limit.
   */
  timeoutMs?: number;
  /** Prefix of every key (default `httmcp:`). */
  prefix?: string;
  /** Counts calls while Redis does not answer. */
  fallback: PrincipalQuota;
  logger?: Logger;
  /** Least time between two warnings that Redis did not answer, in ms (default 10 s). */
  warnEveryMs?: number;
}

// GCRA over two keys, both in one hash slot ({principal, server}): the principal's rate on the
// server and on one tool. Each key holds its theoretical arrival time (TAT) in microseconds of
// Redis's clock (one clock for every node); a call is admitted when both TATs are within their
// burst tolerance, and only then are both advanced. A key expires when its TAT is reached: an
// idle principal leaves nothing behind.
// ARGV: server interval us, server tolerance us, tool interval us, tool tolerance us.
// Reply: {0} admitted; {1, wait us} the server's rate refused it; {2, wait us} the tool's.
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tats = {}
for i = 1, 2 do
  local interval = tonumber(ARGV[i * 2 - 1])
  local tolerance = tonumber(ARGV[i * 2])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  if tat - now > tolerance then return { i, tat - now - tolerance } end
  tats[i] = tat + interval
end
for i = 1, 2 do
  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1)
end
return { 0 }`;
const TAKE_SHA = createHash('sha1').update(TAKE).digest('hex');

function newClient(url: string) {
  // Without the offline queue a command fails at once while Redis is unreachable (then the local
  // count answers), instead of waiting for a reconnect.
  return createClient({ url, disableOfflineQueue: true });
}
type Client = ReturnType<typeof newClient>;

/**
 * Per-principal call rates counted in Redis, shared by every node on it: one round trip per call
 * (EVALSHA of one script checking the server's and the tool's rate). When Redis does not answer
 * within {@link RedisRateCounterOptions.timeoutMs}, the call is counted by this node's
 * {@link PrincipalQuota} (fail-open to the per-node limit), logged at most once per interval.
 */
export class RedisRateCounter implements RateCounter {
  readonly countsEveryCall = true;
  readonly toolRatePerSecond: number;
  readonly toolBurst: number;
  readonly ratePerSecond: number;
  readonly burst: number;
  /** Calls counted by the local fallback because Redis did not answer in time. */
  fallbacks = 0;
  private readonly client: Client;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly fallback: PrincipalQuota;
  private readonly logger: Logger | undefined;
  private readonly warnEveryMs: number;
  private lastWarned = Number.NEGATIVE_INFINITY;
  private closed = false;
  /** The four ARGV of the script, the same for every call. */
  private readonly rates: string[];

  constructor(options: RedisRateCounterOptions) {
    this.toolRatePerSecond = options.toolRatePerSecond ?? 20;
    this.toolBurst = options.toolBurst ?? 40;
    this.ratePerSecond = options.ratePerSecond ?? 50;
    this.burst = options.burst ?? 100;
    this.timeoutMs = options.timeoutMs ?? 100;
    for (const [name, value, least] of [
      ['toolRatePerSecond', this.toolRatePerSecond, 1],
      ['toolBurst', this.toolBurst, 0],
      ['ratePerSecond', this.ratePerSecond, 1],
      ['burst', this.burst, 0],
      ['timeoutMs', this.timeoutMs, 1],
    ] as const) {
      if (!Number.isInteger(value) || value < least) throw new RangeError(`shared rate ${name} must be an integer of at least ${least}, got ${value}`);
    }
    this.prefix = options.prefix ?? 'httmcp:';
    this.fallback = options.fallback;
    this.logger = options.logger;
    this.warnEveryMs = options.warnEveryMs ?? 10_000;
    const serverInterval = Math.round(1e6 / this.ratePerSecond);
    const toolInterval = Math.round(1e6 / this.toolRatePerSecond);
    this.rates = [serverInterval, serverInterval * this.burst, toolInterval, toolInterval * this.toolBurst].map(String);
    this.client = newClient(options.url);
    this.client.on('error', (error: Error) => this.warn(error));
    // node-redis reconnects by itself; until then every call takes the local count.
    this.client.connect().catch((error: unknown) => this.warn(error));
  }

  takeCall(principal: string, server: string, target: { kind: string; name: string }, memo?: CallKeyMemo): QuotaRefusal | undefined | Promise<QuotaRefusal | undefined> {
    if (!this.client.isReady) return this.local(principal, server, target, memo, undefined);
    const slot = `${this.prefix}rate:{${principal}\n${server}}`;
    const keys = [slot, `${slot}\n${target.kind}\n${target.name}`];
    return this.ask(keys).then(
      (reply) => {
        if (reply === undefined) return this.local(principal, server, target, memo, undefined);
        const [which, waitUs] = reply;
        if (which === 0) return undefined;
        const retryAfterSeconds = Math.max(1, Math.ceil(Number(waitUs) / 1e6));
        return which === 1
          ? { limit: 'rate', retryAfterSeconds, message: `Too many calls by this principal to this server (at most ${this.ratePerSecond} per second): retry after ${retryAfterSeconds} s` }
          : { limit: 'rate', retryAfterSeconds, message: `Too many calls of ${target.kind} ${target.name} by this principal (at most ${this.toolRatePerSecond} per second): retry after ${retryAfterSeconds} s` };
      },
      (error: unknown) => this.local(principal, server, target, memo, error),
    );
  }

  /** Closes the connection to Redis. */
  async close(): Promise<void> {
    this.closed = true;
    await this.client.close().catch(() => undefined);
  }

  /** The script's reply, or undefined when Redis did not answer within the timeout. */
  private async ask(keys: string[]): Promise<[number, number] | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.timeoutMs);
    });
    const call = this.client.evalSha(TAKE_SHA, { keys, arguments: this.rates }).catch((error: unknown) => {
      // A Redis that restarted has forgotten the script: EVAL sends (and caches) it once.
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) return this.client.eval(TAKE, { keys, arguments: this.rates });
      throw error;
    });
    try {
      return (await Promise.race([call, late])) as [number, number] | undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  private local(principal: string, server: string, target: { kind: string; name: string }, memo: CallKeyMemo | undefined, error: unknown): QuotaRefusal | undefined {
    this.fallbacks++;
    this.warn(error ?? new Error(this.client.isReady ? `no answer within ${this.timeoutMs} ms` : 'not connected'));
    return this.fallback.takeCall(principal, server, target, memo);
  }

  private warn(error: unknown): void {
    const now = Date.now();
    // A connection still being made when the gateway closed fails: nothing to warn about.
    if (this.closed || now - this.lastWarned < this.warnEveryMs) return;
    this.lastWarned = now;
    this.logger?.warn({ err: error }, 'per-principal rates: Redis did not answer; counting on this node only (per-node limits) meanwhile');
  }
}
