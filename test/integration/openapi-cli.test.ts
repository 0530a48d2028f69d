/**
 * `httmcp openapi`: --list, errors, serving through a local nginx+nchan stack, and backend-only
 * for an nginx+nchan running elsewhere (--publish-server), through the built `httmcp` command.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, HTTMCP, type Stack } from '../../src/index.js';
import { blowUpSpec } from '../fixtures/openapi/blow-up.js';
import { shopSpec } from '../fixtures/openapi/shop.js';
import { StandIn } from '../fixtures/openapi/stand-in.js';
import { CLI, startCli, type CliProcess } from '../helpers/cli.js';
import { exited } from '../helpers/processes.js';
import { connectClient, startTestStack } from '../helpers/stack.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/openapi/', import.meta.url));
const GITHUB = fileURLToPath(new URL('../../node_modules/@octokit/openapi/generated/api.github.com.json', import.meta.url));
const SECRET = 'openapi-cli-test-secret-0123456789';

let api: StandIn;
let shopFile: string;

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [CLI, 'openapi', ...args], { encoding: 'utf8', env: { ...process.env, HTTMCP_LOG_LEVEL: 'warn', ...env }, maxBuffer: 64 * 1024 * 1024 });
}

/** Starts the CLI and resolves with its JSON line once it serves. */
function start(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliProcess> {
  return startCli(['openapi', ...args], env);
}

beforeAll(async () => {
  api = await StandIn.start();
  shopFile = join(mkdtempSync(join(tmpdir(), 'openapi-cli-')), 'shop.json');
  writeFileSync(shopFile, JSON.stringify(shopSpec()));
});
beforeEach(() => api.reset());
afterAll(async () => {
  await api.close();
});

test('--list prints the tools as JSON and exits 0; progress goes to stderr', () => {
  const result = run([join(FIXTURES, 'petstore.yaml'), '--list']);
  expect(result.status).toBe(0);
  const tools = JSON.parse(result.stdout) as Array<Record<string, unknown>>;
  expect(tools.map((t) => t.name)).toEqual(['listPets', 'createPet', 'getPet', 'get_health']);
  expect(tools[2]).toEqual({
    name: 'getPet',
    description: 'One pet',
    inputSchema: { type: 'object', properties: { petId: { type: 'integer' } }, required: ['petId'], additionalProperties: false },
    annotations: { readOnlyHint: true, openWorldHint: true },
  });
  expect(result.stderr).toContain('httmcp openapi: loading');
  expect(result.stderr).toMatch(/OpenAPI 3\.0, 3 paths/);
  expect(result.stderr).toMatch(/4 tools \(built in \d+ ms; tools\/list 2 kB of JSON\)/);
});

test('--list prints a spec whose shared schemas would inline 2^30 times; limits come from flags or HTTMCP_OPENAPI_* (the flag wins)', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'openapi-cli-')), 'dag.json');
  writeFileSync(file, JSON.stringify(blowUpSpec({ depth: 30 })));
  const listed = run([file, '--list']);
  expect(listed.status).toBe(0);
  expect(listed.stdout.length).toBeLessThan(2_000_000);
  expect((JSON.parse(listed.stdout) as unknown[]).length).toBe(40);
  expect(listed.stderr).toMatch(/40 tools \(built in \d+ ms; tools\/list \d+ kB of JSON\)/);

  const limited = run([file, '--list', '--max-tool-bytes', '10000'], { HTTMCP_OPENAPI_MAX_TOOL_BYTES: '1' });
  expect((JSON.parse(limited.stdout) as Array<{ name: string }>).map((t) => t.name)).toEqual(Array.from({ length: 20 }, (_, i) => `getThing${2 * i}`));
  expect(limited.stderr).toMatch(/warning: skipped PUT \/things0\/\{id\}: its tool definition is \d+ bytes of JSON, more than maxToolBytes \(10000\)/);
  const fromEnv = run([file, '--list', '-q'], { HTTMCP_OPENAPI_MAX_TOOL_BYTES: '1' });
  expect(JSON.parse(fromEnv.stdout)).toEqual([]);
  const bad = run([file, '--list'], { HTTMCP_OPENAPI_CONNECTIONS: '0' });
  expect([bad.status, bad.stderr]).toEqual([1, expect.stringContaining("HTTMCP_OPENAPI_CONNECTIONS' is invalid. expected a whole number of at least 1")]);
});

test('--cache-ttl and --cache-scope (or HTTMCP_CACHE_TTL_MS, HTTMCP_CACHE_SCOPE) are checked before anything is served', () => {
  const spec = join(FIXTURES, 'petstore.yaml');
  expect(run([spec, '--list', '-q', '--cache-ttl', '60000', '--cache-scope', 'public']).status).toBe(0);
  const scope = run([spec, '--list', '-q', '--cache-scope', 'shared']);
  expect([scope.status, scope.stderr]).toEqual([1, expect.stringContaining("Allowed choices are private, public")]);
  const negative = run([spec, '--list', '-q'], { HTTMCP_CACHE_TTL_MS: '-1' });
  expect([negative.status, negative.stderr]).toEqual([1, expect.stringContaining('HTTMCP_CACHE_TTL_MS')]);
  const tooLong = run([spec, '--list', '-q', '--cache-ttl', String(2 * 86_400_000)]);
  expect([tooLong.status, tooLong.stderr]).toEqual([1, expect.stringMatching(/cache ttlMs must be an integer from 0 to 86400000/)]);
});

