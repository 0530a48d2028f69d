import {
  LoggingMessageNotificationSchema,
  PromptListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
  type LoggingLevel,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import { pino } from 'pino';
import { z } from 'zod';
import type { Gateway } from '../../src/gateway.js';
import { definitionsOf, prompt, resource, tool } from '../../src/server/decorators.js';
import { HTTMCP } from '../../src/server/httmcp.js';
import type { Context, ResourceContext } from '../../src/server/types.js';
import { connectClient, waitFor, type Connection } from './support.js';

const open: Connection[] = [];
async function connect(server: HTTMCP, options: { sessionId?: string } = {}): Promise<Connection> {
  const connection = await connectClient(server, options);
  open.push(connection);
  return connection;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

/** The text of the only text block of a tool result. */
function textOf(result: unknown): string {
  const content = (result as { content: Array<{ type: string; text?: string }> }).content;
  expect(content).toHaveLength(1);
  expect(content[0]!.type).toBe('text');
  return content[0]!.text!;
}

class Calculator {
  calls = 0;
  readonly constants: Record<string, string> = { pi: '3.14159', e: '2.71828' };

  @tool({ description: 'Add two numbers', input: { a: z.number().describe('first addend'), b: z.number().describe('second addend') } })
  add({ a, b }: { a: number; b: number }) {
    this.calls++;
    return a + b;
  }

  @tool({
    name: 'divide',
    title: 'Integer division',
    input: { dividend: z.number().int(), divisor: z.number().int() },
    output: { quotient: z.number().int(), remainder: z.number().int() },
    annotations: { readOnlyHint: true },
  })
  integerDivision({ dividend, divisor }: { dividend: number; divisor: number }) {
    return { quotient: Math.trunc(dividend / divisor), remainder: dividend % divisor };
  }

  @resource('calc://constants/{name}', { description: 'A mathematical constant', mimeType: 'text/plain' })
  constant({ name }: { name: string }) {
    return this.constants[name] ?? 'unknown';
  }

  @resource('calc://about', { title: 'About' })
  about() {
    return { name: 'calc', calls: this.calls };
  }

  @prompt({ description: 'Explain a topic', args: { topic: z.string().describe('what to explain') } })
  explain({ topic }: { topic: string }) {
    return `Explain ${topic}.`;
  }

  /** Not decorated: never registered. */
  helper() {
    return 'not a tool';
  }
}

describe('HTTMCP construction', () => {
  test.each(['calc', 'a', 'A-b_9', 'x'.repeat(64)])('accepts the name %p', (name) => {
    expect(new HTTMCP({ name, version: '1.0.0' }).name).toBe(name);
  });

  test.each(['', 'a b', 'a/b', '../x', 'caf\u00e9', 'a.b', 'x'.repeat(65), 'a?b', 'name\n'])('rejects the name %p', (name) => {
    expect(() => new HTTMCP({ name, version: '1.0.0' })).toThrow(TypeError);
  });

  test('starts with an empty catalog', () => {
    expect(new HTTMCP({ name: 's', version: '1' }).catalog).toEqual({ tools: [], resources: [], prompts: [] });
  });
});

describe('registration with plain functions', () => {
  test('tool, resource and prompt chain and show in the catalog', () => {
    const server = new HTTMCP({ name: 's', version: '1' });
    const returned = server
      .tool('t1', {}, () => 'x')
      .tool('t2', { input: { a: z.string() } }, ({ a }) => a)
      .resource('r1', 'x://r1', {}, () => 'r')
      .resource('r2', 'x://r2/{id}', {}, ({ id }) => id)
      .prompt('p1', {}, () => 'p');
    expect(returned).toBe(server);
    expect(server.catalog).toEqual({ tools: ['t1', 't2'], resources: ['r1', 'r2'], prompts: ['p1'] });
  });

  test('a duplicate name of the same kind is rejected, and the first definition stays', async () => {
    const server = new HTTMCP({ name: 's', version: '1' }).tool('t', {}, () => 'first');
    expect(() => server.tool('t', {}, () => 'second')).toThrow(/tool named "t" is already registered/);
    expect(() => server.resource('r', 'x://a', {}, () => '').resource('r', 'x://b', {}, () => '')).toThrow(/resource named "r"/);
    expect(() => server.prompt('p', {}, () => '').prompt('p', {}, () => '')).toThrow(/prompt named "p"/);
    expect(server.catalog).toEqual({ tools: ['t'], resources: ['r'], prompts: ['p'] });
    const { client } = await connect(server);
    expect(textOf(await client.callTool({ name: 't', arguments: {} }))).toBe('first');
  });

  test('the same name may be used by a tool, a resource and a prompt', () => {
    const server = new HTTMCP({ name: 's', version: '1' })
      .tool('same', {}, () => '')
      .resource('same', 'x://same', {}, () => '')
      .prompt('same', {}, () => '');
    expect(server.catalog).toEqual({ tools: ['same'], resources: ['same'], prompts: ['same'] });
  });

  // Two names at one URI would make the SDK refuse every later connect(); add() refuses first.
  test('a second static resource at an already registered URI is rejected when added', () => {
    const server = new HTTMCP({ name: 's', version: '1' }).resource('a', 'x://one', {}, () => 'A');
    expect(() => server.resource('b', 'x://one', {}, () => 'B')).toThrow();
    // And the server must still be servable.
    expect(() => server.createMcpServer()).not.toThrow();
  });
});

describe('registration with decorators', () => {
  test('register() collects every decorated method, with method names or given names', () => {
    const server = new HTTMCP({ name: 'calc', version: '1' }).register(new Calculator());
    expect(server.catalog).toEqual({ tools: ['add', 'divide'], resources: ['constant', 'about'], prompts: ['explain'] });
  });

  test('the decorators collect per instance', () => {
    const a = new Calculator();
    const b = new Calculator();
    expect(definitionsOf(a)).toHaveLength(5);
    expect(definitionsOf(b)).toHaveLength(5);
    expect(definitionsOf(a)[0]).not.toBe(definitionsOf(b)[0]);
    expect(definitionsOf({})).toEqual([]);
  });

  test('handlers are bound to their instance', async () => {
    const one = new Calculator();
    const two = new Calculator();
    const { client } = await connect(new HTTMCP({ name: 'one', version: '1' }).register(one));
    const { client: client2 } = await connect(new HTTMCP({ name: 'two', version: '1' }).register(two));
    await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
    await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
    await client2.callTool({ name: 'add', arguments: { a: 1, b: 2 } });
    expect([one.calls, two.calls]).toEqual([2, 1]);
    const about = await client.readResource({ uri: 'calc://about' });
    expect(JSON.parse((about.contents[0] as { text: string }).text)).toEqual({ name: 'calc', calls: 2 });
  });

  test('register() of an object without decorated methods throws and names its class', () => {
    class Plain {
      method() {
        return 1;
      }
    }
    const server = new HTTMCP({ name: 's', version: '1' });
    expect(() => server.register(new Plain())).toThrow(/Plain has no @tool, @resource or @prompt methods/);
    expect(() => server.register({})).toThrow(TypeError);
    expect(server.catalog).toEqual({ tools: [], resources: [], prompts: [] });
  });

  test('registering two instances of one class collides on names', () => {
    const server = new HTTMCP({ name: 's', version: '1' });
    expect(() => server.register(new Calculator(), new Calculator())).toThrow(/tool named "add" is already registered/);
  });

  test('a decorated name colliding with a plain-function one is rejected', () => {
    const server = new HTTMCP({ name: 's', version: '1' }).tool('add', {}, () => 0);
    expect(() => server.register(new Calculator())).toThrow(/tool named "add"/);
  });

  test('two decorated methods given the same name collide', () => {
    class Twice {
      @tool({ name: 'same' })
      one() {
        return 1;
      }
      @tool({ name: 'same' })
      two() {
        return 2;
      }
    }
    expect(() => new HTTMCP({ name: 's', version: '1' }).register(new Twice())).toThrow(/tool named "same"/);
  });

  test('decorated and plain definitions are served together', async () => {
    const server = new HTTMCP({ name: 'calc', version: '1' })
      .register(new Calculator())
      .tool('negate', { input: { n: z.number() } }, ({ n }) => -n);
    const { client } = await connect(server);
    const names = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(names).toEqual(['add', 'divide', 'negate']);
    expect(textOf(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }))).toBe('5');
    expect(textOf(await client.callTool({ name: 'negate', arguments: { n: 4 } }))).toBe('-4');
  });
});

