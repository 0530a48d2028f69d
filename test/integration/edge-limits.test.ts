/**
 * Per-client limits at the edge, and the legacy SSE and WebSocket details that came with them,
 * on real nginx+nchan. Clients come from two loopback addresses (127.0.0.1 and 127.0.0.2, both
 * reach nginx listening on 127.0.0.1): what one address does must cost the other nothing.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import WebSocket from 'ws';
import { freePort, type Stack } from '../../src/index.js';
import { INITIALIZE_PARAMS, openEventStream, STREAMABLE_ACCEPT, WsClient, type EventStream } from '../helpers/raw-clients.js';
import { CLI, startCli } from '../helpers/cli.js';
import { startTestStack, workerCrashes } from '../helpers/stack.js';

const ATTACKER = '127.0.0.1';
const OTHER = '127.0.0.2';
/** A third address, for a test that must not meet what an earlier one left open. */
const THIRD = '127.0.0.3';

const INITIALIZE = { jsonrpc: '2.0', id: 1, method: 'initialize', params: INITIALIZE_PARAMS };

/** What the edge answers a request past a limit. */
interface Refusal {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A WebSocket with subprotocol `mcp` from `localAddress`; resolves open, or with the refusal. */
function openWs(url: string, options: { localAddress?: string; headers?: Record<string, string>; protocols?: string[] } = {}): Promise<WsClient | Refusal> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), options.protocols ?? ['mcp'], {
    perMessageDeflate: false,
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    headers: options.headers ?? {},
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(WsClient.wrap(ws)));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        ws.terminate();
      });
    });
    ws.once('error', reject);
  });
}

/** One HTTP request from `localAddress` (fetch cannot choose its source address). */
function httpRequest(
  url: string,
  options: { method?: string; localAddress?: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<Refusal> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, localAddress: options.localAddress, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.once('error', reject);
    req.end(options.body);
  });
}

function postInitialize(url: string, localAddress: string, headers: Record<string, string> = {}): Promise<Refusal> {
  return httpRequest(url, {
    method: 'POST',
    localAddress,
    headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(INITIALIZE),
  });
}

function isOpen(attempt: WsClient | Refusal): attempt is WsClient {
  return attempt instanceof WsClient;
}

/** The 429 every limit answers: Retry-After, and a JSON-RPC error saying which limit. */
function expectLimited(refusal: Refusal, limit: 'connections' | 'rate'): void {
  expect(refusal.status).toBe(429);
  expect(refusal.headers['retry-after']).toBe(limit === 'rate' ? '1' : '5');
  expect(refusal.headers['content-type']).toMatch(/^application\/json/);
  expect(JSON.parse(refusal.body)).toEqual({
    jsonrpc: '2.0',
    id: null,
    error: { code: -32000, message: expect.stringMatching(/^Too many/), data: { limit, retryAfterSeconds: limit === 'rate' ? 1 : 5 } },
  });
}

const opened: WsClient[] = [];
const stacks: Stack[] = [];

async function stackWith(options: Parameters<typeof startTestStack>[0]): Promise<Stack> {
  const stack = await startTestStack(options);
  stacks.push(stack);
  return stack;
}

afterEach(() => {
  for (const client of opened.splice(0)) client.close();
});

afterAll(async () => {
  const crashes = stacks.flatMap((stack) => workerCrashes(stack));
  for (const stack of stacks) await stack.stop();
  expect(crashes).toEqual([]);
});

