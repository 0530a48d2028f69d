#!/usr/bin/env node
// How fast a big API description becomes an MCP server: the GitHub REST API from
// @octokit/openapi (api.github.com.json, 13 MB, ~1,200 operations).
//
//   npm run build && node bench/openapi-load.mjs [--runs 5] [--modes warn,strict,off,warn/no-output-schemas] [--stack] [--out FILE]
//
// Every run is a fresh `node` process (cold: nothing cached, nothing JIT-warm) that measures
//   import_ms    importing dist/src/openapi/index.js
//   create_ms    OpenAPIMCP.create(file): read, parse, build every tool (and, with --validate
//                strict, wait for swagger-parser's validation; with warn it runs in a worker)
//   ready_ms     create_ms + connecting an SDK client in-process + the first complete tools/list
//                (all pages): the time until tools/list is ready
//   list_ms      the median of 20 more complete tools/list rounds (served from the prebuilt list)
//   sdk_list_ms  one complete SDK Client.listTools() round, which also compiles every outputSchema
//                with ajv on the client side (a cost of the client, not the server)
//   validated_ms when the background validation finished (warn)
// With --stack, the parent also serves the spec through a real nginx+nchan stack and times
// complete tools/list rounds over WebSocket (first and median of 10).
// A mode is the `validate` option, optionally with `/no-output-schemas` (outputSchemas: false).
// Prints a markdown table; --out FILE also writes the raw results as JSON.

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import os from 'node:os';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_DIR = resolve(BENCH_DIR, '..');
const SPEC = join(REPO_DIR, 'node_modules/@octokit/openapi/generated/api.github.com.json');
const DIST = pathToFileURL(join(REPO_DIR, 'dist/src/openapi/index.js')).href;
const TARGET_READY_MS = 2000;

