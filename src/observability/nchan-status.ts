import { Client } from 'undici';

/** nchan's `nchan_stub_status` figures, by their label in its text ("total published messages"). */
export type NchanFigures = ReadonlyMap<string, number>;

/** How the backend reads nchan's status from the publish listener's `/status`. */
export interface NchanStatusOptions {
  /** The publish listener: `http://host:port` or `unix:/path.sock` (the gateway's publish URL). */
  publishUrl: string;
  /** Longest wait for nchan's answer in ms (`HTTMCP_NCHAN_STATUS_TIMEOUT_MS`, default 1000). */
  timeoutMs?: number;
  /**
   * How long one answer is reused in ms (`HTTMCP_NCHAN_STATUS_CACHE_MS`, default 1000): several
   * scrapers, or one scraping often, cost nginx one status request per interval.
   */
  cacheMs?: number;
}

/**
 * Reads `nchan_stub_status` on demand (when `/metrics` is scraped), with a short timeout and a
 * cache, so a stuck nginx cannot hold a scrape and frequent scrapes cost nginx little.
 * Concurrent reads share one request.
 */
export class NchanStatus {
  private readonly client: Client;
  private readonly timeoutMs: number;
  private readonly cacheMs: number;
  private cached: { at: number; figures: NchanFigures | undefined } | undefined;
  private pending: Promise<NchanFigures | undefined> | undefined;

  constructor(options: NchanStatusOptions) {
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.cacheMs = options.cacheMs ?? 1000;
    const timeouts = { headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, connectTimeout: this.timeoutMs, pipelining: 1 };
    this.client = options.publishUrl.startsWith('unix:')
      ? new Client('http://localhost', { socketPath: options.publishUrl.slice('unix:'.length), ...timeouts })
      : new Client(new URL(options.publishUrl).origin, timeouts);
  }

  /** The figures, or undefined when nchan did not answer in time (reported as `httmcp_nchan_up 0`). */
  read(): Promise<NchanFigures | undefined> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.cacheMs) return Promise.resolve(this.cached.figures);
    return (this.pending ??= this.fetch().then((figures) => {
      this.cached = { at: Date.now(), figures };
      this.pending = undefined;
      return figures;
    }));
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async fetch(): Promise<NchanFigures | undefined> {
    try {
      const res = await this.client.request({ method: 'GET', path: '/status', signal: AbortSignal.timeout(this.timeoutMs) });
      const text = await res.body.text();
      return res.statusCode === 200 ? parseStubStatus(text) : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * Parses nchan_stub_status's `label: value` lines. Sizes in kilobytes (`16K`) become bytes;
 * lines without a number (`nchan version: 1.3.6`) are skipped.
 */
export function parseStubStatus(text: string): NchanFigures {
  const figures = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-z ]+):\s*(\d+)(K?)\s*$/i.exec(line.trim());
    if (match) figures.set(match[1]!.toLowerCase(), Number(match[2]) * (match[3] ? 1024 : 1));
  }
  return figures;
}
