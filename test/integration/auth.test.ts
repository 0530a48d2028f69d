import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import WebSocket from 'ws';
import { HTTMCP, type Principal, type Stack } from '../../src/index.js';
import { freePort } from '../../src/stack/stack.js';
import { TestAuthorizationServer } from '../helpers/oauth.js';
import { STREAMABLE_ACCEPT, INITIALIZE_PARAMS } from '../helpers/raw-clients.js';
import { startTestStack } from '../helpers/stack.js';

/** A server whose one tool tells who called it, and counts the calls that reached it. */
function probeServer(calls: Array<Principal | undefined>): HTTMCP {
  return new HTTMCP({ name: 'probe', version: '1.0.0' }).tool('whoami', { description: 'who is calling' }, (_args, ctx) => {
    calls.push(ctx.auth);
    return { subject: ctx.auth?.subject ?? null, scopes: ctx.auth?.scopes ?? null, sawToken: JSON.stringify(ctx.headers).includes('Bearer') };
  });
}

/** Node's `ws` with an Authorization header on the handshake, in the shape the SDK transport constructs. */
function webSocketWith(authorization: string): typeof WebSocket {
  return class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers: { authorization } });
    }
  } as unknown as typeof WebSocket;
}

function transportWith(kind: 'websocket' | 'sse' | 'streamable', url: string, authorization: string): Transport {
  const headers = { authorization };
  switch (kind) {
    case 'streamable':
      return new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
    case 'sse':
      return new SSEClientTransport(new URL(url), {
        requestInit: { headers },
        eventSourceInit: {
          fetch: (input, init) => {
            const withAuth = new Headers(init?.headers);
            withAuth.set('authorization', authorization);
            return fetch(input, { ...init, headers: withAuth });
          },
        },
      });
    case 'websocket':
      (globalThis as { WebSocket?: unknown }).WebSocket = webSocketWith(authorization);
      return new WebSocketClientTransport(new URL(url.replace(/^http/, 'ws')));
  }
}

describe('OAuth resource server at the edge', () => {
  let as: TestAuthorizationServer;
  let stack: Stack;
  let base: string;
  const calls: Array<Principal | undefined> = [];
  const probe = () => `${base}/mcp/probe`;

  beforeAll(async () => {
    as = await TestAuthorizationServer.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    stack = await startTestStack({ port, servers: [probeServer(calls)], auth: { publicUrl: base, jwt: { issuers: [as.issuer] } } });
  });
  afterAll(async () => {
    await stack?.stop();
    await as?.stop();
  });

  test('Protected Resource Metadata is served through the edge, per server and at the root', async () => {
    const perServer = await fetch(`${base}/.well-known/oauth-protected-resource/mcp/probe`);
    expect(perServer.status).toBe(200);
    expect(await perServer.json()).toMatchObject({ resource: probe(), authorization_servers: [as.issuer] });
    const root = await fetch(`${base}/.well-known/oauth-protected-resource`);
    expect(await root.json()).toMatchObject({ resource: base, authorization_servers: [as.issuer] });
    expect((await fetch(`${base}/.well-known/oauth-protected-resource/mcp/nope`)).status).toBe(404);
  });

  test('a request without a token gets 401 naming the metadata', async () => {
    const response = await fetch(probe(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: STREAMABLE_ACCEPT },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INITIALIZE_PARAMS }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp/probe"`);
  });

  test.each(['streamable', 'sse', 'websocket'] as const)('%s: a valid token reaches the handler as ctx.auth, never the token', async (kind) => {
    const token = await as.token({ sub: `user-${kind}`, aud: probe(), scope: 'tools.call' });
    const client = new Client({ name: 'auth-test', version: '1.0.0' });
    await client.connect(transportWith(kind, probe(), `Bearer ${token}`));
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(JSON.parse((result.content as Array<{ text: string }>)[0]!.text)).toEqual({ subject: `user-${kind}`, scopes: ['tools.call'], sawToken: false });
    expect(calls.at(-1)).toMatchObject({ issuer: as.issuer, subject: `user-${kind}` });
    await client.close();
  });

  test('the token is never in the backend or nginx logs', () => {
    expect(readFileSync(stack.errorLog, 'utf8')).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });
});
