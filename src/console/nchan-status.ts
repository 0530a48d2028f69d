import { Agent, request } from 'undici';

/** nchan's `nchan_stub_status` figures, by their own names with `_` for spaces (`total_published_messages`...). */
export type NchanStatus = Record<string, number | string>;

const agents = new Map<string, Agent>();

/**
 * Reads `nchan_stub_status` from the publish listener's `/status` (`publishUrl`: `http://host:port`
 * or `unix:/path.sock`, as the gateway publishes to), with a short timeout: the console must not
 * hang on an nginx that does not answer.
 */
export async function readNchanStatus(publishUrl: string, timeoutMs = 2000): Promise<NchanStatus> {
  const socketPath = publishUrl.startsWith('unix:') ? publishUrl.slice('unix:'.length) : undefined;
  const origin = socketPath === undefined ? publishUrl.replace(/\/+$/, '') : 'http://localhost';
  let dispatcher = agents.get(publishUrl);
  if (!dispatcher) agents.set(publishUrl, (dispatcher = new Agent({ connections: 2, ...(socketPath ? { connect: { socketPath } } : {}) })));
  const res = await request(`${origin}/status`, { dispatcher, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`nchan status answered ${res.statusCode}`);
  return parseNchanStatus(text);
}

/** `key: value` lines as nchan writes them; numbers become numbers ("16K" and versions stay text). */
export function parseNchanStatus(text: string): NchanStatus {
  const status: NchanStatus = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).trim().replace(/\s+/g, '_');
    const raw = line.slice(colon + 1).trim();
    status[key] = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  }
  return status;
}