const { values } = parseArgs({
  options: {
    child: { type: 'string' },
    runs: { type: 'string', default: '5' },
    modes: { type: 'string', default: 'warn,strict,off,warn/no-output-schemas' },
    stack: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

if (values.child) {
  await child(values.child);
} else {
  await parent();
}

async function child(mode) {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { InMemoryTransport } = await import('@modelcontextprotocol/sdk/inMemory.js');
  const { ListToolsResultSchema } = await import('@modelcontextprotocol/sdk/types.js');
  const t0 = performance.now();
  const { OpenAPIMCP } = await import(DIST);
  const imported = performance.now();
  let validatedAt;
  const [validate, variant] = mode.split('/');
  const server = await OpenAPIMCP.create(SPEC, {
    validate,
    outputSchemas: variant !== 'no-output-schemas',
    onProgress: (e) => {
      if (e.phase === 'validated') validatedAt = performance.now();
    },
  });
  const created = performance.now();
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(clientSide);
  const listAll = async () => {
    let cursor;
    let tools = 0;
    let bytes = 0;
    do {
      const page = await client.request({ method: 'tools/list', params: cursor === undefined ? {} : { cursor } }, ListToolsResultSchema);
      tools += page.tools.length;
      bytes += JSON.stringify(page).length;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return { tools, bytes };
  };
  const first = await listAll();
  const ready = performance.now();
  // The background validation (warn) ends while nothing else runs on this thread.
  await server.validated;
  const rounds = [];
  for (let i = 0; i < 20; i++) {
    const start = performance.now();
    await listAll();
    rounds.push(performance.now() - start);
  }
  const sdkStart = performance.now();
  let cursor;
  do {
    const page = await client.listTools(cursor === undefined ? {} : { cursor });
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  const sdkList = performance.now() - sdkStart;
  const result = {
    mode,
    import_ms: round(imported - t0),
    create_ms: round(created - imported),
    ready_ms: round(ready - imported),
    list_ms: round(median(rounds)),
    sdk_list_ms: round(sdkList),
    validated_ms: validatedAt === undefined ? null : round(validatedAt - imported),
    tools: first.tools,
    with_output_schema: server.tools.filter((t) => t.outputSchema).length,
    skipped: server.skipped.length,
    list_bytes: first.bytes,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

async function parent() {
  const runs = Number(values.runs);
  const modes = values.modes.split(',');
  const results = [];
  for (const mode of modes) {
    for (let i = 0; i < runs; i++) {
      const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', mode], { cwd: REPO_DIR, encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`run failed: ${child.stderr}`);
      const result = JSON.parse(child.stdout.trim().split('\n').pop());
      results.push(result);
      process.stderr.write(`[openapi-load] ${mode} run ${i + 1}/${runs}: ready ${result.ready_ms} ms\n`);
    }
  }
  let stack;
  if (values.stack) stack = await overStack();

  const rows = modes.map((mode) => {
    const of = results.filter((r) => r.mode === mode);
    const pick = (key) => of.map((r) => r[key]).filter((v) => v !== null);
    return { mode, of, pick };
  });
  const first = results[0];
  console.log(`GitHub REST API (${relative(REPO_DIR, SPEC)}): ${first.tools} tools (${first.with_output_schema} with an output schema), ${first.skipped} skipped, tools/list ${(first.list_bytes / 1e6).toFixed(1)} MB in ${Math.ceil(first.tools / 100)} pages`);
  console.log(`${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), node ${process.version}, ${runs} cold runs per mode, median (min–max):\n`);
  console.log('| mode | import ms | create ms | ready for tools/list ms | validation done ms | tools/list again ms | SDK listTools() ms |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const { mode, pick } of rows) {
    const cell = (key) => {
      const v = pick(key);
      return v.length === 0 ? '–' : `${round(median(v))} (${Math.min(...v)}–${Math.max(...v)})`;
    };
    console.log(`| ${mode} | ${cell('import_ms')} | ${cell('create_ms')} | ${cell('ready_ms')} | ${cell('validated_ms')} | ${cell('list_ms')} | ${cell('sdk_list_ms')} |`);
  }
  if (stack) {
    console.log(`\nThrough nginx+nchan (WebSocket, ${stack.pages} pages): first complete tools/list ${stack.first_ms} ms, then median ${stack.median_ms} ms`);
  }
  const defaultRow = rows.find((r) => r.mode === 'warn') ?? rows[0];
  const ready = median(defaultRow.pick('ready_ms'));
  console.log(`\ntarget: ready for tools/list < ${TARGET_READY_MS} ms (validate=${defaultRow.mode}): ${ready < TARGET_READY_MS ? 'met' : 'MISSED'} (${round(ready)} ms)`);

  if (values.out) {
    mkdirSync(dirname(resolve(values.out)), { recursive: true });
    writeFileSync(values.out, `${JSON.stringify({ spec: relative(REPO_DIR, SPEC), cpus: os.cpus().length, node: process.version, runs: results, stack }, null, 2)}\n`);
    process.stderr.write(`[openapi-load] wrote ${values.out}\n`);
  }
}

/** Serves the spec through a real nginx+nchan stack and times tools/list over WebSocket. */
async function overStack() {
  const { OpenAPIMCP } = await import(DIST);
  const { startStack } = await import(pathToFileURL(join(REPO_DIR, 'dist/src/index.js')).href);
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { WebSocketClientTransport } = await import('@modelcontextprotocol/sdk/client/websocket.js');
  globalThis.WebSocket ??= (await import('ws')).default; // Node 20 has no global WebSocket
  const { ListToolsResultSchema } = await import('@modelcontextprotocol/sdk/types.js');
  const { pino } = await import('pino');
  const server = await OpenAPIMCP.create(SPEC, { name: 'github', validate: 'off' });
  const stack = await startStack({ servers: [server], port: 0, logger: pino({ level: 'silent' }) });
  try {
    const client = new Client({ name: 'bench', version: '1.0.0' });
    await client.connect(new WebSocketClientTransport(new URL(stack.servers.github.replace(/^http/, 'ws'))));
    const listAll = async () => {
      let cursor;
      let pages = 0;
      do {
        const page = await client.request({ method: 'tools/list', params: cursor === undefined ? {} : { cursor } }, ListToolsResultSchema);
        pages++;
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      return pages;
    };
    let start = performance.now();
    const pages = await listAll();
    const first = performance.now() - start;
    const rounds = [];
    for (let i = 0; i < 10; i++) {
      start = performance.now();
      await listAll();
      rounds.push(performance.now() - start);
    }
    await client.close();
    return { pages, first_ms: round(first), median_ms: round(median(rounds)) };
  } finally {
    await stack.stop();
  }
}

function median(list) {
  const sorted = [...list].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function round(ms) {
  return Math.round(ms);
}
