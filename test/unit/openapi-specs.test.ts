import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { OpenAPIMCP, SpecLoadError, type OpenAPIMCPOptions, type SpecInput } from '../../src/openapi/index.js';
import { callTool as call, InProcessServers } from '../fixtures/openapi/connect.js';
import { shopSpec } from '../fixtures/openapi/shop.js';
import { openapi31Spec, swaggerSpec } from '../fixtures/openapi/specs.js';
import { StandIn } from '../fixtures/openapi/stand-in.js';
import { createWeatherServer } from '../../examples/openapi/weather.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/openapi/', import.meta.url));
let api: StandIn;
const fleet = new InProcessServers();

function serve(spec: SpecInput, options: OpenAPIMCPOptions = {}): Promise<{ server: OpenAPIMCP; client: Client }> {
  return fleet.serve(spec, options);
}


function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

beforeAll(async () => {
  api = await StandIn.start();
});
beforeEach(() => api.reset());
afterAll(async () => {
  await fleet.close();
  await api.close();
});

describe('Swagger 2.0', () => {
  let client: Client;
  let server: OpenAPIMCP;
  beforeAll(async () => {
    ({ client, server } = await serve(swaggerSpec(`127.0.0.1:${api.port}`), { env: { HTTMCP_AUTH_BASICAUTH: 'admin:pw', HTTMCP_AUTH_KEY: 'k' } }));
  });

  test('non-body parameters become JSON Schema; collectionFormat and exclusiveMaximum are translated', async () => {
    const findPets = server.toolDefinitions.find((t) => t.name === 'findPets')!;
    expect(findPets.inputSchema.properties).toEqual({
      tags: { type: 'array', items: { type: 'string' } },
      ids: { type: 'array', items: { type: 'integer' } },
      piped: { type: 'array', items: { type: 'string' } },
      limit: { type: 'integer', format: 'int32', exclusiveMaximum: 50 },
    });
    await call(client, 'findPets', { tags: ['a', 'b'], ids: [1, 2], piped: ['x', 'y'], limit: 10 });
    expect(api.only().url).toBe('/api/pets?tags=a,b&ids=1&ids=2&piped=x|y&limit=10');
    expect((await call(client, 'findPets', { limit: 50 })).isError).toBe(true);
  });

  test('host, basePath and schemes make the URL; the body parameter is flattened; x-nullable', async () => {
    const addPet = server.toolDefinitions.find((t) => t.name === 'addPet')!;
    expect(addPet.inputSchema).toEqual({
      type: 'object',
      properties: { name: { type: 'string' }, tag: { type: ['string', 'null'] } },
      required: ['name'],
      additionalProperties: false,
    });
    api.respond = () => ({ body: { id: 1, name: 'Rex', tag: null } });
    const result = await call(client, 'addPet', { name: 'Rex', tag: null });
    expect([api.only().method, api.only().url, api.only().headers['content-type'], api.only().text]).toEqual([
      'POST',
      '/api/pets',
      'application/json',
      '{"name":"Rex","tag":null}',
    ]);
    expect(result.structuredContent).toEqual({ id: 1, name: 'Rex', tag: null });
  });

  test('formData with a file is multipart; without, form-urlencoded; securityDefinitions from the environment', async () => {
    await call(client, 'uploadPhoto', { id: 3, caption: 'me', photo: { base64: Buffer.from('PNG!').toString('base64'), filename: 'me.png', contentType: 'image/png' } });
    await call(client, 'login', { user: 'ann', roles: ['a', 'b'] });
    await call(client, 'deletePet', { id: 3 });
    const [upload, login, remove] = api.requests;
    expect(upload!.url).toBe('/api/pets/3/photo');
    const form = await new Response(new Uint8Array(upload!.body), { headers: { 'content-type': upload!.headers['content-type']! } }).formData();
    expect(form.get('caption')).toBe('me');
    const photo = form.get('photo') as File;
    expect([photo.name, photo.type, await photo.text()]).toEqual(['me.png', 'image/png', 'PNG!']);
    expect([login!.headers['content-type'], login!.text, login!.headers['x-key']]).toEqual(['application/x-www-form-urlencoded', 'user=ann&roles=a&roles=b', 'k']);
    expect([remove!.method, remove!.url, remove!.headers.authorization]).toEqual(['DELETE', '/api/pets/3', `Basic ${Buffer.from('admin:pw').toString('base64')}`]);
  });

  test('without a host, the host the spec was fetched from is used', async () => {
    api.respond = (r) => (r.url === '/specs/old.json' ? { body: swaggerSpec(undefined) } : { body: [] });
    const { client: fetched } = await serve(new URL(`${api.url}/specs/old.json`));
    await call(fetched, 'findPets', { limit: 1 });
    expect(api.requests.map((r) => r.url)).toEqual(['/specs/old.json', '/api/pets?limit=1']);
  });
});

