/**
 * Cache hints of the 2026-07-28 era (`ttlMs`, `cacheScope` on cacheable results) through a real
 * nginx+nchan stack: the conformance suite's `caching` scenario (0.2.0-alpha.12), and what the
 * per-server and per-item settings put on the wire.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEverythingServer } from '../../examples/everything.js';
import { HTTMCP, OpenAPIMCP, type Stack } from '../../src/index.js';
import { connectClient, startTestStack } from '../helpers/stack.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE22 = join(ROOT, 'node_modules', 'node', 'bin', 'node');
const SUITE = join(ROOT, 'node_modules', 'mcp-conformance-next', 'dist', 'index.js');

interface Check {
  id: string;
  status: string;
  errorMessage?: string;
}

/** Runs one scenario of the 0.2.0-alpha.12 suite and returns its checks. */
function scenario(name: string, url: string, specVersion: string): Promise<{ code: number | null; checks: Check[]; output: string }> {
  const out = mkdtempSync(join(tmpdir(), `httmcp-${name}-`));
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child = spawn(NODE22, [SUITE, 'server', '--url', url, '--scenario', name, '--spec-version', specVersion, '-o', out], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk));
  return new Promise((resolve) => {
    child.once('close', (code) => {
      const dir = readdirSync(out).find((entry) => entry.startsWith(`server-${name}-`));
      const checks = dir ? (JSON.parse(readFileSync(join(out, dir, 'checks.json'), 'utf8')) as Check[]) : [];
      rmSync(out, { recursive: true, force: true });
      resolve({ code, checks, output });
    });
  });
}

const MODERN = '2026-07-28';
const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'cache-test', version: '1.0.0' },
};

/** A server that sets hints at every level: server-wide, per operation, per item; one scoped item. */
function createHintedServer(): HTTMCP {
  return new HTTMCP({
    name: 'hinted',
    version: '1.0.0',
    pageSize: 2,
    cacheHint: { ttlMs: 60_000, cacheScope: 'public' },
    cacheHints: { 'prompts/list': { ttlMs: 30_000 }, 'server/discover': { ttlMs: 300_000 } },
  })
    .tool('a', { description: 'a' }, () => 'a')
    .tool('b', { description: 'b', cacheHint: { ttlMs: 5_000 } }, () => 'b')
    .tool('c', { description: 'c', cacheHint: { cacheScope: 'private' } }, () => 'c')
    .prompt('p', {}, () => 'p')
    .resource('open', 'docs://open', { cacheHint: { ttlMs: 120_000 } }, () => 'open')
    .resource('quick', 'docs://quick', { cacheHint: { ttlMs: 1_000, cacheScope: 'private' } }, () => 'quick')
    .resource('secret', 'docs://secret', { scopes: ['secrets:read'] }, () => 'secret')
    .resource('user', 'users://{id}', {}, ({ id }) => `user ${String(id)}`);
}

/** An OpenAPI server whose API is called with each MCP client's own credential. */
function createPerCallerApi(apiUrl: string): Promise<OpenAPIMCP> {
  const spec = {
    openapi: '3.0.3',
    info: { title: 'percaller', version: '1.0.0' },
    servers: [{ url: apiUrl }],
    components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Key' } } },
    security: [{ key: [] }],
    paths: { '/items/{id}': { get: { operationId: 'getItem', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'ok' } } } } },
  };
  return OpenAPIMCP.create(spec, {
    name: 'percaller',
    validate: 'off',
    resources: true,
    cacheHint: { ttlMs: 10_000, cacheScope: 'public' },
    sessionCredentials: [{ scheme: 'key', header: 'x-user-key' }],
  });
}

