import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { OpenAPIMCP, type OpenAPIMCPOptions } from '../../src/openapi/index.js';
import { callTool as call, InProcessServers } from '../fixtures/openapi/connect.js';
import { shopSpec } from '../fixtures/openapi/shop.js';
import { StandIn } from '../fixtures/openapi/stand-in.js';

let api: StandIn;
const fleet = new InProcessServers();

/** A shop server pointed at the stand-in API (through the spec's server variables). */
function shop(options: OpenAPIMCPOptions = {}): Promise<{ server: OpenAPIMCP; client: Client }> {
  return fleet.serve(shopSpec(`${api.url}/oauth/token`), { serverVariables: { port: String(api.port) }, ...options });
}


function text(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n');
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

beforeAll(async () => {
  api = await StandIn.start();
});
beforeEach(() => api.reset());
afterAll(async () => {
  await fleet.close();
  await api.close();
});

describe('tools/list', () => {
  let client: Client;
  let server: OpenAPIMCP;
  let tools: Tool[];
  beforeAll(async () => {
    ({ server, client } = await shop());
    tools = (await client.listTools()).tools;
  });
  const tool = (name: string) => tools.find((t) => t.name === name)!;

  test('one tool per operation, named by operationId, in the spec order, exactly as prebuilt', () => {
    expect(tools.map((t) => t.name)).toEqual([
      'listPets', 'createPet', 'getPet', 'replacePet', 'deletePet', 'readFile', 'styles', 'upload', 'submitForm', 'postText', 'putRaw',
      'plantTree', 'getMedia', 'getFlaky', 'postFlaky', 'withKey', 'withQueryKey', 'withCookie', 'withBearer', 'withBasic', 'withOAuth',
      'withEither', 'withOptional',
    ]);
    expect(JSON.parse(JSON.stringify(server.toolDefinitions))).toEqual(JSON.parse(JSON.stringify(tools)));
  });

  test('server identity and instructions come from info', () => {
    expect(client.getServerVersion()).toEqual({ name: 'test-shop', version: '1.2.3', title: 'Test Shop' });
    expect(client.getInstructions()).toBe('Test Shop\n\nA shop for tests.');
  });

  test('title and description from summary and description; annotations from the method', () => {
    expect(tool('listPets')).toMatchObject({
      title: 'List pets',
      description: 'List pets\n\nAll the pets, a page at a time.',
      annotations: { readOnlyHint: true, openWorldHint: true },
    });
    expect(tool('createPet').annotations).toEqual({ readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true });
    expect(tool('replacePet').annotations).toEqual({ readOnlyHint: false, idempotentHint: true, openWorldHint: true });
    expect(tool('deletePet').annotations).toEqual({ readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true });
    expect(tool('deletePet').description).toBe('DELETE /pets/{petId}');
  });

  test('parameters of every location, with their schemas', () => {
    expect(tool('listPets').inputSchema).toEqual({
      type: 'object',
      properties: {
        limit: { type: 'integer', maximum: 100 },
        tags: { type: 'array', items: { type: 'string' } },
        ids: { type: 'array', items: { type: 'integer' } },
        filter: { type: 'object', additionalProperties: { type: 'string' } },
        'X-Trace': { type: 'string' },
        day: { type: 'string' },
      },
      additionalProperties: false,
    });
    expect(tool('getPet').inputSchema).toEqual({
      type: 'object',
      properties: { petId: { type: 'integer', format: 'int64', minimum: 1, description: 'The pet' } },
      required: ['petId'],
      additionalProperties: false,
    });
  });

  test('a JSON body is flattened: readOnly left out, writeOnly kept, nullable and examples translated', () => {
    expect(tool('createPet').inputSchema).toEqual({
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 1, examples: ['Rex'] },
        tag: { type: ['string', 'null'] },
        secret: { type: 'string', writeOnly: true },
        status: { type: 'string', enum: ['available', 'sold'], default: 'available' },
      },
      required: ['name'],
      additionalProperties: false,
    });
  });

  test('the output schema comes from the 2xx JSON object: writeOnly and formats left out', () => {
    expect(tool('createPet').outputSchema).toEqual({
      type: 'object',
      required: ['id', 'name'],
      properties: {
        id: { type: 'integer', readOnly: true },
        name: { type: 'string', minLength: 1, examples: ['Rex'] },
        tag: { type: ['string', 'null'] },
        status: { type: 'string', enum: ['available', 'sold'], default: 'available' },
      },
    });
    expect(tool('listPets').outputSchema).toBeUndefined(); // an array: MCP structured content is an object
    expect(tool('deletePet').outputSchema).toBeUndefined(); // 204, no body
  });

  test('a parameter and a body property with the same name both survive', () => {
    const schema = tool('replacePet').inputSchema;
    expect(Object.keys(schema.properties!)).toEqual(['petId', 'name', 'body_petId', 'body_name']);
    expect(schema.required).toEqual(['petId', 'body_petId', 'body_name']);
    expect(schema.properties!.body_petId).toEqual({ type: 'string', description: 'the new id\n\nThe request body\'s "petId" property.' });
    expect(schema.properties!.name).toEqual({ type: 'string', description: 'the name to look for' });
  });

  test('a recursive schema becomes $defs/$ref, in the input and the output', () => {
    const node = {
      type: 'object',
      required: ['value'],
      properties: { value: { type: 'string' }, children: { type: 'array', items: { $ref: '#/$defs/Node' } } },
    };
    expect(tool('plantTree').inputSchema).toEqual({
      type: 'object',
      properties: { value: { type: 'string' }, children: { type: 'array', items: { $ref: '#/$defs/Node' } } },
      additionalProperties: false,
      $defs: { Node: node },
    });
    expect(tool('plantTree').outputSchema).toEqual({ ...node, $defs: { Node: node } });
  });

  test('files are {base64, filename, contentType}; raw bodies too; text bodies are strings', () => {
    const upload = tool('upload').inputSchema;
    expect(upload.required).toEqual(['file']);
    expect(upload.properties!.file).toMatchObject({ type: 'object', required: ['base64'], properties: { base64: { type: 'string', contentEncoding: 'base64' } } });
    expect(upload.properties!.extra).toMatchObject({ type: 'array', items: { type: 'object', required: ['base64'] } });
    expect(upload.properties!.meta).toEqual({ type: 'object', properties: { size: { type: 'integer' } } });
    expect(tool('putRaw').inputSchema.properties!.body).toMatchObject({ type: 'object', required: ['base64'] });
    expect(tool('postText').inputSchema.properties!.body).toEqual({ type: 'string', description: 'The request body as text (text/plain).' });
  });
});

