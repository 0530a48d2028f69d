import {
  PROTOCOL_VERSION_META_KEY,
  SUPPORTED_PROTOCOL_VERSIONS,
  UnsupportedProtocolVersionError,
  type JSONRPCMessage,
  type RequestId,
} from '@modelcontextprotocol/server';

/** The protocol revisions MCP over NATS serves: the 2025 era (sessions opened by `initialize`). */
export const NATS_PROTOCOL_VERSIONS: readonly string[] = SUPPORTED_PROTOCOL_VERSIONS;

/**
 * The answer to a 2026-07-28 request (one carrying the per-request `_meta` envelope) that reached
 * a NATS service: `-32022` listing the versions NATS serves, so the client can fall back to a
 * 2025 session or use HTTP. Undefined for every other message. Without this, the session would
 * replay an `initialize` for it and serve it as 2025, the envelope ignored (docs/transports.md,
 * "2026-07-28 over NATS" says what carrying it would take).
 */
export function modernRequestRefusal(message: JSONRPCMessage): JSONRPCMessage | undefined {
  if (!('method' in message) || !('id' in message)) return undefined;
  const meta = (message.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
  if (meta === undefined || !(PROTOCOL_VERSION_META_KEY in meta)) return undefined;
  const claimed = meta[PROTOCOL_VERSION_META_KEY];
  const error = new UnsupportedProtocolVersionError({ supported: [...NATS_PROTOCOL_VERSIONS], requested: typeof claimed === 'string' ? claimed : 'unknown' });
  return {
    jsonrpc: '2.0',
    id: message.id as RequestId,
    error: { code: error.code, message: `${error.message}: MCP over NATS serves the 2025 era (initialize, then requests in that session); send 2026-07-28 requests over HTTP`, data: error.data },
  };
}
