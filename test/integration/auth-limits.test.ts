import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { jest } from '@jest/globals';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import WebSocket from 'ws';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { HTTMCP, type Stack } from '../../src/index.js';
import { principalKey } from '../../src/auth/principal.js';
import { startApiKeyStack } from '../helpers/api-key-stack.js';
import { INITIALIZE_PARAMS, openStreamableSession, STREAMABLE_ACCEPT } from '../helpers/raw-clients.js';

/**
 * Per-principal rate limits, counted in the core behind the edge's verdict (docs/auth.md, "Rate
 * limits"). Every client here comes from 127.0.0.1: per-address limits cannot tell them apart,
 * only the principal can.
 */

const KEYS = {
  flooder: 'key-of-the-flooder-0123456789',
  neighbour: 'key-of-the-neighbour-012345678',
  toolFan: 'key-of-the-tool-fan-0123456789',
  bodyFan: 'key-of-the-body-fan-0123456789',
  wsFan: 'key-of-the-ws-fan-01234567890',
  batchFan: 'key-of-the-batch-fan-012345678',
};

function server(calls: string[]): HTTMCP {
  return new HTTMCP({ name: 'probe', version: '1.0.0' })
    .tool('whoami', { description: 'who is calling' }, (_args, ctx) => {
      calls.push(ctx.auth?.subject ?? '?');
      return ctx.auth?.subject ?? null;
    })
    .tool('other', { description: 'another tool' }, (_args, ctx) => {
      calls.push(ctx.auth?.subject ?? '?');
      return 'other';
    });
}

