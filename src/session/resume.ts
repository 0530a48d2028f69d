import type { JSONRPCNotification } from '@modelcontextprotocol/server';
import type { ChannelInfo } from '../nchan/publisher.js';

/**
 * How long nchan keeps a channel's messages (`nchan_message_buffer_length` and
 * `nchan_message_timeout`). The backend must be told the same values nginx runs with
 * (`HTTMCP_MESSAGE_BUFFER_LENGTH`, `HTTMCP_MESSAGE_TIMEOUT`) to tell a resume that lost events.
 */
export interface MessageBuffer {
  length: number;
  timeoutSeconds: number;
}

export const DEFAULT_MESSAGE_BUFFER: MessageBuffer = { length: 200, timeoutSeconds: 600 };

/** Separates the session from nchan's id in the event ids legacy SSE clients see. */
export const LEGACY_ID_SEPARATOR = '~';

/**
 * nchan's event ids as httmcp's channels have them: `<unix seconds>:<tag>` on one channel, and
 * on a session's two (the session and its server's broadcast) one tag each, the active one in
 * brackets: `1795286803:[0],-`. Only ids of these shapes reach nchan: it answers others, such as
 * `T:-,-` or more tags than channels, with 400, which would end a client's EventSource for good.
 */
const NCHAN_EVENT_ID = /^([1-9]\d{0,11}):(-?\d{1,5}|\[-?\d{1,5}\],(?:-?\d{1,5}|-)|(?:-?\d{1,5}|-),\[-?\d{1,5}\])$/;

const SESSION_ID = /^[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64}$/;

/** A parsed nchan event id: when it was published and the tag of the subscriber's first channel. */
export interface NchanEventId {
  raw: string;
  time: number;
  /** Tag on the first channel (the session), or undefined when that channel had none yet. */
  tag: number | undefined;
}

export function parseNchanEventId(raw: string | undefined): NchanEventId | undefined {
  const match = raw === undefined ? null : NCHAN_EVENT_ID.exec(raw);
  if (!match) return undefined;
  const first = match[2]!.split(',')[0]!.replace(/[[\]]/g, '');
  return { raw: raw!, time: Number(match[1]), tag: first === '-' ? undefined : Number(first) };
}

/**
 * The Last-Event-ID of a reconnecting legacy SSE client: `{session}~{nchan id}`, as the edge
 * rewrote it (see the edge location in nginx.conf.template). Its EventSource comes back to the
 * server URL with nothing else that names the session.
 */
export function parseLegacyEventId(raw: string | undefined): { session: string; after: NchanEventId | undefined } | undefined {
  if (raw === undefined) return undefined;
  const at = raw.indexOf(LEGACY_ID_SEPARATOR);
  if (at < 0) return undefined;
  const session = raw.slice(0, at);
  if (!SESSION_ID.test(session)) return undefined;
  return { session, after: parseNchanEventId(raw.slice(at + 1)) };
}

/**
 * Whether a client resuming after `after` may have missed events nchan no longer has. nchan
 * silently resumes from its oldest kept message when the client's one is gone, so this errs on
 * the side of "maybe". Nothing was lost when nothing was published after `after`, or when every
 * message since is certainly still kept: published within the timeout and never pushed out by
 * count (nchan drops the oldest first, so if the buffer is not full now, nothing newer than
 * `after` was dropped for room).
 */
export function mayHaveGap(info: ChannelInfo | undefined, after: NchanEventId | undefined, buffer: MessageBuffer, nowMs = Date.now()): boolean {
  // No usable id: the client replays the whole buffer, which may not reach back far enough.
  if (after === undefined) return info !== undefined && info.messages >= buffer.length;
  // The channel's buffer is gone (expired, or Redis lost it) while the client had seen events.
  if (info === undefined) return true;
  const last = parseNchanEventId(info.lastMessageId);
  if (last && after.tag !== undefined && (last.time < after.time || (last.time === after.time && last.tag !== undefined && last.tag <= after.tag))) {
    return false;
  }
  const ageSeconds = nowMs / 1000 - after.time;
  return ageSeconds >= buffer.timeoutSeconds - 1 || info.messages >= buffer.length;
}

/** What a client gets, after the events nchan still had, when a resume may have lost some. */
export function gapNotice(lastEventId: string): JSONRPCNotification {
  return {
    jsonrpc: '2.0',
    method: 'notifications/message',
    params: {
      level: 'warning',
      logger: 'httmcp',
      data: {
        code: 'HTTMCP_EVENTS_LOST',
        message: 'Events sent while this client was away may have been lost: the server keeps a bounded number of events for a bounded time. Re-read any state you depend on.',
        lastEventId,
      },
    },
  };
}

/** nginx time (`600`, `10m`, `1h`, `2d`) in seconds, as `nchan_message_timeout` takes it. */
export function parseNginxSeconds(text: string): number {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new Error(`not an nginx time: ${JSON.stringify(text)} (use for example 600, 10m or 1h)`);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(match[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
