/**
 * The official TypeScript SDK v2 client (`@modelcontextprotocol/client`) against a real
 * nginx+nchan stack on Streamable HTTP.
 *
 * httmcp speaks the 2025 era only for now (issue 11, docs/design/2026-07-28.md): a v2 client in
 * `auto` mode must fall back from its `server/discover` probe to the 2025 handshake and work; a
 * client pinned to 2026-07-28 must get the SDK's typed negotiation failure, not a hang. When the
 * 2026 path lands, the pinned case becomes a working one.
 */
import { Client, SdkError, StreamableHTTPClientTransport, type VersionNegotiationOptions } from '@modelcontextprotocol/client';
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
    ['default (legacy)', undefined],
    ['auto', { mode: 'auto' as const }],
  ])('%s mode: lands on the 2025 era, lists the tools and calls add', async (_name, negotiation) => {
    const v2 = client(negotiation);
    await v2.connect(new StreamableHTTPClientTransport(new URL(stack.servers.demo!)));
    expect(v2.getProtocolEra()).toBe('legacy');
    const tools = (await v2.listTools()).tools.map((tool) => tool.name);
    expect(tools).toEqual(expect.arrayContaining(['add', 'divide', 'sleep']));
    expect(await v2.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).toMatchObject({ content: [{ type: 'text', text: '5' }] });
    expect(workerCrashes(stack)).toEqual([]);
  });

  test('pinned to 2026-07-28: connect() rejects with the typed negotiation error (no 2026 path yet)', async () => {
    const pinned = client({ mode: { pin: '2026-07-28' } });
    const error = await pinned.connect(new StreamableHTTPClientTransport(new URL(stack.servers.demo!))).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(SdkError);
    expect(error).toMatchObject({ code: 'ERA_NEGOTIATION_FAILED' });
  });
});
