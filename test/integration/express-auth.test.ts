import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import express from 'express';
import WebSocket from 'ws';
import { freePort, HTTMCP, type Principal, type Stack } from '../../src/index.js';
import { MemoryOAuthProvider, TestAuthorizationServer } from '../helpers/oauth.js';
import { INITIALIZE_PARAMS, postInSession, STREAMABLE_ACCEPT } from '../helpers/raw-clients.js';
import { startTestStack, workerCrashes } from '../helpers/stack.js';

const SECRET = 'express-auth-secret-0123456789abcdef';

/** A server whose tools say who called them; `purge` needs the `admin` scope. */
function probeServer(name: string, calls: Array<Principal | undefined>): HTTMCP {
  return new HTTMCP({ name, version: '1.0.0' })
    .tool('whoami', { description: 'who is calling' }, (_args, ctx) => {
      calls.push(ctx.auth);
      return { subject: ctx.auth?.subject ?? null, scopes: ctx.auth?.scopes ?? null };
    })
    .tool('purge', { description: 'admins only', scopes: ['admin'] }, (_args, ctx) => {
      calls.push(ctx.auth);
      return 'purged';
    });
}

/**
 * A user's own Express app with two servers' routers, configured from the environment as
 * docs/auth.md shows, behind the project's nginx+nchan with JWT auth on: nginx's auth_request
 * verdicts and the Protected Resource Metadata come from the app's routers, not from node:http.
 */
