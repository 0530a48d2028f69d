import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { completable, HTTMCP, resumingEventSourceFetch, type Stack } from '../../src/index.js';
import { CutProxy } from '../helpers/cut-proxy.js';
import { EventStream, openEventStream, STREAMABLE_ACCEPT } from '../helpers/raw-clients.js';
import { connectClient, startTestStack, TRANSPORTS, workerCrashes, type TransportKind } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/** A server exercising everything a client can be asked or told, beyond request/reply. */
function createProtocolServer(): HTTMCP {
  return new HTTMCP({ name: 'proto', version: '1.0.0', requestTimeoutMs: 5000 })
    .tool('ask_model', { input: { question: z.string() } }, async ({ question }, ctx) => {
      const answer = await ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: question } }], maxTokens: 50 });
      const content = Array.isArray(answer.content) ? answer.content[0] : answer.content;
      return `model said: ${content?.type === 'text' ? content.text : content?.type}`;
    })
    .tool('ask_user', {}, async (_args, ctx) => {
      const answer = await ctx.elicit({
        message: 'Who are you?',
        requestedSchema: { type: 'object', properties: { name: { type: 'string', default: 'anonymous' } }, required: ['name'] },
      });
      return `${answer.action}: ${JSON.stringify(answer.content ?? {})}`;
    })
    .tool('list_roots', {}, async (_args, ctx) => (await ctx.roots()).roots.map((root) => root.uri).join(','))
    .tool('poll_me', { input: { afterMs: z.number().int().default(300) } }, async ({ afterMs }, ctx) => {
      // SEP-1699 polling: end the client's stream now, answer later on the resumed one.
      await ctx.progress(1, 2, 'closing the stream');
      await ctx.closeStream();
      await new Promise((r) => setTimeout(r, afterMs));
      await ctx.progress(2, 2, 'after the reconnect');
      return 'answered after the stream was closed';
    })
    .tool('whoami', {}, (_args, ctx) => ctx.sessionId ?? 'none')
    .tool('two_steps', { input: { stepMs: z.number().int() } }, async ({ stepMs }, ctx) => {
      await new Promise((r) => setTimeout(r, stepMs));
      await ctx.progress(1, 2, 'first step');
      await new Promise((r) => setTimeout(r, stepMs));
      await ctx.progress(2, 2, 'second step');
      return 'both steps done';
    })
    .tool('big_reply', { input: { bytes: z.number().int().max(2_000_000) } }, ({ bytes }) => 'x'.repeat(bytes))
    .tool('log_both', {}, async (_args, ctx) => {
      await ctx.log('info', 'an info line');
      await ctx.log('error', 'an error line');
      return 'logged';
    })
    .resource('watched', 'proto://watched', { mimeType: 'text/plain' }, () => 'watch me')
    .resource(
      'city',
      'proto://cities/{name}',
      { complete: { name: (value) => ['Paris', 'Prague', 'Porto', 'Oslo'].filter((city) => city.startsWith(value)) } },
      ({ name }) => `city ${name}`,
    )
    .prompt('travel', { args: { language: completable(z.string(), (value) => ['en', 'es', 'et'].filter((l) => l.startsWith(value))) } }, ({ language }) => `Plan a trip in ${language}`);
}

let stack: Stack;
let proto: HTTMCP;

beforeAll(async () => {
  proto = createProtocolServer();
  stack = await startTestStack({ servers: [proto] });
});

afterAll(async () => {
  await stack?.stop();
});

const url = () => stack.servers.proto!;

/** A client that can answer sampling, elicitation and roots requests. */
async function capableClient(kind: TransportKind): Promise<Client> {
  const client = await connectClient(kind, url(), { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } });
  client.setRequestHandler(CreateMessageRequestSchema, (request) => {
    const content = request.params.messages[0]!.content;
    const first = Array.isArray(content) ? content[0] : content;
    return { role: 'assistant', model: 'test-model', content: { type: 'text', text: `echo ${first?.type === 'text' ? first.text : '?'}` } };
  });
  client.setRequestHandler(ElicitRequestSchema, () => ({ action: 'accept', content: { name: 'Ada' } }));
  client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: 'file:///home/ada', name: 'home' }, { uri: 'file:///tmp' }] }));
  return client;
}


