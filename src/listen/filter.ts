import { mentionsStandIn } from './channels.js';

/**
 * The `notifications` filter of a `subscriptions/listen` request (MCP 2026-07-28), checked before
 * anything is published: every kind is opt-in, and the acknowledgement reports what the server
 * honours.
 */

/** What a listen stream asked for and the server honours. */
export interface ListenFilter {
  toolsListChanged?: true;
  promptsListChanged?: true;
  resourcesListChanged?: true;
  /** Resource URIs for `notifications/resources/updated`, each once, in the order asked. */
  resourceSubscriptions?: string[];
}

/** Bounds on a filter (see docs/operations.md, "Limits / subscriptions/listen"). */
export interface FilterLimits {
  /** URIs one stream may subscribe to (`HTTMCP_MAX_LISTEN_URIS`). */
  uris: number;
  /** Longest URI, in bytes (`HTTMCP_MAX_SUBSCRIPTION_URI`). */
  uriBytes: number;
}

/** Why a filter was refused: the message of a -32602 (Invalid params) error. */
export class FilterError extends Error {}

const FLAGS = ['toolsListChanged', 'promptsListChanged', 'resourcesListChanged'] as const;

/**
 * The honoured filter of `params`, or a {@link FilterError}. Unknown members are ignored (an
 * extension may add kinds; they are simply not honoured), but a known member of the wrong type,
 * a URI list that is not a list of non-empty strings, or too many or too long URIs are refused.
 */
export function parseFilter(params: unknown, limits: FilterLimits): ListenFilter {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) throw new FilterError('subscriptions/listen needs params with a notifications filter');
  const filter = (params as { notifications?: unknown }).notifications;
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) throw new FilterError('params.notifications must be an object (the notification filter)');
  const given = filter as Record<string, unknown>;
  const honoured: ListenFilter = {};
  for (const flag of FLAGS) {
    const value = given[flag];
    if (value === undefined) continue;
    if (typeof value !== 'boolean') throw new FilterError(`params.notifications.${flag} must be a boolean`);
    if (value) honoured[flag] = true;
  }
  const uris = given.resourceSubscriptions;
  if (uris !== undefined) {
    if (!Array.isArray(uris)) throw new FilterError('params.notifications.resourceSubscriptions must be an array of resource URIs');
    const unique = new Set<string>();
    for (const uri of uris) {
      if (typeof uri !== 'string' || uri === '') throw new FilterError('params.notifications.resourceSubscriptions must hold non-empty strings (resource URIs)');
      if (mentionsStandIn(uri)) throw new FilterError('a resource URI in params.notifications.resourceSubscriptions contains @@SUBSCRIPTION_ID@@, which this server reserves');
      if (Buffer.byteLength(uri) > limits.uriBytes) throw new FilterError(`a resource URI in params.notifications.resourceSubscriptions is longer than ${limits.uriBytes} bytes (setting HTTMCP_MAX_SUBSCRIPTION_URI)`);
      unique.add(uri);
    }
    if (unique.size > limits.uris) throw new FilterError(`params.notifications.resourceSubscriptions names ${unique.size} URIs; a listen stream takes at most ${limits.uris} (setting HTTMCP_MAX_LISTEN_URIS)`);
    if (unique.size > 0) honoured.resourceSubscriptions = [...unique];
  }
  return honoured;
}

/**
 * The JSON text of a listen request's id as it will stand in every notification of the stream,
 * or undefined when it cannot travel in a response header and be pasted into JSON as it is:
 * printable ASCII only, at most `maxLength` characters.
 */
export function subscriptionIdText(id: unknown, maxLength = 256): string | undefined {
  if (typeof id !== 'string' && !(typeof id === 'number' && Number.isSafeInteger(id))) return undefined;
  const text = JSON.stringify(id);
  return text.length <= maxLength && /^[\x20-\x7E]+$/.test(text) ? text : undefined;
}
