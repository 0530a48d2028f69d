import type { Gateway } from '../gateway.js';
import type { Answer } from '../http/endpoint.js';
import { STREAM_STATUS } from '../http/endpoint.js';
import { missingScopes, type Scopes } from '../server/scopes.js';
import { ackChannel, LIST_KINDS, LISTEN_HEADERS, listChannel, resourceChannel, SUBSCRIPTION_ID_META_KEY, SUBSCRIPTION_ID_STAND_IN } from './channels.js';
import { FilterError, parseFilter, subscriptionIdText, type ListenFilter } from './filter.js';

type Headers = Record<string, string | string[] | undefined>;

/** JSON-RPC Invalid params. */
const INVALID_PARAMS = -32602;
/** JSON-RPC Invalid request (what the 2025 path answers to a use without the scopes it needs). */
const INVALID_REQUEST = -32600;
/** JSON-RPC Internal error. */
const INTERNAL_ERROR = -32603;

/** The `subscriptions/listen` request as the 2026 path parsed it. */
export interface ListenRequest {
  id: unknown;
  params?: unknown;
}

/**
 * Opens `subscriptions/listen` streams (MCP 2026-07-28) that nchan holds, so the backend keeps
 * nothing per listener: it checks the filter, publishes the stream's acknowledgement to a channel
 * of the stream's own (stored until the stream attaches), and answers 460 with the channels for
 * nginx to subscribe the stream to (nginx.conf.template, `/_httmcp/listen_stream`). Events reach
 * the stream through shared channels, published once per event by {@link ListenFanout}.
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

    const ack = ackChannel(this.server);
    const channels = [ack];
    for (const kind of LIST_KINDS) if (filter[`${kind}ListChanged`]) channels.push(listChannel(this.server, kind));
    for (const uri of filter.resourceSubscriptions ?? []) channels.push(resourceChannel(this.server, uri));
    const acknowledgement = stamped('notifications/subscriptions/acknowledged', { notifications: filter });
    try {
      await this.gateway.publisher.publish(ack, acknowledgement);
    } catch (cause) {
      this.gateway.logger.error({ err: cause, server: this.server }, 'could not publish a listen stream acknowledgement');
      return error(request.id, INTERNAL_ERROR, 'Internal error: the listen stream could not be opened; retry');
    }
    return { status: STREAM_STATUS, headers: { [LISTEN_HEADERS.channels]: channels.join(','), [LISTEN_HEADERS.subscriptionId]: idText } };
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

function validId(id: unknown): string | number | null {
  return typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id)) ? id : null;
}

function errorBody(id: unknown, code: number, message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id: validId(id), error: { code, message } });
}

function error(id: unknown, code: number, message: string): Answer {
  return { status: 200, headers: { 'content-type': 'application/json' }, body: errorBody(id, code, message) };
}
