/**
 * Attacks on other clients' sessions through the public edge of a real nginx+nchan stack.
 *
 * "Injection" here means: anything reaching a victim's stream that the backend did not itself
 * answer to a message it accepted for that session. A victim's stream may only ever carry the
 * `endpoint` event (legacy SSE, once, first) and JSON-RPC messages the backend produced, under
 * the event name `message`. Every test ends with the victim making a request of its own and
 * then compares EVERYTHING the victim received with what it must have received: channel order
 * is preserved, so anything an attacker got published would show up before that last reply.
 */
import WebSocket from 'ws';
import { createDemoServer } from '../../examples/demo.js';
import { createNotesServer } from '../../examples/notes.js';
import type { Stack } from '../../src/index.js';
import { EventStream, openEventStream, STREAMABLE_ACCEPT, WsClient, type SseEvent } from '../helpers/raw-clients.js';
import { connectClient, startTestStack, TRANSPORTS, workerCrashes } from '../helpers/stack.js';

let stack: Stack;
let demo: string;

const INITIALIZE = {
  jsonrpc: '2.0',
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'security-test', version: '1.0.0' } },
} as const;
beforeAll(async () => {
  // The demo server plus a tool that tells a client its own session id: a WebSocket client is
  // never told its id, and the tests play an attacker who learned a victim's id anyway.
  const demoServer = createDemoServer().tool('whoami', { description: 'The caller\'s session id' }, (_args, ctx) => ctx.sessionId ?? '');
  stack = await startTestStack({ servers: [demoServer, createNotesServer()] });
  demo = stack.servers.demo!;
});

afterAll(async () => {
  await stack?.stop();
});

