import type { CacheHint, CacheScope, JSONRPCMessage, MessageExtraInfo, RequestId, TransportSendOptions } from '@modelcontextprotocol/server';
import { TransportMiddleware } from './transport-middleware.js';

export type { CacheHint, CacheScope };

/**
 * The operations whose 2026-07-28 results are cacheable (the spec's "Caching" utility): only
 * these carry `ttlMs` and `cacheScope`. 2025-era results never do.
 */
export const CACHEABLE_METHODS = ['server/discover', 'tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read'] as const;

/** A method whose 2026-07-28 result carries cache hints. */
export type CacheableMethod = (typeof CACHEABLE_METHODS)[number];

/** Cache hints by operation (the SDK's `cacheHints` server option). */
export type CacheHints = Partial<Record<CacheableMethod, CacheHint>>;

/**
 * The hint every cacheable result gets when nothing says otherwise: immediately stale, and only
 * for the client that asked. It cannot be wrong: a longer life or a shared scope is a promise
 * only the server's author can make (a result that depends on who asks must never be shared).
 */
export const DEFAULT_CACHE_HINT: Readonly<Required<CacheHint>> = { ttlMs: 0, cacheScope: 'private' };

/** Environment variables of the server-wide hint (`httmcp openapi`, {@link cacheHintFromEnv}). */
export const CACHE_TTL_ENV = 'HTTMCP_CACHE_TTL_MS';
export const CACHE_SCOPE_ENV = 'HTTMCP_CACHE_SCOPE';

/** Largest `ttlMs` accepted: one day. A list cached longer outlives every deployment it describes. */
export const MAX_TTL_MS = 24 * 60 * 60 * 1000;

/** `hint` checked: a non-negative integer `ttlMs` up to {@link MAX_TTL_MS}, a known scope. Throws a RangeError naming `where`. */
export function checkCacheHint(hint: CacheHint, where: string): CacheHint {
  const { ttlMs, cacheScope } = hint;
  if (ttlMs !== undefined && (!Number.isSafeInteger(ttlMs) || ttlMs < 0 || ttlMs > MAX_TTL_MS)) {
    throw new RangeError(`${where}: cache ttlMs must be an integer from 0 to ${MAX_TTL_MS}, got ${String(ttlMs)}`);
  }
  if (cacheScope !== undefined && cacheScope !== 'public' && cacheScope !== 'private') {
    throw new RangeError(`${where}: cacheScope must be "public" or "private", got ${JSON.stringify(cacheScope)}`);
  }
  return hint;
}

/**
 * The SDK's per-operation `cacheHints` from a server-wide hint (`all`, for every cacheable
 * operation) and per-operation ones, field by field (an operation's own field wins).
 * Undefined when neither says anything (the SDK then emits {@link DEFAULT_CACHE_HINT}).
 */
export function serverCacheHints(all: CacheHint | undefined, perOperation: CacheHints | undefined): CacheHints | undefined {
  if (all === undefined && perOperation === undefined) return undefined;
  if (all) checkCacheHint(all, 'cacheHint');
  const hints: CacheHints = {};
  for (const method of CACHEABLE_METHODS) {
    const own = perOperation?.[method];
    if (own) checkCacheHint(own, `cacheHints["${method}"]`);
    const merged = { ...all, ...defined(own) };
    if (merged.ttlMs !== undefined || merged.cacheScope !== undefined) hints[method] = merged;
  }
  for (const method of Object.keys(perOperation ?? {})) {
    if (!(CACHEABLE_METHODS as readonly string[]).includes(method)) throw new RangeError(`cacheHints: ${method} has no cacheable result (${CACHEABLE_METHODS.join(', ')})`);
  }
  return hints;
}

/**
 * The server-wide hint from the environment (`HTTMCP_CACHE_TTL_MS`, `HTTMCP_CACHE_SCOPE`), or
 * undefined when neither is set. Throws a RangeError for a value that is not one.
 */
export function cacheHintFromEnv(env: NodeJS.ProcessEnv = process.env): CacheHint | undefined {
  const ttl = env[CACHE_TTL_ENV];
  const scope = env[CACHE_SCOPE_ENV];
  if ((ttl === undefined || ttl === '') && (scope === undefined || scope === '')) return undefined;
  const hint: CacheHint = {};
  if (ttl !== undefined && ttl !== '') hint.ttlMs = /^\d+$/.test(ttl) ? Number(ttl) : Number.NaN;
  if (scope !== undefined && scope !== '') hint.cacheScope = scope as CacheScope;
  return checkCacheHint(hint, `${CACHE_TTL_ENV}/${CACHE_SCOPE_ENV}`);
}

