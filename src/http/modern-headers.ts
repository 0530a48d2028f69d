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

/** A tool argument the client must mirror in an `Mcp-Param-{header}` header (`x-mcp-header`). */
export interface ParamDeclaration {
  /** The header's name after `Mcp-Param-`. */
  header: string;
  /** Where the argument sits in `arguments`. */
  path: string[];
  /** Its JSON Schema type (numbers compare as numbers). */
  type: unknown;
}

/**
 * The `x-mcp-header` declarations of a tool's input schema, on properties reachable from the
 * root through `properties` only (where the spec allows them).
 */
export function paramDeclarations(schema: unknown, path: string[] = [], found: ParamDeclaration[] = []): ParamDeclaration[] {
  const properties = isObject(schema) ? schema.properties : undefined;
  if (!isObject(properties)) return found;
  for (const [key, property] of Object.entries(properties)) {
    if (!isObject(property)) continue;
    const header = property['x-mcp-header'];
    if (typeof header === 'string' && header !== '') found.push({ header, path: [...path, key], type: property.type });
    paramDeclarations(property, [...path, key], found);
  }
  return found;
}

const CANONICAL_DECIMAL = /^-?\d+(\.\d+)?$/;

/**
 * Checks the `Mcp-Param-*` headers of a `tools/call` against its arguments: each declared
 * argument the body carries (not null) must be mirrored, decoded equal (numbers compared as
 * numbers). A header for an absent argument is ignored, as the spec says.
 */
export function checkParamHeaders(declarations: readonly ParamDeclaration[], args: unknown, headers: Headers): HeaderMismatch | undefined {
  for (const declaration of declarations) {
    let value: unknown = args;
    for (const key of declaration.path) value = isObject(value) ? value[key] : undefined;
    const text = primitiveText(value);
    if (text === undefined) continue;
    const name = `Mcp-Param-${declaration.header}`;
    const where = `arguments.${declaration.path.join('.')}`;
    const raw = header(headers, name.toLowerCase());
    if (raw === undefined) return mismatch(name, '(missing)', `the body carries ${where}=${JSON.stringify(value)} but the ${name} header is absent`);
    const decoded = decodeHeaderValue(raw.trim());
    if (decoded === undefined) return mismatch(name, raw, `the ${name} header carries an invalid Base64 value`);
    const numeric = (declaration.type === 'integer' || declaration.type === 'number') && typeof value === 'number' && CANONICAL_DECIMAL.test(decoded);
    if (numeric ? Number(decoded) !== value : decoded !== text) {
      return mismatch(name, raw, `the ${name} header says ${JSON.stringify(decoded)} but the body carries ${where}=${JSON.stringify(value)}`);
    }
  }
  return undefined;
}

/** A primitive argument as header text; undefined for null, absent or non-primitive values. */
function primitiveText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
