/** The 2026-07-28 revision, and the per-request `_meta` envelope its requests carry. */
export const MODERN = '2026-07-28';

/** A request's `_meta` envelope for 2026-07-28 from a client named `client` that declares no capability. */
export function envelope(client = 'raw'): Record<string, unknown> {
  return {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: client, version: '1.0.0' },
  };
}

/** What a 2026 POST answered: its status and the JSON-RPC reply's result or error. */
export interface ModernReply {
  status: number;
  result?: Record<string, any>;
  error?: { code: number; message: string; data?: any };
}

/**
 * The reply to request `id` from a 2026 POST's response, whether it came as JSON or on the
 * request's SSE stream (a request still running after the inline budget).
 */
export async function replyOf(response: Response, id: number | string): Promise<ModernReply> {
  const text = await response.text();
  const body = (response.headers.get('content-type') ?? '').includes('text/event-stream')
    ? text
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => JSON.parse(line.slice(5)))
        .find((message) => message.id === id)
    : JSON.parse(text);
  return { status: response.status, ...(body.result ? { result: body.result } : {}), ...(body.error ? { error: body.error } : {}) };
}

/**
 * A signed `requestState` with one bit of its signature changed: the next-to-last character (the
 * last may carry unused bits) swapped for another, so the result always differs from `state`.
 */
export function tamperedState(state: string): string {
  const changed = state.at(-2) === 'A' ? 'B' : 'A';
  return `${state.slice(0, -2)}${changed}${state.slice(-1)}`;
}
