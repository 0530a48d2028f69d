import { Authenticator, authFromEnv, decodePrincipal, encodePrincipal, hashApiKey, parseApiKeys, principalKey } from '../../src/auth/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { authInfoOf } from '../../src/auth/auth-info.js';
import { HTTMCP } from '../../src/index.js';
import { TestAuthorizationServer } from '../helpers/oauth.js';

const PUBLIC = 'http://127.0.0.1:8080';
const AUDIENCE = `${PUBLIC}/mcp/demo`;
const METADATA = `${PUBLIC}/.well-known/oauth-protected-resource/mcp/demo`;

describe('Authenticator with JWTs from a real authorization server', () => {
  let as: TestAuthorizationServer;
  let other: TestAuthorizationServer;
  let auth: Authenticator;

  beforeAll(async () => {
    as = await TestAuthorizationServer.start();
    other = await TestAuthorizationServer.start();
    auth = new Authenticator({ publicUrl: PUBLIC, jwt: { issuers: [as.issuer] } });
  });
  afterAll(async () => {
    await as.stop();
    await other.stop();
  });

  test('a valid token gives its principal, and nginx may keep the verdict at most 60 s', async () => {
    const token = await as.token({ sub: 'alice', aud: AUDIENCE, scope: 'tools.read tools.call', client_id: 'c1' });
    const verdict = await auth.check('demo', `Bearer ${token}`);
    expect(verdict).toEqual({
      ok: true,
      principal: { issuer: as.issuer, subject: 'alice', clientId: 'c1', scopes: ['tools.read', 'tools.call'], expiresAt: expect.any(Number) },
      maxAgeSeconds: 60,
    });
  });

  test('the verdict lives no longer than the token', async () => {
    const token = await as.token({ sub: 'alice', aud: AUDIENCE, expiresIn: 5 });
    const verdict = await auth.check('demo', `Bearer ${token}`);
    expect(verdict.ok && verdict.maxAgeSeconds).toBeLessThanOrEqual(5);
  });

  test('no token: 401 naming the Protected Resource Metadata, without an error code', async () => {
    expect(await auth.check('demo', undefined)).toEqual({ ok: false, status: 401, challenge: `Bearer resource_metadata="${METADATA}"`, reason: 'no token' });
  });

  const refusals: Array<[string, (s: TestAuthorizationServer, o: TestAuthorizationServer) => Promise<string> | string, string]> = [
    ['an expired token', (s) => s.token({ sub: 'alice', aud: AUDIENCE, expiresIn: -120 }), 'token expired'],
    ['a token for another audience', (s) => s.token({ sub: 'alice', aud: `${PUBLIC}/mcp/notes` }), 'token is for another audience'],
    ['a token without audience', (s) => s.token({ sub: 'alice' }), 'token is for another audience'],
    ['a forged signature', (s) => s.forgedToken({ sub: 'alice', aud: AUDIENCE }), 'signature verification failed'],
    ['alg none', (s) => s.unsignedToken({ sub: 'alice', aud: AUDIENCE }), 'algorithm none is not accepted'],
    ['an issuer not on the list', (_s, o) => o.token({ sub: 'alice', aud: AUDIENCE }), 'issuer is not trusted'],
    ['garbage', () => 'abc.def.ghi', 'malformed token'],
  ];
  test.each(refusals)('%s is refused with 401 invalid_token', async (_name, make, reason) => {
    const token = await make(as, other);
    const verdict = await auth.check('demo', `Bearer ${token}`);
    expect(verdict).toMatchObject({ ok: false, status: 401, reason });
    expect(!verdict.ok && verdict.challenge).toBe(`Bearer error="invalid_token", error_description="${reason}", resource_metadata="${METADATA}"`);
    expect(!verdict.ok && verdict.challenge).not.toContain(String(token).slice(0, 20));
  });

  test('a token lacking a required scope gets 403 insufficient_scope with the scopes needed', async () => {
    const scoped = new Authenticator({ publicUrl: PUBLIC, jwt: { issuers: [as.issuer] }, requiredScopes: ['mcp'] });
    const token = await as.token({ sub: 'alice', aud: AUDIENCE, scope: 'other' });
    expect(await scoped.check('demo', `Bearer ${token}`)).toMatchObject({
      ok: false,
      status: 403,
      challenge: `Bearer error="insufficient_scope", scope="mcp", resource_metadata="${METADATA}"`,
    });
    const good = await as.token({ sub: 'alice', aud: AUDIENCE, scope: 'mcp' });
    expect(await scoped.check('demo', `Bearer ${good}`)).toMatchObject({ ok: true });
  });

  test('an oversized or non-bearer Authorization is refused', async () => {
    expect(await auth.check('demo', `Bearer ${'a'.repeat(9000)}`)).toMatchObject({ ok: false, status: 401, reason: 'token too long' });
    expect(await auth.check('demo', 'Basic dXNlcjpwYXNz')).toMatchObject({ ok: false, status: 401, reason: 'not a bearer token' });
  });

  test('Protected Resource Metadata names the resource and the issuer', () => {
    expect(auth.protectedResourceMetadata('demo')).toMatchObject({ resource: AUDIENCE, authorization_servers: [as.issuer], bearer_methods_supported: ['header'] });
    expect(auth.protectedResourceMetadata()).toMatchObject({ resource: PUBLIC, authorization_servers: [as.issuer] });
  });

  test('an issuer whose discovery fails is refused (the discovery is retried on a later request)', async () => {
    const gone = await TestAuthorizationServer.start();
    const verifier = new Authenticator({ publicUrl: PUBLIC, jwt: { issuers: [gone.issuer], fetchTimeoutMs: 500 } });
    const token = await gone.token({ sub: 'alice', aud: AUDIENCE });
    await gone.stop();
    expect(await verifier.check('demo', `Bearer ${token}`)).toMatchObject({ ok: false, status: 401, reason: "the issuer's metadata could not be fetched" });
  });
});