describe('per-principal limits at the edge (real nginx+nchan)', () => {
  let stack: Stack;
  let probe: string;
  const calls: string[] = [];

  beforeAll(async () => {
    ({ stack, probe } = await startApiKeyStack(server(calls), KEYS, {
      principalLimits: { connections: 64, ratePerSecond: 5, burst: 20, toolRatePerSecond: 1, toolBurst: 2 },
    }));
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** A raw Streamable HTTP session of the principal with `key`. */
  const session = (key: string): Promise<string> => openStreamableSession(probe, '2025-06-18', { authorization: `Bearer ${key}` });

  /** `count` tools/call requests at once; their statuses, and the body and Retry-After of a 429. */
  async function burst(key: string, sessionId: string, tool: string, count: number, extra: Record<string, string> = {}) {
    const answers = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const response = await fetch(probe, {
          method: 'POST',
          headers: {
            accept: STREAMABLE_ACCEPT,
            'content-type': 'application/json',
            authorization: `Bearer ${key}`,
            'mcp-session-id': sessionId,
            'mcp-protocol-version': '2025-06-18',
            // A key of the client's own, different each time, would escape the limits: the edge
            // replaces it with the verdict's.
            'x-httmcp-principal-key': `forged-${i}`,
            ...extra,
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: 100 + i, method: 'tools/call', params: { name: tool, arguments: {} } }),
        });
        return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.text() };
      }),
    );
    return { answers, limited: answers.filter((a) => a.status === 429), served: answers.filter((a) => a.status === 200) };
  }

  test('a principal flooding a server gets 429 with Retry-After and a JSON-RPC error; another principal on the same address is served', async () => {
    const flooder = await session(KEYS.flooder);
    const before = calls.length;
    const flood = await burst(KEYS.flooder, flooder, 'whoami', 60);
    // 20 of burst and 5 a second: most of 60 at once are refused, whatever the machine's speed.
    expect(flood.limited.length).toBeGreaterThan(20);
    expect(flood.served.length + flood.limited.length).toBe(60);
    // Refused by nginx (the server's rate: id null) or by the backend (the tool's rate: this
    // client names the tool only in the body; the error answers its request and names the tool).
    for (const refused of flood.limited) {
      expect(refused.retryAfter).toBe('1');
      const body = JSON.parse(refused.body) as { id: unknown; error: { data: Record<string, unknown> } };
      const expected = body.id === null ? { limit: 'rate', per: 'principal', retryAfterSeconds: 1 } : { limit: 'rate', per: 'principal', name: 'whoami', retryAfterSeconds: 1 };
      expect(body).toEqual({ jsonrpc: '2.0', id: body.id, error: { code: -32000, message: expect.stringContaining('this principal') as string, data: expected } });
    }
    // Refused calls never reached a handler.
    expect(calls.length - before).toBe(flood.served.length);

    // The neighbour, from the same address, has a budget of its own.
    const neighbour = new Client({ name: 'neighbour', version: '1.0.0' });
    await neighbour.connect(new StreamableHTTPClientTransport(new URL(probe), { requestInit: { headers: { authorization: `Bearer ${KEYS.neighbour}` } } }));
    const result = await neighbour.callTool({ name: 'whoami', arguments: {} });
    expect(JSON.stringify(result.content)).toContain('neighbour');
    await neighbour.close();
  });

  test('per tool, where Mcp-Name names it: one tool is limited while the same principal still calls another', async () => {
    const id = await session(KEYS.toolFan);
    const named = (tool: string) => ({ 'mcp-method': 'tools/call', 'mcp-name': tool });
    // 8 calls are within the server's burst (20), past the tool's (2).
    const flood = await burst(KEYS.toolFan, id, 'whoami', 8, named('whoami'));
    expect(flood.limited.length).toBeGreaterThanOrEqual(4);
    expect(JSON.parse(flood.limited[0]!.body)).toMatchObject({ error: { data: { limit: 'rate', per: 'principal' } } });
    const other = await burst(KEYS.toolFan, id, 'other', 1, named('other'));
    expect(other.served).toHaveLength(1);
    expect(other.served[0]!.body).toContain('other');
  });

  test('per tool, named only in the body (clients before 2026-07-28): the backend counts it; 429 + Retry-After + a JSON-RPC error naming the tool', async () => {
    const id = await session(KEYS.bodyFan);
    const before = calls.length;
    // No Mcp-Name: nginx counts these against the server's rate only (burst 20).
    const flood = await burst(KEYS.bodyFan, id, 'whoami', 8);
    expect(flood.limited.length).toBeGreaterThanOrEqual(4);
    for (const refused of flood.limited) {
      expect(refused.retryAfter).toBe('1');
      const body = JSON.parse(refused.body) as { id: number };
      expect(body.id).toBeGreaterThanOrEqual(100);
      expect(body).toEqual({
        jsonrpc: '2.0',
        id: body.id,
        error: { code: -32000, message: expect.stringContaining('tool whoami') as string, data: { limit: 'rate', per: 'principal', name: 'whoami', retryAfterSeconds: 1 } },
      });
    }
    expect(calls.length - before).toBe(flood.served.length);
    // Another tool has its own budget.
    const other = await burst(KEYS.bodyFan, id, 'other', 1);
    expect(other.served).toHaveLength(1);
  });

  test('per tool in a batch (protocol 2025-03-26): each call counts; those past the rate get the error in the batch reply', async () => {
    const id = await session(KEYS.batchFan);
    const before = calls.length;
    const response = await fetch(probe, {
      method: 'POST',
      headers: { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', authorization: `Bearer ${KEYS.batchFan}`, 'mcp-session-id': id },
      body: JSON.stringify(Array.from({ length: 8 }, (_, i) => ({ jsonrpc: '2.0', id: 200 + i, method: 'tools/call', params: { name: 'whoami', arguments: {} } }))),
    });
    expect(response.status).toBe(200);
    const replies = (await response.json()) as Array<{ id: number; result?: unknown; error?: { data?: Record<string, unknown> } }>;
    expect(replies).toHaveLength(8);
    const refused = replies.filter((r) => r.error);
    expect(refused.length).toBeGreaterThanOrEqual(4);
    expect(refused[0]!.error!.data).toEqual({ limit: 'rate', per: 'principal', name: 'whoami', retryAfterSeconds: 1 });
    expect(calls.length - before).toBe(8 - refused.length);
  });

  test('per tool on a WebSocket: calls past the rate get the JSON-RPC error, and the socket stays open', async () => {
    const ws = new WebSocket(probe.replace(/^http/, 'ws'), 'mcp', { headers: { authorization: `Bearer ${KEYS.wsFan}` } });
    const replies = new Map<number, { result?: unknown; error?: { data?: Record<string, unknown> } }>();
    ws.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString('utf8')) as { id?: number; result?: unknown; error?: { data?: Record<string, unknown> } };
      if (typeof message.id === 'number') replies.set(message.id, message);
    });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const waitFor = async (ids: number[]) => {
      while (!ids.every((i) => replies.has(i))) await new Promise((r) => setTimeout(r, 20));
    };
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INITIALIZE_PARAMS }));
    await waitFor([1]);
    ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    const ids = Array.from({ length: 8 }, (_, i) => 10 + i);
    for (const i of ids) ws.send(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'whoami', arguments: {} } }));
    await waitFor(ids);
    const refused = ids.map((i) => replies.get(i)!).filter((r) => r.error);
    expect(refused.length).toBeGreaterThanOrEqual(4);
    expect(refused[0]!.error!.data).toEqual({ limit: 'rate', per: 'principal', name: 'whoami', retryAfterSeconds: 1 });
    // Still open: another tool answers.
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'other', arguments: {} } }));
    await waitFor([99]);
    expect(replies.get(99)!.result).toBeDefined();
    ws.close();
  });
});

