import { LATEST_PROTOCOL_VERSION, McpError, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { Gateway } from '../../src/gateway.js';
import { HTTMCP } from '../../src/server/httmcp.js';
import { DEFAULT_LIMITS, LIMIT_EXCEEDED, limitsFromEnv, resolveLimits, type BackendLimits } from '../../src/session/limits.js';
import { SessionHub, type Delivery, type Wire } from '../../src/session/session-hub.js';
import { StreamCloser } from '../../src/session/stream-closer.js';
import { Subscriptions } from '../../src/server/subscriptions.js';
import { BoundedMap } from '../../src/util/bounded-map.js';
import { DEPTH_SCAN_FROM, nestsDeeperThan } from '../../src/util/json-depth.js';
import { Quota } from '../../src/util/quota.js';
import { captureLogger, connectClient, FakePublisher, sleep, waitFor } from './support.js';

const SESSION_A = 'AAAAAAAAAAAAAAAAAAAAAA.aaaaaaaaaaaaaaaaaaaaaa';
const SESSION_B = 'BBBBBBBBBBBBBBBBBBBBBB.bbbbbbbbbbbbbbbbbbbbbb';

type Json = Record<string, any>;

describe('Quota', () => {
  test('counts per session, per principal and in all, and says which bound refused', () => {
    const quota = new Quota({ perSession: 2, perPrincipal: 3, total: 5 });
    expect(quota.acquire('s1', 'p')).toBeUndefined();
    expect(quota.acquire('s1', 'p')).toBeUndefined();
    expect(quota.acquire('s1', 'p')).toBe('session');
    expect(quota.acquire('s2', 'p')).toBeUndefined();
    expect(quota.acquire('s2', 'p')).toBe('principal');
    // Anonymous clients share '' and are not bounded as one principal.
    expect(quota.acquire('s3', '')).toBeUndefined();
    expect(quota.acquire('s4', '')).toBeUndefined();
    expect(quota.acquire('s5', '')).toBe('total');
    expect(quota.total).toBe(5);
    quota.release('s1', 'p');
    expect(quota.of('s1')).toBe(1);
    expect(quota.acquire('s2', 'p')).toBeUndefined();
  });

  test('a holder with nothing held costs nothing', () => {
    const quota = new Quota({ perSession: 10, perPrincipal: 10, total: 10 });
    for (let i = 0; i < 1000; i++) {
      quota.acquire(`s${i}`, `p${i}`);
      quota.release(`s${i}`, `p${i}`);
    }
    expect(quota.total).toBe(0);
    expect((quota as unknown as { sessions: Map<string, number> }).sessions.size).toBe(0);
    expect((quota as unknown as { principals: Map<string, number> }).principals.size).toBe(0);
  });
});

describe('nestsDeeperThan', () => {
  const pad = (json: string) => `{"pad":"${'x'.repeat(DEPTH_SCAN_FROM)}","v":${json}}`;
  test('finds nesting past the bound, ignoring brackets inside strings and escaped quotes', () => {
    expect(nestsDeeperThan(pad('['.repeat(200) + ']'.repeat(200)), 128)).toBe(true);
    expect(nestsDeeperThan(pad('{"a":'.repeat(100) + '1' + '}'.repeat(100)), 128)).toBe(false);
    expect(nestsDeeperThan(pad(`"${'['.repeat(500)}"`), 128)).toBe(false);
    // "a\" then brackets: the quote is escaped, the brackets are inside the string.
    expect(nestsDeeperThan(pad(String.raw`"a\"` + '['.repeat(500) + '"'), 128)).toBe(false);
    // "a\\" closes after an escaped backslash: the brackets after it count.
    expect(nestsDeeperThan(pad(String.raw`"a\\"` + ',' + '['.repeat(200)), 128)).toBe(true);
  });

  test('short texts are not scanned', () => {
    expect(nestsDeeperThan('['.repeat(1000), 128)).toBe(false);
  });
});

describe('BoundedMap with a weight', () => {
  test('forgets the oldest entries past the total weight, and counts deletes', () => {
    const map = new BoundedMap<string, string>(100, { max: 10, of: (v) => v.length });
    map.set('a', 'xxxx').set('b', 'xxxx');
    expect(map.totalWeight).toBe(8);
    map.set('c', 'xxxx');
    expect(map.get('a')).toBeUndefined();
    expect(map.totalWeight).toBe(8);
    map.set('b', 'x');
    expect(map.totalWeight).toBe(5);
    map.delete('c');
    expect(map.totalWeight).toBe(1);
    expect(map.delete('nope')).toBe(false);
    expect(map.totalWeight).toBe(1);
  });
});

describe('limit settings', () => {
  test('every limit has a default and is read from its HTTMCP_* variable', () => {
    expect(resolveLimits()).toEqual(DEFAULT_LIMITS);
    const env = { HTTMCP_MAX_INFLIGHT_PER_SESSION: '7', HTTMCP_MAX_BATCH: '3', HTTMCP_MAX_SUBSCRIPTION_URI: '' };
    expect(limitsFromEnv(env)).toEqual({ inflightPerSession: 7, batchLength: 3 });
    const gateway = Gateway.fromEnv({ HTTMCP_PUBLISH_URL: 'http://127.0.0.1:1', HTTMCP_SESSION_SECRET: 'x'.repeat(32), ...env });
    expect(gateway.limits).toMatchObject({ inflightPerSession: 7, batchLength: 3, subscriptionUriBytes: DEFAULT_LIMITS.subscriptionUriBytes });
    expect(() => limitsFromEnv({ HTTMCP_MAX_INFLIGHT: '0' })).toThrow(/HTTMCP_MAX_INFLIGHT must be a positive integer/);
    expect(() => limitsFromEnv({ HTTMCP_MAX_BATCH: 'lots' })).toThrow(/HTTMCP_MAX_BATCH/);
    void gateway.close();
  });
});

describe('SessionHub bounds', () => {
  const hubs: SessionHub[] = [];
  afterEach(async () => {
    await Promise.all(hubs.splice(0).map((hub) => hub.close()));
  });

  const aborted: string[] = [];
  async function harness(limits: Partial<BackendLimits>, livenessIntervalMs = 10_000) {
    const publisher = new FakePublisher();
    const { logger } = captureLogger();
    const hub = new SessionHub({ name: 'test', publisher: publisher.asPublisher(), logger, inlineBudgetMs: 20, livenessIntervalMs, limits });
    hubs.push(hub);
    const server = new HTTMCP({ name: 'bounds', version: '1.0.0' }).tool('block', { input: { tag: z.string() } }, ({ tag }, ctx) =>
      new Promise<string>((resolve) => ctx.signal.addEventListener('abort', () => {
        aborted.push(tag);
        resolve('aborted');
      })),
    );
    await server.connect(hub);
    const send = (session: string, body: Json, wire: Wire = 'websocket', principal = '') =>
      hub.receive({ session, wire, headers: {}, body: JSON.stringify({ jsonrpc: '2.0', ...body }), principal });
    const block = (session: string, id: RequestId, principal = '', wire: Wire = 'websocket') =>
      send(session, { id, method: 'tools/call', params: { name: 'block', arguments: { tag: String(id) } } }, wire, principal);
    return { hub, publisher, send, block };
  }

  function errorOf(delivery: Delivery): Json {
    expect(delivery.kind).toBe('reply');
    return (JSON.parse((delivery as { body: string }).body) as Json).error as Json;
  }

  test('requests past the in-flight bounds are refused with the limit named; finished ones free room', async () => {
    const h = await harness({ inflightPerSession: 2, inflightPerPrincipal: 3, inflightTotal: 4 });
    expect(await h.block(SESSION_A, 1, 'alice')).toEqual({ kind: 'none' });
    expect(await h.block(SESSION_A, 2, 'alice')).toEqual({ kind: 'none' });
    expect(errorOf(await h.block(SESSION_A, 3, 'alice'))).toMatchObject({
      code: LIMIT_EXCEEDED,
      message: expect.stringContaining('HTTMCP_MAX_INFLIGHT_PER_SESSION'),
      data: { limit: 'HTTMCP_MAX_INFLIGHT_PER_SESSION', value: 2 },
    });
    expect(await h.block(SESSION_B, 4, 'alice')).toEqual({ kind: 'none' });
    expect(errorOf(await h.block(SESSION_B, 5, 'alice')).message).toContain('HTTMCP_MAX_INFLIGHT_PER_PRINCIPAL');
    expect(await h.block('CCCCCCCCCCCCCCCCCCCCCC.cccccccccccccccccccccc', 6)).toEqual({ kind: 'none' });
    expect(errorOf(await h.block('DDDDDDDDDDDDDDDDDDDDDD.dddddddddddddddddddddd', 7)).message).toContain('setting HTTMCP_MAX_INFLIGHT)');
    expect(h.hub.inflightCount).toBe(4);
    h.hub.sessionClosed(SESSION_A);
    await waitFor(() => h.hub.inflightCount === 2, 'session A\'s requests to end');
    expect(await h.block(SESSION_B, 8, 'bob')).toEqual({ kind: 'none' });
  });

  test('an initialize with capabilities past the bound is refused; kept capabilities stay within the byte budget', async () => {
    const h = await harness({ capabilitiesBytes: 100, capabilitiesTotalBytes: 300, trackedSessions: 1000 });
    const initialize = (id: number, capabilities: Json) => ({
      id,
      method: 'initialize',
      params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities, clientInfo: { name: 'c', version: '1' } },
    });
    expect(errorOf(await h.send(SESSION_A, initialize(1, { experimental: { x: { pad: 'y'.repeat(200) } } }))).message).toContain('HTTMCP_MAX_CLIENT_CAPABILITIES');
    expect(h.hub.clientCapabilities(SESSION_A)).toBeUndefined();
    for (let i = 0; i < 20; i++) {
      const session = `${String(i).padStart(22, 'S')}.${'s'.repeat(22)}`;
      expect((await h.send(session, initialize(i, { sampling: {}, roots: { listChanged: true } }))).kind).toBe('reply');
    }
    expect(h.hub.retained.capabilitiesBytes).toBeLessThanOrEqual(300);
    expect(h.hub.clientCapabilities(`${'19'.padStart(22, 'S')}.${'s'.repeat(22)}`)).toEqual({ sampling: {}, roots: { listChanged: true } });
  });

  test('a Streamable HTTP request whose stream lost its client is aborted a liveness interval later', async () => {
    const h = await harness({}, 60);
    expect(await h.block(SESSION_A, 'gone', '', 'streamable')).toMatchObject({ kind: 'stream' });
    const channel = (h.publisher.calls.find((c) => c.op === 'publish') as { channel: string }).channel;
    h.publisher.subscribers.set(channel, 0);
    h.hub.streamLeft(channel);
    await waitFor(() => aborted.includes('gone'), 'the handler to be aborted', 2000);
    expect(h.hub.inflightCount).toBe(0);
  });

  test('one that comes back in time (a subscriber on its stream) keeps running', async () => {
    const h = await harness({}, 60);
    expect(await h.block(SESSION_A, 'back', '', 'streamable')).toMatchObject({ kind: 'stream' });
    const channel = (h.publisher.calls.find((c) => c.op === 'publish') as { channel: string }).channel;
    h.hub.streamLeft(channel); // FakePublisher reports one subscriber: it came back
    await sleep(300);
    expect(aborted).not.toContain('back');
    expect(h.hub.inflightCount).toBe(1);
  });

  test('a stream no client ever attached to is found by the sweep and its request aborted', async () => {
    const h = await harness({}, 60);
    expect(await h.block(SESSION_A, 'never', '', 'streamable')).toMatchObject({ kind: 'stream' });
    const channel = (h.publisher.calls.find((c) => c.op === 'publish') as { channel: string }).channel;
    h.publisher.subscribers.set(channel, 0);
    await waitFor(() => aborted.includes('never'), 'the handler to be aborted', 2000);
  });

  test('a WebSocket session seen empty once (a reload: its client is reconnecting) keeps its work when the client is back at the next sweep', async () => {
    const interval = 150;
    const h = await harness({}, interval);
    expect(await h.block(SESSION_A, 'reconnecting')).toEqual({ kind: 'none' });
    h.publisher.subscribers.set(SESSION_A, 0);
    // The first sweep that checks it (the request has run an interval) sees nobody.
    await waitFor(() => h.publisher.calls.some((c) => c.op === 'info' && c.channel === SESSION_A), 'a sweep to check the session', 2000);
    h.publisher.subscribers.set(SESSION_A, 1);
    await sleep(interval * 3);
    expect(aborted).not.toContain('reconnecting');
    expect(h.hub.inflightCount).toBe(1);
  });

  test('a WebSocket session empty at two sweeps an interval apart has its work aborted', async () => {
    const interval = 150;
    const h = await harness({}, interval);
    expect(await h.block(SESSION_B, 'left')).toEqual({ kind: 'none' });
    h.publisher.subscribers.set(SESSION_B, 0);
    const checks = () => h.publisher.calls.filter((c) => c.op === 'info' && c.channel === SESSION_B).length;
    let checksAtAbort = 0;
    await waitFor(() => aborted.includes('left') && (checksAtAbort = checks()) > 0, 'the handler to be aborted', 3000);
    // Ended by the second sweep that found it empty, not the first.
    expect(checksAtAbort).toBeGreaterThanOrEqual(2);
    expect(h.hub.inflightCount).toBe(0);
  });

  test('requests sent to clients are remembered up to their bound', async () => {
    const h = await harness({ serverRequests: 3 });
    const remember = (h.hub as unknown as { rememberServerRequest(id: RequestId, session: string): void }).rememberServerRequest.bind(h.hub);
    for (let i = 0; i < 10; i++) remember(i, SESSION_A);
    expect(h.hub.retained.serverRequests).toBe(3);
  });
});

