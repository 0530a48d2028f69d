import { createHash } from 'node:crypto';

/**
 * The nchan channels of `subscriptions/listen` streams (MCP 2026-07-28; docs/design/2026-07-28.md
 * §4.4). A listen stream subscribes to shared channels that every listener of the same kind of
 * event subscribes to, so an event is published once, whatever the number of listeners and nginx
 * nodes.
 */

/** The list_changed kinds a listen filter may ask for, each a channel of its own. */
export const LIST_KINDS = ['tools', 'prompts', 'resources'] as const;
export type ListKind = (typeof LIST_KINDS)[number];

/**
 * Stands for each stream's own subscription id in what is published once for all of them: nginx's
 * `sub_filter` replaces it as a JSON string, quotes included (`"@@SUBSCRIPTION_ID@@"`), with the
 * JSON text of the id of the stream it is sent on. Strings that contain it are kept out of what
 * is published (see `mentionsStandIn`), so nothing else is ever replaced.
 */
export const SUBSCRIPTION_ID_STAND_IN = '@@SUBSCRIPTION_ID@@';

/** Whether a string would put the stand-in into published JSON (refused in filters, never published). */
export function mentionsStandIn(text: string): boolean {
  return text.includes(SUBSCRIPTION_ID_STAND_IN);
}

/** The `_meta` key of a listen stream's subscription id. */
export const SUBSCRIPTION_ID_META_KEY = 'io.modelcontextprotocol/subscriptionId';

/** Shared channel of `notifications/{kind}/list_changed` for one server. */
export function listChannel(server: string, kind: ListKind): string {
  return `httmcp.list.${server}.${kind}`;
}

/**
 * Shared channel of `notifications/resources/updated` for one URI of one server: a digest, so that
 * any URI gives a short id of safe characters (nchan takes at most 255 ids per subscriber, and
 * their list travels in one response header). 128 bits of SHA-256 in base64url.
 */
export function resourceChannel(server: string, uri: string): string {
  return `httmcp.res.${createHash('sha256').update(server).update('\n').update(uri).digest().subarray(0, 16).toString('base64url')}`;
}

/** A channel of one server that nothing is published to, so that every listen stream has one. */
export function quietChannel(server: string): string {
  return `httmcp.listen.${server}`;
}

/** The response headers of the backend's 460 that nginx reads to hold a listen stream (nginx.conf.template). */
export const LISTEN_HEADERS = {
  /** The stream's shared channels, comma-separated (`nchan_channel_id_split_delimiter`). */
  channels: 'x-httmcp-listen',
  /** The stream's acknowledgement, JSON in printable ASCII: nginx writes it as the stream's first event. */
  ack: 'x-httmcp-listen-ack',
  /** The JSON text of the listen request's id, put in place of {@link SUBSCRIPTION_ID_STAND_IN}. */
  subscriptionId: 'x-httmcp-subscription-id',
} as const;