test('-f and filters by tag, operation and method', () => {
  const names = (args: string[]) => (JSON.parse(run(['-f', join(FIXTURES, 'petstore.yaml'), '--list', '-q', ...args]).stdout) as Array<{ name: string }>).map((t) => t.name);
  expect(names(['--include-tag', 'write'])).toEqual(['createPet']);
  expect(names(['--exclude-tag', 'write', '--method', 'get'])).toEqual(['listPets', 'getPet', 'get_health']);
  expect(names(['--include-operation', 'getPet,GET /health'])).toEqual(['getPet', 'get_health']);
  expect(names(['--exclude-operation', 'listPets', '--exclude-operation', 'get_health'])).toEqual(['createPet', 'getPet']);
});

test('a broken spec gives a clear message and exit status 2; a missing spec argument status 1', () => {
  const broken = run([join(FIXTURES, 'broken.yaml'), '--list']);
  expect(broken.status).toBe(2);
  expect(broken.stdout).toBe('');
  expect(broken.stderr).toContain(`httmcp openapi: ${join(FIXTURES, 'broken.yaml')} is neither JSON nor YAML:`);
  const missing = run(['/no/such/api.json']);
  expect(missing.status).toBe(2);
  expect(missing.stderr).toContain('httmcp openapi: cannot read /no/such/api.json: no such file');
  const none = run([]);
  expect(none.status).toBe(1);
  expect(none.stderr).toContain('give the API description');
});

test('a large spec shows its progress: the GitHub API, filtered to one tag', () => {
  const result = run([GITHUB, '--list', '--include-tag', 'meta']);
  expect(result.status).toBe(0);
  const names = (JSON.parse(result.stdout) as Array<{ name: string }>).map((t) => t.name);
  expect(names).toEqual(expect.arrayContaining(['meta_root', 'meta_get-octocat', 'meta_get-zen']));
  expect(names.every((n) => n.startsWith('meta_'))).toBe(true);
  expect(result.stderr).toMatch(/read .*api\.github\.com\.json \(13\.0 MB\) in \d+ ms/);
  expect(result.stderr).toMatch(/OpenAPI 3\.0, \d+ paths/);
});

test('serves the API through a local nginx+nchan stack (-n, -P, --server-var, --auth, --header); SIGINT stops it', async () => {
  const port = await freePort();
  const { child, info } = await start([shopFile, '-n', 'shop', '-P', String(port), '--server-var', `port=${api.port}`, '--auth', 'key=cli-key', '--header', 'X-Client: httmcp-cli']);
  try {
    expect(info.servers).toEqual({ shop: `http://127.0.0.1:${port}/mcp/shop` });
    expect(info.tools).toBe(23);
    const client = await connectClient('streamable', info.servers.shop);
    expect(await client.callTool({ name: 'withKey', arguments: {} })).toEqual({ content: [{ type: 'text', text: '{"ok":true}' }] });
    expect(api.only().url).toBe('/v1/secure/key');
    expect(api.only().headers).toMatchObject({ 'x-api-key': 'cli-key', 'x-client': 'httmcp-cli' });
    await client.close();
  } finally {
    child.kill('SIGINT');
  }
  expect(await exited(child)).toBe(0);
});

describe('backend only (--publish-server) behind an nginx+nchan running elsewhere', () => {
  let stack: Stack;
  let backendPort: number;
  beforeAll(async () => {
    backendPort = await freePort();
    // nginx+nchan fronting an external backend at backendPort; the placeholder only names the URL.
    stack = await startTestStack({ servers: [new HTTMCP({ name: 'shop', version: '1.0.0' })], backends: [`127.0.0.1:${backendPort}`], gateway: { sessionSecret: SECRET } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('-p/--publish-server, -H, -P and --base-url', async () => {
    const { child, info } = await start(
      ['-f', shopFile, '-n', 'shop', '-p', stack.publishUrl, '-H', '127.0.0.1', '-P', String(backendPort), '--base-url', `${api.url}/base`],
      { HTTMCP_SESSION_SECRET: SECRET },
    );
    try {
      expect(info).toMatchObject({ backend: `http://127.0.0.1:${backendPort}`, server: 'shop', path: '/mcp/shop', tools: 23 });
      const client = await connectClient('websocket', stack.servers.shop!);
      api.respond = () => ({ body: { id: 3, name: 'Rex' } });
      expect((await client.callTool({ name: 'getPet', arguments: { petId: 3 } })).structuredContent).toEqual({ id: 3, name: 'Rex' });
      expect(api.only().url).toBe('/base/pets/3');
      await client.close();
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited(child)).toBe(0);
  });
});
