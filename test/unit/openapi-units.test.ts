/** The pieces of OpenAPIMCP on their own: schema conversion, names, serialization, servers. */
import {
  assignToolNames,
  cookiePair,
  fillPath,
  headerValue,
  queryPairs,
  RefResolver,
  resolveServer,
  retryDelay,
  sanitizeArgName,
  sanitizeToolName,
  SchemaConverter,
  TOOL_NAME,
  type OperationSpec,
  type ParameterSpec,
  type ParameterStyle,
} from '../../src/openapi/index.js';

function converter(document: Record<string, unknown>, version: '2.0' | '3.0' | '3.1' = '3.0', warnings: string[] = []) {
  return new SchemaConverter(new RefResolver(document), version, (m) => warnings.push(m));
}

describe('schema conversion', () => {
  test('OpenAPI 3.0 keywords become JSON Schema: nullable, exclusive bounds, example, unknown keywords dropped', () => {
    const c = converter({});
    const { schema } = c.convert(
      {
        type: 'integer',
        nullable: true,
        minimum: 1,
        exclusiveMinimum: true,
        maximum: 9,
        exclusiveMaximum: false,
        example: 5,
        enum: [1, 5, 5, 9],
        xml: { name: 'n' },
        'x-internal': true,
        discriminator: { propertyName: 'kind' },
      },
      'input',
    );
    expect(schema).toEqual({ type: ['integer', 'null'], exclusiveMinimum: 1, maximum: 9, examples: [5], enum: [1, 5, 9, null] });
  });

  test('nullable without a type (a composition) becomes anyOf with null', () => {
    const { schema } = converter({}).convert({ nullable: true, oneOf: [{ type: 'string' }, { type: 'integer' }] }, 'input');
    expect(schema).toEqual({ anyOf: [{ oneOf: [{ type: 'string' }, { type: 'integer' }] }, { type: 'null' }] });
  });

  test('a nullable $ref (3.0 allOf idiom and sibling form) stays faithful', () => {
    const doc = { components: { schemas: { Pet: { type: 'object', properties: { name: { type: 'string' } } } } } };
    const c = converter(doc);
    expect(c.convert({ allOf: [{ $ref: '#/components/schemas/Pet' }], nullable: true }, 'input').schema).toEqual({
      anyOf: [{ allOf: [{ type: 'object', properties: { name: { type: 'string' } } }] }, { type: 'null' }],
    });
    expect(c.convert({ $ref: '#/components/schemas/Pet', nullable: true, description: 'maybe a pet' }, 'input').schema).toEqual({
      type: ['object', 'null'],
      properties: { name: { type: 'string' } },
      description: 'maybe a pet',
    });
  });

  test('readOnly properties are no input, writeOnly properties no output; required follows', () => {
    const doc = { components: { schemas: { Id: { type: 'string', readOnly: true } } } };
    const schema = {
      type: 'object',
      required: ['id', 'password', 'name'],
      properties: { id: { $ref: '#/components/schemas/Id' }, password: { type: 'string', writeOnly: true }, name: { type: 'string' } },
    };
    const c = converter(doc);
    expect(c.convert(schema, 'input').schema).toEqual({
      type: 'object',
      required: ['password', 'name'],
      properties: { password: { type: 'string', writeOnly: true }, name: { type: 'string' } },
    });
    // In replies, named schemas are $defs (replies repeat them; validators compile each once).
    expect(c.rootSchema(c.convert(schema, 'output'), 'output')).toEqual({
      type: 'object',
      required: ['id', 'name'],
      properties: { id: { $ref: '#/$defs/Id' }, name: { type: 'string' } },
      $defs: { Id: { type: 'string', readOnly: true } },
    });
  });

  test('recursive schemas (direct and through other schemas) become $defs; the rest is inlined', () => {
    const doc = {
      components: {
        schemas: {
          Person: { type: 'object', properties: { name: { $ref: '#/components/schemas/Name' }, employer: { $ref: '#/components/schemas/Company' } } },
          Company: { type: 'object', properties: { staff: { type: 'array', items: { $ref: '#/components/schemas/Person' } } } },
          Name: { type: 'string', minLength: 1 },
        },
      },
    };
    const c = converter(doc);
    const converted = c.convert({ $ref: '#/components/schemas/Person' }, 'input');
    expect(converted.schema).toEqual({ $ref: '#/$defs/Person' });
    const root = c.rootSchema(converted, 'input');
    expect(root).toEqual({
      type: 'object',
      properties: { name: { type: 'string', minLength: 1 }, employer: { $ref: '#/$defs/Company' } },
      $defs: {
        Company: { type: 'object', properties: { staff: { type: 'array', items: { $ref: '#/$defs/Person' } } } },
        Person: { type: 'object', properties: { name: { type: 'string', minLength: 1 }, employer: { $ref: '#/$defs/Company' } } },
      },
    });
    expect(() => JSON.stringify(root)).not.toThrow();
  });

  test('the spec is never changed by a conversion', () => {
    const doc = {
      components: {
        schemas: {
          Base: { type: 'object', required: ['a'], properties: { a: { type: 'string' }, id: { type: 'string', readOnly: true } } },
          Both: { allOf: [{ $ref: '#/components/schemas/Base' }, { required: ['b'], properties: { b: { type: 'integer', nullable: true } } }] },
        },
      },
    };
    const before = JSON.stringify(doc);
    const c = converter(doc);
    for (let i = 0; i < 3; i++) {
      c.convert({ $ref: '#/components/schemas/Both' }, 'input');
      c.convert({ $ref: '#/components/schemas/Both' }, 'output');
    }
    expect(JSON.stringify(doc)).toBe(before);
  });

  test('Swagger 2.0: type file, x-nullable', () => {
    const c = converter({}, '2.0');
    expect(c.convert({ type: 'file' }, 'input').schema).toEqual({ type: 'string', format: 'binary' });
    expect(c.convert({ type: 'string', 'x-nullable': true }, 'input').schema).toEqual({ type: ['string', 'null'] });
  });

  test('patterns JavaScript cannot compile are dropped with a warning; outputs lose formats and patterns', () => {
    const warnings: string[] = [];
    const c = converter({}, '3.0', warnings);
    expect(c.convert({ type: 'string', pattern: '(?<=a)b\\Z(' }, 'input').schema).toEqual({ type: 'string' });
    expect(warnings).toEqual(['pattern "(?<=a)b\\\\Z(" is not a valid ECMAScript regular expression; it is left out']);
    expect(c.convert({ type: 'string', format: 'date-time', pattern: '^2' }, 'output').schema).toEqual({ type: 'string' });
    expect(c.convert({ type: 'string', format: 'date-time', pattern: '^2' }, 'input').schema).toEqual({ type: 'string', format: 'date-time', pattern: '^2' });
  });

  test('a $ref to nowhere or outside the document is an error (the operation gets skipped)', () => {
    const c = converter({});
    expect(() => c.convert({ $ref: '#/components/schemas/Nope' }, 'input')).toThrow('$ref "#/components/schemas/Nope" points to nothing');
    expect(() => c.convert({ $ref: 'other.yaml#/Pet' }, 'input')).toThrow('external reference "other.yaml#/Pet" could not be resolved');
  });
});

