import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import WebSocket from 'ws';
import type { Stack } from '../../src/index.js';
import { freePort } from '../../src/stack/stack.js';
import { HangingIssuer } from '../helpers/oauth.js';
import { INITIALIZE_PARAMS, STREAMABLE_ACCEPT } from '../helpers/raw-clients.js';
import { startTestStack } from '../helpers/stack.js';

/**
 * Issue 12, point 8: an authorization server whose JWKS endpoint stops answering never stalls
 * requests whose verdict nginx has cached, and a token that needs the keys fails within the
 * fetch timeout with a clear 401, on real nginx+nchan.
 */
describe('a JWKS endpoint that hangs', () => {
  const FETCH_TIMEOUT_MS = 4000;
  let issuer: HangingIssuer;
  let stack: Stack;
  let demo: string;

  beforeAll(async () => {
    issuer = await HangingIssuer.start();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    demo = `${base}/mcp/demo`;
    stack = await startTestStack({
      port,
      // No cooldown: a token with a new key makes the verifier fetch the JWKS at once.
      auth: { publicUrl: base, jwt: { issuers: [issuer.url], fetchTimeoutMs: FETCH_TIMEOUT_MS, jwksCooldownMs: 0 } },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await issuer?.stop();
  });

  const post = (authorization: string, body: unknown, session?: string) =>
    fetch(demo, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: STREAMABLE_ACCEPT,
        'mcp-protocol-version': '2025-06-18',
        authorization,
        ...(session ? { 'mcp-session-id': session } : {}),
      },
      body: JSON.stringify(body),
    });
  const add = (authorization: string, session: string, id: number) =>
    post(authorization, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'add', arguments: { a: id, b: 1 } } }, session);
  const openWebSocket = (authorization: string) =>
    new Promise<{ status: number; ws?: WebSocket }>((resolve) => {
      const ws = new WebSocket(demo.replace(/^http/, 'ws'), 'mcp', { headers: { authorization } });
      ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
      ws.on('open', () => resolve({ status: 101, ws }));
    });

  test('cached verdicts are served while a JWKS fetch hangs; a token that needs new keys gets 401 within the fetch timeout', async () => {
    // Before the outage: a client's token is verified once and its verdict cached by nginx.
    const cached = `Bearer ${await issuer.token({ sub: 'alice', aud: demo })}`;
    const client = new Client({ name: 'before-outage', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(demo), { requestInit: { headers: { authorization: cached } } }));
    const opened = await post(cached, { jsonrpc: '2.0', id: 0, method: 'initialize', params: INITIALIZE_PARAMS });
    expect(opened.status).toBe(200);
    const session = opened.headers.get('mcp-session-id')!;

    // The issuer stops answering; it rotates its keys, so a new token needs a JWKS fetch.
    issuer.hang = true;
    await issuer.rotate();
    const fresh = `Bearer ${await issuer.token({ sub: 'bob', aud: demo })}`;
    const fetchesBefore = issuer.jwksFetches;
    const started = Date.now();
    const waiting = post(fresh, { jsonrpc: '2.0', id: 0, method: 'initialize', params: INITIALIZE_PARAMS });
    // The verifier is now waiting on the hanging JWKS endpoint.
    while (issuer.held.size === 0) await new Promise((r) => setTimeout(r, 20));
    expect(issuer.jwksFetches).toBe(fetchesBefore + 1);

    // While it waits, every request with the cached verdict is answered: raw calls, the SDK
    // client's calls, and a new WebSocket (its handshake's verdict is the same cached one).
    for (let id = 1; id <= 20; id++) {
      const response = await add(cached, session, id);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain(String(id + 1));
    }
    for (let i = 0; i < 5; i++) {
      const result = await client.callTool({ name: 'add', arguments: { a: i, b: 2 } });
      expect(result.isError).toBeFalsy();
    }
    const socket = await openWebSocket(cached);
    expect(socket.status).toBe(101);
    socket.ws!.close();
    // All of that happened while the fetch was still outstanding (the verifier closes it when it
    // gives up): nothing waited on it.
    expect(issuer.held.size).toBeGreaterThan(0);

    // The new token fails once the fetch times out, with a reason the client can read.
    const refused = await waiting;
    const waited = Date.now() - started;
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token", error_description="the issuer\'s keys could not be fetched in time"');
    expect(waited).toBeGreaterThanOrEqual(FETCH_TIMEOUT_MS - 100);
    // Within the fetch timeout, give or take this machine's load: not nginx's 60 s read timeout.
    expect(waited).toBeLessThan(FETCH_TIMEOUT_MS + 10_000);

    // A new WebSocket with the new token is refused the same way, and the cached one still works.
    expect((await openWebSocket(fresh)).status).toBe(401);
    expect((await add(cached, session, 100)).status).toBe(200);
    await client.close();

    // The issuer is back: the new token is accepted (its refusal was cached for 5 s at most).
    issuer.hang = false;
    let status = 0;
    for (let attempt = 0; attempt < 40 && status !== 200; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 250));
      status = (await post(fresh, { jsonrpc: '2.0', id: 0, method: 'initialize', params: INITIALIZE_PARAMS })).status;
    }
    expect(status).toBe(200);
  }, 60_000);
});
