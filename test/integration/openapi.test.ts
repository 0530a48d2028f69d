/**
 * OpenAPIMCP end to end: SDK clients on every transport, through real nginx+nchan, calling tools
 * whose requests reach a stand-in API.
 */
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ListToolsResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Stack } from '../../src/index.js';
import { OpenAPIMCP } from '../../src/openapi/index.js';
import { listAllTools } from '../fixtures/openapi/connect.js';
import { shopSpec } from '../fixtures/openapi/shop.js';
import { StandIn } from '../fixtures/openapi/stand-in.js';
import { connectClient, startTestStack, TRANSPORTS, workerCrashes } from '../helpers/stack.js';

const GITHUB = fileURLToPath(new URL('../../node_modules/@octokit/openapi/generated/api.github.com.json', import.meta.url));

let api: StandIn;
let stack: Stack;
let shop: OpenAPIMCP;
let github: OpenAPIMCP;

beforeAll(async () => {
  api = await StandIn.start();
  shop = await OpenAPIMCP.create(shopSpec(), {
    serverVariables: { port: String(api.port) },
    validate: 'off',
    env: {},
    auth: { key: 'server-key' },
    sessionCredentials: [{ scheme: 'bearer', header: 'x-upstream-token' }],
  });
  github = await OpenAPIMCP.create(GITHUB, { name: 'github', validate: 'off', baseUrl: `${api.url}/gh` });
  stack = await startTestStack({ servers: [shop, github] });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await api?.close();
});

beforeEach(() => api.reset());

describe.each(TRANSPORTS)('%s through nginx+nchan', (kind) => {
  let client: Client;
  beforeAll(async () => {
    client = await connectClient(kind, stack.servers['test-shop']!);
  });
  afterAll(async () => {
    await client?.close();
  });

  test('tools/list is the prebuilt list', async () => {
    const tools = await listAllTools(client);
    expect(JSON.parse(JSON.stringify(tools))).toEqual(JSON.parse(JSON.stringify(shop.toolDefinitions)));
  });

  test('a call makes exactly the request the spec describes, and the reply comes back structured', async () => {
    api.respond = () => ({ status: 201, body: { id: 11, name: 'Nchan', tag: null } });
    const result = (await client.callTool({ name: 'createPet', arguments: { name: 'Nchan', tag: null } })) as CallToolResult;
    const request = api.only();
    expect([request.method, request.url, request.headers['content-type'], request.text]).toEqual(['POST', '/v1/pets', 'application/json', '{"name":"Nchan","tag":null}']);
    expect(result).toEqual({ content: [{ type: 'text', text: '{"id":11,"name":"Nchan","tag":null}' }], structuredContent: { id: 11, name: 'Nchan', tag: null } });
  });

  test('an encoded traversal attempt, an API error, and bad arguments', async () => {
    api.respond = (r) => (r.url.startsWith('/v1/files/') ? { headers: { 'content-type': 'text/plain' }, body: 'contents' } : { status: 404, body: { message: 'no' } });
    expect(await client.callTool({ name: 'readFile', arguments: { path: '../../etc/passwd' } })).toEqual({ content: [{ type: 'text', text: 'contents' }] });
    expect(await client.callTool({ name: 'getPet', arguments: { petId: 5 } })).toEqual({ content: [{ type: 'text', text: 'HTTP 404 Not Found\n{"message":"no"}' }], isError: true });
    expect(api.requests.map((r) => r.url)).toEqual(['/v1/files/..%2F..%2Fetc%2Fpasswd', '/v1/pets/5']);
    const bad = (await client.callTool({ name: 'getPet', arguments: { petId: 'five' } })) as CallToolResult;
    expect(bad).toEqual({ content: [{ type: 'text', text: 'Invalid arguments for getPet:\n- petId: must be integer' }], isError: true });
    expect(api.requests).toHaveLength(2);
  });

  test('a slow API call does not block the session', async () => {
    api.respond = (r) => (r.url === '/v1/flaky' ? { delayMs: 800, body: { slow: true } } : { body: { id: 1, name: 'quick' } });
    const order: string[] = [];
    const slow = client.callTool({ name: 'getFlaky', arguments: {} }).then((r) => (order.push('slow'), r));
    while (api.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    const quick = await client.callTool({ name: 'getPet', arguments: { petId: 1 } });
    order.push('quick');
    expect(quick.structuredContent).toEqual({ id: 1, name: 'quick' });
    expect(await slow).toEqual({ content: [{ type: 'text', text: '{"slow":true}' }] });
    expect(order).toEqual(['quick', 'slow']);
  });
});

test("a per-session credential comes from the MCP client's header through nginx; its own Authorization never reaches the API", async () => {
  const client = new Client({ name: 'session-auth', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.servers['test-shop']!), {
      requestInit: { headers: { 'x-upstream-token': 'user-42-token', authorization: 'Bearer the-mcp-login' } },
    }),
  );
  await client.callTool({ name: 'withBearer', arguments: {} });
  await client.callTool({ name: 'withKey', arguments: {} });
  expect(api.requests.map((r) => [r.url, r.headers.authorization, r.headers['x-api-key']])).toEqual([
    ['/v1/secure/bearer', 'Bearer user-42-token', undefined],
    ['/v1/secure/key', undefined, 'server-key'],
  ]);
  await client.close();
});

test('the GitHub API description (1,223 tools) is served page by page through nginx+nchan, and its tools call the API', async () => {
  const client = await connectClient('websocket', stack.servers.github!);
  // Raw tools/list pages: the SDK's listTools() would also compile every output schema (seconds).
  let cursor: string | undefined;
  let listed = 0;
  do {
    const page = await client.request({ method: 'tools/list', params: cursor === undefined ? {} : { cursor } }, ListToolsResultSchema);
    listed += page.tools.length;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  expect(listed).toBe(github.tools.length);
  expect(listed).toBeGreaterThan(1000);

  api.respond = () => ({ headers: { 'content-type': 'text/html' }, body: '<p>Hello <strong>world</strong></p>' });
  const rendered = await client.callTool({ name: 'markdown_render', arguments: { text: 'Hello **world**', mode: 'gfm' } });
  expect([api.only().method, api.only().url, api.only().text]).toEqual(['POST', '/gh/markdown', '{"text":"Hello **world**","mode":"gfm"}']);
  expect(rendered).toEqual({ content: [{ type: 'text', text: '<p>Hello <strong>world</strong></p>' }] });

  api.reset(() => ({ body: { login: 'octocat' } }));
  const user = (await client.callTool({ name: 'users_get-by-username', arguments: { username: 'octo/../cat' } })) as CallToolResult;
  expect(api.only().url).toBe('/gh/users/octo%2F..%2Fcat');
  // Far from GitHub's documented user object: said so, with the reply.
  expect(user.isError).toBe(true);
  expect((user.content[0] as { text: string }).text).toMatch(/^The request succeeded, but the reply does not match the response schema .*\n\{"login":"octocat"\}$/s);
  await client.close();
  expect(workerCrashes(stack)).toEqual([]);
}, 60_000);
