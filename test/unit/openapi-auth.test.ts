import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { OpenAPIMCPOptions } from '../../src/openapi/index.js';
import { callTool as call, InProcessServers } from '../fixtures/openapi/connect.js';
import { shopSpec } from '../fixtures/openapi/shop.js';
import { StandIn, type Recorded } from '../fixtures/openapi/stand-in.js';

let api: StandIn;
const fleet = new InProcessServers();

async function shop(options: OpenAPIMCPOptions = {}, clientHeaders: Record<string, string> = {}): Promise<Client> {
  return (await fleet.serve(shopSpec(`${api.url}/oauth/token`), { serverVariables: { port: String(api.port) }, ...options }, clientHeaders)).client;
}


const apiCalls = () => api.requests.filter((r) => r.url.startsWith('/v1/'));
const tokenCalls = () => api.requests.filter((r) => r.url === '/oauth/token');
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

beforeAll(async () => {
  api = await StandIn.start();
});
beforeEach(() => api.reset());
afterAll(async () => {
  await fleet.close();
  await api.close();
});

test('apiKey in a header, a query parameter and a cookie', async () => {
  const client = await shop({ auth: { key: 'k-1', qkey: 'q/1', ckey: 'c v' } });
  await call(client, 'withKey');
  await call(client, 'withQueryKey');
  await call(client, 'withCookie', { day: 'mon' });
  const [header, query, cookie] = api.requests as [Recorded, Recorded, Recorded];
  expect(header.headers['x-api-key']).toBe('k-1');
  expect(query.url).toBe('/v1/secure/query?api_key=q%2F1');
  expect(cookie.headers.cookie).toBe('day=mon; session=c%20v');
});

test('HTTP bearer and basic', async () => {
  const client = await shop({ auth: { bearer: 't0k', basic: { username: 'u', password: 'p:w' } } });
  await call(client, 'withBearer');
  await call(client, 'withBasic');
  expect(api.requests.map((r) => r.headers.authorization)).toEqual(['Bearer t0k', basic('u', 'p:w')]);
});

test('credentials from the environment: HTTMCP_AUTH_<SCHEME>', async () => {
  const client = await shop({ env: { HTTMCP_AUTH_KEY: 'env-key', HTTMCP_AUTH_BASIC: 'ann:secret' } });
  await call(client, 'withKey');
  await call(client, 'withBasic');
  expect(api.requests.map((r) => r.headers['x-api-key'] ?? r.headers.authorization)).toEqual(['env-key', basic('ann', 'secret')]);
});

test('the first alternative that can be met is used; {} makes auth optional', async () => {
  const keys = await shop({ auth: { key: 'k', qkey: 'q' } });
  await call(keys, 'withEither');
  expect([api.only().url, api.only().headers['x-api-key'], api.only().headers.authorization]).toEqual(['/v1/secure/either?api_key=q', 'k', undefined]);

  api.reset();
  const none = await shop();
  await call(none, 'withOptional');
  expect(api.only().headers.authorization).toBeUndefined();
  api.reset();
  const bearer = await shop({ auth: { bearer: 'b' } });
  await call(bearer, 'withOptional');
  expect(api.only().headers.authorization).toBe('Bearer b');
});

test('a missing credential: the request goes out without, and a 401 says what to configure', async () => {
  const client = await shop();
  api.respond = () => ({ status: 401, body: { message: 'who are you?' } });
  expect(await call(client, 'withKey')).toEqual({
    content: [{ type: 'text', text: 'HTTP 401 Unauthorized\n{"message":"who are you?"}\nNo credential is configured for the security scheme key (HTTMCP_AUTH_KEY).' }],
    isError: true,
  });
  expect(api.only().headers['x-api-key']).toBeUndefined();
});

test("the MCP client's own Authorization header is never forwarded", async () => {
  const client = await shop({ auth: { key: 'k' } }, { authorization: 'Bearer the-clients-own-token', 'x-api-key': 'also-not-forwarded' });
  await call(client, 'withKey');
  await call(client, 'getFlaky');
  await call(client, 'withBearer');
  for (const request of api.requests) expect(request.headers.authorization).toBeUndefined();
  expect(api.requests.map((r) => r.headers['x-api-key'])).toEqual(['k', undefined, undefined]);
});

