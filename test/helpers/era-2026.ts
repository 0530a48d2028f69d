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

/**
 * POSTs one 2026 request as a client sends it: the standard headers (`Mcp-Name` for a tool call
 * or a task method) and `meta` as its `_meta` envelope. The response is left for the caller to read.
 */
export async function postModern(
  url: string,
  method: string,
  params: Record<string, unknown>,
  meta: Record<string, unknown>,
  authorization?: string,
): Promise<{ response: Response; id: number }> {
  const name = method === 'tools/call' ? params['name'] : method.startsWith('tasks/') ? params['taskId'] : undefined;
  const id = Math.floor(Math.random() * 1e9);
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN,
      'mcp-method': method,
      ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
      ...(authorization ? { authorization } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: meta } }),
  });
  return { response, id };
}