describe('OpenAPI 3.1', () => {
  test('type arrays, const, examples, oneOf/anyOf/allOf and $ref siblings are kept faithfully', async () => {
    const { server } = await serve(openapi31Spec(), { baseUrl: api.url });
    const [getThing, makeThing] = server.toolDefinitions;
    expect(getThing!.inputSchema.properties).toEqual({
      id: { type: 'string', pattern: '^[a-z]+$' },
      v: { type: ['integer', 'null'], examples: [1] },
    });
    expect(getThing!.outputSchema).toEqual({ type: 'object', properties: { id: { const: 'x' }, n: { type: ['number', 'null'] } } });
    expect(makeThing!.inputSchema.properties).toEqual({
      kind: { oneOf: [{ const: 'a' }, { const: 'b' }] },
      data: { anyOf: [{ type: 'string' }, { type: 'integer', exclusiveMinimum: 0 }] },
      meta: { allOf: [{ type: 'object', properties: { id: { type: 'string', format: 'uuid' } } }, { type: 'object', properties: { x: { type: 'string' } } }] },
    });
    expect(server.toolDefinitions.map((t) => t.name)).toEqual(['getThing', 'makeThing']); // webhooks are not tools
  });

  test('a relative server needs a base URL (or a spec fetched from a URL)', async () => {
    const { client } = await serve(openapi31Spec());
    expect(await call(client, 'getThing', { id: 'abc' })).toEqual({
      content: [{ type: 'text', text: 'getThing cannot be called: the server URL "/api" is relative and the spec was not loaded from a URL: configure a base URL' }],
      isError: true,
    });
    api.respond = (r) => (r.url === '/specs/things.json' ? { body: openapi31Spec() } : { body: { id: 'x', n: null } });
    const { client: fetched } = await serve(`${api.url}/specs/things.json`);
    expect((await call(fetched, 'getThing', { id: 'abc', v: null })).structuredContent).toEqual({ id: 'x', n: null });
    expect(api.requests.map((r) => r.url)).toEqual(['/specs/things.json', '/api/things/abc?v=']);
    expect((await call(fetched, 'getThing', { id: 'ABC' })).content).toEqual([{ type: 'text', text: 'Invalid arguments for getThing:\n- id: must match pattern "^[a-z]+$"' }]);
  });
});

