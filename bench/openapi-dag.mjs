#!/usr/bin/env node
// How large a tool list gets when a spec's schemas share subschemas: the synthetic "blow-up"
// spec of test/fixtures/openapi/blow-up.ts (level i has two properties referring to level i + 1;
// 40 operations, half taking the top level as a body, half returning it), at several depths.
//
//   npm run build && node bench/openapi-dag.mjs [--depths 10,14,18,30] [--inline-all-depths 10,14,18]
//
// For each depth: building the server (create_ms), then JSON.stringify of the whole tool list
// (list_bytes, stringify_ms), once with the defaults (large shared schemas become $defs) and, for
// --inline-all-depths, with every non-recursive $ref inlined in arguments (schemaInlineLimit 1e15:
// what httmcp did before), which grows as 2^depth until V8 cannot make the string.

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import ts from 'typescript';

const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    depths: { type: 'string', default: '10,14,18,30' },
    'inline-all-depths': { type: 'string', default: '10,14,18' },
  },
});

const { OpenAPIMCP } = await import(pathToFileURL(join(REPO_DIR, 'dist/src/openapi/index.js')).href);
// The test fixture is TypeScript; transpile it rather than keep a second copy of the generator.
const source = readFileSync(join(REPO_DIR, 'test/fixtures/openapi/blow-up.ts'), 'utf8');
const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText;
const { blowUpSpec } = await import(`data:text/javascript,${encodeURIComponent(js)}`);

const depths = (list) => (list === '' ? [] : list.split(',').map(Number));
console.log('| schemas | depth | create ms | tools | tools/list bytes | stringify ms |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [label, list, options] of [
  ['large shared schemas as $defs (default)', values.depths, {}],
  ['every $ref inlined (before)', values['inline-all-depths'], { schemaInlineLimit: 1e15, maxToolBytes: 2 ** 52 }],
]) {
  for (const depth of depths(list)) {
    const started = performance.now();
    const server = await OpenAPIMCP.create(blowUpSpec({ depth }), { validate: 'off', ...options });
    const built = performance.now();
    let bytes;
    try {
      bytes = Buffer.byteLength(JSON.stringify({ tools: server.toolDefinitions })).toLocaleString('en');
    } catch (error) {
      bytes = `${error.name}: ${error.message}`;
    }
    const printed = performance.now();
    console.log(`| ${label} | ${depth} | ${Math.round(built - started)} | ${server.tools.length} | ${bytes} | ${Math.round(printed - built)} |`);
  }
}
