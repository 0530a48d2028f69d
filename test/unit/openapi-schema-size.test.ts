/**
 * Shared subschemas: a spec whose schemas form a wide DAG (nothing recursive) used to be inlined
 * at every use, `2 ** depth` copies of the bottom schema, until its tool list could not even be
 * written as a string. Large shared schemas are now `$defs`, tool definitions and `tools/list`
 * pages are bounded, and calls are still validated against the `$ref`s.
 */
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import { ListToolsResultSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { OpenAPIMCP } from '../../src/openapi/index.js';
import { blowUpSpec } from '../fixtures/openapi/blow-up.js';
import { connectInProcess, listAllTools } from '../fixtures/openapi/connect.js';
import { StandIn } from '../fixtures/openapi/stand-in.js';

const Ajv = AjvModule.default ?? AjvModule;
const addFormats = addFormatsModule.default ?? addFormatsModule;
const DEPTH = 30;

let api: StandIn;
beforeAll(async () => {
  api = await StandIn.start();
});
afterAll(async () => {
  await api.close();
});
beforeEach(() => api.reset());

/** `{ label, next0: { label, next0: ... { code } } }`, `levels` deep, with `bottom` at the end. */
function chain(levels: number, bottom: Record<string, unknown>): Record<string, unknown> {
  let value = bottom;
  for (let i = 0; i < levels; i++) value = { label: `level ${levels - 1 - i}`, next0: value };
  return value;
}

test(`a wide DAG of ${DEPTH} levels (2^${DEPTH} copies when inlined) builds, lists within a bounded size, and ajv compiles every schema`, async () => {
  const server = await OpenAPIMCP.create(blowUpSpec({ depth: DEPTH, server: `${api.url}/api` }), { validate: 'off' });
  expect(server.skipped).toEqual([]);
  expect(server.tools).toHaveLength(40);
  const json = JSON.stringify({ tools: server.toolDefinitions });
  expect(json.length).toBeLessThan(1_000_000); // about 12 kB per tool
  for (const tool of server.toolDefinitions) expect(Buffer.byteLength(JSON.stringify(tool))).toBeLessThan(32 * 1024);

  const put = server.toolDefinitions.find((t) => t.name === 'putThing0')!;
  // Large shared levels are written once under $defs; each level's body appears a few times at
  // most (small ones stay inlined where used), instead of 2^level times.
  const defs = put.inputSchema.$defs as Record<string, unknown>;
  expect(Object.keys(defs).length).toBeGreaterThan(5);
  const text = JSON.stringify(put);
  for (let level = 0; level <= DEPTH; level++) {
    const copies = text.split(level === DEPTH ? 'The bottom of the DAG.' : `"Level ${level} of the DAG."`).length - 1;
    expect([level, copies]).toEqual([level, expect.any(Number)]);
    expect(copies).toBeLessThanOrEqual(8);
  }
  expect(defs.Level7).toEqual({
    type: 'object',
    description: 'Level 7 of the DAG.',
    properties: { label: { type: 'string', maxLength: 40 }, next0: expect.any(Object), next1: expect.any(Object) },
  });
  // Replies: every named schema is a $def.
  const get = server.toolDefinitions.find((t) => t.name === 'getThing0')!;
  expect(Object.keys(get.outputSchema!.$defs as object)).toHaveLength(DEPTH);
  expect(get.outputSchema!.properties).toMatchObject({ next0: { $ref: '#/$defs/Level1' } });

  const ajv = new Ajv({ strict: false, validateSchema: true, allErrors: true, logger: false });
  addFormats(ajv);
  // Every PUT tool has putThing0's schemas, every GET tool getThing0's: compiling one of each
  // (under the draft-07 meta-schema) covers them all.
  for (const tool of server.toolDefinitions) {
    const like = tool.name.startsWith('put') ? put : get;
    expect([tool.inputSchema, tool.outputSchema]).toEqual([like.inputSchema, like.outputSchema]);
  }
  for (const schema of [put.inputSchema, get.inputSchema, get.outputSchema!]) expect(() => ajv.compile(schema)).not.toThrow();
  // An SDK client lists them (compiling every output schema) page by page.
  const client = await connectInProcess(server);
  expect(await listAllTools(client)).toHaveLength(40);
  await client.close();
});

test('calls are validated through the $refs, in the arguments and in the reply', async () => {
  const server = await OpenAPIMCP.create(blowUpSpec({ depth: DEPTH, server: `${api.url}/api` }), { validate: 'off' });
  const client = await connectInProcess(server);
  const body = chain(DEPTH, { code: 7, note: 'b' });
  api.respond = () => ({ status: 204 });
  const stored = (await client.callTool({ name: 'putThing0', arguments: { id: 1, ...body } })) as CallToolResult;
  expect(stored.isError).toBeUndefined();
  expect(JSON.parse(api.only().text)).toEqual(body);

  api.reset();
  const wrong = chain(DEPTH, { code: -1, extra: true });
  const refused = (await client.callTool({ name: 'putThing0', arguments: { id: 1, ...wrong } })) as CallToolResult;
  const path = Array.from({ length: DEPTH - 1 }, () => 'next0').join('.');
  expect(refused).toEqual({
    isError: true,
    content: [{ type: 'text', text: `Invalid arguments for putThing0:\n- next0.${path}: unknown property "extra"\n- next0.${path}.code: must be >= 0` }],
  });
  expect(api.requests).toHaveLength(0);

  // The reply is checked against the output schema's $defs by the server and by the SDK client.
  const reply = chain(DEPTH, { code: 3 });
  api.respond = () => ({ body: reply });
  const got = (await client.callTool({ name: 'getThing0', arguments: { id: 2 } })) as CallToolResult;
  expect(got.structuredContent).toEqual(reply);
  api.respond = () => ({ body: chain(DEPTH, { code: 'three' }) });
  const misfit = (await client.callTool({ name: 'getThing0', arguments: { id: 2 } })) as CallToolResult;
  expect(misfit.isError).toBe(true);
  expect(misfit.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('code: must be integer') });
  await client.close();
});