describe('OAuth resource server on an Express app (app.use(server.router))', () => {
  let as: TestAuthorizationServer;
  let stack: Stack;
  let app: Server;
  let base: string;
  let servers: HTTMCP[];
  const calls: Array<Principal | undefined> = [];
  const probe = () => `${base}/mcp/probe`;
  const env = { ...process.env };

  beforeAll(async () => {
    as = await TestAuthorizationServer.start();
    const [port, appPort] = [await freePort(), await freePort()];
    base = `http://127.0.0.1:${port}`;
    // The edge: nginx with auth_request on, its upstream the app's port.
    stack = await startTestStack({
      port,
      servers: [],
      backends: [`127.0.0.1:${appPort}`],
      gateway: { sessionSecret: SECRET },
      auth: { publicUrl: base, jwt: { issuers: [as.issuer] }, requiredScopes: ['tools.call'] },
    });
    process.env.HTTMCP_PUBLISH_URL = stack.publishUrl;
    process.env.HTTMCP_SESSION_SECRET = SECRET;
    process.env.HTTMCP_OAUTH_ISSUER = as.issuer;
    process.env.HTTMCP_OAUTH_SCOPES = 'tools.call';
    process.env.HTTMCP_PUBLIC_URL = base;
    process.env.HTTMCP_LOG_LEVEL = process.env.HTTMCP_TEST_LOG ?? 'silent';
    servers = [probeServer('probe', calls), probeServer('second', calls)];
    const userApp = express();
    userApp.use(express.json());
    for (const server of servers) userApp.use(server.router);
    app = await new Promise<Server>((resolve) => {
      const server = userApp.listen(appPort, '127.0.0.1', () => resolve(server));
    });
    expect((app.address() as AddressInfo).port).toBe(appPort);
  });

  afterAll(async () => {
    app?.closeAllConnections();
    await new Promise((r) => app?.close(r));
    for (const server of servers ?? []) await server.unmount();
    await stack?.stop();
    await as?.stop();
    process.env = env;
  });

  const initialize = (headers: Record<string, string> = {}, url = probe()) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: STREAMABLE_ACCEPT, ...headers },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INITIALIZE_PARAMS }),
    });

  test('a request without a token gets 401 naming the metadata, whose document names the issuer', async () => {
    const refused = await initialize();
    expect(refused.status).toBe(401);
    const challenge = refused.headers.get('www-authenticate')!;
    expect(challenge).toBe(`Bearer scope="tools.call", resource_metadata="${base}/.well-known/oauth-protected-resource/mcp/probe"`);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)![1]!;
    const metadata = await fetch(metadataUrl);
    expect(metadata.status).toBe(200);
    expect(await metadata.json()).toMatchObject({ resource: probe(), authorization_servers: [as.issuer], scopes_supported: ['tools.call'] });
    // The root form, the second server's (answered by the first server's router), and a name no router serves.
    expect(await (await fetch(`${base}/.well-known/oauth-protected-resource`)).json()).toMatchObject({ resource: base, authorization_servers: [as.issuer] });
    expect(await (await fetch(`${base}/.well-known/oauth-protected-resource/mcp/second`)).json()).toMatchObject({ resource: `${base}/mcp/second` });
    expect((await fetch(`${base}/.well-known/oauth-protected-resource/mcp/nope`)).status).toBe(404);
  });

  test('a URL that names no server is refused with 401, not a 500', async () => {
    for (const path of ['/mcp/nope', '/mcp/nope/abc/message']) {
      expect((await fetch(`${base}${path}`, { method: 'POST', body: '{}' })).status).toBe(401);
    }
  });

  test('a valid token: tool calls work on Streamable HTTP and WebSocket, and ctx.auth carries the principal', async () => {
    // A client that registered by a Client ID Metadata Document: its client_id is the document's URL.
    const clientId = 'https://app.example.com/oauth/client-metadata.json';
    const token = await as.token({ sub: 'alice', aud: probe(), scope: 'tools.call', client_id: clientId });
    const http = new Client({ name: 'express-auth', version: '1.0.0' });
    await http.connect(new StreamableHTTPClientTransport(new URL(probe()), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    const result = await http.callTool({ name: 'whoami', arguments: {} });
    expect(JSON.parse((result.content as Array<{ text: string }>)[0]!.text)).toEqual({ subject: 'alice', scopes: ['tools.call'] });
    expect(calls.at(-1)).toMatchObject({ issuer: as.issuer, subject: 'alice', clientId, scopes: ['tools.call'] });
    await http.close();

    const wsToken = await as.token({ sub: 'bob', aud: `${base}/mcp/second`, scope: 'tools.call' });
    (globalThis as { WebSocket?: unknown }).WebSocket = class extends WebSocket {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols, { headers: { authorization: `Bearer ${wsToken}` } });
      }
    };
    const ws = new Client({ name: 'express-auth-ws', version: '1.0.0' });
    await ws.connect(new WebSocketClientTransport(new URL(`${base.replace(/^http/, 'ws')}/mcp/second`)));
    const wsResult = await ws.callTool({ name: 'whoami', arguments: {} });
    expect(JSON.parse((wsResult.content as Array<{ text: string }>)[0]!.text)).toEqual({ subject: 'bob', scopes: ['tools.call'] });
    await ws.close();
  });

  test("the official SDK client's OAuth flow completes against the Express app: discovery from the 401, registration, PKCE, token, retry", async () => {
    const provider = new MemoryOAuthProvider();
    as.subject = 'carol';
    const first = new Client({ name: 'oauth-flow', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(probe()), { authProvider: provider });
    await expect(first.connect(transport)).rejects.toThrow(UnauthorizedError);
    // The resource and the scope came from the app's 401 and metadata, through nginx.
    expect(provider.authorizationUrls[0]!.searchParams.get('resource')).toBe(probe());
    expect(provider.authorizationUrls[0]!.searchParams.get('scope')).toBe('tools.call');
    await transport.finishAuth(provider.code!);
    const client = new Client({ name: 'oauth-flow', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(probe()), { authProvider: provider }));
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(JSON.parse((result.content as Array<{ text: string }>)[0]!.text)).toMatchObject({ subject: 'carol' });
    await client.close();
  });

  test('a token for another audience (the other server on the same app) is 401; nothing runs', async () => {
    const before = calls.length;
    const token = await as.token({ sub: 'mallory', aud: `${base}/mcp/second`, scope: 'tools.call' });
    const refused = await initialize({ authorization: `Bearer ${token}` });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token".*resource_metadata="[^"]+\/mcp\/probe"/);
    expect(calls.length).toBe(before);
  });

  test('a token without the scope every request needs is 403 insufficient_scope at the edge', async () => {
    const token = await as.token({ sub: 'dave', aud: probe(), scope: 'profile' });
    const refused = await initialize({ authorization: `Bearer ${token}` });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope", scope="tools.call"/);
  });

  test("a tool's own scope missing is 403 insufficient_scope from the app's endpoint; no handler runs", async () => {
    const token = await as.token({ sub: 'gina', aud: probe(), scope: 'tools.call' });
    const session = (await initialize({ authorization: `Bearer ${token}` })).headers.get('mcp-session-id')!;
    const before = calls.length;
    const response = await postInSession(probe(), session, { id: 9, method: 'tools/call', params: { name: 'purge', arguments: {} } }, { authorization: `Bearer ${token}` });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope", scope="tools.call admin", resource_metadata="[^"]+\/mcp\/probe"/);
    expect(calls.length).toBe(before);
  });

  test('the app answers auth routes to nginx only, and a request past the edge without a principal is 401', async () => {
    const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    const token = await as.token({ sub: 'mallory', aud: probe(), scope: 'tools.call' });
    // A forged verdict request around the edge, and the metadata fetched there: no backend key.
    const verdict = await fetch(`${appUrl}/_httmcp/auth`, { headers: { 'x-httmcp-auth-server': 'probe', authorization: `Bearer ${token}` } });
    expect(verdict.status).toBe(403);
    expect(verdict.headers.get('x-httmcp-principal')).toBeNull();
    expect((await fetch(`${appUrl}/.well-known/oauth-protected-resource/mcp/probe`)).status).toBe(403);
    // With the key but without the principal nginx sets (as if the edge's check were off): refused by the endpoint itself.
    const { deriveBackendKey } = await import('../../src/http/backend-guard.js');
    const key = deriveBackendKey(SECRET);
    const bare = await fetch(`${appUrl}/mcp/probe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: STREAMABLE_ACCEPT, 'x-httmcp-backend-key': key },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INITIALIZE_PARAMS }),
    });
    expect(bare.status).toBe(401);
    // The verdict route's path form, which it accepts as well as the header.
    const pathForm = await fetch(`${appUrl}/_httmcp/auth/second`, { headers: { 'x-httmcp-backend-key': key, authorization: `Bearer ${await as.token({ sub: 'erin', aud: `${base}/mcp/second`, scope: 'tools.call' })}` } });
    expect(pathForm.status).toBe(200);
    expect(pathForm.headers.get('x-httmcp-principal')).not.toBeNull();
    expect(pathForm.headers.get('x-powered-by')).toBeNull();
    expect(workerCrashes(stack)).toEqual([]);
  });
});