describe('loading', () => {
  const yamlPath = join(FIXTURES, 'petstore.yaml');
  const names = (server: OpenAPIMCP) => server.toolDefinitions.map((t) => t.name);

  test('from a YAML file, YAML text, JSON text, an object and a URL: the same tools', async () => {
    const yaml = await readFile(yamlPath, 'utf8');
    const object = (await OpenAPIMCP.create(yamlPath, { validate: 'off' })).spec.document;
    api.respond = () => ({ headers: { 'content-type': 'application/yaml' }, body: yaml });
    const inputs: SpecInput[] = [yamlPath, yaml, JSON.stringify(object), object, `${api.url}/openapi.yaml`];
    const built = await Promise.all(inputs.map((input) => OpenAPIMCP.create(input, { validate: 'off' })));
    for (const server of built) {
      expect(server.name).toBe('yaml-pets');
      expect(names(server)).toEqual(['listPets', 'createPet', 'getPet', 'get_health']);
      expect(server.toolDefinitions).toEqual(built[0]!.toolDefinitions);
    }
  });

  test('external $refs in other files are resolved', async () => {
    const { server } = await serve(join(FIXTURES, 'external', 'api.yaml'));
    expect(server.toolDefinitions[0]).toMatchObject({
      name: 'getPet',
      inputSchema: { properties: { id: { type: 'integer' } }, required: ['id'] },
      outputSchema: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, owner: { type: 'object', properties: { email: { type: 'string' } } } } },
    });
  });

  test('the caller\'s object is never changed, and building twice gives the same tools', async () => {
    const spec = deepFreeze(shopSpec());
    const before = JSON.stringify(spec);
    const first = await OpenAPIMCP.create(spec, { validate: 'off' });
    const second = await OpenAPIMCP.create(spec, { validate: 'off' });
    expect(JSON.stringify(spec)).toBe(before);
    expect(JSON.stringify(second.toolDefinitions)).toBe(JSON.stringify(first.toolDefinitions));
    expect(JSON.stringify(first.spec.document)).toBe(before);
  });

  test.each([
    ['{"foo": 1}', 'not an OpenAPI or Swagger document: it has neither an "openapi" nor a "swagger" field'],
    ['{"openapi": "4.0.0", "info": {}, "paths": {}}', 'unsupported OpenAPI version "4.0.0" (2.0, 3.0.x and 3.1.x are supported)'],
    ['{"swagger": "1.2"}', 'unsupported Swagger version "1.2" (2.0 is supported)'],
    [join(FIXTURES, 'broken.yaml'), `${join(FIXTURES, 'broken.yaml')} is neither JSON nor YAML:`],
    ['/no/such/spec.yaml', 'cannot read /no/such/spec.yaml: no such file'],
  ])('%s is refused: %s', async (input, message) => {
    const error = await OpenAPIMCP.create(input).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpecLoadError);
    expect((error as Error).message).toContain(message);
  });

  test('a URL that does not answer is refused with its status', async () => {
    api.respond = () => ({ status: 404, body: 'nope' });
    await expect(OpenAPIMCP.create(`${api.url}/missing.json`)).rejects.toThrow(`cannot fetch ${api.url}/missing.json: HTTP 404 Not Found`);
  });

  test('validation: strict refuses an invalid spec; warn serves it and reports in the background', async () => {
    const spec = { ...shopSpec(), paths: { ...(shopSpec().paths as object), '/bad': { get: { responses: { '200': { description: 'ok', content: 7 } } } } } };
    await expect(OpenAPIMCP.create(spec, { validate: 'strict' })).rejects.toThrow(/is not a valid OpenAPI 3\.0 document: .*\/paths\/~1bad\/get\/responses\/200\/content/s);
    const warned: string[] = [];
    const server = fleet.adopt(await OpenAPIMCP.create(spec, { validate: 'warn', onWarning: (m) => warned.push(m) }));
    expect(server.tools.length).toBeGreaterThan(20);
    await server.validated;
    expect(warned).toEqual([expect.stringMatching(/^the spec does not validate \(continuing; broken operations are skipped\): .*~1bad/s)]);
    expect(server.warnings).toEqual(warned);
    const valid = await OpenAPIMCP.create(shopSpec(), { validate: 'warn' });
    await valid.validated;
    expect(valid.warnings).toEqual([]);
  });

  test('one broken operation is skipped with a warning; the others work', async () => {
    const spec = shopSpec();
    (spec.paths as Record<string, unknown>)['/broken'] = {
      get: { operationId: 'broken', responses: { '200': { description: 'x', content: { 'application/json': { schema: { $ref: '#/components/schemas/Missing' } } } } } },
      post: { operationId: 'brokenParam', parameters: [{ $ref: '#/components/parameters/Nope' }], responses: { '200': { description: 'x' } } },
    };
    const warned: string[] = [];
    const { server, client } = await serve(spec, { serverVariables: { port: String(api.port) }, onWarning: (m) => warned.push(m) });
    expect(server.tools.map((t) => t.name)).not.toContain('broken');
    expect(server.skipped).toEqual([
      { key: 'POST /broken', reason: '$ref "#/components/parameters/Nope" points to nothing' },
      { key: 'GET /broken', reason: '$ref "#/components/schemas/Missing" points to nothing' },
    ]);
    expect(warned).toEqual([
      'skipped POST /broken: $ref "#/components/parameters/Nope" points to nothing',
      'skipped GET /broken: $ref "#/components/schemas/Missing" points to nothing',
    ]);
    await call(client, 'getFlaky');
    expect(api.only().url).toBe('/v1/flaky');
  });

  test('progress is reported while loading', async () => {
    const events: string[] = [];
    await OpenAPIMCP.create(yamlPath, { validate: 'strict', onProgress: (e) => events.push(e.phase) });
    expect(events).toEqual(['read', 'parsed', 'validated', 'building', 'building', 'built']);
  });

  test('a spec file written anywhere can be served', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openapi-'));
    const file = join(dir, 'shop.json');
    writeFileSync(file, JSON.stringify(shopSpec()));
    const { client } = await serve(file, { serverVariables: { port: String(api.port) } });
    await call(client, 'getPet', { petId: 1 });
    expect(api.only().url).toBe('/v1/pets/1');
  });
});