describe('StreamCloser bound', () => {
  test('past its capacity a finished stream is left to expire instead of polled', async () => {
    const publisher = new FakePublisher();
    publisher.subscribers.set('a', 0);
    publisher.subscribers.set('b', 0);
    const { logger, records } = captureLogger();
    const closer = new StreamCloser(publisher.asPublisher(), logger, 1);
    void closer.closeWhenRead('a');
    expect(closer.pending).toBe(1);
    await closer.closeWhenRead('b');
    expect(closer.pending).toBe(1);
    expect(records.some((r) => String(r.msg).includes('HTTMCP_MAX_STREAM_CLOSERS'))).toBe(true);
    closer.close();
  });
});

describe('Subscriptions', () => {
  test('the URIs held stay within the byte budget; per principal over sessions; forget frees all', () => {
    const subs = new Subscriptions(resolveLimits({ subscriptionsTotalBytes: 100, subscriptionsPerPrincipal: 3 }));
    const send = async () => undefined;
    expect(subs.add('x'.repeat(60), 's1', '', send)).toBeUndefined();
    expect(subs.add('y'.repeat(60), 's2', '', send)).toMatchObject({ code: LIMIT_EXCEEDED, message: expect.stringContaining('HTTMCP_SUBSCRIPTIONS_MEMORY') });
    expect(subs.bytes).toBe(60);
    for (let i = 0; i < 3; i++) expect(subs.add(`u${i}`, `p-s${i}`, 'bob', send)).toBeUndefined();
    expect(subs.add('u9', 'p-s9', 'bob', send)).toMatchObject({ message: expect.stringContaining('HTTMCP_MAX_SUBSCRIPTIONS_PER_PRINCIPAL') });
    expect(subs.senders('u1')).toHaveLength(1);
    subs.forget('s1');
    for (let i = 0; i < 3; i++) subs.forget(`p-s${i}`);
    expect(subs.size).toBe(0);
    expect(subs.bytes).toBe(0);
    expect(subs.senders('u1')).toEqual([]);
  });
});