describe('API keys', () => {
  const auth = new Authenticator({ publicUrl: PUBLIC, apiKeys: parseApiKeys(`ci:${hashApiKey('s3cret-key')}:tools.call,bob:${hashApiKey('bobs-key')}`) });

  test('a configured key gives its subject and scopes', async () => {
    expect(await auth.check('demo', 'Bearer s3cret-key')).toMatchObject({ ok: true, principal: { issuer: 'api-key', subject: 'ci', scopes: ['tools.call'] } });
    expect(await auth.check('demo', 'Bearer bobs-key')).toMatchObject({ ok: true, principal: { subject: 'bob', scopes: [] } });
  });

  test('any other key is refused', async () => {
    expect(await auth.check('demo', 'Bearer s3cret-kez')).toMatchObject({ ok: false, status: 401 });
  });

  test('a malformed HTTMCP_API_KEYS does not echo the entry (it may hold a secret)', () => {
    expect(() => parseApiKeys('ci:plaintext-secret')).toThrow(/^(?!.*plaintext-secret)/);
  });
});

describe('Principal on the wire', () => {
  test('round-trips through the trusted header, and binds by issuer and subject only', () => {
    const alice = { issuer: 'https://as', subject: 'alice', clientId: 'c', scopes: ['a', 'b'], expiresAt: 1 };
    expect(decodePrincipal(encodePrincipal(alice))).toEqual(alice);
    expect(principalKey({ ...alice, scopes: [], expiresAt: 99 })).toBe(principalKey(alice));
    expect(principalKey({ ...alice, subject: 'bob' })).not.toBe(principalKey(alice));
    expect(decodePrincipal('not-json')).toBeUndefined();
  });
});

describe('authFromEnv', () => {
  test('off unless an issuer or API keys are set', () => {
    expect(authFromEnv({}, PUBLIC)).toBeUndefined();
    expect(authFromEnv({ HTTMCP_OAUTH_ISSUER: '', HTTMCP_API_KEYS: '' }, PUBLIC)).toBeUndefined();
  });

  test('an issuer with the settings that bound it', () => {
    expect(
      authFromEnv(
        { HTTMCP_OAUTH_ISSUER: 'https://a.example, https://b.example', HTTMCP_OAUTH_SCOPES: 'mcp', HTTMCP_OAUTH_FETCH_TIMEOUT_MS: '2000', HTTMCP_AUTH_VERDICT_MAX_AGE: '30' },
        PUBLIC,
      ),
    ).toEqual({ publicUrl: PUBLIC, jwt: { issuers: ['https://a.example', 'https://b.example'], fetchTimeoutMs: 2000 }, requiredScopes: ['mcp'], verdictMaxAgeSeconds: 30 });
  });

  test('introspection credentials turn on opaque tokens at the first issuer', () => {
    expect(
      authFromEnv({ HTTMCP_OAUTH_ISSUER: 'https://a.example', HTTMCP_OAUTH_INTROSPECTION_CLIENT_ID: 'rs', HTTMCP_OAUTH_INTROSPECTION_CLIENT_SECRET: 's' }, PUBLIC)?.introspection,
    ).toEqual({ issuer: 'https://a.example', clientId: 'rs', clientSecret: 's' });
  });

  test('HTTMCP_PUBLIC_URL wins; without any public URL it says what to set', () => {
    expect(authFromEnv({ HTTMCP_OAUTH_ISSUER: 'https://a.example', HTTMCP_PUBLIC_URL: 'https://mcp.example.com' }, PUBLIC)?.publicUrl).toBe('https://mcp.example.com');
    expect(() => authFromEnv({ HTTMCP_OAUTH_ISSUER: 'https://a.example' })).toThrow(/HTTMCP_PUBLIC_URL/);
    expect(() => authFromEnv({ HTTMCP_OAUTH_ISSUER: 'https://a.example', HTTMCP_OAUTH_CLOCK_TOLERANCE: '-1' }, PUBLIC)).toThrow(/HTTMCP_OAUTH_CLOCK_TOLERANCE/);
  });
});