test('per-session credentials come from the headers the MCP client sent', async () => {
  const sessionCredentials = [
    { scheme: 'bearer', header: 'Authorization' },
    { scheme: 'key', header: 'x-user-key' },
  ];
  const ada = await shop({ sessionCredentials, auth: { key: 'configured' } }, { authorization: 'Bearer ada-token', 'x-user-key': 'ada-key' });
  const bob = await shop({ sessionCredentials, auth: { key: 'configured' } }, { authorization: 'Bearer bob-token' });
  await call(ada, 'withBearer');
  await call(bob, 'withBearer');
  await call(ada, 'withKey');
  await call(bob, 'withKey');
  expect(api.requests.map((r) => r.headers.authorization ?? r.headers['x-api-key'])).toEqual(['Bearer ada-token', 'Bearer bob-token', 'ada-key', 'configured']);
});

describe('OAuth2 client credentials', () => {
  let issued = 0;
  const tokenServer = (expiresIn: number, apiStatus = 200) => (request: Recorded) => {
    if (request.url === '/oauth/token') return { body: { access_token: `tok-${++issued}`, token_type: 'Bearer', expires_in: expiresIn } };
    return { status: apiStatus, body: {} };
  };

  test('a token is fetched once with the client credentials and the required scopes, then cached', async () => {
    const client = await shop({ auth: { oauth: { clientId: 'my id', clientSecret: 's3cr3t' } } });
    issued = 0;
    api.respond = tokenServer(3600);
    await call(client, 'withOAuth');
    await call(client, 'withOAuth');
    const [token] = tokenCalls();
    expect(tokenCalls()).toHaveLength(1);
    expect([token!.method, token!.headers['content-type'], token!.text]).toEqual([
      'POST',
      'application/x-www-form-urlencoded',
      'grant_type=client_credentials&scope=pets%3Aread',
    ]);
    expect(token!.headers.authorization).toBe(basic('my%20id', 's3cr3t'));
    expect(apiCalls().map((r) => r.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-1']);
  });

  test('concurrent calls share one token request', async () => {
    const client = await shop({ env: { HTTMCP_AUTH_OAUTH: 'envid:envsecret' } });
    issued = 0;
    api.respond = tokenServer(3600);
    await Promise.all([call(client, 'withOAuth'), call(client, 'withOAuth'), call(client, 'withOAuth')]);
    expect(tokenCalls()).toHaveLength(1);
    expect(tokenCalls()[0]!.headers.authorization).toBe(basic('envid', 'envsecret'));
    expect(apiCalls().map((r) => r.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-1', 'Bearer tok-1']);
  });

  test('an expired token is renewed; a 401 from the API drops the cached one', async () => {
    const client = await shop({ auth: { oauth: { clientId: 'id', clientSecret: 's' } } });
    issued = 0;
    api.respond = tokenServer(1);
    await call(client, 'withOAuth');
    await new Promise((r) => setTimeout(r, 1000));
    await call(client, 'withOAuth');
    expect(apiCalls().map((r) => r.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);

    api.reset(tokenServer(3600, 401));
    await call(client, 'withOAuth');
    api.respond = tokenServer(3600);
    await call(client, 'withOAuth');
    // tok-2 was still fresh: refused once, then replaced.
    expect(apiCalls().map((r) => r.headers.authorization)).toEqual(['Bearer tok-2', 'Bearer tok-3']);
  });

  test('a failing token endpoint is a tool error, without the secret', async () => {
    const client = await shop({ auth: { oauth: { clientId: 'id', clientSecret: 'very-secret' } } });
    api.respond = () => ({ status: 400, body: { error: 'invalid_client' } });
    const result = await call(client, 'withOAuth');
    expect(result).toEqual({
      content: [{ type: 'text', text: 'withOAuth: the OAuth2 token endpoint of oauth answered HTTP 400: {"error":"invalid_client"}' }],
      isError: true,
    });
    expect(apiCalls()).toEqual([]);
  });
});
