import { errors, Pool, type Dispatcher, type FormData } from 'undici';
import type { HttpMethod } from './model.js';

/** Limits of the HTTP calls tools make. */
export interface HttpOptions {
  /** Connecting (TCP + TLS); default 10 s. */
  connectTimeoutMs?: number;
  /** Waiting for the response headers; default 30 s. */
  headersTimeoutMs?: number;
  /** Longest pause between two chunks of the body; default 30 s. */
  bodyTimeoutMs?: number;
  /** The whole call, retries included; default 120 s. */
  totalTimeoutMs?: number;
  /** Largest response body read; longer bodies are cut there (default 1 MiB). */
  maxResponseBytes?: number;
  /** Retries of idempotent requests answered 429 or 503 (default 2). */
  maxRetries?: number;
  /** Longest wait before a retry; a longer `Retry-After` is not waited for (default 10 s). */
  maxRetryDelayMs?: number;
  /** Connections per API origin (default 8). */
  connections?: number;
  /** Idle keep-alive of pooled connections (default 30 s). */
  keepAliveMs?: number;
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
 * The HTTP client of the tools: one undici keep-alive {@link Pool} per API origin, timeouts for
 * connecting, headers and body, cancellation through an `AbortSignal`, a cap on the body read,
 * and bounded retries of idempotent requests answered 429/503 (honouring `Retry-After`).
 * Redirects are never followed (they could lead to another origin).
 */
export class HttpClient {
  private readonly pools = new Map<string, Pool>();
  readonly limits: Required<HttpOptions>;

  constructor(options: HttpOptions = {}) {
    this.limits = {
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      headersTimeoutMs: options.headersTimeoutMs ?? 30_000,
      bodyTimeoutMs: options.bodyTimeoutMs ?? 30_000,
      totalTimeoutMs: options.totalTimeoutMs ?? 120_000,
      maxResponseBytes: options.maxResponseBytes ?? 1024 * 1024,
      maxRetries: options.maxRetries ?? 2,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 10_000,
      connections: options.connections ?? 8,
      keepAliveMs: options.keepAliveMs ?? 30_000,
    };
  }

  /** Sends `request`; `onRetry` hears about each retry before its wait. */
  async send(request: HttpRequest, signal?: AbortSignal, onRetry?: (attempt: number, delayMs: number, status: number) => void): Promise<HttpResponse> {
    const total = AbortSignal.timeout(this.limits.totalTimeoutMs);
    const combined = signal ? AbortSignal.any([signal, total]) : total;
    const idempotent = IDEMPOTENT.has(request.method);
    for (let attempt = 0; ; attempt++) {
      const response = await this.once(request, combined, total);
      if (!idempotent || (response.status !== 429 && response.status !== 503) || attempt >= this.limits.maxRetries) {
        return { ...response, retries: attempt };
      }
      const delay = retryDelay(response.headers['retry-after'], attempt);
      if (delay > this.limits.maxRetryDelayMs) return { ...response, retries: attempt };
      onRetry?.(attempt + 1, delay, response.status);
      try {
        await sleep(delay, combined);
      } catch (error) {
        throw this.failure(error, combined, total);
      }
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
    if (total.aborted) return new HttpError(`the request took longer than ${this.limits.totalTimeoutMs} ms`);
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