describe('per-tool scopes on any transport (ScopedTransport)', () => {
  const server = () =>
    new HTTMCP({ name: 'scoped', version: '1.0.0' })
      .tool('open', {}, () => 'open')
      .tool('admin', { scopes: ['admin'] }, () => 'admin');

  /** Sends one request with `authInfo` (what the hub attaches when auth is on) and returns the reply. */
  async function ask(method: string, params: Record<string, unknown>, authInfo?: ReturnType<typeof authInfoOf>): Promise<any> {
    const [client, serverSide] = InMemoryTransport.createLinkedPair();
    await server().connect(serverSide);
    const replies: any[] = [];
    client.onmessage = (m) => replies.push(m);
    await client.start();
    await client.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    await client.send({ jsonrpc: '2.0', id: 2, method, params }, authInfo ? { authInfo } : undefined);
    for (let i = 0; i < 50 && !replies.some((r) => r.id === 2); i++) await new Promise((r) => setTimeout(r, 10));
    await client.close();
    return replies.find((r) => r.id === 2);
  }
  const principal = (scopes: string[]) => authInfoOf({ issuer: 'https://as', subject: 'u', clientId: undefined, scopes, expiresAt: undefined });

  test('without a principal (authentication off) every tool is listed and callable', async () => {
    expect((await ask('tools/list', {})).result.tools.map((t: { name: string }) => t.name)).toEqual(['open', 'admin']);
    expect((await ask('tools/call', { name: 'admin', arguments: {} })).result.content[0].text).toBe('admin');
  });

  test('a principal sees and calls only what its scopes allow', async () => {
    expect((await ask('tools/list', {}, principal([]))).result.tools.map((t: { name: string }) => t.name)).toEqual(['open']);
    expect((await ask('tools/list', {}, principal(['admin']))).result.tools.map((t: { name: string }) => t.name)).toEqual(['open', 'admin']);
    expect((await ask('tools/call', { name: 'admin', arguments: {} }, principal([]))).error).toMatchObject({
      code: -32600,
      data: { error: 'insufficient_scope', scope: 'admin' },
    });
    expect((await ask('tools/call', { name: 'admin', arguments: {} }, principal(['admin']))).result.content[0].text).toBe('admin');
  });
});

describe('opaque tokens by RFC 7662 introspection', () => {
  let as: TestAuthorizationServer;
  let auth: Authenticator;
  beforeAll(async () => {
    as = await TestAuthorizationServer.start();
    auth = new Authenticator({ publicUrl: PUBLIC, introspection: { issuer: as.issuer, ...as.resourceServer } });
  });
  afterAll(async () => {
    await as?.stop();
  });

  test('an active token for this server gives its principal; the answer is cached', async () => {
    const token = as.opaqueToken({ sub: 'olga', aud: AUDIENCE, scope: 'a b', client_id: 'cli' });
    const before = as.introspections;
    for (let i = 0; i < 3; i++) {
      expect(await auth.check('demo', `Bearer ${token}`)).toMatchObject({ ok: true, principal: { issuer: as.issuer, subject: 'olga', clientId: 'cli', scopes: ['a', 'b'] } });
    }
    expect(as.introspections - before).toBe(1);
  });

  test.each([
    ['an unknown (inactive) token', () => 'not-a-known-token', 'token is not active'],
    ['a token for another audience', () => as.opaqueToken({ sub: 'olga', aud: `${PUBLIC}/mcp/notes` }), 'token is for another audience'],
    ['an expired token', () => as.opaqueToken({ sub: 'olga', aud: AUDIENCE, expiresIn: -10 }), 'token expired'],
  ])('%s is refused', async (_name, make, reason) => {
    expect(await auth.check('demo', `Bearer ${make()}`)).toMatchObject({ ok: false, status: 401, reason });
  });

  test('wrong resource-server credentials refuse every token, and say nothing of the secret', async () => {
    const wrong = new Authenticator({ publicUrl: PUBLIC, introspection: { issuer: as.issuer, clientId: 'httmcp-rs', clientSecret: 'nope' } });
    const verdict = await wrong.check('demo', `Bearer ${as.opaqueToken({ sub: 'olga', aud: AUDIENCE })}`);
    expect(verdict).toMatchObject({ ok: false, status: 401, reason: 'token could not be introspected' });
    expect(JSON.stringify(verdict)).not.toContain('nope');
  });
});