test('a tool larger than maxToolBytes is skipped with its size as the reason; the others are served', async () => {
  const warnings: string[] = [];
  const spec = blowUpSpec({ depth: 12, operations: 4 });
  const none = await OpenAPIMCP.create(spec, { validate: 'off', maxToolBytes: 1000 });
  expect(none.tools).toEqual([]);
  expect(none.skipped).toHaveLength(4);
  const server = await OpenAPIMCP.create(spec, { validate: 'off', maxToolBytes: 5000, onWarning: (m) => warnings.push(m) });
  expect(server.tools.map((t) => t.name)).toEqual(['getThing0', 'getThing2']);
  expect(server.tools.every((t) => t.bytes <= 5000 && t.bytes === Buffer.byteLength(JSON.stringify(t.definition)))).toBe(true);
  expect(server.skipped.map((s) => s.key)).toEqual(['PUT /things0/{id}', 'PUT /things2/{id}']);
  expect(server.skipped[0]!.reason).toMatch(/^its tool definition is \d+ bytes of JSON, more than maxToolBytes \(5000\); raise maxToolBytes \(--max-tool-bytes\) or leave the operation out$/);
  expect(warnings).toContain(`skipped PUT /things0/{id}: ${server.skipped[0]!.reason}`);
});

test('schemaInlineLimit: 0 makes every referenced schema a $def; a large limit inlines a small DAG', async () => {
  const spec = blowUpSpec({ depth: 3, operations: 2 });
  const refs = await OpenAPIMCP.create(spec, { validate: 'off', schemaInlineLimit: 0 });
  const put = refs.toolDefinitions.find((t) => t.name === 'putThing0')!;
  expect(put.inputSchema.properties!.next0).toEqual({ $ref: '#/$defs/Level1' });
  expect(Object.keys(put.inputSchema.$defs as object).sort()).toEqual(['Level1', 'Level2', 'Level3']);
  const inlined = await OpenAPIMCP.create(spec, { validate: 'off', schemaInlineLimit: 1_000_000 });
  const whole = inlined.toolDefinitions.find((t) => t.name === 'putThing0')!;
  expect(whole.inputSchema.$defs).toBeUndefined();
  expect(JSON.stringify(whole.inputSchema)).not.toContain('$ref');
});

test('tools/list pages are bounded in bytes as well as in items, and lead through every tool once', async () => {
  const server = await OpenAPIMCP.create(blowUpSpec({ depth: DEPTH }), { validate: 'off', pageBytes: 50_000 });
  const client = await connectInProcess(server);
  const names: string[] = [];
  const pages: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.request({ method: 'tools/list', params: cursor === undefined ? {} : { cursor } }, ListToolsResultSchema);
    const bytes = page.tools.reduce((sum: number, tool: Tool) => sum + Buffer.byteLength(JSON.stringify(tool)), 0);
    expect(bytes).toBeLessThanOrEqual(50_000);
    pages.push(page.tools.length);
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  expect(names).toEqual(server.toolDefinitions.map((t) => t.name));
  expect(pages.length).toBeGreaterThan(5);
  await client.close();
});
