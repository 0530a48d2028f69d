/**
 * The official TypeScript SDK v2 client (`@modelcontextprotocol/client`) against a real
 * nginx+nchan stack on Streamable HTTP.
 *
 * httmcp serves both eras on every URL (issue 11, docs/design/2026-07-28.md): a v2 client in its
 * default (legacy) mode takes the 2025 handshake, one in `auto` mode or pinned to 2026-07-28 lands
 * on the 2026 era (its `server/discover` probe is answered). test/integration/modern.test.ts
 * covers the 2026 path in depth.
 */
import { Client, StreamableHTTPClientTransport, type VersionNegotiationOptions } from '@modelcontextprotocol/client';
import type { Stack } from '../../src/index.js';
import { startTestStack, workerCrashes } from '../helpers/stack.js';

describe('the SDK v2 client through nginx+nchan', () => {
  let stack: Stack;
  const clients: Client[] = [];

  beforeAll(async () => {
    stack = await startTestStack();
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await stack?.stop();
  });

  function client(versionNegotiation?: VersionNegotiationOptions): Client {
    const created = new Client({ name: 'httmcp-test-v2', version: '1.0.0' }, versionNegotiation ? { versionNegotiation } : {});
    clients.push(created);
    return created;
  }

  test.each([
    ['default (legacy)', undefined, 'legacy'],
    ['auto', { mode: 'auto' as const }, 'modern'],
    ['pinned to 2026-07-28', { mode: { pin: '2026-07-28' } }, 'modern'],
  ] as Array<[string, VersionNegotiationOptions | undefined, string]>)('%s mode: lands on the %s era, lists the tools and calls add', async (_name, negotiation, era) => {
    const v2 = client(negotiation);
    await v2.connect(new StreamableHTTPClientTransport(new URL(stack.servers.demo!)));
    expect(v2.getProtocolEra()).toBe(era);
    const tools = (await v2.listTools()).tools.map((tool) => tool.name);
    expect(tools).toEqual(expect.arrayContaining(['add', 'divide', 'sleep']));
    expect(await v2.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).toMatchObject({ content: [{ type: 'text', text: '5' }] });
    expect(workerCrashes(stack)).toEqual([]);
  });
});
