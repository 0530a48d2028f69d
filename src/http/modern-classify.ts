import {
  classifyInboundRequest,
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  LOG_LEVEL_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  type InboundModernRoute,
} from '@modelcontextprotocol/server';

/** What the SDK's classifier answers for one POST (a route or a refusal). */
export type InboundRoute = ReturnType<typeof classifyInboundRequest>;

/** The envelope keys a client sends alike on every request; any other `_meta` key skips the memo. */
const ENVELOPE_KEYS = new Set([PROTOCOL_VERSION_META_KEY, CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, LOG_LEVEL_META_KEY]);
const REQUEST_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);

/** Verdicts kept (the memo is emptied when full) and the longest key kept. */
const MEMO_ENTRIES = 512;
const MEMO_KEY_MAX = 4096;

/**
 * The SDK's `classifyInboundRequest` for the POSTs of one server, with its verdict remembered
 * for plain 2026-era requests.
 *
 * Why: the classifier parses the whole body with three zod schemas (two of which fail on every
 * request: it first asks whether the body is a response) and validates the envelope, a
 * noticeable part of a quick call's backend CPU. A 2026 client sends the same envelope on every
 * request, and for a body of the plain request shape (only `jsonrpc`, `id`, `method`, `params`;
 * a string or integer id; `_meta` holding only the envelope's own keys) the verdict depends on
 * nothing but the envelope, the method and the `MCP-Protocol-Version` and `Mcp-Method`
 * headers: those make the memo's key. Anything else (`initialize`, a progress token, a
 * notification, an odd shape, a refusal) is classified afresh every time.
 */
export class ModernClassifier {
  private readonly verdicts = new Map<string, InboundModernRoute['classification']>();

  classify(versionHeader: string | undefined, methodHeader: string | undefined, nameHeader: string | undefined, body: unknown): InboundRoute {
    const key = memoKey(versionHeader, methodHeader, body);
    const known = key === undefined ? undefined : this.verdicts.get(key);
    if (known) return { kind: 'modern', messageKind: 'request', message: body as InboundModernRoute['message'], classification: known } as InboundRoute;
    const route = classifyInboundRequest({ httpMethod: 'POST', protocolVersionHeader: versionHeader, mcpMethodHeader: methodHeader, mcpNameHeader: nameHeader, body });
    if (key !== undefined && route.kind === 'modern' && route.messageKind === 'request') {
      if (this.verdicts.size >= MEMO_ENTRIES) this.verdicts.clear();
      this.verdicts.set(key, route.classification);
    }
    return route;
  }
}

/** The memo key of a plain 2026-era request, or undefined when its verdict is not memoized. */
function memoKey(versionHeader: string | undefined, methodHeader: string | undefined, body: unknown): string | undefined {
  if (!isPlainObject(body)) return undefined;
  for (const key in body) if (!REQUEST_KEYS.has(key)) return undefined;
  const { jsonrpc, id, method, params } = body;
  if (jsonrpc !== '2.0' || typeof method !== 'string' || method === 'initialize') return undefined;
  if (!(typeof id === 'string' || Number.isSafeInteger(id))) return undefined;
  if (!isPlainObject(params)) return undefined;
  const meta = params._meta;
  if (!isPlainObject(meta) || typeof meta[PROTOCOL_VERSION_META_KEY] !== 'string') return undefined;
  for (const key in meta) if (!ENVELOPE_KEYS.has(key)) return undefined;
  const key = `${versionHeader ?? ''}\n${methodHeader ?? '\u0000'}\n${method}\n${JSON.stringify(meta)}`;
  return key.length <= MEMO_KEY_MAX ? key : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
