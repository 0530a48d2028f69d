/**
 * The 2026-07-28 request path (src/http/modern.ts) through a real nginx+nchan stack: the
 * official SDK v2 client pinned to 2026-07-28 and in `auto` mode, raw requests for the spec's
 * errors, slow requests held by nchan, and cancellation by closing the stream.
 */
import { Client, StreamableHTTPClientTransport, type VersionNegotiationOptions } from '@modelcontextprotocol/client';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { createDemoServer } from '../../examples/demo.js';
import { HTTMCP, type Stack } from '../../src/index.js';
import { connectClient, startTestStack, workerCrashes } from '../helpers/stack.js';
import { envelope, MODERN } from '../helpers/era-2026.js';
import { withWaitTool } from '../helpers/wait-tool.js';

const ENVELOPE = envelope('raw');

/** Handlers of `wait` that saw their signal abort (cancellation by closing the stream). */
const aborted: string[] = [];
/** What handlers of `facts` saw of their request. */
const seen: Array<{ requestId: unknown; header: unknown; sessionId: unknown }> = [];

/** Tools only these tests need, next to the example `demo` server. */
function createProbeServer(): HTTMCP {
  return withWaitTool(new HTTMCP({ name: 'probe', version: '1.0.0' }), aborted)
    .tool('where', { input: { region: z.string().meta({ 'x-mcp-header': 'Region' }), count: z.number().int().meta({ 'x-mcp-header': 'Count' }) } }, ({ region, count }) => `${region}:${count}`)
    .tool('facts', {}, (_args, ctx) => {
      seen.push({ requestId: ctx.requestId, header: ctx.headers['x-probe'], sessionId: ctx.sessionId });
      return 'ok';
    });
}