describe('initialize', () => {
  test('name, version, title, instructions and the logging capability reach the client', async () => {
    const server = new HTTMCP({ name: 'calc', version: '2.3.4', title: 'Calculator', instructions: 'Use add to add.' }).tool('t', {}, () => '');
    const { client } = await connect(server);
    expect(client.getServerVersion()).toMatchObject({ name: 'calc', version: '2.3.4', title: 'Calculator' });
    expect(client.getInstructions()).toBe('Use add to add.');
    expect(client.getServerCapabilities()).toMatchObject({ logging: {}, tools: {} });
  });

  test('without title or instructions none are sent', async () => {
    const { client } = await connect(new HTTMCP({ name: 'calc', version: '1' }).tool('t', {}, () => ''));
    expect(client.getServerVersion()).not.toHaveProperty('title');
    expect(client.getInstructions()).toBeUndefined();
  });
});

describe('tools over the protocol', () => {
  test('tools/list carries the JSON Schema generated from the zod shape', async () => {
    const server = new HTTMCP({ name: 's', version: '1' }).tool(
      'search',
      {
        title: 'Search',
        description: 'Search the index',
        input: {
          query: z.string().min(1).describe('what to look for'),
          limit: z.number().int().min(1).max(100).default(10).describe('how many results'),
          mode: z.enum(['fast', 'exact']).describe('search mode'),
          tags: z.array(z.string()).optional(),
          strict: z.boolean(),
        },
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      () => [],
    );
    const { client } = await connect(server);
    const [listed] = (await client.listTools()).tools;
    expect(listed).toMatchObject({ name: 'search', title: 'Search', description: 'Search the index', annotations: { readOnlyHint: true, openWorldHint: false } });
    const schema = listed!.inputSchema as {
      type: string;
      properties: Record<string, Record<string, unknown>>;
      required: string[];
    };
    expect(schema.type).toBe('object');
    expect(Object.keys(schema.properties).sort()).toEqual(['limit', 'mode', 'query', 'strict', 'tags']);
    expect(schema.properties.query).toMatchObject({ type: 'string', minLength: 1, description: 'what to look for' });
    expect(schema.properties.limit).toMatchObject({ type: 'integer', minimum: 1, maximum: 100, default: 10, description: 'how many results' });
    expect(schema.properties.mode).toMatchObject({ type: 'string', enum: ['fast', 'exact'], description: 'search mode' });
    expect(schema.properties.tags).toMatchObject({ type: 'array', items: { type: 'string' } });
    expect(schema.properties.strict).toMatchObject({ type: 'boolean' });
    // Fields with defaults and optional fields are not required.
    expect([...schema.required].sort()).toEqual(['mode', 'query', 'strict']);
    expect(listed!.outputSchema).toBeUndefined();
  });

  test('a tool without input lists an empty object schema and is called with no arguments', async () => {
    let seen: unknown;
    const server = new HTTMCP({ name: 's', version: '1' }).tool('ping', {}, (args) => {
      seen = args;
      return 'pong';
    });
    const { client } = await connect(server);
    const [listed] = (await client.listTools()).tools;
    expect(listed!.inputSchema).toMatchObject({ type: 'object', properties: {} });
    expect(textOf(await client.callTool({ name: 'ping', arguments: {} }))).toBe('pong');
    expect(textOf(await client.callTool({ name: 'ping' }))).toBe('pong');
    expect(seen).toEqual({});
  });

  test('arguments arrive parsed: defaults applied, transforms run, unknown keys dropped', async () => {
    const seen: unknown[] = [];
    const server = new HTTMCP({ name: 's', version: '1' }).tool(
      'echo',
      { input: { name: z.string().trim().transform((s) => s.toUpperCase()), times: z.number().int().default(2), flag: z.boolean().optional() } },
      (args) => {
        seen.push(args);
        return args.name.repeat(args.times);
      },
    );
    const { client } = await connect(server);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { name: '  ab ', extra: 'x' } }))).toBe('ABAB');
    expect(textOf(await client.callTool({ name: 'echo', arguments: { name: 'c', times: 3, flag: true } }))).toBe('CCC');
    expect(seen).toEqual([{ name: 'AB', times: 2 }, { name: 'C', times: 3, flag: true }]);
  });

  test('invalid arguments are an isError result and the handler does not run', async () => {
    let runs = 0;
    const server = new HTTMCP({ name: 's', version: '1' }).tool(
      'add',
      { input: { a: z.number(), b: z.number().int().min(0) } },
      ({ a, b }) => {
        runs++;
        return a + b;
      },
    );
    const { client } = await connect(server);
    for (const args of [{ a: 'one', b: 1 }, { a: 1 }, { a: 1, b: -1 }, { a: 1, b: 1.5 }]) {
      const result = await client.callTool({ name: 'add', arguments: args });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/validation/i);
    }
    expect(runs).toBe(0);
    expect(textOf(await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }))).toBe('3');
  });

  test('a handler that throws gives an isError result with its message', async () => {
    const server = new HTTMCP({ name: 's', version: '1' })
      .tool('fail', {}, () => {
        throw new Error('boom happened');
      })
      .tool('reject', {}, async () => Promise.reject(new Error('async boom')));
    const { client } = await connect(server);
    const failed = await client.callTool({ name: 'fail', arguments: {} });
    expect(failed.isError).toBe(true);
    expect(textOf(failed)).toContain('boom happened');
    const rejected = await client.callTool({ name: 'reject', arguments: {} });
    expect(rejected.isError).toBe(true);
    expect(textOf(rejected)).toContain('async boom');
  });

  test('return values are converted: string, number, boolean, object, nothing, full result', async () => {
    const server = new HTTMCP({ name: 's', version: '1' })
      .tool('string', {}, () => 'text')
      .tool('number', {}, () => 42)
      .tool('boolean', {}, async () => false)
      .tool('object', {}, () => ({ list: [1, 2], ok: true }))
      .tool('nothing', {}, () => undefined)
      .tool('full', {}, () => ({
        content: [
          { type: 'text' as const, text: 'custom' },
          { type: 'image' as const, data: 'iVBORw0KGgo=', mimeType: 'image/png' },
        ],
        isError: true,
      }));
    const { client } = await connect(server);
    const call = (name: string) => client.callTool({ name, arguments: {} });
    expect(textOf(await call('string'))).toBe('text');
    expect(textOf(await call('number'))).toBe('42');
    expect(textOf(await call('boolean'))).toBe('false');
    expect(JSON.parse(textOf(await call('object')))).toEqual({ list: [1, 2], ok: true });
    expect((await call('nothing')).content).toEqual([]);
    const full = await call('full');
    expect(full.isError).toBe(true);
    expect(full.content).toEqual([
      { type: 'text', text: 'custom' },
      { type: 'image', data: 'iVBORw0KGgo=', mimeType: 'image/png' },
    ]);
  });

  test('an output schema is listed and the result carries structuredContent', async () => {
    const server = new HTTMCP({ name: 'calc', version: '1' }).register(new Calculator());
    const { client } = await connect(server);
    const divide = (await client.listTools()).tools.find((t) => t.name === 'divide')!;
    expect(divide).toMatchObject({ title: 'Integer division', annotations: { readOnlyHint: true } });
    expect(divide.outputSchema).toMatchObject({
      type: 'object',
      properties: { quotient: { type: 'integer' }, remainder: { type: 'integer' } },
      required: ['quotient', 'remainder'],
    });
    const result = await client.callTool({ name: 'divide', arguments: { dividend: 17, divisor: 5 } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ quotient: 3, remainder: 2 });
    expect(JSON.parse(textOf(result))).toEqual({ quotient: 3, remainder: 2 });
  });

  test('a tool with an output schema may still return a full CallToolResult (an error)', async () => {
    const server = new HTTMCP({ name: 's', version: '1' }).tool(
      'count',
      { input: { fail: z.boolean() }, output: { count: z.number() } },
      ({ fail }) => (fail ? { content: [{ type: 'text' as const, text: 'no count' }], isError: true } : { count: 7 }),
    );
    const { client } = await connect(server);
    expect((await client.callTool({ name: 'count', arguments: { fail: false } })).structuredContent).toEqual({ count: 7 });
    const failed = await client.callTool({ name: 'count', arguments: { fail: true } });
    expect(failed.isError).toBe(true);
    expect(textOf(failed)).toBe('no count');
  });
});