describe('cache hints through nginx+nchan', () => {
  let stack: Stack;
  let api: Server;

  beforeAll(async () => {
    api = createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url, key: req.headers['x-key'] ?? null })));
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    stack = await startTestStack({ servers: [createEverythingServer(), createHintedServer(), await createPerCallerApi(apiUrl)] });
  }, 60_000);

  /** A raw 2026-07-28 request with its standard headers; the JSON-RPC result. */
  async function request(server: string, method: string, params: Record<string, unknown> = {}, extra: Record<string, string> = {}): Promise<Record<string, any>> {
    const name = (params.name ?? params.uri) as string | undefined;
    const response = await fetch(stack.servers[server]!, {
      method: 'POST',
      headers: {
        ...extra,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': MODERN,
        'mcp-method': method,
        ...(name === undefined ? {} : { 'mcp-name': name }),
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: ENVELOPE } }),
    });
    // A slow request (the first call to the API) answers on an nchan-held SSE stream.
    const text = await response.text();
    const json = response.headers.get('content-type')?.includes('text/event-stream')
      ? text.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).find((data) => data.includes('"id":1'))!
      : text;
    const body = JSON.parse(json) as { result?: Record<string, any>; error?: unknown };
    if (!body.result) throw new Error(`${method}: HTTP ${response.status} ${JSON.stringify(body)}`);
    return body.result;
  }

  const hintOf = (result: Record<string, any>) => ({ ttlMs: result.ttlMs, cacheScope: result.cacheScope });

  test('server/discover carries its per-operation hint', async () => {
    expect(hintOf(await request('hinted', 'server/discover'))).toEqual({ ttlMs: 300_000, cacheScope: 'public' });
  });

  test('a tools/list page is as cacheable as its least cacheable tool', async () => {
    const first = await request('hinted', 'tools/list');
    expect(first.tools.map((tool: { name: string }) => tool.name)).toEqual(['a', 'b']);
    expect(hintOf(first)).toEqual({ ttlMs: 5_000, cacheScope: 'public' });
    const second = await request('hinted', 'tools/list', { cursor: first.nextCursor });
    expect(second.tools.map((tool: { name: string }) => tool.name)).toEqual(['c']);
    expect(hintOf(second)).toEqual({ ttlMs: 60_000, cacheScope: 'private' });
  });

  test('per operation, field by field over the server-wide hint', async () => {
    expect(hintOf(await request('hinted', 'prompts/list'))).toEqual({ ttlMs: 30_000, cacheScope: 'public' });
  });

  test("a resource's own hint rules its reads; a scoped resource is never shared", async () => {
    expect(hintOf(await request('hinted', 'resources/read', { uri: 'docs://open' }))).toEqual({ ttlMs: 120_000, cacheScope: 'public' });
    expect(hintOf(await request('hinted', 'resources/read', { uri: 'docs://quick' }))).toEqual({ ttlMs: 1_000, cacheScope: 'private' });
    expect(hintOf(await request('hinted', 'resources/read', { uri: 'docs://secret' }))).toEqual({ ttlMs: 60_000, cacheScope: 'private' });
    expect(hintOf(await request('hinted', 'resources/read', { uri: 'users://7' }))).toEqual({ ttlMs: 60_000, cacheScope: 'public' });
  });

  test('resource lists that scopes filter per principal are private', async () => {
    // pageSize 2: the first page holds two of open, quick, secret; whichever, the list is filtered per principal.
    expect((await request('hinted', 'resources/list')).cacheScope).toBe('private');
    expect(hintOf(await request('hinted', 'resources/templates/list'))).toEqual({ ttlMs: 60_000, cacheScope: 'private' });
  });

  test('an OpenAPI resource read with the caller\'s own credential is never shared; its lists may be', async () => {
    const read = await request('percaller', 'resources/read', { uri: 'percaller://items/7' }, { 'x-user-key': 'k1' });
    expect(read.contents[0].text).toContain('"key":"k1"');
    expect(hintOf(read)).toEqual({ ttlMs: 10_000, cacheScope: 'private' });
    expect(hintOf(await request('percaller', 'resources/templates/list'))).toEqual({ ttlMs: 10_000, cacheScope: 'public' });
  });

  test('2025-era results carry no cache hints', async () => {
    const client = await connectClient('streamable', stack.servers.hinted!);
    try {
      const tools = (await client.listTools()) as Record<string, unknown>;
      const read = (await client.readResource({ uri: 'docs://open' })) as Record<string, unknown>;
      expect([tools.ttlMs, tools.cacheScope, read.ttlMs, read.cacheScope]).toEqual([undefined, undefined, undefined, undefined]);
    } finally {
      await client.close();
    }
  });

  afterAll(async () => {
    await stack?.stop();
    api?.close();
  });

  test('conformance 0.2.0-alpha.12 `caching` scenario passes on 2026-07-28', async () => {
    const run = await scenario('caching', stack.servers.everything!, '2026-07-28');
    const failed = run.checks.filter((check) => check.status === 'FAILURE').map((check) => `${check.id}: ${check.errorMessage}`);
    expect({ failed, ran: run.checks.length > 0 }).toEqual({ failed: [], ran: true });
    expect(run.code).toBe(0);
  }, 120_000);
});
