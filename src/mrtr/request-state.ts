import { createHash, hkdfSync } from 'node:crypto';
import { createRequestStateCodec, type RequestStateCodec, type ServerContext } from '@modelcontextprotocol/server';

/**
 * HKDF info of the requestState key: a leaked state key is not the session secret, and no other
 * key derived from that secret (backend key, session ids) can sign a state.
 */
export const REQUEST_STATE_KEY_LABEL = 'httmcp requestState v1';

/** How long a minted `requestState` is accepted, in seconds (`HTTMCP_REQUEST_STATE_TTL`). */
export const DEFAULT_REQUEST_STATE_TTL_SECONDS = 600;

/** The `params` members a retry adds or may change; everything else must match the first round. */
const UNBOUND_PARAMS = new Set(['_meta', 'inputResponses', 'requestState']);

/** The 32-byte HMAC key of `requestState`, derived from the deployment's `HTTMCP_SESSION_SECRET`. */
export function deriveRequestStateKey(sessionSecret: string | Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', sessionSecret, new Uint8Array(0), REQUEST_STATE_KEY_LABEL, 32));
}

/** What one multi-round-trip request is: a state minted for it is refused on any other. */
export interface RequestBinding {
  /** The authenticated principal ('' when anonymous). */
  principal: string;
  /** `tools/call`, `prompts/get` or `resources/read`. */
  method: string;
  /** The request's params as received; `_meta`, `inputResponses` and `requestState` are ignored. */
  params: unknown;
}

/**
 * SHA-256 (base64url) of `params` without `_meta`, `inputResponses` and `requestState`, over a
 * canonical JSON (object keys sorted), so a client that re-serializes the same params in
 * another key order still matches while any changed value does not.
 */
export function paramsDigest(params: unknown): string {
  const bound =
    params !== null && typeof params === 'object' && !Array.isArray(params)
      ? Object.fromEntries(Object.entries(params).filter(([key]) => !UNBOUND_PARAMS.has(key)))
      : params;
  return digest(bound);
}

/** SHA-256 (base64url) of the canonical JSON of any JSON value. */
export function digest(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('base64url');
}

/** JSON with object keys sorted at every level (`undefined` members dropped, as JSON.stringify does). */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const members = Object.keys(value)
    .sort()
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${members.join(',')}}`;
}

/** Options of {@link RequestStates}. */
export interface RequestStatesOptions {
  /** `HTTMCP_SESSION_SECRET`: every backend holding it verifies every state (no store). */
  sessionSecret: string | Uint8Array;
  /** The MCP server's name: a state minted by one server is refused by another. */
  server: string;
  /** Lifetime of a state in seconds (default {@link DEFAULT_REQUEST_STATE_TTL_SECONDS}). */
  ttlSeconds?: number;
  /**
   * What the request being served is, by the SDK context of its handler; undefined when not
   * known, which refuses both minting and verifying (fail closed).
   */
  binding: (ctx: ServerContext) => RequestBinding | undefined;
}

/**
 * Signs and verifies the `requestState` of multi-round-trip requests (MCP 2026-07-28) with the
 * SDK's `createRequestStateCodec`: HMAC-SHA256 under a key derived from the session secret,
 * an expiry, and a binding to this server, the principal, the method and a digest of the
 * request's params. A state presented by another principal, on another method, with other
 * arguments, after its expiry or altered in any byte fails {@link verify}, which the SDK's
 * `ServerOptions.requestState.verify` seam answers with `-32602` before the handler runs.
 *
 * Signed, not encrypted: the client can read the payload (its own earlier answers), never change it.
 */
export class RequestStates<T> {
  private readonly codec: RequestStateCodec<T>;

  constructor(private readonly options: RequestStatesOptions) {
    const ttlSeconds = options.ttlSeconds ?? DEFAULT_REQUEST_STATE_TTL_SECONDS;
    if (!(ttlSeconds > 0) || !Number.isFinite(ttlSeconds)) throw new RangeError(`requestState TTL must be a positive number of seconds, got ${ttlSeconds}`);
    this.codec = createRequestStateCodec<T>({
      key: deriveRequestStateKey(options.sessionSecret),
      ttlSeconds,
      bind: (ctx) => this.bindingText(ctx),
    });
  }

  /** Seals `payload` for the request `ctx` is serving. */
  mint(payload: T, ctx: ServerContext): Promise<string> {
    return this.codec.mint(payload, ctx);
  }

  /**
   * Opens a state echoed on the request `ctx` is serving; throws when it fails any check. This
   * is the function for `ServerOptions.requestState.verify`.
   */
  readonly verify = (state: string, ctx: ServerContext): Promise<T> => this.codec.verify(state, ctx);

  private bindingText(ctx: ServerContext): string {
    const binding = this.options.binding(ctx);
    if (!binding) throw new Error('unbound');
    // JSON of an array: unambiguous whatever characters the parts hold.
    return JSON.stringify([this.options.server, binding.principal, binding.method, paramsDigest(binding.params)]);
  }
}