describe('resources over the protocol', () => {
  test('static resources are listed with their metadata and read', async () => {
    const server = new HTTMCP({ name: 's', version: '1' })
      .resource('readme', 'docs://readme', { title: 'Read me', description: 'What this is', mimeType: 'text/markdown' }, () => '# Hi')
      .resource('logo', 'docs://logo', { mimeType: 'image/png' }, () => new Uint8Array([137, 80, 78, 71]))
      .resource('data', 'docs://data', {}, () => ({ rows: [1, 2] }));
    const { client } = await connect(server);
    const { resources } = await client.listResources();
    expect(resources).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'readme', uri: 'docs://readme', title: 'Read me', description: 'What this is', mimeType: 'text/markdown' }),
        expect.objectContaining({ name: 'logo', uri: 'docs://logo', mimeType: 'image/png' }),
        expect.objectContaining({ name: 'data', uri: 'docs://data' }),
      ]),
    );
    expect(resources).toHaveLength(3);
    expect((await client.readResource({ uri: 'docs://readme' })).contents).toEqual([
      { uri: 'docs://readme', mimeType: 'text/markdown', text: '# Hi' },
    ]);
    expect((await client.readResource({ uri: 'docs://logo' })).contents).toEqual([
      { uri: 'docs://logo', mimeType: 'image/png', blob: Buffer.from([137, 80, 78, 71]).toString('base64') },
    ]);
    expect((await client.readResource({ uri: 'docs://data' })).contents).toEqual([
      { uri: 'docs://data', mimeType: 'application/json', text: '{"rows":[1,2]}' },
    ]);
  });

  test('a resource template is listed and its handler receives the variables by name, and the URI', async () => {
    const seen: Array<{ variables: unknown; uri: string }> = [];
    const server = new HTTMCP({ name: 's', version: '1' }).resource(
      'post',
      'blog://{user}/posts/{post}',
      { description: 'One post', mimeType: 'text/plain' },
      (variables, ctx) => {
        seen.push({ variables, uri: ctx.uri.href });
        return `${variables.user}:${variables.post}`;
      },
    );
    const { client } = await connect(server);
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates).toEqual([
      expect.objectContaining({ name: 'post', uriTemplate: 'blog://{user}/posts/{post}', description: 'One post', mimeType: 'text/plain' }),
    ]);
    const read = await client.readResource({ uri: 'blog://alice/posts/42' });
    expect(read.contents).toEqual([{ uri: 'blog://alice/posts/42', mimeType: 'text/plain', text: 'alice:42' }]);
    expect(seen).toEqual([{ variables: { user: 'alice', post: '42' }, uri: 'blog://alice/posts/42' }]);
  });

  test('a template expression with several variables hands each one to the handler by name', async () => {
    const seen: unknown[] = [];
    const server = new HTTMCP({ name: 's', version: '1' }).resource('search', 'find://all{?query,page}', {}, (variables) => {
      seen.push(variables);
      return 'ok';
    });
    const { client } = await connect(server);
    await client.readResource({ uri: 'find://all?query=zod&page=2' });
    // At run time the names are `query` and `page` (see the TemplateVariables bug in decorator-types.test.ts).
    expect(seen).toEqual([{ query: 'zod', page: '2' }]);
  });

  test('decorated resources: template and static', async () => {
    const { client } = await connect(new HTTMCP({ name: 'calc', version: '1' }).register(new Calculator()));
    expect((await client.readResource({ uri: 'calc://constants/pi' })).contents).toEqual([
      { uri: 'calc://constants/pi', mimeType: 'text/plain', text: '3.14159' },
    ]);
    expect((await client.listResources()).resources.map((r) => r.uri)).toEqual(['calc://about']);
    expect((await client.listResourceTemplates()).resourceTemplates.map((r) => r.uriTemplate)).toEqual(['calc://constants/{name}']);
  });

  test('a static resource handler gets no variables and a resource context', async () => {
    let seen: { variables: unknown; ctx?: ResourceContext } = { variables: undefined };
    const server = new HTTMCP({ name: 's', version: '1' }).resource('r', 'x://static', {}, (variables, ctx) => {
      seen = { variables, ctx };
      return 'ok';
    });
    const { client } = await connect(server);
    await client.readResource({ uri: 'x://static' });
    expect(seen.variables).toEqual({});
    expect(seen.ctx!.uri.href).toBe('x://static');
    expect(seen.ctx!.signal).toBeInstanceOf(AbortSignal);
  });

  test('a resource context has the lazy members of every context (logger, headers, client capabilities), also when destructured', async () => {
    const seen: Array<{ uri: string; headers: unknown; capabilities: unknown; logs: boolean; progress: string }> = [];
    const server = new HTTMCP({ name: 's', version: '1' }).resource('r', 'x://lazy', {}, (_variables, ctx) => {
      const { logger, headers, clientCapabilities, uri, progress } = ctx;
      seen.push({ uri: uri.href, headers, capabilities: clientCapabilities, logs: typeof logger.info === 'function' && ctx.logger === logger, progress: typeof progress });
      return 'ok';
    });
    const { client } = await connect(server);
    await client.readResource({ uri: 'x://lazy' });
    expect(seen).toEqual([{ uri: 'x://lazy', headers: {}, capabilities: expect.any(Object), logs: true, progress: 'function' }]);
  });
});

