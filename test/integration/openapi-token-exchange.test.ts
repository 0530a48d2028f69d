import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client as ClientV2, StreamableHTTPClientTransport as StreamableHTTPClientTransportV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import { decodeJwt } from 'jose';
import WebSocket from 'ws';
import { OpenAPIMCP, type Stack } from '../../src/index.js';
import { freePort } from '../../src/stack/stack.js';
import { StandIn } from '../fixtures/openapi/stand-in.js';
import { envelope } from '../helpers/era-2026.js';
import { WsClient } from '../helpers/raw-clients.js';
import { CLI, startCli } from '../helpers/cli.js';
import { TestAuthorizationServer } from '../helpers/oauth.js';
import { startTestStack } from '../helpers/stack.js';

/**
 * RFC 8693 token exchange for an OpenAPI upstream (`tokenExchange`): the API gets a token of the
 * caller for its own audience, never the MCP client's token (real nginx+nchan, a real AS).
 */

const SPEC = fileURLToPath(new URL('../fixtures/openapi/scoped.yaml', import.meta.url));
const API_AUDIENCE = 'https://pets.example.com';

describe('OpenAPI upstream calls with an exchanged token', () => {
  let as: TestAuthorizationServer;
  let api: StandIn;
  let stack: Stack;
  let url: string;

  beforeAll(async () => {
    as = await TestAuthorizationServer.start();
    api = await StandIn.start();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    url = `${base}/mcp/pets`;
    const pets = await OpenAPIMCP.create(SPEC, {
      name: 'pets',
      baseUrl: api.url,
      validate: 'off',
      env: {},
      tokenExchange: { scheme: 'oauth', tokenUrl: `${as.issuer}/exchange`, ...as.exchangeClient, audience: API_AUDIENCE },
    });
    stack = await startTestStack({ port, servers: [pets], auth: { publicUrl: base, jwt: { issuers: [as.issuer] } } });
  });
  afterAll(async () => {
    await stack?.stop();
    await api?.close();
    await as?.stop();
  });

  async function connect(token: string, kind: 'streamable' | 'websocket'): Promise<Client> {
    const client = new Client({ name: 'exchange', version: '1.0.0' });
    if (kind === 'streamable') {
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    } else {
      (globalThis as { WebSocket?: unknown }).WebSocket = class extends WebSocket {
        constructor(address: string | URL, protocols?: string | string[]) {
          super(address, protocols, { headers: { authorization: `Bearer ${token}` } });
        }
      };
      await client.connect(new WebSocketClientTransport(new URL(url.replace(/^http/, 'ws'))));
    }
    return client;
  }

  /** The claims of the token the API received last. */
  const lastApiToken = () => {
    const header = api.requests.at(-1)!.headers.authorization!;
    expect(header).toMatch(/^Bearer /);
    return { raw: header.slice(7), claims: decodeJwt(header.slice(7)) };
  };

  /** Two calls: the API gets the caller's exchanged token (not theirs) on both, exchanged once. */
  async function expectExchangedOnceForBothCalls(user: string, token: string, call: () => Promise<unknown>): Promise<void> {
    await call();
    const first = lastApiToken();
    expect(first.raw).not.toBe(token);
    expect(first.claims).toMatchObject({ sub: user, aud: API_AUDIENCE, act: { sub: as.exchangeClient.clientId }, iss: as.issuer });
    await call();
    expect(lastApiToken().raw).toBe(first.raw);
    expect(as.exchanges.filter((e) => e.sub === user)).toEqual([{ sub: user, audience: API_AUDIENCE }]);
  }

  test.each(['streamable', 'websocket'] as const)("%s: the API gets the caller's exchanged token (its audience, the caller as subject), cached per principal", async (kind) => {
    const user = `user-${kind}`;
    const token = await as.token({ sub: user, aud: url, scope: 'pets:read' });
    const client = await connect(token, kind);
    await expectExchangedOnceForBothCalls(user, token, () => client.callTool({ name: 'listPets', arguments: {} }));
    await client.close();
  });

  test("2026-07-28 (the v2 client pinned, no session): the API gets the caller's exchanged token, cached per principal", async () => {
    const user = 'user-2026';
    const token = await as.token({ sub: user, aud: url, scope: 'pets:read' });
    const client = new ClientV2({ name: 'exchange-2026', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new StreamableHTTPClientTransportV2(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    try {
      expect(client.getProtocolEra()).toBe('modern');
      // Each 2026 request stands alone; the exchanged token is still reused for the same principal and token.
      await expectExchangedOnceForBothCalls(user, token, async () => {
        const result = await client.callTool({ name: 'listPets', arguments: {} });
        expect(result.isError).not.toBe(true);
      });
    } finally {
      await client.close();
    }
  });

  test("2026-07-28 on a WebSocket (era pinned by the first request): the API gets the caller's exchanged token", async () => {
    const user = 'user-ws-2026';
    const token = await as.token({ sub: user, aud: url, scope: 'pets:read' });
    const ws = await WsClient.open(url, { headers: { authorization: `Bearer ${token}` } });
    try {
      const reply = (await ws.request(1, 'tools/call', { name: 'listPets', arguments: {}, _meta: envelope('exchange-ws') })) as { result?: { isError?: boolean; resultType?: string } };
      expect(reply.result).toMatchObject({ resultType: 'complete' });
      expect(reply.result?.isError).not.toBe(true);
      const sent = lastApiToken();
      expect(sent.raw).not.toBe(token);
      expect(sent.claims).toMatchObject({ sub: user, aud: API_AUDIENCE, act: { sub: as.exchangeClient.clientId } });
    } finally {
      ws.close();
    }
  });

  test('another user gets a token of their own', async () => {
    const alice = await connect(await as.token({ sub: 'alice', aud: url }), 'streamable');
    const bob = await connect(await as.token({ sub: 'bob', aud: url }), 'streamable');
    await alice.callTool({ name: 'listPets', arguments: {} });
    expect(lastApiToken().claims.sub).toBe('alice');
    await bob.callTool({ name: 'listPets', arguments: {} });
    expect(lastApiToken().claims.sub).toBe('bob');
    await alice.close();
    await bob.close();
  });

  test('an exchange the authorization server refuses is a tool error, and nothing reaches the API', async () => {
    const client = await connect(await as.token({ sub: 'carol', aud: url }), 'streamable');
    const secret = as.exchangeClient.clientSecret;
    (as.exchangeClient as { clientSecret: string }).clientSecret = 'rotated';
    const before = api.requests.length;
    try {
      const result = await client.callTool({ name: 'listPets', arguments: {} });
      expect(result.isError).toBe(true);
      expect(JSON.stringify(result.content)).toContain('token exchange');
      expect(JSON.stringify(result.content)).toContain('invalid_client');
      expect(api.requests.length).toBe(before);
    } finally {
      (as.exchangeClient as { clientSecret: string }).clientSecret = secret;
      await client.close();
    }
  });

  test('the CLI turns it on with --token-exchange and HTTMCP_TOKEN_EXCHANGE_* (the secret from the environment only)', async () => {
    const port = await freePort();
    const env = { HTTMCP_OAUTH_ISSUER: as.issuer, HTTMCP_TOKEN_EXCHANGE_CLIENT_SECRET: as.exchangeClient.clientSecret };
    const args = ['openapi', SPEC, '--name', 'pets', '--base-url', api.url, '--validate', 'off', '--port', String(port), '--token-exchange', 'oauth'];
    const exchange = ['--token-exchange-url', `${as.issuer}/exchange`, '--token-exchange-client-id', as.exchangeClient.clientId, '--token-exchange-audience', API_AUDIENCE];

    // Without the secret it does not start, and says what is missing.
    const refused = spawnSync(process.execPath, [CLI, ...args, ...exchange], { encoding: 'utf8', env: { ...process.env, HTTMCP_OAUTH_ISSUER: as.issuer, HTTMCP_LOG_LEVEL: 'warn' } });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('--token-exchange oauth needs HTTMCP_TOKEN_EXCHANGE_CLIENT_SECRET');

    const cli = await startCli(args.concat(exchange), env);
    try {
      const served = cli.info.servers.pets as string;
      const token = await as.token({ sub: 'cli-user', aud: served, scope: 'pets:read' });
      const client = new Client({ name: 'exchange-cli', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(served), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
      await client.callTool({ name: 'listPets', arguments: {} });
      const sent = lastApiToken();
      expect(sent.raw).not.toBe(token);
      expect(sent.claims).toMatchObject({ sub: 'cli-user', aud: API_AUDIENCE, act: { sub: as.exchangeClient.clientId } });
      await client.close();
      expect(cli.stderr()).not.toContain(as.exchangeClient.clientSecret);
    } finally {
      cli.child.kill('SIGTERM');
      await new Promise((r) => (cli.child.exitCode !== null ? r(null) : cli.child.once('exit', r)));
    }
  }, 60_000);
});