describe('tool names', () => {
  const op = (method: string, path: string, extra: Partial<OperationSpec> = {}): OperationSpec =>
    ({
      key: `${method.toUpperCase()} ${path}`,
      method,
      path,
      tags: [],
      deprecated: false,
      parameters: [],
      responses: [],
      security: [],
      servers: [],
      extensions: {},
      ...extra,
    }) as OperationSpec;

  test('sanitized to what clients accept', () => {
    expect(sanitizeToolName('repos/get-content')).toBe('repos_get-content');
    expect(sanitizeToolName('créer un élément')).toBe('cr_er_un_l_ment');
    expect(sanitizeToolName('...')).toBe('operation');
    const long = sanitizeToolName('a'.repeat(100));
    expect(long).toMatch(TOOL_NAME);
    expect(long).toHaveLength(64);
    expect(long).not.toBe(sanitizeToolName(`${'a'.repeat(99)}b`));
  });

  test('unique, deterministic, and independent of the order of the spec', () => {
    const ops = [
      op('get', '/users/{id}'),
      op('get', '/users/{id}/', {}),
      op('post', '/a', { operationId: 'same' }),
      op('put', '/b', { operationId: 'Same' }),
      op('get', '/c', { operationId: 'get_users_by_id' }),
    ];
    const names = assignToolNames(ops);
    const reversed = assignToolNames([...ops].reverse());
    for (const o of ops) expect(reversed.get(o)).toBe(names.get(o));
    const all = [...names.values()];
    expect(new Set(all.map((n) => n.toLowerCase())).size).toBe(ops.length);
    expect(names.get(ops[4]!)).toBe('get_users_by_id'); // an operationId beats a derived name
    expect(names.get(ops[0]!)).toMatch(/^get_users_by_id_[0-9a-f]{6}$/);
    expect(names.get(ops[2]!)).toBe('same'); // same rank: the smaller `METHOD /path` keeps the name
    expect(names.get(ops[3]!)).toMatch(/^Same_[0-9a-f]{6}$/);
  });

  test('configuration beats x-mcp-name beats operationId', () => {
    const a = op('get', '/a', { operationId: 'a', extensions: { 'x-mcp-name': 'ext' } });
    const b = op('get', '/b', { operationId: 'b' });
    const names = assignToolNames([a, b], { 'GET /b': 'bee' });
    expect([names.get(a), names.get(b)]).toEqual(['ext', 'bee']);
  });

  test('argument names', () => {
    expect(sanitizeArgName('filter[name]')).toBe('filter_name');
    expect(sanitizeArgName('X-Request-ID')).toBe('X-Request-ID');
    expect(sanitizeArgName('page.size')).toBe('page.size');
  });
});

