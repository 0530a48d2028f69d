import type { Gateway } from '../gateway.js';
import type { Answer } from '../http/endpoint.js';
import { STREAM_STATUS } from '../http/endpoint.js';
import { missingScopes, type Scopes } from '../server/scopes.js';
import { LIST_KINDS, LISTEN_HEADERS, listChannel, quietChannel, resourceChannel, SUBSCRIPTION_ID_META_KEY, SUBSCRIPTION_ID_STAND_IN } from './channels.js';
import { FilterError, parseFilter, subscriptionIdText, type ListenFilter } from './filter.js';

type Headers = Record<string, string | string[] | undefined>;

/** JSON-RPC Invalid params. */
const INVALID_PARAMS = -32602;
/** JSON-RPC Invalid request (what the 2025 path answers to a use without the scopes it needs). */
const INVALID_REQUEST = -32600;
/**
 * Bytes of the acknowledgement and the channel list together, which travel in the 460's headers:
 * nginx reads them into the listen location's 16k header buffer (nginx.conf.template).
 */
export const LISTEN_HEADER_BUDGET = 14 * 1024;

/** The `subscriptions/listen` request as the 2026 path parsed it. */
export interface ListenRequest {
  id: unknown;
  params?: unknown;
}

/**
 * Opens `subscriptions/listen` streams (MCP 2026-07-28) that nchan holds, so the backend keeps
 * nothing per listener and publishes nothing: it checks the filter and answers 460 with the
 * stream's acknowledgement and the shared channels to subscribe it to (nginx.conf.template,
 * `/_httmcp/listen_stream`). nginx writes the acknowledgement into the comment nchan opens every
 * stream with, so it is the first event whatever nchan delivers next. Events reach the stream
 * through the shared channels, published once per event by {@link ListenFanout}.
 *
 * The 2026 request path calls {@link ListenEndpoint.open} for a request whose method is
 * `subscriptions/listen`, after its own envelope and header checks.
 */
export class ListenEndpoint {
  constructor(
    readonly server: string,
    private readonly gateway: Gateway,
    private readonly scopes?: Scopes,
  ) {}

  async open(request: ListenRequest, headers: Headers): Promise<Answer> {
    const idText = subscriptionIdText(request.id);
    if (idText === undefined) {
      return error(validId(request.id), INVALID_PARAMS, 'Invalid params: a subscriptions/listen id must be a safe integer or a string of printable ASCII (at most 254 characters): it names the stream in every notification');
    }
    let filter: ListenFilter;
    try {
      filter = parseFilter(request.params, { uris: this.gateway.limits.listenUris, uriBytes: this.gateway.limits.subscriptionUriBytes });
    } catch (cause) {
      if (cause instanceof FilterError) return error(request.id, INVALID_PARAMS, `Invalid params: ${cause.message}`);
      throw cause;
    }
    const forbidden = this.forbidden(request.id, filter, headers);
    if (forbidden) return forbidden;

    // A channel nothing is published to: a stream that asked for nothing still has one.
    const channels = [quietChannel(this.server)];
    for (const kind of LIST_KINDS) if (filter[`${kind}ListChanged`]) channels.push(listChannel(this.server, kind));
    for (const uri of filter.resourceSubscriptions ?? []) channels.push(resourceChannel(this.server, uri));
    const ack = headerSafeJson({
      jsonrpc: '2.0',
      method: 'notifications/subscriptions/acknowledged',
      params: { notifications: filter, _meta: { [SUBSCRIPTION_ID_META_KEY]: request.id } },
    });
    const list = channels.join(',');
    if (ack.length + list.length > LISTEN_HEADER_BUDGET) {
      return error(request.id, INVALID_PARAMS, `Invalid params: the filter is too large for one listen stream (its URIs take ${ack.length + list.length} bytes of the ${LISTEN_HEADER_BUDGET} a stream has); subscribe to fewer URIs per stream`);
    }
    return { status: STREAM_STATUS, headers: { [LISTEN_HEADERS.channels]: list, [LISTEN_HEADERS.subscriptionId]: idText, [LISTEN_HEADERS.ack]: ack } };
  }

  /**
   * A listen filter naming a resource the principal may not read is refused now, not at publish
   * time: publishes are shared by every listener, whoever they are. Like a Streamable HTTP
   * request without the scopes it needs: 403 with the scopes to ask for (step-up).
   */
  private forbidden(id: unknown, filter: ListenFilter, headers: Headers): Answer | undefined {
    const uris = filter.resourceSubscriptions;
    if (!uris || !this.scopes?.size) return undefined;
    const principal = this.gateway.verifiedPrincipal(headers);
    if (!principal) return undefined;
    for (const uri of uris) {
      const needed = this.scopes.of({ kind: 'resource', name: uri });
      if (missingScopes(needed, principal.scopes).length === 0) continue;
      const scope = [...new Set([...principal.scopes, ...needed!])].join(' ');
      const metadata = this.gateway.auth ? `, resource_metadata="${this.gateway.auth.metadataUrl(this.server)}"` : '';
      return {
        status: 403,
        headers: {
          'content-type': 'application/json',
          'www-authenticate': `Bearer error="insufficient_scope", scope="${scope}"${metadata}, error_description="resource ${uri.replace(/["\\\r\n]/g, '')} needs more scopes"`,
        },
        body: errorBody(id, INVALID_REQUEST, `Forbidden: resource ${uri} needs scope ${needed!.join(' ')} (insufficient_scope)`),
      };
    }
    return undefined;
  }
}

/**
 * A notification for listen streams, published once for all of them: its
 * `_meta["io.modelcontextprotocol/subscriptionId"]` is the stand-in nginx replaces per stream.
 */
export function stamped(method: string, params: Record<string, unknown> = {}): string {
  const meta = (params._meta as Record<string, unknown> | undefined) ?? {};
  return JSON.stringify({ jsonrpc: '2.0', method, params: { ...params, _meta: { ...meta, [SUBSCRIPTION_ID_META_KEY]: SUBSCRIPTION_ID_STAND_IN } } });
}

/** JSON with every character outside printable ASCII escaped (\uXXXX): a header value, and one SSE data line. */
function headerSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[^\x20-\x7E]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function validId(id: unknown): string | number | null {
  return typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id)) ? id : null;
}

function errorBody(id: unknown, code: number, message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id: validId(id), error: { code, message } });
}

function error(id: unknown, code: number, message: string): Answer {
  return { status: 200, headers: { 'content-type': 'application/json' }, body: errorBody(id, code, message) };
}