describe('open WebSockets per principal (real nginx+nchan)', () => {
  let stack: Stack;
  let probe: string;

  beforeAll(async () => {
    ({ stack, probe } = await startApiKeyStack(server([]), KEYS, {
      principalLimits: { connections: 3 },
      // At the limit, every counted WebSocket may be checked with nchan at once (default: after 10 s).
      gateway: { principalQuota: { webSockets: 3, staleCheckAfterMs: 0 } },
    }));
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const open = (key: string) =>
    new Promise<{ status: number; retryAfter?: string | undefined; body?: string; ws?: WebSocket }>((resolve) => {
      const ws = new WebSocket(probe.replace(/^http/, 'ws'), 'mcp', { headers: { authorization: `Bearer ${key}` } });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body }));
      });
      ws.on('open', () => resolve({ status: 101, ws }));
    });

  test('a principal past its open WebSockets gets 429 with Retry-After and a JSON-RPC error; another principal opens; a closed one frees its slot', async () => {
    const mine = await Promise.all([open(KEYS.wsFan), open(KEYS.wsFan), open(KEYS.wsFan)]);
    expect(mine.map((m) => m.status)).toEqual([101, 101, 101]);
    const fourth = await open(KEYS.wsFan);
    expect(fourth.status).toBe(429);
    expect(fourth.retryAfter).toBe('5');
    expect(JSON.parse(fourth.body!)).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32000, message: expect.stringContaining('open WebSockets of this principal') as string, data: { limit: 'connections', per: 'principal', retryAfterSeconds: 5 } },
    });
    // Another principal, same address, is not affected.
    const neighbour = await open(KEYS.neighbour);
    expect(neighbour.status).toBe(101);
    // Closing one frees a slot once nchan's unsubscribe hook has told the backend.
    mine[0]!.ws!.close();
    let again = await open(KEYS.wsFan);
    for (let attempt = 0; attempt < 50 && again.status !== 101; attempt++) {
      await new Promise((r) => setTimeout(r, 100));
      again = await open(KEYS.wsFan);
    }
    expect(again.status).toBe(101);
    for (const m of [...mine.slice(1), neighbour, again]) m.ws?.close();
  });

  test('WebSockets whose close was never reported do not hold their slots: at the limit the backend asks nchan and forgets those nobody is on', async () => {
    const quota = stack.gateway.quota!;
    const key = principalKey({ issuer: 'api-key', subject: 'flooder', clientId: undefined, scopes: [], expiresAt: undefined });
    // As if a worker had died with three of this principal's WebSockets: no unsubscribe hook ran.
    for (let i = 0; i < 3; i++) expect(quota.openWebSocket(key, 'probe', `lost-${i}.x`)).toBeUndefined();
    const opened = await open(KEYS.flooder);
    expect(opened.status).toBe(101);
    // Two were checked and forgotten; the new one counts.
    expect(quota.staleCandidates(key, 'probe', 5)).toEqual(['lost-2.x', expect.any(String)]);
    opened.ws!.close();
  });
});

describe('an API key brute force (real nginx+nchan)', () => {
  let stack: Stack;
  let probe: string;
  const logLines: string[] = [];

  beforeAll(async () => {
    ({ stack, probe } = await startApiKeyStack(server([]), { ci: KEYS.neighbour }, {
      // The edge's per-address rate is what bounds guessing: nginx checks it before any verdict.
      clientLimits: { ratePerSecond: 5, burst: 10 },
      logger: pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _e, done) => (logLines.push(chunk.toString('utf8')), done()) })),
    }));
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** POST initialize with `key` from `localAddress` (fetch cannot choose its source address). */
  const initialize = (key: string, localAddress = '127.0.0.1') =>
    new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INITIALIZE_PARAMS });
      const req = request(probe, { method: 'POST', localAddress, agent: false, headers: { 'content-type': 'application/json', accept: STREAMABLE_ACCEPT, authorization: `Bearer ${key}` } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body);
    });

  test('guesses past the per-address rate get 429 before any check; each refused guess is checked once and never logged; the real key from another address is served', async () => {
    const check = jest.spyOn(stack.gateway.auth!, 'check');
    try {
      const guesses = Array.from({ length: 60 }, (_, i) => `guess-${String(i).padStart(4, '0')}-9f8e7d6c5b4a`);
      const statuses = await Promise.all(guesses.map((g) => initialize(g)));
      const limited = statuses.filter((s) => s === 429).length;
      const refused = statuses.filter((s) => s === 401).length;
      expect(limited + refused).toBe(60);
      // A burst of 10 and 5 a second: most of 60 at once never reach the verdict.
      expect(limited).toBeGreaterThanOrEqual(40);
      expect(check.mock.calls.length).toBeLessThanOrEqual(refused);
      expect(await initialize(KEYS.neighbour, '127.0.0.2')).toBe(200);
      const log = logLines.join('');
      expect(log).toContain('refused a request: bad credentials');
      for (const guess of guesses) expect(log).not.toContain(guess);
    } finally {
      check.mockRestore();
    }
  });
});