describe('requests', () => {
  let client: Client;
  beforeAll(async () => {
    ({ client } = await shop());
  });

  test('query (form, explode, deepObject), header and cookie parameters, and the Accept header', async () => {
    api.respond = () => ({ body: [{ id: 1, name: 'Rex' }] });
    const result = await call(client, 'listPets', {
      limit: 5,
      tags: ['a', 'b c'],
      ids: [1, 2],
      filter: { color: 'red', size: 'L' },
      'X-Trace': 't-1',
      day: 'mon',
    });
    const request = api.only();
    expect(request.method).toBe('GET');
    expect(request.url).toBe('/v1/pets?limit=5&tags=a&tags=b%20c&ids=1,2&filter[color]=red&filter[size]=L');
    expect(request.headers['x-trace']).toBe('t-1');
    expect(request.headers.cookie).toBe('day=mon');
    expect(request.headers.accept).toBe('application/json, */*;q=0.1');
    expect(request.headers.authorization).toBeUndefined();
    expect(result).toEqual({ content: [{ type: 'text', text: '[{"id":1,"name":"Rex"}]' }] });
  });

  test('a JSON body; a JSON object reply becomes structuredContent', async () => {
    api.respond = () => ({ status: 201, body: { id: 7, name: 'Rex', tag: null, status: 'available' } });
    const result = await call(client, 'createPet', { name: 'Rex', tag: null, secret: 's' });
    const request = api.only();
    expect([request.method, request.url, request.headers['content-type'], request.text]).toEqual([
      'POST',
      '/v1/pets',
      'application/json',
      '{"name":"Rex","tag":null,"secret":"s"}',
    ]);
    expect(result).toEqual({
      content: [{ type: 'text', text: '{"id":7,"name":"Rex","tag":null,"status":"available"}' }],
      structuredContent: { id: 7, name: 'Rex', tag: null, status: 'available' },
    });
  });

  test('renamed arguments reach their own places: path, query and body', async () => {
    await call(client, 'replacePet', { petId: 3, name: 'q', body_petId: 'p-9', body_name: 'Bo' });
    const request = api.only();
    expect([request.method, request.url, request.text]).toEqual(['PUT', '/v1/pets/3?name=q', '{"petId":"p-9","name":"Bo"}']);
  });

  test('path styles simple, label and matrix; pipe- and space-delimited queries; a JSON-content parameter', async () => {
    await call(client, 'styles', { simple: ['a', 'b'], label: ['x', 'y'], matrix: { a: '1', b: '2' }, piped: ['p', 'q'], spaced: ['s', 't'], json: { k: 'v' } });
    expect(api.only().url).toBe('/v1/styles/a,b/.x.y/;matrix=a,1,b,2?piped=p|q&spaced=s%20t&json=%7B%22k%22%3A%22v%22%7D');
  });

  test('multipart/form-data with files from base64, a list of files, text and a JSON part', async () => {
    await call(client, 'upload', {
      file: { base64: b64('hello'), filename: 'h.txt', contentType: 'text/plain' },
      extra: [{ base64: b64('x') }, { base64: b64(Buffer.from([0, 255, 1])), filename: 'y.bin' }],
      note: 'n',
      meta: { size: 3 },
    });
    const request = api.only();
    expect(request.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    const form = await new Response(new Uint8Array(request.body), { headers: { 'content-type': request.headers['content-type']! } }).formData();
    const file = form.get('file') as File;
    expect([file.name, file.type, await file.text()]).toEqual(['h.txt', 'text/plain', 'hello']);
    const extra = form.getAll('extra') as File[];
    expect(extra.map((f) => f.name)).toEqual(['extra', 'y.bin']);
    expect(extra.map((f) => f.type)).toEqual(['application/octet-stream', 'application/octet-stream']);
    expect([...new Uint8Array(await extra[1]!.arrayBuffer())]).toEqual([0, 255, 1]);
    expect(form.get('note')).toBe('n');
    const meta = form.get('meta') as File;
    expect([meta.type, await meta.text()]).toEqual(['application/json', '{"size":3}']);
  });

  test('an invalid base64 file is refused before any request', async () => {
    const result = await call(client, 'upload', { file: { base64: 'not base64!' } });
    expect(result.isError).toBe(true);
    expect(text(result)).toBe('Invalid arguments for upload: file: the file content is not valid base64');
    expect(api.requests).toEqual([]);
  });

  test('form-urlencoded, text and octet-stream bodies', async () => {
    await call(client, 'submitForm', { name: 'a b&c', colors: ['red', 'blue'] });
    await call(client, 'postText', { body: 'héllo' });
    await call(client, 'putRaw', { body: { base64: b64(Buffer.from([1, 2, 3])) } });
    const [form, plain, raw] = api.requests;
    expect([form!.headers['content-type'], form!.text]).toEqual(['application/x-www-form-urlencoded', 'name=a%20b%26c&colors=red&colors=blue']);
    expect([plain!.headers['content-type'], plain!.text]).toEqual(['text/plain; charset=utf-8', 'héllo']);
    expect([raw!.method, raw!.headers['content-type'], [...raw!.body]]).toEqual(['PUT', 'application/octet-stream', [1, 2, 3]]);
  });

  test('a recursive body goes out as JSON and a matching reply is structured (the client checks it against $defs)', async () => {
    const tree = { value: 'root', children: [{ value: 'leaf', children: [] }] };
    api.respond = () => ({ body: tree });
    const result = await call(client, 'plantTree', tree);
    expect(api.only().text).toBe(JSON.stringify(tree));
    expect(result.structuredContent).toEqual(tree);
  });

  test('wrong arguments are refused before the call, listing what to fix', async () => {
    const wrongType = await call(client, 'getPet', { petId: 'x' });
    expect(wrongType).toEqual({ content: [{ type: 'text', text: 'Invalid arguments for getPet:\n- petId: must be integer' }], isError: true });
    const tooSmall = await call(client, 'getPet', { petId: 0 });
    expect(text(tooSmall)).toBe('Invalid arguments for getPet:\n- petId: must be >= 1');
    const missing = await call(client, 'getPet', {});
    expect(text(missing)).toBe('Invalid arguments for getPet:\n- missing required argument "petId"');
    const unknown = await call(client, 'getPet', { petId: 1, petID: 2 });
    expect(text(unknown)).toBe('Invalid arguments for getPet:\n- unknown argument "petID" (the arguments are: petId)');
    const several = await call(client, 'createPet', { name: '', status: 'lost', tag: 5 });
    expect(text(several).split('\n').slice(1).sort()).toEqual(['- name: must NOT have fewer than 1 characters', '- status: must be one of "available", "sold"', '- tag: must be string or null']);
    expect(api.requests).toEqual([]);
  });
});

describe('responses', () => {
  let client: Client;
  beforeAll(async () => {
    ({ client } = await shop({ maxResponseBytes: 4096, maxErrorChars: 100 }));
  });

  test('images become image content; other binary an embedded resource; HTML stays text', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);
    const pdf = Buffer.from('%PDF-1.4 tiny');
    api.respond = (r) =>
      r.url.endsWith('png')
        ? { headers: { 'content-type': 'image/png' }, body: png }
        : r.url.endsWith('pdf')
          ? { headers: { 'content-type': 'application/pdf' }, body: pdf }
          : { headers: { 'content-type': 'text/html; charset=utf-8' }, body: '<p>hi</p>' };
    expect(await call(client, 'getMedia', { kind: 'png' })).toEqual({ content: [{ type: 'image', data: png.toString('base64'), mimeType: 'image/png' }] });
    expect(await call(client, 'getMedia', { kind: 'pdf' })).toEqual({
      content: [
        { type: 'text', text: 'HTTP 200 OK: 13 bytes of application/pdf, attached as a resource.' },
        { type: 'resource', resource: { uri: `${api.url}/v1/media?kind=pdf`, mimeType: 'application/pdf', blob: pdf.toString('base64') } },
      ],
    });
    expect(await call(client, 'getMedia', { kind: 'html' })).toEqual({ content: [{ type: 'text', text: '<p>hi</p>' }] });
    expect(api.requests.map((r) => r.headers.accept)).toEqual(['image/png;q=0.9, application/pdf;q=0.9, text/html;q=0.9, */*;q=0.1', expect.any(String), expect.any(String)]);
  });

  test('204 says so explicitly', async () => {
    api.respond = () => ({ status: 204 });
    expect(await call(client, 'deletePet', { petId: 4 })).toEqual({
      content: [{ type: 'text', text: 'HTTP 204 No Content: the request succeeded; the response has no body.' }],
    });
    expect([api.only().method, api.only().url]).toEqual(['DELETE', '/v1/pets/4']);
  });

  test('non-2xx is an error with the status and the body, cut', async () => {
    api.respond = (r) => (r.url.endsWith('/1') ? { status: 404, body: { code: 404, message: 'no such pet' } } : { status: 500, body: 'x'.repeat(1000) });
    expect(await call(client, 'getPet', { petId: 1 })).toEqual({
      content: [{ type: 'text', text: 'HTTP 404 Not Found\n{"code":404,"message":"no such pet"}' }],
      isError: true,
    });
    expect(await call(client, 'getPet', { petId: 2 })).toEqual({
      content: [{ type: 'text', text: `HTTP 500 Internal Server Error\n${'x'.repeat(100)}… [900 more characters]` }],
      isError: true,
    });
  });

  test('redirects are not followed', async () => {
    api.respond = () => ({ status: 302, headers: { location: 'http://evil.example/steal' } });
    expect(await call(client, 'getFlaky')).toEqual({
      content: [{ type: 'text', text: 'HTTP 302 Found (redirect to http://evil.example/steal, not followed)' }],
      isError: true,
    });
    expect(api.requests).toHaveLength(1);
  });

  test('a reply that does not match the output schema is an error that still shows the reply', async () => {
    api.respond = () => ({ body: { id: 'seven' } });
    const result = await call(client, 'getPet', { petId: 7 });
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toBeUndefined();
    expect(text(result)).toBe(
      'The request succeeded, but the reply does not match the response schema of the API description (missing required property "name"; id: must be integer). The reply:\n{"id":"seven"}',
    );
  });

  test('bodies beyond the size cap are cut, and the result says so', async () => {
    const pets = Array.from({ length: 200 }, (_, i) => ({ id: i, name: `pet number ${i}` }));
    api.respond = () => ({ body: pets });
    const result = await call(client, 'listPets');
    expect(result.isError).toBeUndefined();
    expect(text(result)).toBe(`${JSON.stringify(pets).slice(0, 4096)}\n[response cut at 4096 bytes: the size limit]`);
  });

  test('Location and Link headers of a success are passed on', async () => {
    api.respond = () => ({ headers: { link: '</v1/pets?page=2>; rel="next"' }, body: [] });
    expect(await call(client, 'listPets')).toEqual({ content: [{ type: 'text', text: '[]' }, { type: 'text', text: 'link: </v1/pets?page=2>; rel="next"' }] });
  });
});

