import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import WebSocket from 'ws';
import { hashApiKey, OpenAPIMCP, type Stack } from '../../src/index.js';
import { freePort } from '../../src/stack/stack.js';
import { StandIn } from '../fixtures/openapi/stand-in.js';
import { STREAMABLE_ACCEPT } from '../helpers/raw-clients.js';
import { startTestStack } from '../helpers/stack.js';

/** OpenAPI operation security as tool scopes (`securityScopes`), through real nginx+nchan with API keys. */

const SPEC = fileURLToPath(new URL('../fixtures/openapi/scoped.yaml', import.meta.url));
const KEYS = { reader: 'reader-key-0123456789abcdef', writer: 'writer-key-0123456789abcdef' };

describe('OpenAPI operation security mapped to scopes', () => {
  let api: StandIn;
  let stack: Stack;
  let base: string;
  const warnings: string[] = [];

  beforeAll(async () => {
    api = await StandIn.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const common = { baseUrl: api.url, validate: 'off' as const, env: {} };
    stack = await startTestStack({
      port,
      servers: [
        await OpenAPIMCP.create(SPEC, { ...common, name: 'scoped', securityScopes: true, onWarning: (w) => warnings.push(w) }),
        await OpenAPIMCP.create(SPEC, { ...common, name: 'plain' }),
      ],
      auth: {
        publicUrl: base,
        apiKeys: [
          { subject: 'reader', sha256: hashApiKey(KEYS.reader), scopes: ['pets:read'] },
          { subject: 'writer', sha256: hashApiKey(KEYS.writer), scopes: ['pets:read', 'pets:write', 'pets:admin'] },
        ],
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await api?.close();
  });

  async function connect(server: string, key: string, kind: 'streamable' | 'websocket' = 'streamable'): Promise<Client> {
    const client = new Client({ name: 'scopes', version: '1.0.0' });
    if (kind === 'streamable') {
      await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp/${server}`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
    } else {
      (globalThis as { WebSocket?: unknown }).WebSocket = class extends WebSocket {
        constructor(url: string | URL, protocols?: string | string[]) {
          super(url, protocols, { headers: { authorization: `Bearer ${key}` } });
        }
      };
      await client.connect(new WebSocketClientTransport(new URL(`${base.replace(/^http/, 'ws')}/mcp/${server}`)));
    }
    return client;
  }

  const names = async (client: Client) => (await client.listTools()).tools.map((t) => t.name).sort();

  test("tools/list shows a principal the operations its scopes allow; without the flag, all of them", async () => {
    const reader = await connect('scoped', KEYS.reader);
    expect(await names(reader)).toEqual(['health', 'listPets']);
    await reader.close();
    const writer = await connect('scoped', KEYS.writer);
    expect(await names(writer)).toEqual(['addPet', 'deletePet', 'health', 'listPets']);
    await writer.close();
    const plain = await connect('plain', KEYS.reader);
    expect(await names(plain)).toEqual(['addPet', 'deletePet', 'health', 'listPets']);
    await plain.close();
    // Alternatives naming different scopes are merged, and said so.
    expect(warnings.join('\n')).toContain('deletePet: the security alternatives of DELETE /pets/{id} name different scopes; all of them are required (pets:admin pets:write)');
  });

  test('a call without the scopes is refused before the API is called: 403 step-up on Streamable HTTP, a JSON-RPC error on WebSocket', async () => {
    const before = api.requests.length;
    const init = await fetch(`${base}/mcp/scoped`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: STREAMABLE_ACCEPT, authorization: `Bearer ${KEYS.reader}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    });
    await init.text();
    const refused = await fetch(`${base}/mcp/scoped`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: STREAMABLE_ACCEPT,
        authorization: `Bearer ${KEYS.reader}`,
        'mcp-session-id': init.headers.get('mcp-session-id')!,
        'mcp-protocol-version': '2025-06-18',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'addPet', arguments: {} } }),
    });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope", scope="pets:read pets:write", /);

    const reader = await connect('scoped', KEYS.reader, 'websocket');
    await expect(reader.callTool({ name: 'addPet', arguments: {} })).rejects.toThrow(/insufficient_scope/);
    expect(api.requests.length).toBe(before);
    await reader.callTool({ name: 'listPets', arguments: {} });
    expect(api.requests.at(-1)).toMatchObject({ method: 'GET', url: '/pets' });
    await reader.close();

    const writer = await connect('scoped', KEYS.writer, 'websocket');
    await writer.callTool({ name: 'addPet', arguments: {} });
    expect(api.requests.at(-1)).toMatchObject({ method: 'POST', url: '/pets' });
    await writer.close();
  });
});