describe('names, filters, annotations and resources', () => {
  test('names: operationId, x-mcp-name, configuration; derived from method and path otherwise', async () => {
    const spec = shopSpec();
    const paths = spec.paths as Record<string, Record<string, Record<string, unknown>>>;
    paths['/flaky']!.get!['x-mcp-name'] = 'flaky_get';
    delete paths['/pets/{petId}']!.get!.operationId;
    paths['/secure/key']!.get!.operationId = 'with key (v2)';
    const { server } = await serve(spec, { names: { createPet: 'add_pet', 'DELETE /pets/{petId}': 'remove_pet' } });
    const names = server.toolDefinitions.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['flaky_get', 'get_pets_by_petId', 'with_key_v2', 'add_pet', 'remove_pet']));
    expect(names).not.toEqual(expect.arrayContaining(['getFlaky', 'createPet', 'deletePet']));
  });

  test('filters by tag, operation and method; names do not depend on the filter', async () => {
    const byTag = await serve(shopSpec(), { filter: { includeTags: ['pets'], excludeTags: ['admin'] } });
    expect(byTag.server.toolDefinitions.map((t) => t.name)).toEqual(['listPets', 'createPet', 'getPet', 'replacePet']);
    const byOperation = await serve(shopSpec(), { filter: { includeOperations: ['getPet', 'delete /pets/{petId}', 'POST /pets'] } });
    expect(byOperation.server.toolDefinitions.map((t) => t.name)).toEqual(['createPet', 'getPet', 'deletePet']);
    const byMethod = await serve(shopSpec(), { filter: { methods: ['PUT', 'delete'], excludeOperations: ['putRaw'] } });
    expect(byMethod.server.toolDefinitions.map((t) => t.name)).toEqual(['replacePet', 'deletePet']);
  });

  test('annotations: x-mcp-annotations, then configuration', async () => {
    const spec = shopSpec();
    (spec.paths as Record<string, Record<string, Record<string, unknown>>>)['/flaky']!.post!['x-mcp-annotations'] = { idempotentHint: true, title: 'Flaky' };
    const { server } = await serve(spec, { annotations: { deletePet: { destructiveHint: false }, 'GET /pets': { openWorldHint: false } } });
    const annotations = (name: string) => server.toolDefinitions.find((t) => t.name === name)!.annotations;
    expect(annotations('postFlaky')).toEqual({ readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true, title: 'Flaky' });
    expect(annotations('deletePet')).toEqual({ readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true });
    expect(annotations('listPets')).toEqual({ readOnlyHint: true, openWorldHint: false });
  });

  test('GET operations as resources and resource templates', async () => {
    const { server, client } = await serve(shopSpec(), { serverVariables: { port: String(api.port) }, resources: { includeTags: ['pets', 'files'] } });
    expect((await client.listResources()).resources).toEqual([
      { uri: 'test-shop://pets', name: 'listPets', title: 'List pets', description: 'List pets\n\nAll the pets, a page at a time.', mimeType: 'application/json' },
    ]);
    expect((await client.listResourceTemplates()).resourceTemplates).toEqual([
      { uriTemplate: 'test-shop://pets/{petId}', name: 'getPet', title: 'Get a pet', description: 'Get a pet', mimeType: 'application/json' },
      { uriTemplate: 'test-shop://files/{path}', name: 'readFile', description: 'GET /files/{path}', mimeType: 'text/plain' },
    ]);
    expect(server.toolDefinitions.map((t) => t.name)).not.toEqual(expect.arrayContaining(['listPets', 'getPet', 'readFile']));
    api.respond = () => ({ body: { id: 5, name: 'Rex' } });
    expect(await client.readResource({ uri: 'test-shop://pets/5' })).toEqual({
      contents: [{ uri: 'test-shop://pets/5', mimeType: 'application/json', text: '{"id":5,"name":"Rex"}' }],
    });
    expect(api.only().url).toBe('/v1/pets/5');
    api.reset(() => ({ status: 404, body: { message: 'gone' } }));
    await expect(client.readResource({ uri: 'test-shop://pets/6' })).rejects.toThrow('HTTP 404 Not Found: {"message":"gone"}');
  });
});