describe('2026-07-28 requests through nginx+nchan', () => {
  let stack: Stack;
  let url: string;
  let probe: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    // A status hold shorter than the slow tools below, so their results travel on nchan-held
    // streams (modern-late-refusal.test.ts covers the hold itself).
    stack = await startTestStack({ servers: [createDemoServer(), createProbeServer()], gateway: { statusHoldMs: 100 } });
    url = stack.servers.demo!;
    probe = stack.servers.probe!;
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await stack?.stop();
  });

  async function connect(versionNegotiation: VersionNegotiationOptions, at = url): Promise<Client> {
    const client = new Client({ name: 'httmcp-test-2026', version: '1.0.0' }, { versionNegotiation });
    clients.push(client);
    await client.connect(new StreamableHTTPClientTransport(new URL(at)));
    return client;
  }

  /** A raw 2026 POST with the standard headers, which `headers` may override or drop (undefined). */
  async function post(body: Record<string, unknown>, headers: Record<string, string | undefined> = {}, at = url): Promise<{ status: number; json: any; text: string }> {
    const params = body.params as { name?: string; uri?: string } | undefined;
    const all: Record<string, string | undefined> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN,
      'mcp-method': body.method as string,
      'mcp-name': params?.name ?? params?.uri,
      ...headers,
    };
    const sent = Object.fromEntries(Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined));
    const response = await fetch(at, { method: 'POST', headers: sent, body: JSON.stringify({ jsonrpc: '2.0', ...body }) });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, json, text };
  }

  test.each([
    ['pinned to 2026-07-28', { mode: { pin: MODERN } }],
    ['auto', { mode: 'auto' }],
  ] as Array<[string, VersionNegotiationOptions]>)('%s: lands on 2026, lists and calls tools, reads a resource, gets a prompt', async (_name, negotiation) => {
    const client = await connect(negotiation);
    expect(client.getProtocolEra()).toBe('modern');
    const tools = (await client.listTools()).tools.map((tool) => tool.name);
    expect(tools).toEqual(expect.arrayContaining(['add', 'divide', 'sleep', 'long_task']));
    expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).toMatchObject({ content: [{ type: 'text', text: '5' }] });
    expect(await client.callTool({ name: 'divide', arguments: { dividend: 7, divisor: 2 } })).toMatchObject({ structuredContent: { quotient: 3, remainder: 1 } });
    const readme = await client.readResource({ uri: 'demo://readme' });
    expect(readme.contents[0]).toMatchObject({ uri: 'demo://readme', mimeType: 'text/markdown' });
    expect(await client.readResource({ uri: 'demo://greeting/nchan' })).toMatchObject({ contents: [{ text: 'Hello, nchan!' }] });
    const prompt = await client.getPrompt({ name: 'explain', arguments: { topic: 'nchan' } });
    expect(prompt.messages[0]).toMatchObject({ content: { text: 'Explain nchan in two sentences.' } });
    expect(workerCrashes(stack)).toEqual([]);
  });

  test('a slow tool streams its progress and result on a stream nchan holds', async () => {
    const client = await connect({ mode: { pin: MODERN } });
    const progress: number[] = [];
    const result = await client.callTool({ name: 'long_task', arguments: { steps: 3, stepMs: 100 } }, { onprogress: (p) => void progress.push(p.progress) });
    expect(result).toMatchObject({ content: [{ type: 'text', text: 'finished 3 steps' }] });
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.every((p) => p >= 1 && p <= 3)).toBe(true);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  test('a tool slower than the inline budget answers on the held stream; nothing is kept once it is done', async () => {
    const client = await connect({ mode: { pin: MODERN } });
    const results = await Promise.all([300, 400, 500].map((ms) => client.callTool({ name: 'sleep', arguments: { ms } })));
    expect(results.map((r) => (r.content as Array<{ text: string }>)[0]!.text)).toEqual(['slept 300 ms', 'slept 400 ms', 'slept 500 ms']);
    const deadline = Date.now() + 5000;
    while (stack.gateway.stats().retained.modernStreams! > 0 && Date.now() < deadline) await delay(50);
    expect(stack.gateway.stats().retained).toMatchObject({ modernInflight: 0, modernStreams: 0 });
  });

  test('server/discover answers the supported versions, every result carries resultType and serverInfo', async () => {
    const discover = await post({ id: 1, method: 'server/discover', params: { _meta: ENVELOPE } });
    expect(discover.status).toBe(200);
    expect(discover.json).toMatchObject({ id: 1, result: { supportedVersions: [MODERN], resultType: 'complete', _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'demo' } } } });
    const call = await post({ id: 'c', method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 1 }, _meta: ENVELOPE } });
    expect(call.json).toMatchObject({ id: 'c', result: { resultType: 'complete', content: [{ text: '2' }] } });
  });

  test('bad input gets the spec errors with the request id, and no worker dies', async () => {
    const unknown = await post(
      { id: 7, method: 'tools/list', params: { _meta: { ...ENVELOPE, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } },
      { 'mcp-protocol-version': '2099-01-01' },
    );
    expect(unknown.status).toBe(400);
    expect(unknown.json).toMatchObject({ id: 7, error: { code: -32022, data: { supported: [MODERN] } } });

    const name = await post({ id: 8, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 1 }, _meta: ENVELOPE } }, { 'mcp-name': 'other' });
    expect(name.status).toBe(400);
    expect(name.json).toMatchObject({ id: 8, error: { code: -32020 } });

    const method = await post({ id: 9, method: 'tools/list', params: { _meta: ENVELOPE } }, { 'mcp-method': 'prompts/list' });
    expect(method).toMatchObject({ status: 400, json: { id: 9, error: { code: -32020 } } });

    // Missing standard headers are refused by the edge (nginx) before the backend, without an id:
    // nginx has not read the body (test/integration/edge-2026-headers.test.ts).
    const noMethod = await post({ id: 10, method: 'tools/list', params: { _meta: ENVELOPE } }, { 'mcp-method': undefined });
    expect(noMethod).toMatchObject({ status: 400, json: { error: { code: -32020 } } });

    const noName = await post({ id: 11, method: 'tools/call', params: { name: 'add', arguments: {}, _meta: ENVELOPE } }, { 'mcp-name': undefined });
    expect(noName).toMatchObject({ status: 400, json: { error: { code: -32020 } } });

    const versionMismatch = await post({ id: 12, method: 'tools/list', params: { _meta: ENVELOPE } }, { 'mcp-protocol-version': '2025-11-25' });
    expect(versionMismatch).toMatchObject({ status: 400, json: { id: 12, error: { code: -32020 } } });

    const whereCall = { id: 16, method: 'tools/call', params: { name: 'where', arguments: { region: 'eu', count: 7 }, _meta: ENVELOPE } };
    expect(await post(whereCall, { 'mcp-param-region': 'eu', 'mcp-param-count': '7.0' }, probe)).toMatchObject({ status: 200, json: { id: 16, result: { content: [{ text: 'eu:7' }] } } });
    expect(await post(whereCall, { 'mcp-param-region': '=?base64?ZXU=?=', 'mcp-param-count': '7' }, probe)).toMatchObject({ status: 200, json: { id: 16 } });
    expect(await post(whereCall, { 'mcp-param-region': 'us', 'mcp-param-count': '7' }, probe)).toMatchObject({ status: 400, json: { id: 16, error: { code: -32020 } } });
    expect(await post(whereCall, { 'mcp-param-count': '7' }, probe)).toMatchObject({ status: 400, json: { id: 16, error: { code: -32020 } } });
    expect(await post(whereCall, { 'mcp-param-region': '=?base64?!!?=', 'mcp-param-count': '7' }, probe)).toMatchObject({ status: 400, json: { error: { code: -32020 } } });

    const notFound = await post({ id: 13, method: 'no/such', params: { _meta: ENVELOPE } });
    expect(notFound).toMatchObject({ status: 404, json: { id: 13, error: { code: -32601 } } });

    for (const removed of ['ping', 'initialize', 'logging/setLevel', 'resources/subscribe']) {
      const answer = await post({ id: removed, method: removed, params: { level: 'info', uri: 'demo://readme', _meta: ENVELOPE } });
      expect(answer).toMatchObject({ status: 404, json: { id: removed, error: { code: -32601 } } });
    }

    const withoutEnvelope = await post({ id: 14, method: 'tools/list', params: {} });
    expect(withoutEnvelope).toMatchObject({ status: 400, json: { id: 14, error: { code: -32602 } } });

    // A session id means nothing in 2026: the request is served without one.
    const session = await post({ id: 15, method: 'tools/list', params: { _meta: ENVELOPE } }, { 'mcp-session-id': 'made.up' });
    expect(session).toMatchObject({ status: 200, json: { id: 15, result: { resultType: 'complete' } } });

    expect(workerCrashes(stack)).toEqual([]);
  });

  test('a 2026 method on a 2025 session gets method not found; the 2025 client still works', async () => {
    const legacy = await connectClient('streamable', url);
    await expect(legacy.request({ method: 'server/discover' as 'ping', params: {} }, z.object({}).passthrough())).rejects.toMatchObject({ code: -32601 });
    expect(await legacy.callTool({ name: 'add', arguments: { a: 2, b: 2 } })).toMatchObject({ content: [{ text: '4' }] });
    await legacy.close();
  });

  test('the v2 client mirrors x-mcp-header arguments; handlers see the client id and headers of a 2026 request', async () => {
    const client = await connect({ mode: { pin: MODERN } }, probe);
    expect(await client.callTool({ name: 'where', arguments: { region: 'eu west', count: 3 } })).toMatchObject({ content: [{ text: 'eu west:3' }] });
    const answer = await post({ id: 'client-id-1', method: 'tools/call', params: { name: 'facts', arguments: {}, _meta: ENVELOPE } }, { 'x-probe': 'yes' }, probe);
    expect(answer).toMatchObject({ status: 200, json: { id: 'client-id-1', result: { content: [{ text: 'ok' }] } } });
    expect(seen.at(-1)).toEqual({ requestId: 'client-id-1', header: 'yes', sessionId: undefined });
  });

  test('closing a slow request stream cancels it: the handler sees its signal abort', async () => {
    const controller = new AbortController();
    const response = await fetch(probe, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'wait' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'wait', arguments: { tag: 'closed' }, _meta: ENVELOPE } }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    await delay(200);
    controller.abort();
    const deadline = Date.now() + 10_000;
    while (!aborted.includes('closed') && Date.now() < deadline) await delay(50);
    expect(aborted).toContain('closed');
    expect(stack.gateway.stats().retained).toMatchObject({ modernInflight: 0, modernStreams: 0 });
    expect(workerCrashes(stack)).toEqual([]);
  });
});
