import { Client } from 'undici';

/**
 * nchan's `nchan_stub_status`, parsed: each line's label as nchan writes it, lower-cased
 * (`total published messages`, `redis connected servers`), with a number for counts, bytes for
 * sizes (nchan writes `16K`), and the text for the rest (`nchan version`).
 */
export type NchanStatus = ReadonlyMap<string, number | string>;

/** How a {@link NchanStatusReader} reaches nchan and how long it waits and remembers. */
export interface NchanStatusOptions {
  /** The publish listener: `http://host:port` or `unix:/path.sock` (the gateway's publish URL). */
  publishUrl: string;
  /** Longest wait for nchan's answer in ms (`HTTMCP_NCHAN_STATUS_TIMEOUT_MS`, default 1000). */
  timeoutMs?: number;
  /**
   * How long one answer (or failure) is reused in ms (`HTTMCP_NCHAN_STATUS_CACHE_MS`, default
   * 1000): scrapers and console pages polling at once cost nginx one status request per interval.
   * 0 asks nchan at every read.
   */
  cacheMs?: number;
}

/**
 * Reads `nchan_stub_status` from the publish listener's `/status` on demand (a `/metrics` scrape,
 * a console poll, the start-up wait for Redis), over one connection, with a short timeout so a
 * stuck nginx holds no reader, and a short cache shared by every reader of the backend.
 * Concurrent reads share one request.
 */
export class NchanStatusReader {
  private readonly client: Client;
  private readonly timeoutMs: number;
  private readonly cacheMs: number;
  private cached: { at: number; status: Promise<NchanStatus> } | undefined;

  constructor(options: NchanStatusOptions) {
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.cacheMs = options.cacheMs ?? 1000;
    const timeouts = { headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, connectTimeout: this.timeoutMs, pipelining: 1 };
    this.client = options.publishUrl.startsWith('unix:')
      ? new Client('http://localhost', { socketPath: options.publishUrl.slice('unix:'.length), ...timeouts })
      : new Client(new URL(options.publishUrl).origin, timeouts);
  }

  /**
   * nchan's status; rejects with an Error that says why (no answer in time, a status other than
   * 200) when nchan cannot be read.
   */
  read(): Promise<NchanStatus> {
    const cached = this.cached;
    // A read still pending is shared whatever its age; a settled one is reused for cacheMs.
    if (cached && (cached.at === Infinity || Date.now() - cached.at < this.cacheMs)) return cached.status;
    const entry = { at: Infinity, status: this.fetch() };
    entry.status.then(
      () => (entry.at = Date.now()),
      () => (entry.at = Date.now()),
    );
    this.cached = entry;
    return entry.status;
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async fetch(): Promise<NchanStatus> {
    const res = await this.client.request({ method: 'GET', path: '/status', signal: AbortSignal.timeout(this.timeoutMs) }).catch((error: unknown) => {
      throw new Error(`nchan's status did not answer: ${error instanceof Error ? error.message : String(error)}`);
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`nchan's status answered ${res.statusCode}`);
    return parseNchanStatus(text);
  }
}

/** `label: value` lines as `nchan_stub_status` writes them (see {@link NchanStatus}). */
export function parseNchanStatus(text: string): NchanStatus {
  const status = new Map<string, number | string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const label = line.slice(0, colon).trim().toLowerCase().replace(/\s+/g, ' ');
    const raw = line.slice(colon + 1).trim();
    // nginx's %f prints no decimals by default; a build that did would still read as a number.
    const number = /^(\d+(?:\.\d+)?)(K?)$/.exec(raw);
    status.set(label, number ? Number(number[1]) * (number[2] ? 1024 : 1) : raw);
  }
  return status;
}