describe('connections per client address', () => {
  const MAX = 5;
  let stack: Stack;
  let demo: string;

  beforeAll(async () => {
    stack = await stackWith({ clientLimits: { connections: MAX } });
    demo = stack.servers.demo!;
  });

  test('one address holding its maximum of idle WebSockets gets 429 past it; another address still connects and works', async () => {
    const held: WsClient[] = [];
    for (let i = 0; i < MAX; i++) {
      const attempt = await openWs(demo, { localAddress: ATTACKER });
      expect(isOpen(attempt)).toBe(true);
      held.push(attempt as WsClient);
      opened.push(attempt as WsClient);
    }
    // Past the maximum: the WebSocket handshake, a Streamable HTTP POST and an SSE GET.
    const ws = await openWs(demo, { localAddress: ATTACKER });
    expect(isOpen(ws)).toBe(false);
    expectLimited(ws as Refusal, 'connections');
    expectLimited(await postInitialize(demo, ATTACKER), 'connections');
    expectLimited(await httpRequest(demo, { localAddress: ATTACKER, headers: { accept: 'text/event-stream' } }), 'connections');

    // Another address: a WebSocket and a Streamable HTTP session work.
    const other = await openWs(demo, { localAddress: OTHER });
    expect(isOpen(other)).toBe(true);
    opened.push(other as WsClient);
    await (other as WsClient).initialize();
    expect(await (other as WsClient).request('add', 'tools/call', { name: 'add', arguments: { a: 2, b: 3 } })).toMatchObject({ result: { content: [{ text: '5' }] } });
    const post = await postInitialize(demo, OTHER);
    expect(post.status).toBe(200);

    // Frames are not connections: a held session pipelines 50 calls and gets every answer.
    const busy = held[0]!;
    await busy.initialize();
    for (let i = 0; i < 50; i++) busy.send({ jsonrpc: '2.0', id: `p${i}`, method: 'ping' });
    for (let i = 0; i < 50; i++) await busy.next((m) => (m as { id?: unknown }).id === `p${i}`, 10_000);
    expect(busy.closed).toBeUndefined();

    // A freed slot is the address's again.
    held[1]!.close();
    await held[1]!.whenClosed();
    let again: WsClient | Refusal | undefined;
    for (let i = 0; i < 50 && !(again && isOpen(again)); i++) {
      again = await openWs(demo, { localAddress: ATTACKER });
      if (!isOpen(again)) await new Promise((r) => setTimeout(r, 100));
    }
    expect(isOpen(again!)).toBe(true);
    opened.push(again as WsClient);
  });

  test('without a trusted proxy a forged X-Forwarded-For changes nothing: the address is the client', async () => {
    for (let i = 0; i < MAX; i++) {
      const attempt = await openWs(demo, { localAddress: THIRD, headers: { 'x-forwarded-for': `198.51.100.${i}` } });
      expect(isOpen(attempt)).toBe(true);
      opened.push(attempt as WsClient);
    }
    const forged = await openWs(demo, { localAddress: THIRD, headers: { 'x-forwarded-for': '198.51.100.200' } });
    expect(isOpen(forged)).toBe(false);
    expectLimited(forged as Refusal, 'connections');
  });
});

describe('behind a trusted proxy', () => {
  const MAX = 2;
  let demo: string;

  beforeAll(async () => {
    const stack = await stackWith({ clientLimits: { connections: MAX }, trustedProxies: [ATTACKER] });
    demo = stack.servers.demo!;
  });

  test('X-Forwarded-For from the proxy decides the client; from anyone else it is ignored', async () => {
    // Through the proxy (127.0.0.1): two clients, each with its own limit.
    for (const client of ['203.0.113.5', '203.0.113.6']) {
      for (let i = 0; i < MAX; i++) {
        const attempt = await openWs(demo, { localAddress: ATTACKER, headers: { 'x-forwarded-for': client } });
        expect(isOpen(attempt)).toBe(true);
        opened.push(attempt as WsClient);
      }
      // The client is the address the proxy added (the last one): what the client wrote in
      // front of it does not make it someone else.
      const past = await openWs(demo, { localAddress: ATTACKER, headers: { 'x-forwarded-for': `198.51.100.77, ${client}` } });
      expectLimited(past as Refusal, 'connections');
    }
    // Not from the proxy (127.0.0.2): its header is ignored, so varying it does not help.
    for (let i = 0; i < MAX; i++) {
      const attempt = await openWs(demo, { localAddress: OTHER, headers: { 'x-forwarded-for': `203.0.113.${10 + i}` } });
      expect(isOpen(attempt)).toBe(true);
      opened.push(attempt as WsClient);
    }
    const forged = await openWs(demo, { localAddress: OTHER, headers: { 'x-forwarded-for': '203.0.113.99' } });
    expectLimited(forged as Refusal, 'connections');
  });
});