describe('retries, timeouts and cancellation', () => {
  test('idempotent requests answered 503/429 are retried, honouring Retry-After', async () => {
    const { client } = await shop();
    let n = 0;
    api.respond = () => (++n === 1 ? { status: 503, headers: { 'retry-after': '0' } } : n === 2 ? { status: 429, headers: { 'retry-after': '1' } } : { body: { ok: true } });
    const started = Date.now();
    expect(await call(client, 'getFlaky')).toEqual({ content: [{ type: 'text', text: '{"ok":true}' }] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(api.requests).toHaveLength(3);
  });

  test('retries are bounded: at most two, and never a Retry-After beyond the limit', async () => {
    const { client } = await shop({ maxRetryDelayMs: 2000 });
    api.respond = () => ({ status: 503, headers: { 'retry-after': '0' } });
    expect((await call(client, 'getFlaky')).isError).toBe(true);
    expect(api.requests).toHaveLength(3);
    api.reset(() => ({ status: 429, headers: { 'retry-after': '3600' } }));
    expect(text(await call(client, 'getFlaky'))).toBe('HTTP 429 Too Many Requests');
    expect(api.requests).toHaveLength(1);
  });

  test('POST is never retried', async () => {
    const { client } = await shop();
    api.respond = () => ({ status: 503, headers: { 'retry-after': '0' } });
    expect(text(await call(client, 'postFlaky'))).toBe('HTTP 503 Service Unavailable');
    expect(api.requests).toHaveLength(1);
  });

  test('a slow API hits the headers timeout', async () => {
    const { client } = await shop({ headersTimeoutMs: 200 });
    api.respond = () => ({ delayMs: 1500, body: {} });
    expect(await call(client, 'getFlaky')).toEqual({
      content: [{ type: 'text', text: `GET ${api.url}/v1/flaky: the API sent no response headers within 200 ms` }],
      isError: true,
    });
  });

  test('cancelling the MCP request aborts the HTTP request', async () => {
    const { client } = await shop();
    api.respond = () => ({ delayMs: 3000, body: {} });
    const controller = new AbortController();
    const pending = client.callTool({ name: 'getFlaky', arguments: {} }, undefined, { signal: controller.signal });
    while (api.requests.length === 0) await new Promise((r) => setTimeout(r, 10));
    controller.abort('changed my mind');
    await expect(pending).rejects.toThrow();
    const deadline = Date.now() + 2000;
    while (api.abandoned.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(api.abandoned.map((r) => r.url)).toEqual(['/v1/flaky']);
  });
});

describe('servers', () => {
  test('server variables are filled from config; enums are enforced', async () => {
    const { client } = await shop({ serverVariables: { port: String(api.port), base: 'v2' } });
    await call(client, 'getFlaky');
    expect(api.only().url).toBe('/v2/flaky');
    const bad = await shop({ serverVariables: { port: String(api.port), scheme: 'ftp' } });
    expect(await call(bad.client, 'getFlaky')).toEqual({
      content: [{ type: 'text', text: 'getFlaky cannot be called: server variable {scheme} must be one of "http", "https", not "ftp"' }],
      isError: true,
    });
  });

  test('a base URL replaces the servers, its path kept as a prefix', async () => {
    const { client } = await shop({ baseUrl: `${api.url}/gateway/shop/` });
    await call(client, 'getPet', { petId: 9 });
    expect(api.only().url).toBe('/gateway/shop/pets/9');
  });

  test('static headers go with every request, and win over header parameters', async () => {
    const { client } = await shop({ headers: { 'X-Trace': 'fixed', 'X-Client': 'httmcp' } });
    await call(client, 'listPets', { 'X-Trace': 'from-model' });
    expect(api.only().headers).toMatchObject({ 'x-trace': 'fixed', 'x-client': 'httmcp' });
  });
});

describe('hand-written tools', () => {
  test('hand-written tools are refused with a pointer to a second server; unknown tools are errors', async () => {
    const server = fleet.adopt(await OpenAPIMCP.create(shopSpec(), { serverVariables: { port: String(api.port) }, validate: 'off', filter: { includeOperations: ['getPet'] } }));
    expect(() => server.tool('hello', { description: 'Say hello', input: { who: z.string() } }, ({ who }) => `hello ${who}`)).toThrow(
      'an OpenAPIMCP serves the API\'s tools; add "hello" to another HTTMCP server',
    );
    const client = await fleet.connect(server);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['getPet']);
    api.respond = () => ({ body: { id: 1, name: 'Rex' } });
    expect((await call(client, 'getPet', { petId: 1 })).structuredContent).toEqual({ id: 1, name: 'Rex' });
    await expect(call(client, 'nope')).rejects.toThrow(/Tool nope not found/);
  });

  test('callTool works without an MCP client', async () => {
    const server = fleet.adopt(await OpenAPIMCP.create(shopSpec(), { serverVariables: { port: String(api.port) }, validate: 'off' }));
    api.respond = () => ({ body: { id: 2, name: 'Bo' } });
    expect(await server.callTool('getPet', { petId: 2 })).toEqual({ content: [{ type: 'text', text: '{"id":2,"name":"Bo"}' }], structuredContent: { id: 2, name: 'Bo' } });
    await expect(server.callTool('nope')).rejects.toThrow('has no tool "nope"');
  });
});
