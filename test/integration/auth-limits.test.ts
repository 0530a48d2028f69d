import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { HTTMCP, hashApiKey, type Stack } from '../../src/index.js';
import { freePort } from '../../src/stack/stack.js';
import { INITIALIZE_PARAMS, STREAMABLE_ACCEPT } from '../helpers/raw-clients.js';
import { startTestStack } from '../helpers/stack.js';

/**
 * Per-principal rate limits, counted in the core behind the edge's verdict (docs/auth.md, "Rate
 * limits"). Every client here comes from 127.0.0.1: per-address limits cannot tell them apart,
 * only the principal can.
 */

const KEYS = { flooder: 'key-of-the-flooder-0123456789', neighbour: 'key-of-the-neighbour-012345678', toolFan: 'key-of-the-tool-fan-0123456789' };

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
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    probe = `${base}/mcp/probe`;
    stack = await startTestStack({
      port,
      servers: [server(calls)],
      auth: { publicUrl: base, apiKeys: Object.entries(KEYS).map(([subject, key]) => ({ subject, sha256: hashApiKey(key) })) },
      principalLimits: { connections: 64, ratePerSecond: 5, burst: 20, toolRatePerSecond: 1, toolBurst: 2 },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** A raw Streamable HTTP session of the principal with `key`. */
  async function session(key: string): Promise<string> {
    const headers = { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', authorization: `Bearer ${key}` };
    const init = await fetch(probe, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INITIALIZE_PARAMS }) });
    expect(init.status).toBe(200);
    await init.text();
    const id = init.headers.get('mcp-session-id')!;
    const initialized = await fetch(probe, {
      method: 'POST',
      headers: { ...headers, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    expect(initialized.status).toBe(202);
    return id;
  }

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
    for (const refused of flood.limited) {
      expect(refused.retryAfter).toBe('1');
      expect(JSON.parse(refused.body)).toEqual({
        jsonrpc: '2.0',
        id: null,
        error: { code: -32000, message: expect.stringContaining('this principal') as string, data: { limit: 'rate', per: 'principal', retryAfterSeconds: 1 } },
      });
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
});
