import type { ChildProcess } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { freePort } from '../../src/stack/stack.js';
import { hashApiKey } from '../../src/auth/index.js';
import { startCli } from '../helpers/cli.js';
import { TestAuthorizationServer } from '../helpers/oauth.js';
import { INITIALIZE_PARAMS, STREAMABLE_ACCEPT } from '../helpers/raw-clients.js';

function stopped(child: ChildProcess): Promise<number | null> {
  child.kill('SIGTERM');
  return new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));
}

const initialize = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: STREAMABLE_ACCEPT, ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INITIALIZE_PARAMS }),
  });

describe('turning authentication on without code', () => {
  let as: TestAuthorizationServer;
  beforeAll(async () => {
    as = await TestAuthorizationServer.start();
  });
  afterAll(async () => {
    await as?.stop();
  });

  test('HTTMCP_OAUTH_ISSUER makes `httmcp start --port P` require tokens for http://127.0.0.1:P/mcp/<name>', async () => {
    const port = await freePort();
    const cli = await startCli(['start', '--port', String(port)], { HTTMCP_OAUTH_ISSUER: as.issuer });
    try {
      const demo = `http://127.0.0.1:${port}/mcp/demo`;
      const refused = await initialize(demo);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp/demo"`);
      const metadata = await (await fetch(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp/demo`)).json();
      expect(metadata).toMatchObject({ resource: demo, authorization_servers: [as.issuer] });

      const token = await as.token({ sub: 'alice', aud: demo });
      const client = new Client({ name: 'contract', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(demo), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
      expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).toMatchObject({ content: [{ type: 'text', text: '5' }] });
      await client.close();
      // Every example server is protected, each with its own audience.
      expect((await initialize(`http://127.0.0.1:${port}/mcp/notes`, { authorization: `Bearer ${token}` })).status).toBe(401);
      const notesToken = await as.token({ sub: 'alice', aud: `http://127.0.0.1:${port}/mcp/notes` });
      expect((await initialize(`http://127.0.0.1:${port}/mcp/notes`, { authorization: `Bearer ${notesToken}` })).status).toBe(200);
    } finally {
      expect(await stopped(cli.child)).toBe(0);
    }
  });

  test('--oauth-issuer with --oauth-scopes: a token without the scope gets 403 insufficient_scope naming it (step-up)', async () => {
    const port = await freePort();
    const cli = await startCli(['start', '--port', String(port), '--oauth-issuer', as.issuer, '--oauth-scopes', 'mcp:use']);
    try {
      const demo = `http://127.0.0.1:${port}/mcp/demo`;
      const metadataUrl = `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp/demo`;
      expect((await initialize(demo)).headers.get('www-authenticate')).toBe(`Bearer scope="mcp:use", resource_metadata="${metadataUrl}"`);
      const narrow = await as.token({ sub: 'alice', aud: demo, scope: 'profile' });
      const forbidden = await initialize(demo, { authorization: `Bearer ${narrow}` });
      expect(forbidden.status).toBe(403);
      expect(forbidden.headers.get('www-authenticate')).toBe(`Bearer error="insufficient_scope", scope="mcp:use", resource_metadata="${metadataUrl}"`);
      expect(await (await fetch(metadataUrl)).json()).toMatchObject({ scopes_supported: ['mcp:use'] });
      const wide = await as.token({ sub: 'alice', aud: demo, scope: 'profile mcp:use' });
      expect((await initialize(demo, { authorization: `Bearer ${wide}` })).status).toBe(200);
    } finally {
      expect(await stopped(cli.child)).toBe(0);
    }
  });

  test('--api-keys takes hashed keys; the key is never printed or logged', async () => {
    const port = await freePort();
    const key = 'correct-horse-battery-staple';
    const cli = await startCli(['start', '--port', String(port), '--api-keys', `ci:${hashApiKey(key)}`], { HTTMCP_LOG_LEVEL: 'debug' });
    try {
      const demo = `http://127.0.0.1:${port}/mcp/demo`;
      expect((await initialize(demo, { authorization: 'Bearer wrong-key' })).status).toBe(401);
      expect((await initialize(demo, { authorization: `Bearer ${key}` })).status).toBe(200);
      expect(cli.stderr()).toContain('refused a request: bad credentials');
      expect(cli.stderr()).not.toContain(key);
      expect(cli.stderr()).not.toContain('wrong-key');
    } finally {
      expect(await stopped(cli.child)).toBe(0);
    }
  });

  test('without any auth setting nothing changes: no token needed, no metadata', async () => {
    const port = await freePort();
    const cli = await startCli(['start', '--port', String(port)], { HTTMCP_OAUTH_ISSUER: '', HTTMCP_API_KEYS: '' });
    try {
      expect((await initialize(`http://127.0.0.1:${port}/mcp/demo`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp/demo`)).status).toBe(404);
    } finally {
      expect(await stopped(cli.child)).toBe(0);
    }
  });
});