describe('parameter serialization (the OpenAPI style examples)', () => {
  const param = (name: string, location: ParameterSpec['in'], style: ParameterStyle, explode: boolean): ParameterSpec => ({
    name,
    in: location,
    required: true,
    schema: {},
    style,
    explode,
    allowReserved: false,
  });
  const path = (style: ParameterStyle, explode: boolean, value: unknown) => fillPath('/x/{id}', new Map([['id', { param: param('id', 'path', style, explode), value }]]));
  const array = [3, 4, 5];
  const object = { role: 'admin', firstName: 'Alex' };

  test.each([
    ['simple', false, 5, '/x/5'],
    ['simple', false, array, '/x/3,4,5'],
    ['simple', false, object, '/x/role,admin,firstName,Alex'],
    ['simple', true, object, '/x/role=admin,firstName=Alex'],
    ['label', false, 5, '/x/.5'],
    ['label', false, array, '/x/.3,4,5'],
    ['label', true, array, '/x/.3.4.5'],
    ['label', true, object, '/x/.role=admin.firstName=Alex'],
    ['matrix', false, 5, '/x/;id=5'],
    ['matrix', false, array, '/x/;id=3,4,5'],
    ['matrix', true, array, '/x/;id=3;id=4;id=5'],
    ['matrix', false, object, '/x/;id=role,admin,firstName,Alex'],
    ['matrix', true, object, '/x/;role=admin;firstName=Alex'],
  ] as const)('path %s explode=%s %j → %s', (style, explode, value, expected) => {
    expect(path(style, explode, value)).toBe(expected);
  });

  test.each([
    ['form', true, 5, 'id=5'],
    ['form', true, array, 'id=3&id=4&id=5'],
    ['form', false, array, 'id=3,4,5'],
    ['form', true, object, 'role=admin&firstName=Alex'],
    ['form', false, object, 'id=role,admin,firstName,Alex'],
    ['spaceDelimited', false, array, 'id=3%204%205'],
    ['pipeDelimited', false, array, 'id=3|4|5'],
    ['deepObject', true, object, 'id[role]=admin&id[firstName]=Alex'],
    ['deepObject', true, { a: { b: 'c' }, l: [1, 2] }, 'id[a][b]=c&id[l][]=1&id[l][]=2'],
    ['form', true, null, 'id='],
    ['form', true, 'a b/c?d', 'id=a%20b%2Fc%3Fd'],
  ] as const)('query %s explode=%s %j → %s', (style, explode, value, expected) => {
    expect(queryPairs('id', value, style, explode).join('&')).toBe(expected);
  });

  test('allowReserved keeps reserved characters that cannot break the query', () => {
    expect(queryPairs('q', 'a/b:c?d&e#f', 'form', true, true)).toEqual(['q=a/b:c?d%26e%23f']);
  });

  test('headers and cookies', () => {
    expect(headerValue(param('X', 'header', 'simple', false), [1, 2])).toBe('1,2');
    expect(headerValue(param('X', 'header', 'simple', true), object)).toBe('role=admin,firstName=Alex');
    expect(() => headerValue(param('X', 'header', 'simple', false), 'a\nb')).toThrow('line breaks');
    expect(cookiePair(param('c', 'cookie', 'form', true), 'a;b c')).toBe('c=a%3Bb%20c');
  });
});

describe('servers and retries', () => {
  const servers = [{ url: 'https://{region}.example.com/{version}', variables: { region: { default: 'eu', enum: ['eu', 'us'] }, version: { default: 'v1' } } }];

  test('variables: defaults, configured values, enums', () => {
    expect(resolveServer(servers, {}).href).toBe('https://eu.example.com/v1');
    expect(resolveServer(servers, { serverVariables: { region: 'us', version: 'v2' } }).href).toBe('https://us.example.com/v2');
    expect(() => resolveServer(servers, { serverVariables: { region: 'mars' } })).toThrow('server variable {region} must be one of "eu", "us", not "mars"');
  });

  test('base URL, relative URLs, and what is refused', () => {
    expect(resolveServer(servers, { baseUrl: 'http://localhost:8080/api/' }).href).toBe('http://localhost:8080/api');
    expect(resolveServer([{ url: '/v3', variables: {} }], {}, 'https://specs.example.com/openapi.json').href).toBe('https://specs.example.com/v3');
    expect(() => resolveServer([{ url: '/v3', variables: {} }], {})).toThrow('is relative');
    expect(() => resolveServer(servers, { baseUrl: 'file:///etc' })).toThrow('is not http or https');
    expect(() => resolveServer(servers, { baseUrl: 'https://user:pw@example.com' })).toThrow('must not carry credentials');
  });

  test('Retry-After in seconds or as a date; doubling backoff otherwise', () => {
    expect(retryDelay('3', 0)).toBe(3000);
    expect(retryDelay(new Date(10_000).toUTCString(), 0, 4_000)).toBe(6000);
    expect([retryDelay(undefined, 0), retryDelay(undefined, 1), retryDelay('soon', 2)]).toEqual([250, 500, 1000]);
  });
});
