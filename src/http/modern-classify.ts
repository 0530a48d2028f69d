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
  /**
   * The envelopes of the latest memoized verdicts, compared by value before any key is built: a
   * client sends the same envelope every time, and comparing it with one seen before costs less
   * than its JSON (most of what the memo cost per request).
   */
  private readonly recent: Recent[] = [];
  private nextRecent = 0;

  classify(versionHeader: string | undefined, methodHeader: string | undefined, nameHeader: string | undefined, body: unknown): InboundRoute {
    const plain = plainRequest(body);
    if (plain !== undefined) {
      for (const seen of this.recent) {
        if (seen.method === plain.method && seen.versionHeader === versionHeader && seen.methodHeader === methodHeader && sameJson(seen.meta, plain.meta)) {
          return modernRoute(body, seen.classification);
        }
      }
    }
    const metaJson = plain === undefined ? undefined : JSON.stringify(plain.meta);
    const key = metaJson === undefined ? undefined : memoKey(versionHeader, methodHeader, plain!.method, metaJson);
    const known = key === undefined ? undefined : this.verdicts.get(key);
    if (known) {
      this.remember(versionHeader, methodHeader, plain!.method, metaJson!, known);
      return modernRoute(body, known);
    }
    const route = classifyInboundRequest({ httpMethod: 'POST', protocolVersionHeader: versionHeader, mcpMethodHeader: methodHeader, mcpNameHeader: nameHeader, body });
    if (key !== undefined && route.kind === 'modern' && route.messageKind === 'request') {
      if (this.verdicts.size >= MEMO_ENTRIES) this.verdicts.clear();
      this.verdicts.set(key, route.classification);
      this.remember(versionHeader, methodHeader, plain!.method, metaJson!, route.classification);
    }
    return route;
  }

  private remember(versionHeader: string | undefined, methodHeader: string | undefined, method: string, metaJson: string, classification: InboundModernRoute['classification']): void {
    // A copy of its own: the request's `_meta` goes on to the SDK, which may change it.
    const entry: Recent = { versionHeader, methodHeader, method, meta: JSON.parse(metaJson) as Record<string, unknown>, classification };
    if (this.recent.length < RECENT_ENTRIES) this.recent.push(entry);
    else this.recent[this.nextRecent] = entry;
    this.nextRecent = (this.nextRecent + 1) % RECENT_ENTRIES;
  }
}

/** One memoized verdict with the envelope it was given for (see {@link ModernClassifier}). */
interface Recent {
  versionHeader: string | undefined;
  methodHeader: string | undefined;
  method: string;
  meta: Record<string, unknown>;
  classification: InboundModernRoute['classification'];
}

/** Envelopes compared by value before the memo's key is built. */
const RECENT_ENTRIES = 8;

function modernRoute(body: unknown, classification: InboundModernRoute['classification']): InboundRoute {
  return { kind: 'modern', messageKind: 'request', message: body as InboundModernRoute['message'], classification } as InboundRoute;
}

/**
 * The method and `_meta` envelope of a request of the plain shape whose verdict may be memoized,
 * or undefined for any other body (see {@link ModernClassifier}).
 */
function plainRequest(body: unknown): { method: string; meta: Record<string, unknown> } | undefined {
  if (!isPlainObject(body)) return undefined;
  for (const key in body) if (!REQUEST_KEYS.has(key)) return undefined;
  const { jsonrpc, id, method, params } = body;
  if (jsonrpc !== '2.0' || typeof method !== 'string' || method === 'initialize') return undefined;
  if (!(typeof id === 'string' || Number.isSafeInteger(id))) return undefined;
  if (!isPlainObject(params)) return undefined;
  const meta = params._meta;
  if (!isPlainObject(meta) || typeof meta[PROTOCOL_VERSION_META_KEY] !== 'string') return undefined;
  for (const key in meta) if (!ENVELOPE_KEYS.has(key)) return undefined;
  return { method, meta };
}

/** Whether two values parsed from JSON are the same JSON (objects compared whatever their key order). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let keys = 0;
  for (const key in x) {
    if (!Object.hasOwn(y, key) || !sameJson(x[key], y[key])) return false;
    keys++;
  }
  for (const key in y) if (--keys < 0) return false;
  return keys === 0;
}

/** The memo key of a plain 2026-era request (see {@link plainRequest}), or undefined when it is too long to keep. */
function memoKey(versionHeader: string | undefined, methodHeader: string | undefined, method: string, metaJson: string): string | undefined {
  const key = `${versionHeader ?? ''}\n${methodHeader ?? '\u0000'}\n${method}\n${metaJson}`;
  return key.length <= MEMO_KEY_MAX ? key : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
