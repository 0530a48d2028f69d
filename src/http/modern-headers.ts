import type { JSONRPCRequest } from '@modelcontextprotocol/server';
import type { Headers } from './modern-transport.js';

/** JSON-RPC `HeaderMismatch` (2026-07-28): the standard headers are missing or contradict the body. */
export const HEADER_MISMATCH = -32020;

/** What a failed check says: the error's message and the disagreeing pair. */
export interface HeaderMismatch {
  message: string;
  data: { mismatch: { header: string; body: string } };
}

/**
 * The body field each method's `Mcp-Name` header mirrors (2026-07-28 standard headers; the
 * tasks rows from the Tasks extension's HTTP binding, so intermediaries can route by task).
 */
const NAME_SOURCE: Readonly<Record<string, 'name' | 'uri' | 'taskId'>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'tasks/get': 'taskId',
  'tasks/update': 'taskId',
  'tasks/cancel': 'taskId',
};

const SENTINEL_PREFIX = '=?base64?';
const SENTINEL_SUFFIX = '?=';
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Checks a 2026-era request's standard headers against its body: `MCP-Protocol-Version`
 * (present, and the version the envelope claims), `Mcp-Method` (present, and the body's
 * method), `Mcp-Name` (present when the body names a tool, prompt, resource or task, and equal
 * to it; a `=?base64?…?=` value is decoded first). The edge routes and rate-limits on these
 * headers while the backend runs the body, so a request whose two halves disagree is refused
 * rather than served. Undefined when they agree.
 */
export function checkStandardHeaders(headers: Headers, request: JSONRPCRequest, claimedVersion: string): HeaderMismatch | undefined {
  const version = header(headers, 'mcp-protocol-version');
  if (version === undefined) return mismatch('MCP-Protocol-Version', '(missing)', `the body envelope names protocol version ${claimedVersion} but the MCP-Protocol-Version header is absent`);
  if (version.trim() !== claimedVersion) {
    return mismatch('MCP-Protocol-Version', version, `the body envelope names protocol version ${claimedVersion} but the MCP-Protocol-Version header names ${version}`);
  }
  const method = header(headers, 'mcp-method');
  if (method === undefined) return mismatch('Mcp-Method', '(missing)', `the body names method ${request.method} but the Mcp-Method header is absent`);
  if (method.trim() !== request.method) return mismatch('Mcp-Method', method, `the body names method ${request.method} but the Mcp-Method header names ${method}`);
  const field = Object.hasOwn(NAME_SOURCE, request.method) ? NAME_SOURCE[request.method] : undefined;
  if (field === undefined) return undefined;
  const raw = (request.params as Record<string, unknown> | undefined)?.[field];
  const value = typeof raw === 'string' ? raw : undefined;
  const name = header(headers, 'mcp-name');
  if (name === undefined) {
    return value === undefined ? undefined : mismatch('Mcp-Name', '(missing)', `the body carries params.${field}=${JSON.stringify(value)} but the Mcp-Name header is absent`);
  }
  const decoded = decodeHeaderValue(name.trim());
  if (decoded === undefined) return mismatch('Mcp-Name', name, 'the Mcp-Name header carries an invalid Base64 value');
  if (value !== undefined && decoded !== value) {
    return mismatch('Mcp-Name', name, `the body carries params.${field}=${JSON.stringify(value)} but the Mcp-Name header names ${JSON.stringify(decoded)}`);
  }
  return undefined;
}

/**
 * A standard or `Mcp-Param-*` header value: as it is, or decoded when it is the spec's
 * `=?base64?…?=` form (for values that are not plain header text). Undefined when that form's
 * payload is not canonical Base64 of UTF-8.
 */
export function decodeHeaderValue(value: string): string | undefined {
  if (!(value.startsWith(SENTINEL_PREFIX) && value.endsWith(SENTINEL_SUFFIX) && value.length >= SENTINEL_PREFIX.length + SENTINEL_SUFFIX.length)) return value;
  const payload = value.slice(SENTINEL_PREFIX.length, value.length - SENTINEL_SUFFIX.length);
  if (!CANONICAL_BASE64.test(payload)) return undefined;
  try {
    return utf8.decode(Buffer.from(payload, 'base64'));
  } catch {
    return undefined;
  }
}

/** The SDK's shape: `data.mismatch` holds the header's value (or `(missing)`) and what the body says. */
function mismatch(name: string, value: string, body: string): HeaderMismatch {
  return { message: `Bad Request: the ${name} header and the body disagree: ${body}`, data: { mismatch: { header: value, body } } };
}

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
