import { Pool } from 'undici';
import type { Logger } from '../log.js';
import { channelContext, withClientSpan } from '../observability/tracing.js';

/** Where the backend reaches nchan's private publish listener. */
export interface PublisherOptions {
  /**
   * Base URL of the publish listener: `http://host:port` or `unix:/path/to/publish.sock`.
   * Defaults to the `HTTMCP_PUBLISH_URL` environment variable.
   */
  url: string;
  /** Attempts per publish before it is reported as failed (default 4). */
  attempts?: number;
  /** First retry delay in ms; doubles on each retry (default 50). */
  retryDelayMs?: number;
  /** Keep-alive connections to the listener (default 32). */
  connections?: number;
  /**
   * How long one attempt may wait for nchan's answer before it counts as failed and is retried
   * (default 5000 ms). Without it undici waits 300 s for headers, so a publish listener that
   * accepts but never answers held every publish (and, through the per-request chain, every
   * later message of that request) for 4 x 300 s, and filled the connection pool.
   */
  timeoutMs?: number;
  logger: Logger;
}

/** What nchan says about a channel after a publish or on a status request. */
export interface ChannelInfo {
  messages: number;
  subscribers: number;
  lastMessageId?: string;
}

/** Counters a metrics endpoint or a test can read. */
export interface PublisherStats {
  published: number;
  retried: number;
  failed: number;
}

/** Raised when nchan could not be reached after every attempt, or refused the publish. */
export class PublishError extends Error {
  readonly code = 'HTTMCP_PUBLISH_FAILED';
  constructor(
    message: string,
    readonly channel: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PublishError';
  }
}

/** Body of nchan's channel info answer with `Accept: application/json`. */
interface NchanChannelJson {
  messages?: number;
  subscribers?: number;
  last_message_id?: string;
}

const RETRYABLE_STATUS = new Set([500, 502, 503, 504]);

/**
 * Publishes messages into nchan channels through the private publish listener.
 *
 * Every publish is retried with exponential backoff on network errors and 5xx answers; a
 * publish that still fails is logged, counted and rejected, never silently dropped.
 */
export class NchanPublisher {
  readonly stats: PublisherStats = { published: 0, retried: 0, failed: 0 };
  private readonly pool: Pool;
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  private readonly logger: Logger;

  constructor(options: PublisherOptions) {
    this.attempts = options.attempts ?? 4;
    this.retryDelayMs = options.retryDelayMs ?? 50;
    this.logger = options.logger;
    const connections = options.connections ?? 32;
    const timeoutMs = options.timeoutMs ?? 5000;
    const timeouts = { headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: timeoutMs };
    if (options.url.startsWith('unix:')) {
      this.pool = new Pool('http://localhost', {
        socketPath: options.url.slice('unix:'.length),
        connections,
        pipelining: 1,
        ...timeouts,
      });
    } else {
      this.pool = new Pool(new URL(options.url).origin, { connections, pipelining: 1, ...timeouts });
    }
  }

  /**
   * Publishes `body` to `channel`.
   * @param event - SSE event name subscribers see (`message` unless the legacy `endpoint`).
   */
  async publish(channel: string, body: string, event = 'message'): Promise<ChannelInfo> {
    const send = () => this.request('POST', channel, body, { 'content-type': 'application/json', 'x-eventsource-event': event });
    // A child span of the request being handled when a sampled request of the session runs;
    // otherwise (almost always, at a low sampling rate) no span, no attributes, no extra hop.
    const parent = channelContext(channel);
    const info = parent === undefined ? await send() : await withClientSpan('nchan publish', { 'httmcp.nchan.channel': channel, 'httmcp.nchan.event': event }, send, undefined, parent);
    this.stats.published++;
    return info ?? { messages: 0, subscribers: 0 };
  }

  /** Channel info, or undefined when the channel does not exist. */
  async info(channel: string): Promise<ChannelInfo | undefined> {
    return this.request('GET', channel);
  }

  /** Deletes a channel, which ends every subscriber's connection to it. */
  async delete(channel: string): Promise<void> {
    await this.request('DELETE', channel);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private async request(
    method: 'POST' | 'GET' | 'DELETE',
    channel: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<ChannelInfo | undefined> {
    const path = `/pub/${encodeURIComponent(channel)}`;
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      try {
        const res = await this.pool.request({
          method,
          path,
          body,
          headers: { accept: 'application/json', ...headers },
        });
        const text = await res.body.text();
        if (res.statusCode === 404) return undefined;
        if (res.statusCode < 300) return parseChannelInfo(text);
        if (!RETRYABLE_STATUS.has(res.statusCode)) {
          throw new PublishError(`nchan answered ${res.statusCode} to ${method} ${path}: ${text.slice(0, 200)}`, channel);
        }
        lastError = new Error(`nchan answered ${res.statusCode}`);
      } catch (error) {
        if (error instanceof PublishError) {
          this.stats.failed++;
          this.logger.error({ channel, err: error }, 'publish refused');
          throw error;
        }
        lastError = error;
      }
      if (attempt < this.attempts) {
        this.stats.retried++;
        await sleep(this.retryDelayMs * 2 ** (attempt - 1));
      }
    }
    this.stats.failed++;
    const error = new PublishError(`could not ${method} ${path} after ${this.attempts} attempts`, channel, {
      cause: lastError,
    });
    this.logger.error({ channel, err: error, cause: String(lastError) }, 'publish failed');
    throw error;
  }
}

function parseChannelInfo(text: string): ChannelInfo {
  let json: NchanChannelJson = {};
  try {
    json = JSON.parse(text) as NchanChannelJson;
  } catch {
    // DELETE answers with an empty body.
  }
  const info: ChannelInfo = { messages: json.messages ?? 0, subscribers: json.subscribers ?? 0 };
  if (json.last_message_id !== undefined) info.lastMessageId = json.last_message_id;
  return info;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
