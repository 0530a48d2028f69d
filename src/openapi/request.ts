import { errors, Pool, type Dispatcher, type FormData } from 'undici';
import { FairGate, GateFullError } from './fair-gate.js';
import type { HttpMethod } from './model.js';

/** Limits of the HTTP calls tools make. Every one is also a CLI flag of `httmcp openapi`. */
export interface HttpOptions {
  /** Connecting (TCP + TLS); default 10 s. */
  connectTimeoutMs?: number;
  /** Waiting for the response headers; default 30 s. */
  headersTimeoutMs?: number;
  /** Longest pause between two chunks of the body; default 15 s. */
  bodyTimeoutMs?: number;
  /**
   * The call's deadline, from the tool call to the last byte of the reply: waiting for a free
   * connection, retries and a reply that trickles in included (default 45 s, below the 60 s an
   * SDK client waits, so the model gets a clear error rather than a client timeout).
   */
  totalTimeoutMs?: number;
  /** Largest response body read; longer bodies are cut there (default 1 MiB). */
  maxResponseBytes?: number;
  /** Retries of idempotent requests answered 429 or 503 (default 2). */
  maxRetries?: number;
  /** Longest wait before a retry; a longer `Retry-After` is not waited for (default 10 s). */
  maxRetryDelayMs?: number;
  /** Calls in flight (pooled connections) per API origin, all clients together (default 64). */
  connections?: number;
  /** Calls in flight per API origin of one client (MCP session, or principal once authenticated); default 4. */
  connectionsPerClient?: number;
  /** Calls of one client that may wait for a connection; more are refused with a tool error (default 32). */
  queuePerClient?: number;
  /** Idle keep-alive of pooled connections (default 30 s). */
  keepAliveMs?: number;
}

/** The defaults of {@link HttpOptions}. */
export const HTTP_DEFAULTS: Readonly<Required<HttpOptions>> = Object.freeze({
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 30_000,
  bodyTimeoutMs: 15_000,
  totalTimeoutMs: 45_000,
  maxResponseBytes: 1024 * 1024,
  maxRetries: 2,
  maxRetryDelayMs: 10_000,
  connections: 64,
  connectionsPerClient: 4,
  queuePerClient: 32,
  keepAliveMs: 30_000,
});

/** How one call is sent. */
export interface SendOptions {
  /** Aborts the call (the MCP request was cancelled, or its client left); the connection is closed. */
  signal?: AbortSignal;
  /** Whose call this is, for the fair share of connections (default: one anonymous client). */
  client?: string;
  /** Hears about each retry before its wait. */
  onRetry?: (attempt: number, delayMs: number, status: number) => void;
}

export interface HttpRequest {
  method: HttpMethod;
  url: URL;
  headers: Record<string, string>;
  body?: string | Buffer | FormData;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** True when the body was longer than `maxResponseBytes` and was cut. */
  truncated: boolean;
  /** How many retries were made. */
  retries: number;
}

/** The call failed before a response arrived (connection, timeout); the message says which. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
}

/** Methods HTTP defines as idempotent: the only ones retried. */
const IDEMPOTENT = new Set<HttpMethod>(['get', 'head', 'options', 'put', 'delete', 'trace']);

/**
 * The HTTP client of the tools: one undici keep-alive {@link Pool} per API origin, shared fairly
 * between clients by a {@link FairGate} (a client holds at most `connectionsPerClient`
 * connections; its further calls wait their turn, round-robin with other clients'), timeouts for
 * connecting, headers and body, a deadline for the whole call, cancellation through an
 * `AbortSignal` (which closes the connection), a cap on the body read, and bounded retries of
 * idempotent requests answered 429/503 (honouring `Retry-After`). Redirects are never followed
 * (they could lead to another origin).
 */
export class HttpClient {
  private readonly pools = new Map<string, Pool>();
  private readonly gates = new Map<string, FairGate>();
  readonly limits: Required<HttpOptions>;

  constructor(options: HttpOptions = {}) {
    const limits = { ...HTTP_DEFAULTS };
    for (const key of Object.keys(HTTP_DEFAULTS) as Array<keyof HttpOptions>) {
      const value = options[key];
      if (value === undefined) continue;
      const least = key === 'maxRetries' || key === 'keepAliveMs' || key === 'queuePerClient' ? 0 : 1;
      if (!Number.isInteger(value) || value < least) throw new RangeError(`${key} must be a whole number of at least ${least}, got ${value}`);
      limits[key] = value;
    }
    this.limits = limits;
  }