describe('Subscriptions.reclaim', () => {
  test('forgets subscribers that are gone, moves the others back, and runs at most once per interval', async () => {
    const subs = new Subscriptions(resolveLimits());
    const send = async () => undefined;
    for (const s of ['a', 'b', 'c', 'd']) subs.add(`u-${s}`, s, '', send);
    const asked: string[] = [];
    const gone = async (s: string) => {
      asked.push(s);
      return s === 'b' || s === 'd';
    };
    expect(await subs.reclaim(gone, 3, 0)).toBe(1);
    expect(asked).toEqual(['a', 'b', 'c']);
    expect(subs.size).toBe(3);
    asked.length = 0;
    expect(await subs.reclaim(gone, 2, 0)).toBe(1); // d first now: a and c went to the back
    expect(asked).toEqual(['d', 'a']);
    expect(await subs.reclaim(gone, 2, 60_000)).toBe(0); // too soon
    expect(subs.senders('u-a')).toHaveLength(1);
  });
});

describe('resources/subscribe bounds (any SDK transport)', () => {
  test('per subscriber and URI length; unsubscribing and closing give room back', async () => {
    const gateway = new Gateway({
      publishUrl: 'http://127.0.0.1:1',
      sessionSecret: 'x'.repeat(32),
      logger: captureLogger().logger,
      limits: { subscriptionsPerSession: 3, subscriptionUriBytes: 64 },
    });
    const server = new HTTMCP({ name: 'subs', version: '1.0.0', gateway });
    server.mount(gateway);
    const connection = await connectClient(server);
    try {
      for (let i = 0; i < 3; i++) await connection.client.subscribeResource({ uri: `x://${i}` });
      const refused = await connection.client.subscribeResource({ uri: 'x://3' }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(McpError);
      expect(refused).toMatchObject({ code: LIMIT_EXCEEDED, message: expect.stringContaining('HTTMCP_MAX_SUBSCRIPTIONS_PER_SESSION') });
      const long = await connection.client.subscribeResource({ uri: `x://${'y'.repeat(100)}` }).catch((error: unknown) => error);
      expect(long).toMatchObject({ code: LIMIT_EXCEEDED, message: expect.stringContaining('HTTMCP_MAX_SUBSCRIPTION_URI') });
      await connection.client.unsubscribeResource({ uri: 'x://0' });
      await connection.client.subscribeResource({ uri: 'x://3' });
    } finally {
      await connection.close();
      await server.unmount();
      await gateway.close();
    }
  });
});