describe.each(TRANSPORTS)('%s: requests from the server to the client', (kind) => {
  let client: Client;
  beforeAll(async () => {
    client = await capableClient(kind);
  });
  afterAll(async () => {
    await client?.close();
  });

  test('sampling/createMessage from inside a tool reaches the client and its answer resolves the handler', async () => {
    expect(await client.callTool({ name: 'ask_model', arguments: { question: 'why?' } })).toEqual({
      content: [{ type: 'text', text: 'model said: echo why?' }],
    });
  });

  test('elicitation/create (form mode)', async () => {
    expect(await client.callTool({ name: 'ask_user', arguments: {} })).toEqual({ content: [{ type: 'text', text: 'accept: {"name":"Ada"}' }] });
  });

  test('roots/list', async () => {
    expect(await client.callTool({ name: 'list_roots', arguments: {} })).toEqual({ content: [{ type: 'text', text: 'file:///home/ada,file:///tmp' }] });
  });

  test('a client without the capability gets a clear error at once, not a hang', async () => {
    const plain = await connectClient(kind, url());
    try {
      const started = Date.now();
      const result = await plain.callTool({ name: 'ask_model', arguments: { question: 'hello?' } });
      expect(result.isError).toBe(true);
      expect(JSON.stringify(result.content)).toContain('does not support sampling/createMessage');
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await plain.close();
    }
  });
});

describe.each(TRANSPORTS)('%s: notifications', (kind) => {
  test('logging/setLevel applies to the session that set it only', async () => {
    const quiet = await connectClient(kind, url());
    const chatty = await connectClient(kind, url());
    try {
      const heard = { quiet: [] as string[], chatty: [] as string[] };
      quiet.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void heard.quiet.push(n.params.level));
      chatty.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void heard.chatty.push(n.params.level));
      await quiet.setLoggingLevel('error');
      await quiet.callTool({ name: 'log_both', arguments: {} });
      await chatty.callTool({ name: 'log_both', arguments: {} });
      expect(heard).toEqual({ quiet: ['error'], chatty: ['info', 'error'] });
    } finally {
      await Promise.all([quiet.close(), chatty.close()]);
    }
  });

  test('resources/subscribe: notifications/resources/updated reaches the subscribed session only', async () => {
    const subscriber = await connectClient(kind, url());
    const bystander = await connectClient(kind, url());
    try {
      const updates = { subscriber: [] as string[], bystander: [] as string[] };
      subscriber.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.subscriber.push(n.params.uri));
      bystander.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.bystander.push(n.params.uri));
      if (kind === 'streamable') {
        // Pushes outside a request travel on the standalone GET stream, which the SDK client
        // opens right after initialize; give it a moment to attach.
        await new Promise((r) => setTimeout(r, 300));
      }
      await subscriber.subscribeResource({ uri: 'proto://watched' });
      await proto.resourceUpdated('proto://watched');
      await waitFor(() => updates.subscriber.length === 1);
      await subscriber.unsubscribeResource({ uri: 'proto://watched' });
      await proto.resourceUpdated('proto://watched');
      await new Promise((r) => setTimeout(r, 300));
      expect(updates).toEqual({ subscriber: ['proto://watched'], bystander: [] });
    } finally {
      await Promise.all([subscriber.close(), bystander.close()]);
    }
  });

  test('completion/complete for prompt arguments and resource template variables', async () => {
    const client = await connectClient(kind, url());
    try {
      expect(client.getServerCapabilities()?.completions).toBeDefined();
      const prompt = await client.complete({ ref: { type: 'ref/prompt', name: 'travel' }, argument: { name: 'language', value: 'e' } });
      expect(prompt.completion.values).toEqual(['en', 'es', 'et']);
      const city = await client.complete({ ref: { type: 'ref/resource', uri: 'proto://cities/{name}' }, argument: { name: 'name', value: 'P' } });
      expect(city.completion.values).toEqual(['Paris', 'Prague', 'Porto']);
    } finally {
      await client.close();
    }
  });
});

