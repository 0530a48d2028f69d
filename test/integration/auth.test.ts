import { jest } from '@jest/globals';
import { readdirSync, readFileSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client as ClientV2, StreamableHTTPClientTransport as StreamableHTTPClientTransportV2 } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { pino } from 'pino';
import WebSocket from 'ws';
import { bearerOfAuthInfo } from '../../src/auth/auth-info.js';
import { HTTMCP, type Principal, type Stack } from '../../src/index.js';
import { freePort } from '../../src/stack/stack.js';
import { MemoryOAuthProvider, TestAuthorizationServer } from '../helpers/oauth.js';
import { STREAMABLE_ACCEPT, INITIALIZE_PARAMS, postInSession } from '../helpers/raw-clients.js';
import { startTestStack } from '../helpers/stack.js';

/** A server whose tools tell who called them, and count the calls that reached them. */
function probeServer(calls: Array<Principal | undefined>): HTTMCP {
  return new HTTMCP({ name: 'probe', version: '1.0.0' })
    .tool('whoami', { description: 'who is calling' }, (_args, ctx) => {
      calls.push(ctx.auth);
      // heldToken: whether the backend got the client's token at all (only a server that
      // exchanges it does; nginx drops it for every other).
      return { subject: ctx.auth?.subject ?? null, scopes: ctx.auth?.scopes ?? null, sawToken: JSON.stringify(ctx.headers).includes('Bearer'), heldToken: bearerOfAuthInfo(ctx.extra.http?.authInfo) !== undefined };
    })
    .tool('purge', { description: 'admins only', scopes: ['admin'] }, (_args, ctx) => {
      calls.push(ctx.auth);
      return 'purged';
    })
    .resource('readme', 'docs://readme', { mimeType: 'text/plain' }, (_vars, ctx) => {
      calls.push(ctx.auth);
      return 'read me';
    })
    .resource('plans', 'secret://plans', { mimeType: 'text/plain', scopes: ['admin'] }, (_vars, ctx) => {
      calls.push(ctx.auth);
      return 'the plans';
    })
    .resource('report', 'reports://{id}', { mimeType: 'text/plain', scopes: ['admin'] }, (vars, ctx) => {
      calls.push(ctx.auth);
      return `report ${String(vars.id)}`;
    })
    .prompt('greet', { description: 'for everyone' }, (_args, ctx) => {
      calls.push(ctx.auth);
      return 'hello';
    })
    .prompt('audit', { description: 'admins only', scopes: ['admin'] }, (_args, ctx) => {
      calls.push(ctx.auth);
      return 'audit everything';
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
  /** The backend's log lines (debug and up), to check that no credential is ever logged. */
  const logLines: string[] = [];
  const logSink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });

  beforeAll(async () => {
    as = await TestAuthorizationServer.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    stack = await startTestStack({
      port,
      servers: [probeServer(calls)],
      auth: { publicUrl: base, jwt: { issuers: [as.issuer] }, introspection: { issuer: as.issuer, ...as.resourceServer } },
      logger: pino({ level: 'debug' }, logSink),
    });
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

  test('a URL that names no server is refused like any other, not a 500', async () => {
    for (const path of ['/mcp/nope', '/mcp/', '/mcp/nope/abc']) {
      expect((await fetch(`${base}${path}`, { method: 'POST', body: '{}' })).status).toBe(401);
    }
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

  test.each(['streamable', 'sse', 'websocket'] as const)('%s: a valid token reaches the handler as ctx.auth, never the token; the token stops at the edge', async (kind) => {
    const token = await as.token({ sub: `user-${kind}`, aud: probe(), scope: 'tools.call' });
    const client = new Client({ name: 'auth-test', version: '1.0.0' });
    await client.connect(transportWith(kind, probe(), `Bearer ${token}`));
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(JSON.parse((result.content as Array<{ text: string }>)[0]!.text)).toEqual({ subject: `user-${kind}`, scopes: ['tools.call'], sawToken: false, heldToken: false });
    expect(calls.at(-1)).toMatchObject({ issuer: as.issuer, subject: `user-${kind}` });
    await client.close();
  });

  test('2026-07-28 (the v2 client pinned, no session): a valid token reaches the handler as ctx.auth, never the token', async () => {
    const token = await as.token({ sub: 'user-2026', aud: probe(), scope: 'tools.call' });
    const client = new ClientV2({ name: 'auth-test-2026', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new StreamableHTTPClientTransportV2(new URL(probe()), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    try {
      expect(client.getProtocolEra()).toBe('modern');
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      expect(JSON.parse((result.content as Array<{ text: string }>)[0]!.text)).toEqual({ subject: 'user-2026', scopes: ['tools.call'], sawToken: false, heldToken: false });
      expect(calls.at(-1)).toMatchObject({ issuer: as.issuer, subject: 'user-2026' });
    } finally {
      await client.close();
    }
  });

  test("the official SDK client's OAuth flow: discovery from the 401, registration, PKCE, token with the server as resource, retry", async () => {
    const provider = new MemoryOAuthProvider();
    as.subject = 'carol';
    const registered = as.clients.size;
    const first = new Client({ name: 'oauth-flow', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(probe()), { authProvider: provider });
    await expect(first.connect(transport)).rejects.toThrow(UnauthorizedError);
    expect(as.clients.size).toBe(registered + 1);
    const authorization = provider.authorizationUrls[0]!;
    expect(authorization.searchParams.get('resource')).toBe(probe());
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(provider.code).toBeDefined();
    await transport.finishAuth(provider.code!);
    expect(provider.tokens()?.access_token).toBeDefined();

    const client = new Client({ name: 'oauth-flow', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(probe()), { authProvider: provider }));
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(JSON.parse((result.content as Array<{ text: string }>)[0]!.text)).toMatchObject({ subject: 'carol' });
    await client.close();
  });

  /** A Streamable HTTP initialize with `authorization`, as raw HTTP. */
  const initialize = (headers: Record<string, string>) =>
    fetch(probe(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: STREAMABLE_ACCEPT, ...headers },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INITIALIZE_PARAMS }),
    });
  const callWhoami = (session: string, authorization: string) =>
    postInSession(probe(), session, { id: 2, method: 'tools/call', params: { name: 'whoami', arguments: {} } }, { authorization });

  const attacks: Array<[string, () => Promise<string>]> = [
    ['an expired token', () => as.token({ sub: 'mallory', aud: probe(), expiresIn: -120 })],
    ['a token for another audience', () => as.token({ sub: 'mallory', aud: `${base}/mcp/other` })],
    ['a token not valid yet (nbf past the clock leeway)', () => as.token({ sub: 'mallory', aud: probe(), nbf: Math.floor(Date.now() / 1000) + 600 })],
    ['an opaque token the authorization server says is not active', async () => 'opaque-token-nobody-issued-0123456789'],
    ['a forged signature', () => as.forgedToken({ sub: 'mallory', aud: probe() })],
    ['alg none', async () => as.unsignedToken({ sub: 'mallory', aud: probe() })],
    ['an issuer not on the list', async () => {
      const rogue = await TestAuthorizationServer.start();
      try {
        return await rogue.token({ sub: 'mallory', aud: probe() });
      } finally {
        await rogue.stop();
      }
    }],
  ];
  test.each(attacks)('%s is refused with 401 at the edge, and no handler runs', async (_name, make) => {
    const token = await make();
    const before = calls.length;
    const response = await initialize({ authorization: `Bearer ${token}` });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp\/probe"$/);
    // The same token on a WebSocket handshake is refused too.
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(probe().replace(/^http/, 'ws'), 'mcp', { headers: { authorization: `Bearer ${token}` } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(refused).toBe(401);
    expect(calls.length).toBe(before);
  });

  test.each(['streamable', 'websocket'] as const)('%s: an opaque token is introspected (RFC 7662) once, then every request uses the cached verdict', async (kind) => {
    const token = as.opaqueToken({ sub: `opaque-${kind}`, aud: probe(), scope: 'tools.call' });
    const before = as.introspections;
    const client = new Client({ name: 'opaque', version: '1.0.0' });
    await client.connect(transportWith(kind, probe(), `Bearer ${token}`));
    for (let i = 0; i < 3; i++) {
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      expect(JSON.parse((result.content as Array<{ text: string }>)[0]!.text)).toMatchObject({ subject: `opaque-${kind}`, sawToken: false });
    }
    expect(as.introspections - before).toBe(1);
    await client.close();
  });

  test('an Authorization header larger than nginx takes is refused before any check', async () => {
    const response = await initialize({ authorization: `Bearer ${'a'.repeat(20_000)}` });
    expect([400, 431, 494]).toContain(response.status);
  });

  test("another user's session id is refused with a valid token; a refreshed token keeps its session", async () => {
    const alice = await as.token({ sub: 'alice', aud: probe() });
    const opened = await initialize({ authorization: `Bearer ${alice}` });
    const session = opened.headers.get('mcp-session-id')!;
    expect(session).toBeTruthy();
    const before = calls.length;

    const bob = await as.token({ sub: 'bob', aud: probe() });
    expect((await callWhoami(session, `Bearer ${bob}`)).status).toBe(404);
    // Legacy SSE's message URL with bob's token: refused by the backend, nothing published.
    const legacy = await fetch(`${probe()}/${session}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bob}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
    });
    expect(legacy.status).toBe(403);
    expect(calls.length).toBe(before);

    const refreshed = await as.token({ sub: 'alice', aud: probe(), expiresIn: 900 });
    expect(refreshed).not.toBe(alice);
    const call = await callWhoami(session, `Bearer ${refreshed}`);
    expect(call.status).toBe(200);
    expect(calls.length).toBe(before + 1);
    expect(calls.at(-1)?.subject).toBe('alice');
  });

  test('a client cannot claim a principal: its X-Httmcp-Principal header never reaches the backend', async () => {
    const forged = Buffer.from(JSON.stringify({ iss: as.issuer, sub: 'admin', scp: ['all'] })).toString('base64url');
    expect((await initialize({ 'x-httmcp-principal': forged })).status).toBe(401);
    const token = await as.token({ sub: 'dave', aud: probe() });
    const opened = await initialize({ authorization: `Bearer ${token}`, 'x-httmcp-principal': forged });
    const session = opened.headers.get('mcp-session-id')!;
    const call = await postInSession(probe(), session, { id: 2, method: 'tools/call', params: { name: 'whoami', arguments: {} } }, { authorization: `Bearer ${token}`, 'x-httmcp-principal': forged });
    expect(call.status).toBe(200);
    expect(calls.at(-1)?.subject).toBe('dave');
  });

  test('a WebSocket whose token expires is closed at its next message, which no handler sees', async () => {
    const token = await as.token({ sub: 'erin', aud: probe(), expiresIn: 2 });
    const client = new Client({ name: 'expiring', version: '1.0.0' });
    const transport = transportWith('websocket', probe(), `Bearer ${token}`);
    await client.connect(transport);
    await client.callTool({ name: 'whoami', arguments: {} });
    const closed = new Promise<void>((resolve) => (client.onclose = resolve));
    await new Promise((r) => setTimeout(r, 2500));
    const before = calls.length;
    await expect(client.callTool({ name: 'whoami', arguments: {} }, undefined, { timeout: 5000 })).rejects.toThrow();
    await closed;
    expect(calls.length).toBe(before);
  });

  test('nginx reuses a verdict: many requests with one token are checked once by the backend', async () => {
    const check = jest.spyOn(stack.gateway.auth!, 'check');
    try {
      const token = await as.token({ sub: 'frank', aud: probe() });
      const opened = await initialize({ authorization: `Bearer ${token}` });
      const session = opened.headers.get('mcp-session-id')!;
      for (let i = 0; i < 20; i++) expect((await callWhoami(session, `Bearer ${token}`)).status).toBe(200);
      expect(check.mock.calls.length).toBe(1);
      // What nginx parses again on every hit: the principal, its key, the lifetime and the length,
      // and none of Node's Date / Connection / Keep-Alive lines.
      const cached = (readdirSync(join(stack.prefix, 'tmp/auth'), { recursive: true, withFileTypes: true }) as Dirent[])
        .filter((entry) => entry.isFile())
        .map((entry) => readFileSync(join(entry.parentPath ?? entry.path, entry.name), 'latin1'))
        .filter((file) => file.includes(token));
      expect(cached).toHaveLength(1);
      const head = cached[0]!.slice(cached[0]!.indexOf('\nHTTP/1.1 ') + 1).split('\r\n\r\n')[0]!.split('\r\n');
      expect(head[0]).toBe('HTTP/1.1 200 OK');
      expect(head.slice(1).map((line) => line.slice(0, line.indexOf(':')).toLowerCase())).toEqual(['x-httmcp-principal', 'x-httmcp-principal-key', 'cache-control', 'content-length']);
      // No token at all: one cached refusal serves every anonymous request for a few seconds.
      check.mockClear();
      for (let i = 0; i < 10; i++) expect((await initialize({})).status).toBe(401);
      expect(check.mock.calls.length).toBeLessThanOrEqual(1);
    } finally {
      check.mockRestore();
    }
  });

  describe('per-tool scopes', () => {
    /** An SDK client of `kind` on the probe, with a token of gina's granting `scope`. */
    async function scopedClient(kind: 'websocket' | 'sse' | 'streamable', scope: string): Promise<Client> {
      const token = await as.token({ sub: 'gina', aud: probe(), scope });
      const client = new Client({ name: 'scopes', version: '1.0.0' });
      await client.connect(transportWith(kind, probe(), `Bearer ${token}`));
      return client;
    }

    test.each(['streamable', 'sse', 'websocket'] as const)('%s: tools/list shows a principal only the tools its scopes allow', async (kind) => {
      for (const [scope, expected] of [['tools.call', ['whoami']], ['tools.call admin', ['whoami', 'purge']]] as const) {
        const client = await scopedClient(kind, scope);
        expect((await client.listTools()).tools.map((t) => t.name)).toEqual(expected);
        await client.close();
      }
    });

    test('streamable: calling a tool without its scope is HTTP 403 insufficient_scope with the scopes to ask for; no handler runs', async () => {
      const token = await as.token({ sub: 'gina', aud: probe(), scope: 'tools.call' });
      const session = (await initialize({ authorization: `Bearer ${token}` })).headers.get('mcp-session-id')!;
      const before = calls.length;
      const response = await postInSession(probe(), session, { id: 9, method: 'tools/call', params: { name: 'purge', arguments: {} } }, { authorization: `Bearer ${token}` });
      expect(response.status).toBe(403);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope", scope="tools.call admin", resource_metadata="[^"]+\/mcp\/probe"/);
      expect(calls.length).toBe(before);
    });

    test.each(['sse', 'websocket'] as const)('%s: calling a tool without its scope is a JSON-RPC error, the session goes on, no handler runs', async (kind) => {
      const client = await scopedClient(kind, 'tools.call');
      const before = calls.length;
      await expect(client.callTool({ name: 'purge', arguments: {} })).rejects.toThrow(/insufficient_scope/);
      expect(calls.length).toBe(before);
      await client.callTool({ name: 'whoami', arguments: {} });
      expect(calls.length).toBe(before + 1);
      await client.close();
    });

    test.each(['streamable', 'sse', 'websocket'] as const)('%s: resources, templates and prompts are listed by scope too', async (kind) => {
      for (const [scope, resources, templates, prompts] of [
        ['tools.call', ['docs://readme'], [], ['greet']],
        ['tools.call admin', ['docs://readme', 'secret://plans'], ['reports://{id}'], ['greet', 'audit']],
      ] as const) {
        const client = await scopedClient(kind, scope);
        expect((await client.listResources()).resources.map((r) => r.uri)).toEqual(resources);
        expect((await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toEqual(templates);
        expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(prompts);
        await client.close();
      }
    });

    test('streamable: reading a resource or getting a prompt without its scope is HTTP 403 insufficient_scope; no handler runs', async () => {
      const token = await as.token({ sub: 'gina', aud: probe(), scope: 'tools.call' });
      const session = (await initialize({ authorization: `Bearer ${token}` })).headers.get('mcp-session-id')!;
      const before = calls.length;
      for (const [method, params] of [
        ['resources/read', { uri: 'secret://plans' }],
        ['resources/read', { uri: 'reports://7' }],
        ['resources/subscribe', { uri: 'reports://7' }],
        ['prompts/get', { name: 'audit' }],
      ] as const) {
        const response = await postInSession(probe(), session, { id: 9, method, params }, { authorization: `Bearer ${token}` });
        expect([method, response.status]).toEqual([method, 403]);
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope", scope="tools.call admin", /);
        expect(await response.json()).toMatchObject({ error: { message: expect.stringContaining('insufficient_scope') as string } });
      }
      expect(calls.length).toBe(before);
    });

    test.each(['sse', 'websocket'] as const)('%s: reading a resource or getting a prompt without its scope is a JSON-RPC error; the others work', async (kind) => {
      const client = await scopedClient(kind, 'tools.call');
      const before = calls.length;
      await expect(client.readResource({ uri: 'secret://plans' })).rejects.toThrow(/insufficient_scope/);
      await expect(client.readResource({ uri: 'reports://7' })).rejects.toThrow(/insufficient_scope/);
      await expect(client.getPrompt({ name: 'audit' })).rejects.toThrow(/insufficient_scope/);
      expect(calls.length).toBe(before);
      expect((await client.readResource({ uri: 'docs://readme' })).contents).toMatchObject([{ text: 'read me' }]);
      expect((await client.getPrompt({ name: 'greet' })).messages).toHaveLength(1);
      expect(calls.length).toBe(before + 2);
      await client.close();
    });

    test("the SDK client steps up: a 403 insufficient_scope makes it ask for the scope, then the call succeeds", async () => {
      const provider = new MemoryOAuthProvider(false);
      const url = new URL(probe());
      const transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
      await expect(new Client({ name: 'step-up', version: '1.0.0' }).connect(transport)).rejects.toThrow(UnauthorizedError);
      await transport.finishAuth(provider.code!);
      const client = new Client({ name: 'step-up', version: '1.0.0' });
      const authorized = new StreamableHTTPClientTransport(url, { authProvider: provider });
      await client.connect(authorized);
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['whoami']);
      await expect(client.callTool({ name: 'purge', arguments: {} })).rejects.toThrow(UnauthorizedError);
      const asked = provider.authorizationUrls.at(-1)!;
      expect(asked.searchParams.get('scope')).toContain('admin');
      await authorized.finishAuth(provider.code!);
      expect(await client.callTool({ name: 'purge', arguments: {} })).toMatchObject({ content: [{ type: 'text', text: 'purged' }] });
      await client.close();
    });
  });

  test('a scope downgrade mid-session: the same user\'s new token with fewer scopes keeps the session but loses the tool at once; no handler runs', async () => {
    const full = await as.token({ sub: 'hank', aud: probe(), scope: 'tools.call admin' });
    const session = (await initialize({ authorization: `Bearer ${full}` })).headers.get('mcp-session-id')!;
    const call = (authorization: string, name: string, id: number) =>
      postInSession(probe(), session, { id, method: 'tools/call', params: { name, arguments: {} } }, { authorization });
    expect((await call(`Bearer ${full}`, 'purge', 1)).status).toBe(200);
    const before = calls.length;
    const reduced = await as.token({ sub: 'hank', aud: probe(), scope: 'tools.call', expiresIn: 600 });
    const refused = await call(`Bearer ${reduced}`, 'purge', 2);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(calls.length).toBe(before);
    // Same session, the tools it may still call work, and the list no longer shows the other.
    expect((await call(`Bearer ${reduced}`, 'whoami', 3)).status).toBe(200);
    const listed = await postInSession(probe(), session, { id: 4, method: 'tools/list' }, { authorization: `Bearer ${reduced}` });
    expect(((await listed.json()) as { result: { tools: Array<{ name: string }> } }).result.tools.map((t) => t.name)).toEqual(['whoami']);
    // The old token, still valid, still has its scopes: each request carries its own verdict.
    expect((await call(`Bearer ${full}`, 'purge', 5)).status).toBe(200);
  });

  test('refusals are logged with their reason, and no token is ever in the backend or nginx logs', () => {
    const backendLog = logLines.join('');
    expect(backendLog).toContain('token expired');
    expect(backendLog).toContain('signature verification failed');
    expect(backendLog).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect(readFileSync(stack.errorLog, 'utf8')).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });
});
