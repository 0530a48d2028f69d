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
