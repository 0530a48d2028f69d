import { hashApiKey, type HTTMCP, type Stack, type StackOptions } from '../../src/index.js';
import { freePort } from '../../src/stack/stack.js';
import { startTestStack } from './stack.js';

/** A test stack behind API-key authentication, and where its one server answers. */
export interface ApiKeyStack {
  stack: Stack;
  /** The stack's origin, which is also its public URL (the audience of its credentials). */
  base: string;
  /** `{base}/mcp/{name}` of the one server. */
  probe: string;
}

/**
 * A real nginx+nchan stack serving `server` alone, that accepts the API keys in `keys` (subject →
 * key) and nothing else. The port is chosen before the start because the public URL names it.
 * `options` adds the limits a test is about.
 */
export async function startApiKeyStack(server: HTTMCP, keys: Record<string, string>, options: Partial<StackOptions> = {}): Promise<ApiKeyStack> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const stack = await startTestStack({
    ...options,
    port,
    servers: [server],
    auth: { publicUrl: base, apiKeys: Object.entries(keys).map(([subject, key]) => ({ subject, sha256: hashApiKey(key) })) },
  });
  return { stack, base, probe: `${base}/mcp/${server.name}` };
}