describe('output schemas and the example', () => {
  test('several 2xx JSON objects give an anyOf output schema; any non-object 2xx gives none', async () => {
    const spec = {
      openapi: '3.0.3',
      info: { title: 'Two', version: '1' },
      servers: [{ url: api.url }],
      paths: {
        '/job': {
          post: {
            operationId: 'startJob',
            responses: {
              '200': { description: 'done', content: { 'application/json': { schema: { type: 'object', required: ['result'], properties: { result: { type: 'string' } } } } } },
              '202': { description: 'queued', content: { 'application/json': { schema: { type: 'object', required: ['ticket'], properties: { ticket: { type: 'integer' } } } } } },
            },
          },
          get: {
            operationId: 'jobStatus',
            responses: {
              '200': { description: 'status', content: { 'application/json': { schema: { type: 'object' } } } },
              '204': { description: 'nothing yet' },
            },
          },
        },
      },
    };
    const { server, client } = await serve(spec);
    const start = server.toolDefinitions.find((t) => t.name === 'startJob');
    const status = server.toolDefinitions.find((t) => t.name === 'jobStatus');
    expect(start!.outputSchema).toEqual({
      type: 'object',
      anyOf: [
        { type: 'object', required: ['result'], properties: { result: { type: 'string' } } },
        { type: 'object', required: ['ticket'], properties: { ticket: { type: 'integer' } } },
      ],
    });
    expect(status!.outputSchema).toBeUndefined();
    api.respond = () => ({ status: 202, body: { ticket: 7 } });
    expect(await call(client, 'startJob')).toEqual({ content: [{ type: 'text', text: '{"ticket":7}' }], structuredContent: { ticket: 7 } });
  });

  test('examples/openapi/weather.ts: the Open-Meteo forecast tool', async () => {
    const server = fleet.adopt(await createWeatherServer({ baseUrl: api.url, validate: 'off' }));
    const client = await fleet.connect(server);
    api.respond = () => ({ body: { latitude: 52.52, longitude: 13.41, timezone: 'GMT', current: { temperature_2m: 21.5 } } });
    const result = await call(client, 'forecast', { latitude: 52.52, longitude: 13.41, current: ['temperature_2m', 'wind_speed_10m'], forecast_days: 1 });
    expect(api.only().url).toBe('/v1/forecast?latitude=52.52&longitude=13.41&current=temperature_2m,wind_speed_10m&forecast_days=1');
    expect(result.structuredContent).toEqual({ latitude: 52.52, longitude: 13.41, timezone: 'GMT', current: { temperature_2m: 21.5 } });
    expect((await call(client, 'forecast', { latitude: 100, longitude: 0 })).content).toEqual([
      { type: 'text', text: 'Invalid arguments for forecast:\n- latitude: must be <= 90' },
    ]);
  });
});