describe('request rate per client address', () => {
  let demo: string;

  beforeAll(async () => {
    const stack = await stackWith({ clientLimits: { ratePerSecond: 2, burst: 5 } });
    demo = stack.servers.demo!;
  });

  test('a flood from one address gets 429 + Retry-After + a JSON-RPC error; another address is served meanwhile', async () => {
    const flood = await Promise.all(Array.from({ length: 40 }, () => postInitialize(demo, ATTACKER)));
    const served = flood.filter((r) => r.status === 200);
    const refused = flood.filter((r) => r.status !== 200);
    // The burst (5) and what the rate refilled meanwhile (2 a second) get through, no more
    // (the bound leaves seconds for the flood on a loaded machine).
    expect(served.length).toBeGreaterThanOrEqual(5);
    expect(served.length).toBeLessThan(30);
    for (const refusal of refused) expectLimited(refusal, 'rate');

    const other = await postInitialize(demo, OTHER);
    expect(other.status).toBe(200);
    expect(JSON.parse(other.body)).toMatchObject({ id: 1, result: { serverInfo: { name: 'demo' } } });
    // WebSocket handshakes count as requests too.
    expectLimited((await openWs(demo, { localAddress: ATTACKER })) as Refusal, 'rate');
    const ws = await openWs(demo, { localAddress: OTHER });
    expect(isOpen(ws)).toBe(true);
    opened.push(ws as WsClient);
  });
});

describe('legacy HTTP+SSE and WebSocket details', () => {
  let stack: Stack;
  let demo: string;

  beforeAll(async () => {
    stack = await stackWith({});
    demo = stack.servers.demo!;
  });

  /** An open legacy session by hand: its stream and its message URL. */
  async function legacySession(): Promise<{ stream: EventStream; endpoint: string }> {
    const stream = await openEventStream(demo);
    const endpoint = stack.url + (await stream.next((e) => e.event === 'endpoint')).data;
    return { stream, endpoint };
  }

  function postTo(endpoint: string, body: string | Buffer): Promise<Refusal> {
    return httpRequest(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  }

  test('a POST answered inline gets 202 with an empty body, and its reply arrives on the stream', async () => {
    const { stream, endpoint } = await legacySession();
    try {
      const init = await postTo(endpoint, JSON.stringify({ ...INITIALIZE, id: 'init' }));
      expect([init.status, init.body]).toEqual([202, '']);
      expect(JSON.parse((await stream.next((e) => e.data.includes('"init"'))).data)).toMatchObject({ id: 'init', result: { serverInfo: { name: 'demo' } } });
      const notification = await postTo(endpoint, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
      expect([notification.status, notification.body]).toEqual([202, '']);
      // A call that outlasts the inline budget: 202 at once, the result later on the stream.
      const slow = await postTo(endpoint, JSON.stringify({ jsonrpc: '2.0', id: 'slow', method: 'tools/call', params: { name: 'sleep', arguments: { ms: 300 } } }));
      expect([slow.status, slow.body]).toEqual([202, '']);
      expect(JSON.parse((await stream.next((e) => e.data.includes('"slow"'))).data)).toMatchObject({ id: 'slow', result: { content: [{ text: 'slept 300 ms' }] } });
      // Bad input: 202 too, and the error on the stream.
      const garbage = await postTo(endpoint, '{"jsonrpc":');
      expect([garbage.status, garbage.body]).toEqual([202, '']);
      expect(JSON.parse((await stream.next((e) => e.data.includes('-32700'))).data)).toMatchObject({ error: { code: -32700 } });
    } finally {
      stream.close();
    }
  });

  test('100 KB POSTs leave no file under <prefix>/tmp once they end', async () => {
    const { stream, endpoint } = await legacySession();
    try {
      const pad = 'x'.repeat(100 * 1024);
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) => postTo(endpoint, JSON.stringify({ jsonrpc: '2.0', id: `big${i}`, method: 'ping', params: { _meta: { pad } } }))),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(202));
      for (let i = 0; i < 10; i++) await stream.next((e) => e.data.includes(`"big${i}"`));
      expect(filesUnder(join(stack.prefix, 'tmp'))).toEqual([]);
    } finally {
      stream.close();
    }
  });

  test('a GET with Accept: */* (supergateway) opens a legacy session; an SDK SSE client sending it works', async () => {
    const raw = await openEventStream(demo, { accept: '*/*' });
    try {
      expect(raw.response.status).toBe(200);
      expect((await raw.next((e) => e.event === 'endpoint')).data).toMatch(/^\/mcp\/demo\/[A-Za-z0-9_.-]+$/);
    } finally {
      raw.close();
    }
    // The SDK's SSE client, its GET's Accept replaced as supergateway sends it.
    const wildcard: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      if ((init?.method ?? 'GET') === 'GET') headers.set('accept', '*/*');
      return fetch(input, { ...init, headers });
    };
    const client = new Client({ name: 'wildcard', version: '1.0.0' });
    await client.connect(new SSEClientTransport(new URL(demo), { eventSourceInit: { fetch: wildcard } }));
    try {
      expect(await client.callTool({ name: 'add', arguments: { a: 40, b: 2 } })).toEqual({ content: [{ type: 'text', text: '42' }] });
    } finally {
      await client.close();
    }
  });

  test('subprotocols `ws+meta.nchan, mcp` get `mcp` and plain frames', async () => {
    const attempt = await openWs(demo, { protocols: ['ws+meta.nchan', 'mcp'] });
    expect(isOpen(attempt)).toBe(true);
    const client = attempt as WsClient;
    opened.push(client);
    expect(client.ws.protocol).toBe('mcp');
    const raw: string[] = [];
    client.ws.on('message', (data) => raw.push(data.toString()));
    await client.initialize();
    await client.request('ping', 'ping');
    // Every frame is one JSON-RPC message, with no nchan meta header (`id: ...`) in front.
    expect(raw.length).toBeGreaterThanOrEqual(2);
    for (const frame of raw) expect(JSON.parse(frame)).toMatchObject({ jsonrpc: '2.0' });
  });
});