test('a registry change is one broadcast that every session of the server receives, on every transport', async () => {
  const clients = await Promise.all(TRANSPORTS.map((kind) => connectClient(kind, url())));
  try {
    const heard = clients.map(() => 0);
    clients.forEach((client, i) => client.setNotificationHandler(ToolListChangedNotificationSchema, () => void heard[i]!++));
    await new Promise((r) => setTimeout(r, 300)); // the Streamable HTTP client's GET stream attaches
    const before = stack.gateway.stats().published;
    proto.tool('late_tool', { description: 'added at run time' }, () => 'late');
    await waitFor(() => heard.every((count) => count >= 1));
    await new Promise((r) => setTimeout(r, 200));
    expect(heard).toEqual([1, 1, 1]);
    // One per era: the 2025 sessions' broadcast and the 2026 listen streams' channel (src/listen/).
    expect(stack.gateway.stats().published - before).toBe(2);
    for (const client of clients) {
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('late_tool');
    }
    // A session opened afterwards does not replay the old broadcast.
    const late = await connectClient('websocket', url());
    let replayed = 0;
    late.setNotificationHandler(ToolListChangedNotificationSchema, () => void replayed++);
    await late.ping();
    expect(replayed).toBe(0);
    await late.close();
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
});

describe('Streamable HTTP details (2025-11-25)', () => {
  const INITIALIZE = {
    jsonrpc: '2.0',
    id: 'init',
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  };

  async function rawSession(version = '2025-11-25'): Promise<{ session: string; post: (body: unknown, extra?: Record<string, string>) => Promise<Response> }> {
    const init = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/json', accept: STREAMABLE_ACCEPT }, body: JSON.stringify(INITIALIZE) });
    expect(init.status).toBe(200);
    const session = init.headers.get('mcp-session-id')!;
    const post = (body: unknown, extra: Record<string, string> = {}) =>
      fetch(url(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: STREAMABLE_ACCEPT, 'mcp-session-id': session, 'mcp-protocol-version': version, ...extra },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    return { session, post };
  }

  test('a slow request gets an SSE stream that opens with a priming event (an id, no data)', async () => {
    const { session, post } = await rawSession();
    const response = await post({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'poll_me', arguments: { afterMs: 0 } } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('mcp-session-id')).toBe(session);
    const stream = new EventStream(response, new AbortController());
    const first = await stream.next(() => true);
    expect(first).toEqual({ event: 'message', id: expect.stringMatching(/^\d+:\d+$/), data: '' });
    stream.close();
  });

  test('a stream the server closes mid-request resumes with Last-Event-ID, and the reply arrives there', async () => {
    const { session, post } = await rawSession();
    const response = await post({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'poll_me', arguments: { afterMs: 400 } } });
    const stream = new EventStream(response, new AbortController());
    await stream.next(() => true); // priming
    // The server ends the stream before the reply: the client has only the event ids it saw.
    await waitFor(() => stream.ended);
    expect(stream.events.some((e) => e.data.includes('"result"'))).toBe(false);
    const lastEventId = stream.events.at(-1)!.id!;
    const resumed = await openEventStream(url(), { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25', 'last-event-id': lastEventId });
    const reply = await resumed.next((e) => e.data.includes('"id":8'));
    expect(JSON.parse(reply.data)).toEqual({ jsonrpc: '2.0', id: 8, result: { content: [{ type: 'text', text: 'answered after the stream was closed' }] } });
    await waitFor(() => resumed.ended); // the finished request's stream ends
  });

  test('a GET stream resumed after events the server no longer keeps is told so', async () => {
    const { session } = await rawSession();
    const lastEventId = '1000000000:[0],-';
    const resumed = await openEventStream(url(), { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25', 'last-event-id': lastEventId });
    const warning = await resumed.next((e) => e.data.includes('HTTMCP_EVENTS_LOST'));
    resumed.close();
    expect(JSON.parse(warning.data).params.data.lastEventId).toBe(lastEventId);
  });

  test('the SDK client rides through a server-closed stream transparently', async () => {
    const client = await connectClient('streamable', url());
    try {
      const progress: string[] = [];
      const result = await client.callTool({ name: 'poll_me', arguments: { afterMs: 300 } }, undefined, { onprogress: (p) => progress.push(p.message!) });
      expect(result).toEqual({ content: [{ type: 'text', text: 'answered after the stream was closed' }] });
      expect(progress).toEqual(['closing the stream', 'after the reconnect']);
    } finally {
      await client.close();
    }
  });

  test('large replies (600 KB, past the inline limit) all arrive on their streams', async () => {
    // Regression: the stream was deleted while nchan was still writing a large reply to it, and
    // about 1 call in 7 timed out. 40 calls over 4 sessions.
    for (let round = 0; round < 4; round++) {
      const client = await connectClient('streamable', url());
      try {
        for (let i = 0; i < 10; i++) {
          const result = await client.callTool({ name: 'big_reply', arguments: { bytes: 600_000 } }, undefined, { timeout: 5000 });
          expect((result.content as Array<{ text: string }>)[0]!.text).toHaveLength(600_000);
        }
      } finally {
        await client.close();
      }
    }
  }, 60_000);

  test('an unsupported MCP-Protocol-Version gets 400; a missing one means 2025-03-26', async () => {
    const { post } = await rawSession();
    const bad = await post({ jsonrpc: '2.0', id: 1, method: 'ping' }, { 'mcp-protocol-version': '1999-01-01' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain('unsupported MCP-Protocol-Version 1999-01-01');
    const { session } = await rawSession();
    const legacy = await fetch(url(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: STREAMABLE_ACCEPT, 'mcp-session-id': session },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
    });
    expect(legacy.status).toBe(200);
    expect(await legacy.json()).toEqual({ jsonrpc: '2.0', id: 2, result: {} });
  });

  test('after DELETE the session is gone: 404 on POST, GET and DELETE', async () => {
    const { session, post } = await rawSession();
    const headers = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    expect((await fetch(url(), { method: 'DELETE', headers })).status).toBe(200);
    expect((await post({ jsonrpc: '2.0', id: 3, method: 'ping' })).status).toBe(404);
    expect((await fetch(url(), { headers: { ...headers, accept: 'text/event-stream' } })).status).toBe(404);
    expect((await fetch(url(), { method: 'DELETE', headers })).status).toBe(404);
  });

  test('other methods get 405', async () => {
    expect((await fetch(url(), { method: 'PUT', body: '{}' })).status).toBe(405);
    expect((await fetch(url(), { method: 'PATCH', body: '{}' })).status).toBe(405);
  });

  test('JSON-RPC batches: answered together for 2025-03-26 sessions, refused with a clear error after', async () => {
    const { post } = await rawSession('2025-03-26');
    const batch = [
      { jsonrpc: '2.0', id: 'a', method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'x', progress: 1 } },
      { jsonrpc: '2.0', id: 'b', method: 'tools/list' },
      { jsonrpc: '2.0', id: 'c', method: 'no/such/method' },
    ];
    const answered = await post(batch);
    expect(answered.status).toBe(200);
    const replies = (await answered.json()) as Array<{ id: string; result?: { tools?: unknown[] }; error?: { code: number } }>;
    expect(replies.map((r) => r.id)).toEqual(['a', 'b', 'c']);
    expect(replies[0]!.result).toEqual({});
    expect(replies[1]!.result!.tools!.length).toBeGreaterThan(0);
    expect(replies[2]!.error!.code).toBe(-32601);
    const onlyNotifications = await post([{ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'x', progress: 1 } }]);
    expect(onlyNotifications.status).toBe(202);

    const modern = await rawSession('2025-11-25');
    const refused = await modern.post([{ jsonrpc: '2.0', id: 'a', method: 'ping' }]);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('batches were removed after protocol version 2025-03-26');
  });
});

describe('legacy SSE: a client whose connection drops resumes its session', () => {
  let proxy: CutProxy;
  beforeAll(async () => {
    proxy = await CutProxy.start(stack.port);
  });
  afterAll(async () => {
    await proxy?.close();
  });
  const viaProxy = () => url().replace(`:${stack.port}/`, `:${proxy.port}/`);

  test('an SDK client reconnects with Last-Event-ID into the same session and gets what was sent while it was away', async () => {
    const client = new Client({ name: 'resuming', version: '1.0.0' });
    await client.connect(new SSEClientTransport(new URL(viaProxy()), { eventSourceInit: { fetch: resumingEventSourceFetch() } }));
    try {
      const session = ((await client.callTool({ name: 'whoami', arguments: {} })).content as Array<{ text: string }>)[0]!.text;
      const progress: string[] = [];
      const call = client.callTool({ name: 'two_steps', arguments: { stepMs: 700 } }, undefined, { onprogress: (p) => progress.push(p.message!) });
      await new Promise((r) => setTimeout(r, 300));
      // The network drops: the client's stream is gone, nginx and the backend never notice a
      // client error. The first step's progress is published while the client is away (its
      // EventSource waits the stream's `retry:`, 1 s, before it reconnects).
      expect(proxy.cut()).toBeGreaterThan(0);
      expect(await call).toEqual({ content: [{ type: 'text', text: 'both steps done' }] });
      // The first step happened while the client was away. (The second may arrive in the same
      // read as the reply, and the SDK drops progress that it handles after the reply.)
      expect(progress[0]).toBe('first step');
      const again = ((await client.callTool({ name: 'whoami', arguments: {} })).content as Array<{ text: string }>)[0]!.text;
      expect(again).toBe(session);
    } finally {
      await client.close();
    }
  });

  test('the bare SDK client (which drops Last-Event-ID) reconnects into a new session and keeps working', async () => {
    const client = await connectClient('sse', viaProxy());
    try {
      const first = ((await client.callTool({ name: 'whoami', arguments: {} })).content as Array<{ text: string }>)[0]!.text;
      expect(proxy.cut()).toBeGreaterThan(0);
      // The client waits the stream's `retry:` (1 s), reconnects, and takes the new endpoint.
      await new Promise((r) => setTimeout(r, 2000));
      const second = ((await client.callTool({ name: 'whoami', arguments: {} })).content as Array<{ text: string }>)[0]!.text;
      expect(second).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{22}$/);
      expect(second).not.toBe(first);
    } finally {
      await client.close();
    }
  });

  test('event ids name the session; a resume replays exactly the events after the one given', async () => {
    const first = await openEventStream(url());
    const endpoint = await first.next((e) => e.event === 'endpoint');
    const session = endpoint.data.split('/').at(-1)!;
    expect(endpoint.id).toMatch(new RegExp(`^${session.replace('.', '\\.')}~\\d+:`));
    const post = (body: unknown) => fetch(`${url()}/${session}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } })).status).toBeLessThan(300);
    const initialized = await first.next((e) => e.data.includes('"id":1'));
    first.close();
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await post({ jsonrpc: '2.0', id: 2, method: 'ping' });
    await post({ jsonrpc: '2.0', id: 3, method: 'ping' });
    const resumed = await openEventStream(url(), { 'last-event-id': initialized.id! });
    await resumed.next((e) => e.data.includes('"id":3'));
    resumed.close();
    expect(resumed.events.map((e) => JSON.parse(e.data).id)).toEqual([2, 3]);
    expect(resumed.events.every((e) => e.id!.startsWith(`${session}~`))).toBe(true);
  });

  test('a resume after events the server no longer keeps is told so (a warning, and what is left is replayed)', async () => {
    const first = await openEventStream(url());
    const session = (await first.next((e) => e.event === 'endpoint')).data.split('/').at(-1)!;
    first.close();
    // An id from long ago: whatever followed it has expired from nchan's buffer.
    const lastEventId = `${session}~1000000000:[0],-`;
    const resumed = await openEventStream(url(), { 'last-event-id': lastEventId });
    const warning = await resumed.next((e) => e.data.includes('HTTMCP_EVENTS_LOST'));
    // What nchan still had is replayed too (here, the `endpoint` event): usually before the
    // warning, but not always (the warning is published while nchan replays; seen once in a
    // full run), so its presence is asserted, not its place.
    const replayed = await resumed.next((e) => e.event === 'endpoint');
    resumed.close();
    expect(replayed.data).toContain(session);
    expect(JSON.parse(warning.data)).toEqual({
      jsonrpc: '2.0',
      method: 'notifications/message',
      params: { level: 'warning', logger: 'httmcp', data: { code: 'HTTMCP_EVENTS_LOST', message: expect.stringContaining('may have been lost'), lastEventId } },
    });
  });

  test('an id that names no valid session of this client opens a new session', async () => {
    const forged = await openEventStream(url(), { 'last-event-id': 'AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB~1795286965:[0],-' });
    const endpoint = await forged.next((e) => e.event === 'endpoint');
    forged.close();
    expect(endpoint.data).not.toContain('AAAAAAAAAAAAAAAAAAAAAA');
    for (const junk of ['~', 'x~y', `${'a'.repeat(5000)}~1:1`, '1795286965:[0],-', 'a.b~1:[99999999999999999999],-,-,-,-,-,-,-,-,-,-']) {
      const stream = await openEventStream(url(), { 'last-event-id': junk });
      await stream.next((e) => e.event === 'endpoint');
      stream.close();
    }
  });

  test('a valid session with an id nchan would refuse (400, the end of an EventSource) replays from the start instead', async () => {
    const first = await openEventStream(url());
    const session = (await first.next((e) => e.event === 'endpoint')).data.split('/').at(-1)!;
    first.close();
    for (const id of ['0:0', '1795286965:-,-', '1795286965:[0],0,0', '1795286965:[0],[0]', '1795286965:0],-', '1795286965:0,0']) {
      const stream = await openEventStream(url(), { 'last-event-id': `${session}~${id}` });
      expect(stream.response.status).toBe(200);
      expect((await stream.next((e) => e.event === 'endpoint')).data).toBe(`/mcp/proto/${session}`);
      stream.close();
    }
  });
});

test('no nginx worker crashed', () => {
  expect(workerCrashes(stack)).toEqual([]);
});
