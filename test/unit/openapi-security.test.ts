/**
 * Arguments that try to move a request elsewhere: path traversal, another host, a query or a
 * fragment smuggled into the path, header and cookie injection. Each is either sent encoded (the
 * stand-in API sees it as data, at the path the spec defines) or refused before any request.
 * A second server plays the attacker's host and must never see a request.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { OpenAPIMCP, type OpenAPIMCPOptions } from '../../src/openapi/index.js';
import { connectInProcess } from '../fixtures/openapi/connect.js';
import { shopSpec } from '../fixtures/openapi/shop.js';
import { StandIn } from '../fixtures/openapi/stand-in.js';

let api: StandIn;
let evil: StandIn;
const servers: OpenAPIMCP[] = [];
const clients: Client[] = [];

async function shop(options: OpenAPIMCPOptions = {}): Promise<Client> {
  const server = await OpenAPIMCP.create(shopSpec(), { serverVariables: { port: String(api.port) }, validate: 'off', env: {}, ...options });
  servers.push(server);
  const client = await connectInProcess(server);
  clients.push(client);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

beforeAll(async () => {
  api = await StandIn.start(() => ({ headers: { 'content-type': 'text/plain' }, body: 'file' }));
  evil = await StandIn.start();
});
beforeEach(() => api.reset(() => ({ headers: { 'content-type': 'text/plain' }, body: 'file' })));
afterEach(() => expect(evil.requests).toEqual([]));
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(servers.map((s) => s.close()));
  await api.close();
  await evil.close();
});

describe('path parameters are sent fully encoded', () => {
  let client: Client;
  beforeAll(async () => {
    client = await shop();
  });

  test.each([
    ['../../etc/passwd', '/v1/files/..%2F..%2Fetc%2Fpasswd'],
    ['../../../admin?x=1', '/v1/files/..%2F..%2F..%2Fadmin%3Fx%3D1'],
    ['..%2F..%2Fadmin', '/v1/files/..%252F..%252Fadmin'],
    ['%2e%2e', '/v1/files/%252e%252e'],
    ['a?admin=1#frag', '/v1/files/a%3Fadmin%3D1%23frag'],
    ['a#/../../x', '/v1/files/a%23%2F..%2F..%2Fx'],
    ['\\..\\..\\windows', '/v1/files/%5C..%5C..%5Cwindows'],
    ['a\r\nHost: evil', '/v1/files/a%0D%0AHost%3A%20evil'],
    ['ümlaut space', '/v1/files/%C3%BCmlaut%20space'],
    ['...', '/v1/files/...'],
  ])('%j → %s', async (path, expected) => {
    const result = await call(client, 'readFile', { path });
    expect(result).toEqual({ content: [{ type: 'text', text: 'file' }] });
    expect(api.only().url).toBe(expected);
  });

  test.each(['//127.0.0.1:EVIL/x', 'http://127.0.0.1:EVIL/', '@127.0.0.1:EVIL', 'x@127.0.0.1:EVIL', '\\\\127.0.0.1:EVIL'])(
    'a host in a path value (%s) stays in the path of the configured server',
    async (pattern) => {
      const path = pattern.replace('EVIL', String(evil.port));
      await call(client, 'readFile', { path });
      expect(api.only().url).toBe(`/v1/files/${encodeURIComponent(path).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`);
      expect(api.only().headers.host).toBe(`127.0.0.1:${api.port}`);
    },
  );

  test.each([
    ['..', 'a path parameter may not be "." or ".."'],
    ['.', 'a path parameter may not be "." or ".."'],
    ['', 'path parameter "path" must not be empty'],
  ])('%j is refused before any request', async (path, message) => {
    const result = await call(client, 'readFile', { path });
    expect(result.isError).toBe(true);
    expect((result.content[0] as { text: string }).text).toContain(message);
    expect(api.requests).toEqual([]);
  });

  test('label and matrix styles cannot smuggle dot segments or slashes either', async () => {
    await call(client, 'styles', { simple: ['..', '/'], label: ['..', '?'], matrix: { a: '../x', b: '#' } });
    expect(api.only().url).toBe('/v1/styles/..,%2F/....%3F/;matrix=a,..%2Fx,b,%23');
  });
});

describe('other locations', () => {
  let client: Client;
  beforeAll(async () => {
    client = await shop();
  });

  test('query values cannot add parameters or a fragment', async () => {
    await call(client, 'listPets', { tags: ['a&admin=true#x'], filter: { 'k]&x=[': 'v&w' } });
    expect(api.only().url).toBe('/v1/pets?tags=a%26admin%3Dtrue%23x&filter[k%5D%26x%3D%5B]=v%26w');
  });

  test('header values cannot carry line breaks', async () => {
    const result = await call(client, 'listPets', { 'X-Trace': 'a\r\nX-Admin: 1' });
    expect(result).toEqual({
      content: [{ type: 'text', text: 'Invalid arguments for listPets: header "X-Trace": line breaks and NUL are not allowed in a header value' }],
      isError: true,
    });
    expect(api.requests).toEqual([]);
  });

  test('cookie values cannot add cookies', async () => {
    await call(client, 'listPets', { day: 'mon; admin=1' });
    expect(api.only().headers.cookie).toBe('day=mon%3B%20admin%3D1');
  });
});

test("a base URL's path prefix cannot be left", async () => {
  const client = await shop({ baseUrl: `${api.url}/tenant/42` });
  await call(client, 'readFile', { path: '../../43/secrets' });
  expect(api.only().url).toBe('/tenant/42/files/..%2F..%2F43%2Fsecrets');
  api.reset();
  expect((await call(client, 'readFile', { path: '..' })).isError).toBe(true);
  expect(api.requests).toEqual([]);
});

test('resource template variables are decoded, then encoded again', async () => {
  const server = await OpenAPIMCP.create(shopSpec(), { serverVariables: { port: String(api.port) }, validate: 'off', env: {}, resources: true });
  servers.push(server);
  const client = await connectInProcess(server);
  clients.push(client);
  const read = await client.readResource({ uri: 'test-shop://files/..%2F..%2Fetc%2Fpasswd' });
  expect(read.contents).toEqual([{ uri: 'test-shop://files/..%2F..%2Fetc%2Fpasswd', mimeType: 'text/plain', text: 'file' }]);
  expect(api.only().url).toBe('/v1/files/..%2F..%2Fetc%2Fpasswd');
});
