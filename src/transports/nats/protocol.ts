/**
 * The MCP-over-NATS wire protocol shared by {@link serveNats} and {@link NatsClientTransport}:
 * subject names, header names, and how messages and the client's session description travel.
 *
 * Every NATS message body is one JSON-RPC message as UTF-8 JSON. Everything else rides in headers,
 * so any NATS client in any language can speak it. See docs/transports.md for the whole picture.
 * @module
 */
import { headers as natsHeaders, type MsgHdrs } from 'nats';
import { ClientCapabilitiesSchema, ImplementationSchema, JSONRPCMessageSchema, LoggingLevelSchema } from '@modelcontextprotocol/core';
import type { ClientCapabilities, Implementation, JSONRPCMessage, LoggingLevel } from '@modelcontextprotocol/server';

/** Defaults of the subjects and queue group; each is configurable where it is used. */
export const NATS_DEFAULTS = {
  /** First token of every subject. */
  prefix: 'mcp',
  /** Queue group the server processes of one MCP server share. */
  queue: 'httmcp',
} as const;

/** Header names of the protocol (NATS headers are case-sensitive; these are sent as written). */
export const NATS_HEADERS = {
  /** Client to server, every message: the client's id, which is also its MCP session id. */
  clientId: 'Mcp-Client-Id',
  /** Client to server, every message: the subject replies, progress and server requests go to. */
  replyTo: 'Mcp-Reply-To',
  /**
   * Server to client, every message and every acknowledgement: the subject of the server
   * process that sent it. Cancellations of a request and responses to a server's request go there.
   */
  worker: 'Mcp-Worker',
  /** Client to a worker subject: `ping` (liveness probe) or `close` (the client is leaving). */
  control: 'Mcp-Control',
  /** Client to server: the negotiated protocol version (the requested one during `initialize`). */
  protocolVersion: 'Mcp-Protocol-Version',
  /** Client to server: the `clientInfo` of its `initialize`, as JSON. */
  clientInfo: 'Mcp-Client-Info',
  /** Client to server: the `capabilities` of its `initialize`, as JSON. */
  clientCapabilities: 'Mcp-Client-Capabilities',
  /** Client to server: the level of the client's last `logging/setLevel`. */
  logLevel: 'Mcp-Log-Level',
} as const;

/** Values of the {@link NATS_HEADERS.control} header. */
export type ControlVerb = 'ping' | 'close';

/** The subject requests for server `name` go to: `{prefix}.service.{name}.request`. */
export function serviceSubject(name: string, prefix: string = NATS_DEFAULTS.prefix): string {
  return `${prefix}.service.${name}.request`;
}

/** The subject of one server process of server `name`: `{prefix}.worker.{name}.{id}`. */
export function workerSubject(name: string, id: string, prefix: string = NATS_DEFAULTS.prefix): string {
  return `${prefix}.worker.${name}.${id}`;
}

/** The subject a client receives on by default: `{prefix}.response.{clientId}`. */
export function clientSubject(clientId: string, prefix: string = NATS_DEFAULTS.prefix): string {
  return `${prefix}.response.${clientId}`;
}

/** Whether `subject` is a plain subject one may publish to (no wildcards, spaces or empty tokens). */
export function isPublishableSubject(subject: string): boolean {
  return subject.length > 0 && subject.length <= 512 && /^[^\s*>.]+(\.[^\s*>.]+)*$/.test(subject);
}

/**
 * What a server needs to rebuild a client's session on a process that never saw its
 * `initialize`: the client sends it in headers on every message.
 */
export interface ClientHello {
  protocolVersion?: string;
  clientInfo?: Implementation;
  capabilities?: ClientCapabilities;
  logLevel?: LoggingLevel;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A JSON-RPC message as a NATS payload. */
export function encodeMessage(message: JSONRPCMessage): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}

/** Parses and validates a NATS payload as one JSON-RPC message (returned as sent); throws when it is not one. */
export function decodeMessage(data: Uint8Array): JSONRPCMessage {
  const value: unknown = JSON.parse(decoder.decode(data));
  const checked = JSONRPCMessageSchema.safeParse(value);
  if (!checked.success) throw new TypeError('not a JSON-RPC 2.0 message');
  return value as JSONRPCMessage;
}

/** Which of the three JSON-RPC shapes a (validated) message is. */
export function kindOf(message: JSONRPCMessage): 'request' | 'notification' | 'response' {
  if (!('method' in message)) return 'response';
  return 'id' in message && message.id !== undefined ? 'request' : 'notification';
}

/** A string key for a JSON-RPC id (ids may be numbers or strings: `1` and `"1"` differ). */
export function idKey(id: unknown): string {
  return JSON.stringify(id);
}

/** NATS headers carrying the client's identity, reply subject and {@link ClientHello}. */
export function clientHeaders(clientId: string, replyTo: string, hello: ClientHello): MsgHdrs {
  const h = natsHeaders();
  h.set(NATS_HEADERS.clientId, clientId);
  h.set(NATS_HEADERS.replyTo, replyTo);
  if (hello.protocolVersion !== undefined) h.set(NATS_HEADERS.protocolVersion, hello.protocolVersion);
  if (hello.clientInfo !== undefined) h.set(NATS_HEADERS.clientInfo, JSON.stringify(hello.clientInfo));
  if (hello.capabilities !== undefined) h.set(NATS_HEADERS.clientCapabilities, JSON.stringify(hello.capabilities));
  if (hello.logLevel !== undefined) h.set(NATS_HEADERS.logLevel, hello.logLevel);
  return h;
}

/** Reads a {@link ClientHello} from headers; a malformed field is left out rather than failing the message. */
export function readHello(h: MsgHdrs | undefined): ClientHello {
  const hello: ClientHello = {};
  if (!h) return hello;
  const version = h.get(NATS_HEADERS.protocolVersion);
  if (version) hello.protocolVersion = version;
  const info = parseJson(h.get(NATS_HEADERS.clientInfo), ImplementationSchema);
  if (info) hello.clientInfo = info;
  const capabilities = parseJson(h.get(NATS_HEADERS.clientCapabilities), ClientCapabilitiesSchema);
  if (capabilities) hello.capabilities = capabilities;
  const level = LoggingLevelSchema.safeParse(h.get(NATS_HEADERS.logLevel));
  if (level.success) hello.logLevel = level.data;
  return hello;
}

/** Headers as a plain record with lower-case names, like Node's HTTP headers (for `ctx.headers`). */
export function headerRecord(h: MsgHdrs | undefined): Record<string, string | string[]> {
  const record: Record<string, string | string[]> = {};
  if (!h) return record;
  for (const key of h.keys()) {
    const values = h.values(key);
    record[key.toLowerCase()] = values.length === 1 ? values[0]! : values;
  }
  return record;
}

/** Headers with one entry each. */
export function headersOf(entries: Record<string, string>): MsgHdrs {
  const h = natsHeaders();
  for (const [key, value] of Object.entries(entries)) h.set(key, value);
  return h;
}

function parseJson<T>(text: string, schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } }): T | undefined {
  if (!text) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
