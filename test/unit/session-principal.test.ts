/**
 * A session remembers the principal header of its last request (src/http/endpoint.ts,
 * verifiedOf): each request must still get the principal its own header names, on Streamable
 * HTTP and on the WebSocket hop, and a session id must stay bound to its issuer and subject.
 * A session also remembers the key of its last call's bucket in the per-principal tool quota:
 * the quota must still count every call of the principal, whichever session it comes on.
 */
import { pino } from 'pino';
import { encodePrincipal, type Principal } from '../../src/auth/principal.js';
import { Gateway, HTTMCP, requestAuthInfo, type Answer } from '../../src/index.js';

const SECRET = 's'.repeat(32);
const now = () => Math.floor(Date.now() / 1000);
const alice = (scopes: string[], expiresAt = now() + 3600): Principal => ({ issuer: 'https://as.example', subject: 'alice', clientId: 'app', scopes, expiresAt });
const bob: Principal = { issuer: 'https://as.example', subject: 'bob', clientId: 'app', scopes: ['notes:read'], expiresAt: now() + 3600 };

function setup(principalQuota?: { toolRatePerSecond: number; toolBurst: number }) {
  const gateway = new Gateway({
    ...(principalQuota ? { principalQuota } : {}),
    publishUrl: 'unix:/nonexistent/httmcp-test.sock',
    sessionSecret: SECRET,
    logger: pino({ level: 'silent' }),
    inlineBudgetMs: 60_000,
    auth: { publicUrl: 'http://127.0.0.1:1', apiKeys: [{ subject: 'nobody', sha256: '0'.repeat(64) }] },
  });
  const server = new HTTMCP({ name: 'who', version: '1.0.0' })
    .tool('whoami', {}, (_args, ctx) => `${ctx.auth?.subject} ${ctx.auth?.scopes.join(',')}`)
    .tool('write', { scopes: ['notes:write'] }, (_args, ctx) => `${ctx.auth?.subject} wrote`)
    .tool('authinfo', {}, (_args, ctx) => JSON.stringify({ http: ctx.extra.http?.authInfo, request: requestAuthInfo(ctx), same: ctx.extra.http?.authInfo === requestAuthInfo(ctx) }));
  const endpoint = server.endpoint(gateway);
  const headers = (principal: Principal, extra: Record<string, string> = {}) => ({
    accept: 'application/json, text/event-stream',
    'content-type': 'application/json',
    host: 'localhost',
    // A fresh string per request, as Node's HTTP parser gives it.
    'x-httmcp-principal': ` ${encodePrincipal(principal)}`.slice(1),
    ...extra,
  });
  let id = 0;
  const call = (name = 'whoami') =>
    JSON.stringify(name === 'tools/list' ? { jsonrpc: '2.0', id: ++id, method: 'tools/list' } : { jsonrpc: '2.0', id: ++id, method: 'tools/call', params: { name, arguments: {} } });
  return {
    async open(principal: Principal): Promise<string> {
      const init = await endpoint.post(
        headers(principal),
        JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
      );
      return init.headers!['mcp-session-id']!;
    },
    http: (session: string, principal: Principal, tool?: string) => endpoint.post(headers(principal, { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' }), call(tool)),
    websocket: (session: string, principal: Principal, tool?: string) => endpoint.message(session, headers(principal, { 'x-httmcp-transport': 'websocket' }), call(tool)),
    close: async () => {
      await server.unmount();
      await gateway.close();
    },
  };
}

const text = (answer: Answer): string => (JSON.parse(answer.body!) as { result: { content: Array<{ text: string }> } }).result.content[0]!.text;

describe.each(['http', 'websocket'] as const)('the principal of each request on a session (%s)', (wire) => {
  test('a changed principal header takes effect at once; another subject or an expired one is refused', async () => {
    const t = setup();
    try {
      const session = await t.open(alice(['notes:read', 'notes:write']));
      const send = (principal: Principal) => t[wire](session, principal);
      expect(text(await send(alice(['notes:read', 'notes:write'])))).toBe('alice notes:read,notes:write');
      expect(text(await send(alice(['notes:read', 'notes:write'])))).toBe('alice notes:read,notes:write');
      // The same user's new token with fewer scopes: the same session, the new scopes.
      expect(text(await send(alice(['notes:read'])))).toBe('alice notes:read');
      expect(text(await send(alice(['notes:read'])))).toBe('alice notes:read');
      // Another subject's principal on alice's session id: not a session of this client.
      const foreign = await send(bob);
      expect(foreign.status).toBe(wire === 'http' ? 404 : 403);
      // Alice's again after bob's try: still hers, with what her header says.
      expect(text(await send(alice(['notes:write'])))).toBe('alice notes:write');
      // An expired principal is refused; so is the very header the session's last request carried
      // once its expiry has passed.
      expect((await send(alice(['notes:write'], now() - 1))).status).toBe(wire === 'http' ? 401 : 403);
      const soon = alice(['notes:read'], now() + 2);
      expect(text(await send(soon))).toBe('alice notes:read');
      while (Date.now() / 1000 <= soon.expiresAt!) await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await send(soon)).status).toBe(wire === 'http' ? 401 : 403);
    } finally {
      await t.close();
    }
  });
});

describe.each(['http', 'websocket'] as const)('the per-principal tool quota across sessions (%s)', (wire) => {
  test("a principal's calls count in one bucket whichever session they come on; another principal's apart", async () => {
    const t = setup({ toolRatePerSecond: 1, toolBurst: 2 });
    try {
      const [first, second] = [await t.open(alice(['notes:read'])), await t.open(alice(['notes:read']))];
      const refused = (answer: Answer): boolean =>
        wire === 'http' ? answer.status === 429 : (JSON.parse(answer.body!) as { error?: { data?: { limit?: string } } }).error?.data?.limit === 'rate';
      // A burst of 2 plus the one a second allows: three calls, on either session, then refusals.
      expect(text(await t[wire](first, alice(['notes:read'])))).toBe('alice notes:read');
      expect(text(await t[wire](second, alice(['notes:read'])))).toBe('alice notes:read');
      expect(text(await t[wire](first, alice(['notes:read'])))).toBe('alice notes:read');
      expect(refused(await t[wire](second, alice(['notes:read'])))).toBe(true);
      expect(refused(await t[wire](first, alice(['notes:read'])))).toBe(true);
      // Bob has a bucket of his own.
      const bobs = await t.open(bob);
      expect(text(await t[wire](bobs, bob))).toBe('bob notes:read');
    } finally {
      await t.close();
    }
  });
});

describe.each(['http', 'websocket'] as const)('per-tool scopes and the tool quota read one parse of the body (%s)', (wire) => {
  test('a scoped tool runs with its scope and counts in the quota; without the scope it is refused', async () => {
    const t = setup({ toolRatePerSecond: 1, toolBurst: 0 });
    try {
      const session = await t.open(alice(['notes:read', 'notes:write']));
      expect(text(await t[wire](session, alice(['notes:read', 'notes:write']), 'write'))).toBe('alice wrote');
      const limited = await t[wire](session, alice(['notes:read', 'notes:write']), 'write');
      if (wire === 'http') expect(limited.status).toBe(429);
      else expect(JSON.parse(limited.body!)).toMatchObject({ error: { data: { limit: 'rate', per: 'principal', name: 'write' } } });
      // Bob lacks the scope: HTTP 403 with the step-up challenge on Streamable HTTP; a JSON-RPC
      // error from the server on the WebSocket hop (an HTTP error would close the socket).
      const bobs = await t.open(bob);
      const denied = await t[wire](bobs, bob, 'write');
      if (wire === 'http') {
        expect(denied.status).toBe(403);
        expect(denied.headers!['www-authenticate']).toContain('error="insufficient_scope"');
      } else {
        expect(JSON.parse(denied.body!)).toMatchObject({ error: { data: { error: 'insufficient_scope' } } });
      }
    } finally {
      await t.close();
    }
  });
});

/**
 * The session hub keeps a request's `authInfo` in its facts, not in the message's extra (the SDK
 * would build a context of its own per call for it): handlers must still find it where the SDK
 * puts it on a 2025 session, the list filter and the scope check must still see who asks.
 */
describe.each(['http', 'websocket'] as const)("the request's authInfo on a session of the hub (%s)", (wire) => {
  test("a handler reads the request's own principal as ctx.extra.http.authInfo and requestAuthInfo(ctx), without the token", async () => {
    const t = setup();
    try {
      const session = await t.open(alice(['notes:read', 'notes:write']));
      const seen = (answer: Answer) => JSON.parse(text(answer)) as { http?: Record<string, unknown>; request?: Record<string, unknown>; same: boolean };
      const first = seen(await t[wire](session, alice(['notes:read', 'notes:write']), 'authinfo'));
      expect(first.same).toBe(true);
      expect(first.http).toMatchObject({ token: '', clientId: 'app', scopes: ['notes:read', 'notes:write'], extra: { principal: { issuer: 'https://as.example', subject: 'alice' } } });
      // The next request's header names fewer scopes: its handler sees those, not the last one's.
      const second = seen(await t[wire](session, alice(['notes:read']), 'authinfo'));
      expect(second.http).toMatchObject({ token: '', scopes: ['notes:read'] });
      expect(second.same).toBe(true);
    } finally {
      await t.close();
    }
  });

  test('tools/list shows each request only what its own scopes allow; a tool it lacks the scope for does not run', async () => {
    const t = setup();
    try {
      const session = await t.open(alice(['notes:read', 'notes:write']));
      const names = async (principal: Principal): Promise<string[]> => {
        const answer = await t[wire](session, principal, 'tools/list');
        return (JSON.parse(answer.body!) as { result: { tools: Array<{ name: string }> } }).result.tools.map((tool) => tool.name).sort();
      };
      expect(await names(alice(['notes:read', 'notes:write']))).toEqual(['authinfo', 'whoami', 'write']);
      // A scope downgrade mid-session: the same session, the list and the check follow it.
      expect(await names(alice(['notes:read']))).toEqual(['authinfo', 'whoami']);
      const denied = await t[wire](session, alice(['notes:read']), 'write');
      if (wire === 'http') expect(denied.status).toBe(403);
      else expect(JSON.parse(denied.body!)).toMatchObject({ error: { data: { error: 'insufficient_scope' } } });
      expect(await names(alice(['notes:read', 'notes:write']))).toEqual(['authinfo', 'whoami', 'write']);
    } finally {
      await t.close();
    }
  });
});