describe('settings of `httmcp start`', () => {
  test('flags and HTTMCP_* variables reach nginx: two WebSockets per address, the third refused', async () => {
    const { child, info } = await startCli(['start', '--port', String(await freePort()), '--client-connections', '2', '--trusted-proxies', '10.0.0.0/8, 192.168.0.1'], {
      HTTMCP_CLIENT_RATE: '7',
      HTTMCP_CLIENT_BURST: '30',
    });
    try {
      const config = readFileSync(join(info.prefix as string, 'nginx.conf'), 'utf8');
      expect(config).toContain('limit_conn httmcp_per_client 2;');
      expect(config).toContain('rate=7r/s;');
      expect(config).toContain('limit_req zone=httmcp_client_rate burst=30 nodelay;');
      expect(config).toContain('10.0.0.0/8 1; 192.168.0.1 1;');
      const demo = (info.servers as Record<string, string>).demo!;
      for (let i = 0; i < 2; i++) {
        const attempt = await openWs(demo);
        expect(isOpen(attempt)).toBe(true);
        opened.push(attempt as WsClient);
      }
      expectLimited((await openWs(demo)) as Refusal, 'connections');
    } finally {
      for (const client of opened.splice(0)) client.close();
      child.kill('SIGINT');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    }
  });

  test('a malformed setting stops it with a message naming it', async () => {
    const port = String(await freePort());
    for (const [args, message] of [
      [['--trusted-proxies', 'proxy.example.com'], 'a trusted proxy is an IP address or CIDR range'],
      [['--client-connections', '70000'], 'client limit connections must be an integer from 1 to 65535'],
      [['--client-rate', 'fast'], 'a whole number'],
    ] as const) {
      const result = spawnSync(process.execPath, [CLI, 'start', '--port', port, ...args], { encoding: 'utf8', timeout: 20_000 });
      expect([args[0], result.status]).toEqual([args[0], 1]);
      expect(result.stderr).toContain(message);
    }
  });
});

/** Regular files below `dir`, recursively. */
function filesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...filesUnder(path));
    else found.push(path);
  }
  return found;
}