describe('another session\'s message URL /mcp/demo/{session}', () => {
  const forgedBodies: Array<[string, string]> = [
    ['a request', JSON.stringify({ jsonrpc: '2.0', id: 'attacker-1', method: 'ping' })],
    ['a fake response to the victim\'s request', JSON.stringify({ jsonrpc: '2.0', id: 'victim-ping', result: { injected: true } })],
    ['a fake notification', JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'error', data: 'injected' } })],
    ['an SSE endpoint event', 'event: endpoint\ndata: http://evil.example/steal\n\n'],
  ];

  test('with the victim\'s Authorization missing or different, every POST is refused (403) and nothing reaches the victim (SSE)', async () => {
    const victim = await SseVictim.open({ authorization: 'Bearer A' });
    try {
      for (const [, body] of forgedBodies) {
        for (const auth of [undefined, '', 'Bearer B', 'bearer A', 'Bearer AA']) {
          for (const event of [undefined, 'endpoint', 'message']) {
            const headers: Record<string, string> = { 'content-type': 'application/json' };
            if (auth !== undefined) headers.authorization = auth;
            if (event !== undefined) headers['x-eventsource-event'] = event;
            const response = await fetch(stack.url + victim.endpoint, { method: 'POST', headers, body });
            expect(response.status).toBe(403);
            await response.text();
          }
        }
      }
      // Control: the victim's own credentials are accepted on the same URL.
      await victim.expectUnharmed();
    } finally {
      victim.close();
    }
  });

  test('a legacy SSE session of Bearer A cannot be resumed (Last-Event-ID) by Bearer B or anonymously: they get a new session', async () => {
    const victim = await SseVictim.open({ authorization: 'Bearer A' });
    try {
      for (const auth of [undefined, 'Bearer B']) {
        const headers: Record<string, string> = { 'last-event-id': victim.endpointEvent.id! };
        if (auth !== undefined) headers.authorization = auth;
        const intruder = await openEventStream(demo, headers);
        const endpoint = await intruder.next(() => true);
        intruder.close();
        expect(endpoint.event).toBe('endpoint');
        expect(endpoint.data).not.toBe(victim.endpoint);
        expect(intruder.events.some((e) => e.data.includes('victim-init'))).toBe(false);
      }
      // Control: with the victim's own credentials the same id resumes the victim's session.
      const resumed = await openEventStream(demo, { authorization: 'Bearer A', 'last-event-id': victim.endpointEvent.id! });
      const replayed = await resumed.next(() => true);
      resumed.close();
      expect(replayed.data).toBe(victim.initializeReply.data);
    } finally {
      victim.close();
    }
  });

  test('a WebSocket session opened with Bearer A refuses messages sent with Bearer B or none (403, nothing published)', async () => {
    const victim = await WsClient.open(demo, { headers: { authorization: 'Bearer A' } });
    try {
      await victim.initialize();
      const who = (await victim.request('who', 'tools/call', { name: 'whoami', arguments: {} })) as { result: { content: Array<{ text: string }> } };
      const session = who.result.content[0]!.text;
      expect(session).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
      const before = victim.received.length;

      for (const [, body] of forgedBodies) {
        for (const auth of [undefined, 'Bearer B']) {
          const headers: Record<string, string> = { 'content-type': 'application/json', 'x-eventsource-event': 'endpoint' };
          if (auth !== undefined) headers.authorization = auth;
          const response = await fetch(`${demo}/${session}`, { method: 'POST', headers, body });
          expect(response.status).toBe(403);
          await response.text();
        }
      }
      // GET (channel info) and DELETE (would end the stream) are refused even with the owner's credentials.
      for (const method of ['GET', 'DELETE']) {
        for (const auth of ['Bearer A', 'Bearer B']) {
          const response = await fetch(`${demo}/${session}`, { method, headers: { authorization: auth } });
          expect([method, auth, response.status]).toEqual([method, auth, 403]);
          await response.text();
        }
      }
      // Nor can the id be used on Streamable HTTP to read the stream, end it or send to it.
      const get = await fetch(demo, { headers: { accept: 'text/event-stream', 'mcp-session-id': session, authorization: 'Bearer B' } });
      expect(get.status).toBe(404);
      expect(await get.json()).toMatchObject({ jsonrpc: '2.0', error: { message: expect.stringMatching(/Session not found/) } });
      const del = await fetch(demo, { method: 'DELETE', headers: { 'mcp-session-id': session } });
      expect(del.status).toBe(404);
      await del.text();
      const post = await fetch(demo, {
        method: 'POST',
        headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', 'mcp-session-id': session, authorization: 'Bearer B' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 'attacker-2', method: 'ping' }),
      });
      expect(post.status).toBe(404);
      await post.text();

      // Control: with the victim's own Authorization the same POST goes through to the victim.
      const own = await fetch(`${demo}/${session}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer A' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 'same-principal', method: 'ping' }),
      });
      expect(own.status).toBe(202);
      await own.text();
      await victim.next((m) => (m as { id?: unknown }).id === 'same-principal');
      await victim.request('victim-ping', 'ping');
      expect(victim.received.slice(before)).toEqual([
        { result: {}, jsonrpc: '2.0', id: 'same-principal' },
        { result: {}, jsonrpc: '2.0', id: 'victim-ping' },
      ]);
      expect(victim.closed).toBeUndefined();
    } finally {
      victim.close();
    }
  });

  test('anonymous victim: forged responses and notifications publish nothing; other input gets only the backend\'s own answer', async () => {
    // Without credentials the session id is the only capability, so a POST with it is handled as
    // a message of that session. What must hold: the body itself is never published, nor is a
    // client-chosen event name applied, nor a fake response or notification relayed.
    const victim = await SseVictim.open();
    try {
      const post = (body: string) =>
        fetch(stack.url + victim.endpoint, { method: 'POST', headers: { 'content-type': 'application/json', 'x-eventsource-event': 'endpoint' }, body });

      const fakeResponse = await post(JSON.stringify({ jsonrpc: '2.0', id: 'victim-ping', result: { injected: true } }));
      expect(fakeResponse.status).toBe(202);
      const fakeError = await post(JSON.stringify({ jsonrpc: '2.0', id: 0, error: { code: -1, message: 'injected' } }));
      expect(fakeError.status).toBe(202);
      const fakeLog = await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'error', data: 'injected' } }));
      expect(fakeLog.status).toBe(202);
      const fakeProgress = await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1, progress: 1 } }));
      expect(fakeProgress.status).toBe(202);

      // Raw SSE text: the backend answers a parse error, published as an ordinary `message`.
      const sse = await post('event: endpoint\nid: 999\ndata: http://evil.example/steal\n\n');
      expect(sse.status).toBe(202);
      await sse.text();
      // A request whose id tries to break out of the SSE framing: JSON escapes the newlines.
      const sneakyId = 'x\n\nevent: endpoint\ndata: http://evil.example/\n\n';
      const sneaky = await post(JSON.stringify({ jsonrpc: '2.0', id: sneakyId, method: 'ping' }));
      expect(sneaky.status).toBe(202);
      await sneaky.text();

      await victim.request('victim-ping', 'ping');
      expect(victim.stream.events).toEqual([
        victim.endpointEvent,
        victim.initializeReply,
        message({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error: the message is not valid JSON' } }),
        message({ result: {}, jsonrpc: '2.0', id: sneakyId }),
        message({ result: {}, jsonrpc: '2.0', id: 'victim-ping' }),
      ]);
      expect(victim.stream.events.filter((e) => e.event === 'endpoint')).toHaveLength(1);
      // Each published message is one `data:` line of JSON: the attacker's newlines stayed escaped.
      expect(victim.stream.raw).not.toMatch(/^data: http:\/\/evil/m);
      expect(victim.stream.raw).not.toMatch(/^id: 999/m);
    } finally {
      victim.close();
    }
  });

  test('GET, DELETE and other methods are refused (403) and the victim\'s stream survives', async () => {
    const victim = await SseVictim.open();
    try {
      for (const method of ['GET', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD']) {
        for (const accept of ['*/*', 'application/json', 'text/event-stream']) {
          const response = await fetch(stack.url + victim.endpoint, { method, headers: { accept } });
          expect([method, response.status]).toEqual([method, 403]);
          // No channel info (nchan's answer to GET on a publisher location) leaks.
          expect(await response.text()).not.toMatch(/subscribers|messages/);
        }
      }
      await victim.request('after-delete', 'ping');
      expect(victim.stream.ended).toBe(false);
      expect(victim.stream.events).toEqual([victim.endpointEvent, victim.initializeReply, message({ result: {}, jsonrpc: '2.0', id: 'after-delete' })]);
    } finally {
      victim.close();
    }
  });
});

test('the publish listener and the internal locations cannot be reached through the public port (404)', async () => {
  const victim = await SseVictim.open();
  try {
    const s = victim.session;
    const paths = [
      `/pub/${s}`,
      `/_httmcp/session/demo/${s}`,
      `/_httmcp/upstream/demo/${s}`,
      `/_httmcp/closed/demo/${s}`,
      '/_httmcp/stream',
      '/status',
      `/mcp/demo/${s}/message`,
      `/mcp/demo/${s}/closed`,
      `/mcp/../pub/${s}`,
      `/mcp/%2e%2e/pub/${s}`,
      `/mcp/%2e%2e/_httmcp/session/demo/${s}`,
      `/mcp/demo%2f..%2f..%2fpub%2f${s}`,
    ];
    const injection = JSON.stringify({ jsonrpc: '2.0', id: 'victim-ping', result: { injected: true } });
    for (const path of paths) {
      for (const method of ['GET', 'POST']) {
        const status = await rawStatus(stack.port, method, path, method === 'POST' ? injection : undefined, {
          accept: 'text/event-stream',
          'x-eventsource-event': 'endpoint',
          'content-type': 'application/json',
        });
        expect([method, path, status]).toEqual([method, path, 404]);
      }
    }
    await victim.expectUnharmed();
  } finally {
    victim.close();
  }
});

describe('forged and tampered session ids', () => {
  let session: string;

  beforeAll(async () => {
    const response = await fetch(demo, {
      method: 'POST',
      headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json' },
      body: JSON.stringify({ ...INITIALIZE, id: 0 }),
    });
    expect(response.status).toBe(200);
    await response.text();
    session = response.headers.get('mcp-session-id')!;
    expect(session).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
  });

  function forgeries(session: string): Array<[string, string]> {
    const [nonce, mac] = session.split('.') as [string, string];
    return [
      ['invented', `${'A'.repeat(22)}.${'A'.repeat(22)}`],
      ['last character changed', session.slice(0, -1) + flip(session.at(-1)!)],
      ['first character changed', flip(session[0]!) + session.slice(1)],
      ['nonce character changed', `${nonce.slice(0, 10)}${flip(nonce[10]!)}${nonce.slice(11)}.${mac}`],
      ['nonce only', nonce],
      ['with a suffix', `${session}x`],
      ['not an id at all', 'x'],
    ];
  }

  test('Streamable HTTP POST, GET and DELETE with a forged Mcp-Session-Id get 404 and a JSON-RPC error', async () => {
    for (const [what, forged] of forgeries(session)) {
      const answers = [
        await fetch(demo, {
          method: 'POST',
          headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', 'mcp-session-id': forged },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
        }),
        await fetch(demo, { headers: { accept: 'text/event-stream', 'mcp-session-id': forged } }),
        await fetch(demo, { method: 'DELETE', headers: { 'mcp-session-id': forged } }),
      ];
      for (const response of answers) {
        expect([what, response.status]).toEqual([what, 404]);
        expect(response.headers.get('content-type')).toBe('application/json');
        expect(await response.json()).toEqual({
          jsonrpc: '2.0',
          id: null,
          error: { code: -32000, message: 'Session not found: initialize a new session' },
        });
      }
    }
    // The genuine session was not disturbed.
    const ping = await fetch(demo, {
      method: 'POST',
      headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', 'mcp-session-id': session },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
    });
    expect(ping.status).toBe(200);
    expect(await ping.json()).toEqual({ result: {}, jsonrpc: '2.0', id: 2 });
  });

  test('a Streamable HTTP session of Bearer A is unknown to Bearer B and to anonymous clients', async () => {
    const init = await fetch(demo, {
      method: 'POST',
      headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', authorization: 'Bearer A' },
      body: JSON.stringify({ ...INITIALIZE, id: 0 }),
    });
    expect(init.status).toBe(200);
    await init.text();
    const owned = init.headers.get('mcp-session-id')!;
    for (const auth of [undefined, 'Bearer B']) {
      const headers: Record<string, string> = { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', 'mcp-session-id': owned };
      if (auth !== undefined) headers.authorization = auth;
      const response = await fetch(demo, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) });
      expect(response.status).toBe(404);
      await response.text();
    }
    const mine = await fetch(demo, {
      method: 'POST',
      headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', 'mcp-session-id': owned, authorization: 'Bearer A' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(mine.status).toBe(200);
    expect(await mine.json()).toEqual({ result: {}, jsonrpc: '2.0', id: 1 });
  });

  test('legacy SSE: a POST to /mcp/demo/{forged} is refused (403) and nothing reaches the real session', async () => {
    const victim = await SseVictim.open();
    try {
      for (const [what, forged] of forgeries(victim.session)) {
        if (!/^[A-Za-z0-9_.-]+$/.test(forged)) continue;
        const response = await fetch(`${demo}/${forged}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 'forged', method: 'ping' }),
        });
        expect([what, response.status]).toEqual([what, 403]);
        await response.text();
      }
      await victim.expectUnharmed();
    } finally {
      victim.close();
    }
  });

  test('a session id of server demo is refused on server notes', async () => {
    const victim = await SseVictim.open();
    try {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 'cross', method: 'ping' });
      const legacy = await fetch(`${stack.servers.notes!}/${victim.session}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(legacy.status).toBe(403);
      await legacy.text();
      const post = await fetch(stack.servers.notes!, {
        method: 'POST',
        headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', 'mcp-session-id': victim.session },
        body,
      });
      expect(post.status).toBe(404);
      expect(await post.json()).toMatchObject({ jsonrpc: '2.0', error: { message: expect.stringMatching(/Session not found/) } });
      const get = await fetch(stack.servers.notes!, { headers: { accept: 'text/event-stream', 'mcp-session-id': victim.session } });
      expect(get.status).toBe(404);
      await get.text();
      const del = await fetch(stack.servers.notes!, { method: 'DELETE', headers: { 'mcp-session-id': victim.session } });
      expect(del.status).toBe(404);
      await del.text();
      await victim.expectUnharmed();
    } finally {
      victim.close();
    }
  });
});

describe('Host (DNS rebinding)', () => {
  const port = () => Number(new URL(demo).port);
  const initialize = JSON.stringify({ ...INITIALIZE, id: 0 });
  const post = { 'content-type': 'application/json', accept: STREAMABLE_ACCEPT };

  test.each(['evil.example.com', 'evil.example.com:8080', 'localhost.evil.example', '10.0.0.5'])(
    'Host %s is refused (403) on Streamable POST, SSE GET and WebSocket upgrade',
    async (host) => {
      expect(await rawStatus(port(), 'POST', '/mcp/demo', initialize, post, host)).toBe(403);
      expect(await rawStatus(port(), 'GET', '/mcp/demo', undefined, { accept: 'text/event-stream' }, host)).toBe(403);
      const upgrade = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };
      expect(await rawStatus(port(), 'GET', '/mcp/demo', undefined, upgrade, host)).toBe(403);
    },
  );

  test.each(['localhost', `localhost:PORT`, '127.0.0.1', '[::1]:PORT'])('Host %s is accepted', async (host) => {
    expect(await rawStatus(port(), 'POST', '/mcp/demo', initialize, post, host.replace('PORT', String(port())))).toBe(200);
  });
});

describe('Origin', () => {
  const foreign = ['http://evil.example', 'https://evil.example', 'null', 'http://localhost.evil.example', 'http://evil.example:3000'];
  const allowed = ['http://localhost:3000', 'http://127.0.0.1:8080', undefined];

  test.each(foreign)('%s is refused (403) on WebSocket upgrade, SSE GET and Streamable POST', async (origin) => {
    expect(await wsHandshakeStatus(demo, { origin })).toBe(403);
    const sse = await fetch(demo, { headers: { accept: 'text/event-stream', origin } });
    expect(sse.status).toBe(403);
    await sse.text();
    const post = await fetch(demo, {
      method: 'POST',
      headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', origin },
      body: JSON.stringify({ ...INITIALIZE, id: 0 }),
    });
    expect(post.status).toBe(403);
    expect(post.headers.get('mcp-session-id')).toBeNull();
    await post.text();
  });

  test.each(allowed.map((o) => [o ?? '(no Origin)', o] as const))('%s is accepted on all three', async (_label, origin) => {
    const headers: Record<string, string> = origin === undefined ? {} : { origin };
    expect(await wsHandshakeStatus(demo, headers)).toBe(101);
    const sse = await openEventStream(demo, headers);
    try {
      expect(sse.response.status).toBe(200);
      const endpoint = await sse.next((e) => e.event === 'endpoint');
      expect(endpoint.data).toMatch(/^\/mcp\/demo\/[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
      // nchan's CORS answer echoes only an allowed origin.
      expect(sse.response.headers.get('access-control-allow-origin')).toBe(origin ?? null);
    } finally {
      sse.close();
    }
    const post = await fetch(demo, {
      method: 'POST',
      headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ ...INITIALIZE, id: 0 }),
    });
    expect(post.status).toBe(200);
    expect(post.headers.get('mcp-session-id')).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
    expect(await post.json()).toMatchObject({ jsonrpc: '2.0', id: 0, result: { serverInfo: { name: 'demo' } } });
  });
});

describe('client-supplied internal headers do not change routing', () => {
  test('an SSE client claiming X-Httmcp-Transport: websocket still gets a legacy SSE session', async () => {
    const sse = await openEventStream(demo, { 'x-httmcp-transport': 'websocket' });
    try {
      expect(sse.response.status).toBe(200);
      expect(sse.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      // Only a legacy SSE open publishes `endpoint`; a WebSocket open would not.
      const first = await sse.next(() => true);
      expect(first.event).toBe('endpoint');
    } finally {
      sse.close();
    }
  });

  test('X-Accel-Redirect and X-Httmcp-Stream from a client cannot attach it to another session', async () => {
    const victim = await SseVictim.open();
    const internal = {
      'x-accel-redirect': `/_httmcp/session/demo/${victim.session}`,
      'x-httmcp-stream': victim.session,
      'x-httmcp-transport': 'websocket',
    };
    const attacker = await openEventStream(demo, internal);
    try {
      const endpoint = await attacker.next((e) => e.event === 'endpoint');
      expect(endpoint.data).not.toBe(victim.endpoint);
      expect(endpoint.data).toMatch(/^\/mcp\/demo\/[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);

      const post = await fetch(demo, {
        method: 'POST',
        headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', ...internal, 'x-accel-redirect': `/pub/${victim.session}` },
        body: JSON.stringify({ ...INITIALIZE, id: 'attacker-init' }),
      });
      expect(post.status).toBe(200);
      expect(post.headers.get('content-type')).toBe('application/json');
      expect(post.headers.get('mcp-session-id')).not.toBe(victim.session);
      expect(await post.json()).toMatchObject({ jsonrpc: '2.0', id: 'attacker-init', result: { serverInfo: { name: 'demo' } } });

      // The victim posting with the same headers still talks to its own session only.
      await victim.request('victim-ping', 'ping', undefined, { ...internal, 'x-accel-redirect': `/_httmcp/session/demo/${endpoint.data.split('/').pop()}` });
      expect(victim.stream.events).toEqual([victim.endpointEvent, victim.initializeReply, message({ result: {}, jsonrpc: '2.0', id: 'victim-ping' })]);
      expect(attacker.events).toEqual([endpoint]);
    } finally {
      attacker.close();
      victim.close();
    }
  });

  test('a WebSocket client claiming X-Httmcp-Transport: http is still a WebSocket session', async () => {
    const client = await WsClient.open(demo, { headers: { 'x-httmcp-transport': 'http', 'x-accel-redirect': '/pub/x' } });
    try {
      expect(client.ws.protocol).toBe('mcp');
      await client.initialize();
      expect(await client.request('p', 'ping')).toEqual({ result: {}, jsonrpc: '2.0', id: 'p' });
    } finally {
      client.close();
    }
  });
});

test('after the attacks no nginx worker crashed and SDK clients work on every transport', async () => {
  expect(workerCrashes(stack)).toEqual([]);
  for (const kind of TRANSPORTS) {
    const client = await connectClient(kind, demo);
    try {
      expect(await client.callTool({ name: 'add', arguments: { a: 40, b: 2 } })).toEqual({ content: [{ type: 'text', text: '42' }] });
    } finally {
      await client.close();
    }
  }
});

// ------------------------------------------------------------------------------------ helpers

/** nchan's event id; on legacy SSE streams the edge puts the session in front (`{session}~`). */
const EVENT_ID = /^(?:[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+~)?\d+:\S+$/;

/** The `message` event nchan delivers for a published JSON-RPC message (any id). */
function message(json: unknown): SseEvent {
  return { event: 'message', id: expect.stringMatching(EVENT_ID) as unknown as string, data: JSON.stringify(json) };
}

/** A legacy HTTP+SSE client driven by hand: its stream, its endpoint, an initialized session. */
class SseVictim {
  private constructor(
    readonly stream: EventStream,
    readonly endpointEvent: SseEvent,
    readonly initializeReply: SseEvent,
    private readonly headers: Record<string, string>,
  ) {}

  /** `/mcp/demo/{session}` */
  get endpoint(): string {
    return this.endpointEvent.data;
  }

  get session(): string {
    return this.endpoint.split('/').pop()!;
  }

  static async open(headers: Record<string, string> = {}): Promise<SseVictim> {
    const stream = await openEventStream(demo, headers);
    expect(stream.response.status).toBe(200);
    const endpointEvent = await stream.next(() => true);
    expect(endpointEvent).toEqual({ event: 'endpoint', id: expect.stringMatching(EVENT_ID), data: expect.stringMatching(/^\/mcp\/demo\/[A-Za-z0-9_.-]+$/) });
    const partial = new SseVictim(stream, endpointEvent, endpointEvent, headers);
    const initializeReply = await partial.post({ ...INITIALIZE, id: 'victim-init' }).then(() => stream.next((e) => e.data.includes('"victim-init"')));
    expect(JSON.parse(initializeReply.data)).toMatchObject({ id: 'victim-init', result: { serverInfo: { name: 'demo' } } });
    const victim = new SseVictim(stream, endpointEvent, initializeReply, headers);
    await victim.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return victim;
  }

  /** POSTs a message as this client: 202 and no body, whatever the answer (it goes to the stream). */
  async post(body: unknown, status = 202, extraHeaders: Record<string, string> = {}): Promise<void> {
    const response = await fetch(stack.url + this.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.headers, ...extraHeaders },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(status);
    await response.text();
  }

  /** Sends a request and waits for its reply on the stream. */
  async request(id: string, method: string, params?: object, extraHeaders: Record<string, string> = {}): Promise<SseEvent> {
    await this.post({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) }, 202, extraHeaders);
    return this.stream.next((e) => e.event === 'message' && (JSON.parse(e.data) as { id?: unknown }).id === id);
  }

  /** The victim is still served, and its stream carries nothing it did not ask for: after initialize, only a ping's reply. */
  async expectUnharmed(): Promise<void> {
    await this.request('victim-ping', 'ping');
    expect(this.stream.events).toEqual([this.endpointEvent, this.initializeReply, message({ result: {}, jsonrpc: '2.0', id: 'victim-ping' })]);
  }

  close(): void {
    this.stream.close();
  }
}

/** Status of a WebSocket handshake (101 when it opened). */
function wsHandshakeStatus(httpUrl: string, headers: Record<string, string | undefined>): Promise<number> {
  const clean = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<string, string>;
  const ws = new WebSocket(httpUrl.replace(/^http/, 'ws'), 'mcp', { headers: clean, perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    ws.once('upgrade', () => {
      resolve(101);
      ws.close();
    });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

/** Status of a request sent byte for byte (fetch would normalize `..` and `%2e%2e` away). */
async function rawStatus(
  port: number,
  method: string,
  path: string,
  body: string | undefined,
  headers: Record<string, string>,
  host = `127.0.0.1:${port}`,
): Promise<number> {
  const { connect } = await import('node:net');
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${host}`, 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  const request = `${lines.join('\r\n')}\r\n\r\n${body ?? ''}`;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
      const match = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      if (match) {
        resolve(Number(match[1]));
        socket.destroy();
      }
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`no status line for ${method} ${path}: ${JSON.stringify(answer)}`)));
  });
}

/** A different base64url character. */
function flip(c: string): string {
  return c === 'A' ? 'B' : 'A';
}