/** The stricter of two hints: the shorter life, and `private` when either says so. */
export function tighten(a: Required<CacheHint>, b: CacheHint | undefined): Required<CacheHint> {
  if (!b) return a;
  return {
    ttlMs: b.ttlMs === undefined ? a.ttlMs : Math.min(a.ttlMs, b.ttlMs),
    cacheScope: a.cacheScope === 'private' || b.cacheScope === 'private' ? 'private' : a.cacheScope,
  };
}

/** What a {@link CacheHintTransport} asks about the items of a result. */
export interface CachePolicy {
  /** The hint an item was declared with (`cacheHint` of a tool, prompt or resource), if any. */
  itemHint(kind: ItemKind, key: string): CacheHint | undefined;
  /**
   * Whether what a client gets of `kind` depends on who it is: items shown or refused by scopes,
   * or a resource read with the caller's own credentials. Such results are never `public`.
   */
  dependsOnPrincipal(kind: ItemKind, key: string | undefined): boolean;
}

/** What the items of a cacheable result are. */
export type ItemKind = 'tool' | 'prompt' | 'resource' | 'template';

/** Each list method: the field of its result that holds the items, their kind, and each item's key. */
const LISTS: Readonly<Record<string, { field: string; kind: ItemKind; key: string }>> = {
  'tools/list': { field: 'tools', kind: 'tool', key: 'name' },
  'prompts/list': { field: 'prompts', kind: 'prompt', key: 'name' },
  'resources/list': { field: 'resources', kind: 'resource', key: 'uri' },
  'resources/templates/list': { field: 'resourceTemplates', kind: 'template', key: 'uriTemplate' },
};

/**
 * Transport middleware that makes the cache hints of 2026-07-28 results honest about their items.
 *
 * The SDK fills `ttlMs`/`cacheScope` from the server's per-operation hints and a resource's own;
 * it cannot know that a list is only as cacheable as its least cacheable item, or that a result
 * shown per principal (scopes) must not be shared. Below pagination, on the page a client really
 * gets: a list takes the shortest life and the narrowest scope of its items; anything that
 * depends on the principal becomes `private`. Results without `ttlMs` (the 2025 era, interim
 * `input_required` results) pass untouched.
 */
export class CacheHintTransport extends TransportMiddleware {
  /** Cacheable requests being answered: id -> method, and the URI for a read. */
  private readonly pending = new Map<RequestId, { method: string; uri: string | undefined }>();

  constructor(
    inner: ConstructorParameters<typeof TransportMiddleware>[0],
    private readonly policy: CachePolicy,
  ) {
    super(inner);
  }

  protected override receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    if ('method' in message && 'id' in message && (LISTS[message.method] !== undefined || message.method === 'resources/read')) {
      const uri = message.method === 'resources/read' ? (message.params as { uri?: unknown } | undefined)?.uri : undefined;
      this.pending.set(message.id, { method: message.method, uri: typeof uri === 'string' ? uri : undefined });
    }
    super.receive(message, extra);
  }

  override send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.pending.size > 0 && ('result' in message || 'error' in message)) {
      const id = (message as { id: RequestId }).id;
      const request = this.pending.get(id);
      if (request) {
        this.pending.delete(id);
        if ('result' in message && typeof (message.result as { ttlMs?: unknown }).ttlMs === 'number') {
          return super.send({ ...message, result: this.adjust(request.method, request.uri, message.result as CacheableResult) }, options);
        }
      }
    }
    return super.send(message, options);
  }

  private adjust(method: string, uri: string | undefined, result: CacheableResult): CacheableResult {
    let hint: Required<CacheHint> = { ttlMs: result.ttlMs, cacheScope: result.cacheScope === 'public' ? 'public' : 'private' };
    const list = LISTS[method];
    if (list) {
      const items = result[list.field];
      if (Array.isArray(items)) {
        for (const item of items as Array<Record<string, unknown>>) {
          const key = item[list.key];
          if (typeof key === 'string') hint = tighten(hint, this.policy.itemHint(list.kind, key));
        }
      }
      if (hint.cacheScope === 'public' && this.policy.dependsOnPrincipal(list.kind, undefined)) hint = { ...hint, cacheScope: 'private' };
    } else if (hint.cacheScope === 'public' && (uri === undefined || this.policy.dependsOnPrincipal('resource', uri))) {
      hint = { ...hint, cacheScope: 'private' };
    }
    return hint.ttlMs === result.ttlMs && hint.cacheScope === result.cacheScope ? result : { ...result, ...hint };
  }
}

interface CacheableResult {
  ttlMs: number;
  cacheScope?: unknown;
  [field: string]: unknown;
}

function defined(hint: CacheHint | undefined): CacheHint {
  if (!hint) return {};
  const out: CacheHint = {};
  if (hint.ttlMs !== undefined) out.ttlMs = hint.ttlMs;
  if (hint.cacheScope !== undefined) out.cacheScope = hint.cacheScope;
  return out;
}