describe('prompts over the protocol', () => {
  test('prompts are listed with their arguments', async () => {
    const server = new HTTMCP({ name: 's', version: '1' })
      .prompt(
        'review',
        { title: 'Review', description: 'Review code', args: { code: z.string().describe('the code'), style: z.string().optional() } },
        ({ code }) => code,
      )
      .prompt('hello', {}, () => 'Hello!');
    const { client } = await connect(server);
    const { prompts } = await client.listPrompts();
    const review = prompts.find((p) => p.name === 'review')!;
    expect(review).toMatchObject({ title: 'Review', description: 'Review code' });
    expect(review.arguments).toEqual([
      { name: 'code', description: 'the code', required: true },
      { name: 'style', required: false },
    ]);
    expect(prompts.find((p) => p.name === 'hello')!.arguments ?? []).toEqual([]);
  });

  test('a prompt receives its arguments and its result is converted', async () => {
    let seen: unknown;
    const server = new HTTMCP({ name: 's', version: '1' }).prompt(
      'review',
      { description: 'Review code', args: { code: z.string(), language: z.string().optional() } },
      (args) => {
        seen = args;
        return `Review this ${args.language ?? 'code'}: ${args.code}`;
      },
    );
    const { client } = await connect(server);
    const result = await client.getPrompt({ name: 'review', arguments: { code: 'x = 1', language: 'python' } });
    expect(seen).toEqual({ code: 'x = 1', language: 'python' });
    expect(result).toEqual({
      description: 'Review code',
      messages: [{ role: 'user', content: { type: 'text', text: 'Review this python: x = 1' } }],
    });
  });

  test('missing required prompt arguments are an error and the handler does not run', async () => {
    let runs = 0;
    const server = new HTTMCP({ name: 's', version: '1' }).prompt('review', { args: { code: z.string() } }, () => {
      runs++;
      return 'x';
    });
    const { client } = await connect(server);
    await expect(client.getPrompt({ name: 'review', arguments: {} })).rejects.toThrow(/code/);
    expect(runs).toBe(0);
  });

  test('a prompt without arguments gets an empty object and a working context', async () => {
    let seen: { args: unknown; ctx?: Context } = { args: undefined };
    const server = new HTTMCP({ name: 's', version: '1' }).prompt('hello', {}, (args, ctx) => {
      seen = { args, ctx };
      return [
        { role: 'user', content: { type: 'text', text: 'Hi' } },
        { role: 'assistant', content: { type: 'text', text: 'Hello' } },
      ];
    });
    const { client } = await connect(server);
    const result = await client.getPrompt({ name: 'hello' });
    expect(result.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(seen.args).toEqual({});
    expect(seen.ctx!.signal).toBeInstanceOf(AbortSignal);
    expect(typeof seen.ctx!.log).toBe('function');
  });

  test('decorated prompt', async () => {
    const { client } = await connect(new HTTMCP({ name: 'calc', version: '1' }).register(new Calculator()));
    const result = await client.getPrompt({ name: 'explain', arguments: { topic: 'zod' } });
    expect(result).toEqual({ description: 'Explain a topic', messages: [{ role: 'user', content: { type: 'text', text: 'Explain zod.' } }] });
    const listed = (await client.listPrompts()).prompts[0]!;
    expect(listed.arguments).toEqual([{ name: 'topic', description: 'what to explain', required: true }]);
  });
});

describe('handler context', () => {
  test('ctx.progress sends notifications/progress when the client asked for progress', async () => {
    const server = new HTTMCP({ name: 's', version: '1' }).tool('steps', {}, async (_args, ctx) => {
      await ctx.progress(1, 3, 'first');
      await ctx.progress(2, 3);
      await ctx.progress(3);
      return 'done';
    });
    const { client, received } = await connect(server);
    const progress: Progress[] = [];
    const result = await client.callTool({ name: 'steps', arguments: {} }, undefined, { onprogress: (p) => progress.push(p) });
    expect(textOf(result)).toBe('done');
    expect(progress).toEqual([{ progress: 1, total: 3, message: 'first' }, { progress: 2, total: 3 }, { progress: 3 }]);
    const notes = received.filter((m) => 'method' in m && m.method === 'notifications/progress');
    expect(notes).toHaveLength(3);
  });

  test('ctx.progress sends nothing without a progress token', async () => {
    const server = new HTTMCP({ name: 's', version: '1' }).tool('steps', {}, async (_args, ctx) => {
      await ctx.progress(1, 2, 'first');
      await ctx.progress(2, 2);
      return 'done';
    });
    const { client, received } = await connect(server);
    expect(textOf(await client.callTool({ name: 'steps', arguments: {} }))).toBe('done');
    expect(received.filter((m) => 'method' in m && m.method === 'notifications/progress')).toEqual([]);
    // The result did arrive through the same tap.
    expect(received.some((m) => 'result' in m)).toBe(true);
  });

  test('ctx.log sends notifications/message filtered by logging/setLevel', async () => {
    const all: LoggingLevel[] = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];
    const server = new HTTMCP({ name: 's', version: '1' }).tool('chatter', {}, async (_args, ctx) => {
      for (const level of all) await ctx.log(level, { level }, 'chatter');
      return 'ok';
    });
    const { client } = await connect(server);
    const logged: Array<{ level: string; data: unknown; logger?: string }> = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logged.push(n.params);
    });

    await client.callTool({ name: 'chatter', arguments: {} });
    await waitFor(() => logged.length === all.length, 'all levels before setLevel');
    expect(logged[0]).toEqual({ level: 'debug', data: { level: 'debug' }, logger: 'chatter' });

    logged.length = 0;
    await client.setLoggingLevel('warning');
    await client.callTool({ name: 'chatter', arguments: {} });
    expect(logged.map((l) => l.level)).toEqual(['warning', 'error', 'critical', 'alert', 'emergency']);

    logged.length = 0;
    await client.setLoggingLevel('emergency');
    await client.callTool({ name: 'chatter', arguments: {} });
    expect(logged.map((l) => l.level)).toEqual(['emergency']);

    logged.length = 0;
    await client.setLoggingLevel('debug');
    await client.callTool({ name: 'chatter', arguments: {} });
    expect(logged.map((l) => l.level)).toEqual(all);
  });

  test('ctx.log without a logger name sends none', async () => {
    const server = new HTTMCP({ name: 's', version: '1' }).tool('one', {}, async (_args, ctx) => {
      await ctx.log('info', 'plain text');
      return 'ok';
    });
    const { client } = await connect(server);
    const logged: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logged.push(n.params);
    });
    await client.callTool({ name: 'one', arguments: {} });
    expect(logged).toEqual([{ level: 'info', data: 'plain text' }]);
  });

  test('log levels are per session', async () => {
    const server = new HTTMCP({ name: 's', version: '1' }).tool('chatter', {}, async (_args, ctx) => {
      await ctx.log('info', 'info line');
      await ctx.log('error', 'error line');
      return 'ok';
    });
    const quiet = await connect(server, { sessionId: 'session-quiet' });
    const loud = await connect(server, { sessionId: 'session-loud' });
    const heard = { quiet: [] as string[], loud: [] as string[] };
    quiet.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      heard.quiet.push(n.params.level);
    });
    loud.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      heard.loud.push(n.params.level);
    });
    await quiet.client.setLoggingLevel('error');
    await quiet.client.callTool({ name: 'chatter', arguments: {} });
    await loud.client.callTool({ name: 'chatter', arguments: {} });
    expect(heard).toEqual({ quiet: ['error'], loud: ['info', 'error'] });
  });

  test('ctx.logger carries the server, the session (or the request id without one) and the tool', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const server = new HTTMCP({ name: 's', version: '1', gateway: { logger } as unknown as Gateway }).tool('note', {}, (_args, ctx) => {
      ctx.logger.info({ sameLogger: ctx.logger === ctx.logger }, 'noted');
      return 'ok';
    });
    const withSession = await connect(server, { sessionId: 'sess-9' });
    const without = await connect(server);
    await withSession.client.callTool({ name: 'note', arguments: {} });
    await without.client.callTool({ name: 'note', arguments: {} });
    expect(lines.map(({ server: name, session, request, tool, msg, sameLogger }) => ({ name, session, request, tool, msg, sameLogger }))).toEqual([
      { name: 's', session: 'sess-9', request: undefined, tool: 'note', msg: 'noted', sameLogger: true },
      { name: 's', session: undefined, request: expect.any(Number), tool: 'note', msg: 'noted', sameLogger: true },
    ]);
  });

  test('ctx.sessionId is the transport session, ctx.requestId the JSON-RPC id', async () => {
    const seen: Array<{ sessionId: string | undefined; requestId: unknown; headers: unknown }> = [];
    const server = new HTTMCP({ name: 's', version: '1' }).tool('who', {}, (_args, ctx) => {
      seen.push({ sessionId: ctx.sessionId, requestId: ctx.requestId, headers: ctx.headers });
      return ctx.sessionId ?? 'none';
    });
    const withSession = await connect(server, { sessionId: 'sess-123' });
    const without = await connect(server);
    expect(textOf(await withSession.client.callTool({ name: 'who', arguments: {} }))).toBe('sess-123');
    expect(textOf(await without.client.callTool({ name: 'who', arguments: {} }))).toBe('none');
    expect(seen[0]!.sessionId).toBe('sess-123');
    expect(seen[1]!.sessionId).toBeUndefined();
    expect(typeof seen[0]!.requestId).toBe('number');
    expect(seen[0]!.headers).toEqual({});
  });

  test('ctx.signal aborts when the client cancels that request, and only that one', async () => {
    const started: string[] = [];
    const aborted: Array<{ tag: string; reason: unknown }> = [];
    const server = new HTTMCP({ name: 's', version: '1' }).tool(
      'block',
      { input: { tag: z.string() } },
      ({ tag }, ctx) =>
        new Promise<string>((resolve) => {
          started.push(tag);
          ctx.signal.addEventListener('abort', () => {
            aborted.push({ tag, reason: ctx.signal.reason });
            resolve('aborted');
          });
        }),
    );
    const { client } = await connect(server);
    const first = new AbortController();
    const second = new AbortController();
    const one = client.callTool({ name: 'block', arguments: { tag: 'one' } }, undefined, { signal: first.signal });
    const two = client.callTool({ name: 'block', arguments: { tag: 'two' } }, undefined, { signal: second.signal });
    await waitFor(() => started.length === 2, 'both handlers to start');
    first.abort('changed my mind');
    await expect(one).rejects.toThrow(/changed my mind/);
    await waitFor(() => aborted.length === 1, 'the first handler to see its abort');
    expect(aborted).toEqual([{ tag: 'one', reason: 'changed my mind' }]);
    second.abort('too');
    await expect(two).rejects.toThrow();
    await waitFor(() => aborted.length === 2, 'the second handler to see its abort');
    expect(aborted[1]!.tag).toBe('two');
  });

  test('closing the connection aborts running handlers', async () => {
    let signal: AbortSignal | undefined;
    const server = new HTTMCP({ name: 's', version: '1' }).tool(
      'block',
      {},
      (_args, ctx) =>
        new Promise<string>((resolve) => {
          signal = ctx.signal;
          ctx.signal.addEventListener('abort', () => resolve('aborted'));
        }),
    );
    const connection = await connectClient(server);
    const call = connection.client.callTool({ name: 'block', arguments: {} });
    await waitFor(() => signal !== undefined, 'the handler to start');
    expect(signal!.aborted).toBe(false);
    await connection.close();
    await expect(call).rejects.toThrow();
    expect(signal!.aborted).toBe(true);
  });

  test('ctx.push sends a notification to the client on a plain transport', async () => {
    const server = new HTTMCP({ name: 's', version: '1' }).tool('notify', {}, async (_args, ctx) => {
      await ctx.push({ method: 'notifications/message', params: { level: 'info', data: 'pushed' } });
      return 'ok';
    });
    const { client } = await connect(server);
    const logged: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logged.push(n.params.data);
    });
    await client.callTool({ name: 'notify', arguments: {} });
    expect(logged).toEqual(['pushed']);
  });
});

