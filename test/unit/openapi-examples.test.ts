/**
 * Every JSON spec of @readme/oas-examples (Swagger 2.0, OpenAPI 3.0 and 3.1: circular refs,
 * security schemes, file uploads, parameter styles, server variables, polymorphism...) loads
 * and gives valid tools: names an MCP client accepts, JSON Schemas without cycles that ajv
 * compiles, and a tools/list an SDK client accepts (it compiles every output schema).
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import { OpenAPIMCP, TOOL_NAME } from '../../src/openapi/index.js';
import { connectInProcess, listAllTools } from '../fixtures/openapi/connect.js';

const Ajv = AjvModule.default ?? AjvModule;
const addFormats = addFormatsModule.default ?? addFormatsModule;
const ROOT = fileURLToPath(new URL('../../node_modules/@readme/oas-examples/', import.meta.url));

function specFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? specFiles(path) : name.endsWith('.json') ? [path] : [];
  });
}

const files = ['2.0', '3.0', '3.1'].flatMap((version) => specFiles(join(ROOT, version, 'json')));
const counts = new Map<string, { tools: number; skipped: number }>();

/** Whether a value is a tree: no object reachable from itself. */
function acyclic(value: unknown, path = new Set<object>()): boolean {
  if (typeof value !== 'object' || value === null) return true;
  if (path.has(value)) return false;
  path.add(value);
  const ok = Object.values(value).every((child) => acyclic(child, path));
  path.delete(value);
  return ok;
}

// Draft-07 meta-schema validation on, formats known: stricter than any MCP client.
const ajv = new Ajv({ strict: false, validateSchema: true, allErrors: true, logger: false });
addFormats(ajv);
for (const format of ['int32', 'int64', 'float', 'double', 'byte', 'binary', 'password']) ajv.addFormat(format, true);

test.each(files.map((f) => [relative(ROOT, f), f]))('%s', async (name, file) => {
  const server = await OpenAPIMCP.create(file, { validate: 'off' });
  const tools = server.toolDefinitions;
  counts.set(name, { tools: tools.length, skipped: server.skipped.length });
  expect(server.skipped).toEqual([]);
  expect(new Set(tools.map((t) => t.name)).size).toBe(tools.length);
  for (const tool of tools) {
    expect(tool.name).toMatch(TOOL_NAME);
    expect(acyclic(tool.inputSchema)).toBe(true);
    expect(tool.inputSchema.type).toBe('object');
    expect(JSON.parse(JSON.stringify(tool))).toEqual(tool);
    expect(() => ajv.compile(tool.inputSchema)).not.toThrow();
    for (const key of Object.keys(tool.inputSchema.properties ?? {})) expect(key).toMatch(/^[A-Za-z0-9_.-]{1,64}$/);
    if (tool.outputSchema) {
      expect(tool.outputSchema.type).toBe('object');
      expect(acyclic(tool.outputSchema)).toBe(true);
      expect(() => ajv.compile(tool.outputSchema!)).not.toThrow();
    }
  }
  // An SDK client parses the list and compiles every output schema.
  const client = await connectInProcess(server);
  expect(await listAllTools(client)).toHaveLength(tools.length);
  await client.close();
});

test('totals', () => {
  const tools = [...counts.values()].reduce((sum, c) => sum + c.tools, 0);
  process.stdout.write(`oas-examples: ${counts.size} specs, ${tools} tools\n`);
  expect(counts.size).toBe(files.length);
  expect(files.length).toBe(70);
  expect(tools).toBe(678);
});