  /** Sends `request` within the call's deadline, once a connection is this client's turn. */
  async send(request: HttpRequest, options: SendOptions = {}): Promise<HttpResponse> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new HttpError('deadline')), this.limits.totalTimeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, deadline.signal]) : deadline.signal;
    const idempotent = IDEMPOTENT.has(request.method);
    try {
      for (let attempt = 0; ; attempt++) {
        const release = await this.turn(request.url.origin, options.client ?? '', signal, deadline.signal);
        let response: Omit<HttpResponse, 'retries'>;
        try {
          response = await this.once(request, signal, deadline.signal);
        } finally {
          release();
        }
        if (!idempotent || (response.status !== 429 && response.status !== 503) || attempt >= this.limits.maxRetries) {
          return { ...response, retries: attempt };
        }
        const delay = retryDelay(response.headers['retry-after'], attempt);
        if (delay > this.limits.maxRetryDelayMs) return { ...response, retries: attempt };
        options.onRetry?.(attempt + 1, delay, response.status);
        try {
          await sleep(delay, signal);
        } catch (error) {
          throw this.failure(error, signal, deadline.signal);
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for a connection of the origin's pool that is `client`'s turn; resolves with its release. */
  private async turn(origin: string, client: string, signal: AbortSignal, deadline: AbortSignal): Promise<() => void> {
    let gate = this.gates.get(origin);
    if (!gate) {
      gate = new FairGate({ capacity: this.limits.connections, perClient: this.limits.connectionsPerClient, perClientQueue: this.limits.queuePerClient });
      this.gates.set(origin, gate);
    }
    try {
      return await gate.acquire(client, signal);
    } catch (error) {
      if (error instanceof GateFullError) throw new HttpError(`refused: ${error.message}`);
      if (deadline.aborted) {
        throw new HttpError(
          `no connection to the API was free for this call within its deadline of ${this.limits.totalTimeoutMs} ms (this client's other calls, or all ${this.limits.connections} connections, were busy)`,
        );
      }
      throw this.failure(error, signal, deadline);
    }
  }

  private async once(request: HttpRequest, signal: AbortSignal, total: AbortSignal): Promise<Omit<HttpResponse, 'retries'>> {
    const pool = this.pool(request.url.origin);
    let response: Dispatcher.ResponseData;
    try {
      response = await pool.request({
        path: `${request.url.pathname}${request.url.search}`,
        method: request.method.toUpperCase() as Dispatcher.HttpMethod,
        headers: request.headers,
        body: request.body ?? null,
        signal,
      });
    } catch (error) {
      throw this.failure(error, signal, total);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    try {
      for await (const chunk of response.body) {
        const buffer = chunk as Buffer;
        if (size + buffer.length > this.limits.maxResponseBytes) {
          chunks.push(buffer.subarray(0, this.limits.maxResponseBytes - size));
          size = this.limits.maxResponseBytes;
          truncated = true;
          break;
        }
        chunks.push(buffer);
        size += buffer.length;
      }
    } catch (error) {
      throw this.failure(error, signal, total);
    } finally {
      if (truncated) response.body.destroy();
    }
    return { status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks, size), truncated };
  }

  private failure(error: unknown, signal: AbortSignal, total: AbortSignal): Error {
    if (total.aborted) return new HttpError(`the call was cut at its deadline of ${this.limits.totalTimeoutMs} ms: the API had not sent its whole reply by then`);
    if (signal.aborted) return signal.reason instanceof Error ? signal.reason : new HttpError('the request was cancelled');
    if (error instanceof errors.ConnectTimeoutError) return new HttpError(`connecting took longer than ${this.limits.connectTimeoutMs} ms`);
    if (error instanceof errors.HeadersTimeoutError) return new HttpError(`the API sent no response headers within ${this.limits.headersTimeoutMs} ms`);
    if (error instanceof errors.BodyTimeoutError) return new HttpError(`the API stopped sending the body for ${this.limits.bodyTimeoutMs} ms`);
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const code = (error as { code?: string }).code ?? cause?.code;
    const message = error instanceof Error ? error.message : String(error);
    return new HttpError(`the request failed: ${message}${code && !message.includes(code) ? ` (${code})` : ''}`);
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.limits.connections,
        connect: { timeout: this.limits.connectTimeoutMs },
        headersTimeout: this.limits.headersTimeoutMs,
        bodyTimeout: this.limits.bodyTimeoutMs,
        keepAliveTimeout: this.limits.keepAliveMs,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  /** Closes every pooled connection; later calls open new ones. */
  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    this.gates.clear();
    await Promise.all(pools.map((pool) => pool.close().catch(() => pool.destroy())));
  }
}

/** Milliseconds to wait: `Retry-After` (seconds or an HTTP date), else 250 ms doubling. */
export function retryDelay(header: string | string[] | undefined, attempt: number, now = Date.now()): number {
  const value = Array.isArray(header) ? header[0] : header;
  if (value !== undefined) {
    if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
    const date = Date.parse(value);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  return 250 * 2 ** attempt;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new HttpError('the request was cancelled'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