describe('definitions added after connect', () => {
  test('a new tool appears in tools/list, a list_changed notification is sent, and it can be called', async () => {
    const server = new HTTMCP({ name: 's', version: '1' }).tool('first', {}, () => 'one');
    const a = await connect(server);
    const b = await connect(server);
    const changed = { a: 0, b: 0 };
    a.client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changed.a++;
    });
    b.client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changed.b++;
    });
    expect((await a.client.listTools()).tools.map((t) => t.name)).toEqual(['first']);

    server.tool('second', { input: { n: z.number() } }, ({ n }) => n * 2);
    await waitFor(() => changed.a === 1 && changed.b === 1, 'tools/list_changed on both connections');
    expect((await a.client.listTools()).tools.map((t) => t.name)).toEqual(['first', 'second']);
    expect((await b.client.listTools()).tools.map((t) => t.name)).toEqual(['first', 'second']);
    expect(textOf(await b.client.callTool({ name: 'second', arguments: { n: 21 } }))).toBe('42');
    expect(server.catalog.tools).toEqual(['first', 'second']);
  });

  test('a new prompt on a server that already has prompts sends prompts/list_changed', async () => {
    const server = new HTTMCP({ name: 's', version: '1' }).prompt('p1', {}, () => 'one');
    const { client } = await connect(server);
    let changed = 0;
    client.setNotificationHandler(PromptListChangedNotificationSchema, () => {
      changed++;
    });
    server.prompt('p2', {}, () => 'two');
    await waitFor(() => changed === 1, 'prompts/list_changed');
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(['p1', 'p2']);
  });

  test('a server connected later gets every definition', async () => {
    const server = new HTTMCP({ name: 's', version: '1' }).tool('a', {}, () => 'a');
    await connect(server);
    server.tool('b', {}, () => 'b');
    const { client } = await connect(server);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['a', 'b']);
  });

  // The SDK installs a kind's handlers on its first registration and refuses to after connect;
  // HTTMCP declares every kind up front, so a first tool/resource/prompt can come later.
  test.each([
    ['tool', (s: HTTMCP) => s.prompt('only', {}, () => 'p'), (s: HTTMCP) => s.tool('late', {}, () => 'late')],
    ['resource', (s: HTTMCP) => s.tool('only', {}, () => 't'), (s: HTTMCP) => s.resource('late', 'x://late', {}, () => 'late')],
    ['prompt', (s: HTTMCP) => s.tool('only', {}, () => 't'), (s: HTTMCP) => s.prompt('late', {}, () => 'late')],
  ] as const)('the first %s added after connect is served', async (kind, before, late) => {
    const server = before(new HTTMCP({ name: 's', version: '1' }));
    const { client } = await connect(server);
    expect(() => late(server)).not.toThrow();
    if (kind === 'tool') expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['late']);
    if (kind === 'resource') expect((await client.listResources()).resources.map((r) => r.name)).toEqual(['late']);
    if (kind === 'prompt') expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(['late']);
  });
});
