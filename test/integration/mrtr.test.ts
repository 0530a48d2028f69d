/**
 * Multi-round-trip requests (MCP 2026-07-28) through a real nginx+nchan stack: the official SDK
 * v2 client pinned to 2026-07-28 answers `input_required` (elicitation in form and URL mode,
 * sampling, roots) and retries; bad retries (tampered, foreign or oversized) get the spec's
 * errors before the handler runs, and nothing is published for them.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { inputRequired, McpServer, type InputRequest } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { HTTMCP, type Stack } from '../../src/index.js';
import type { MultiRound } from '../../src/mrtr/multi-round.js';
import { startTestStack, workerCrashes } from '../helpers/stack.js';

const MODERN = '2026-07-28';
const MAX_INPUT_RESPONSES = 8192;
const envelope = (capabilities: Record<string, unknown> = { elicitation: {}, sampling: {}, roots: {} }) => ({
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientCapabilities': capabilities,
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1.0.0' },
});
const NAME = inputRequired.elicit({ message: 'What is your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } });
const LOGIN = inputRequired.elicitUrl({ message: 'Sign in to continue', url: 'https://example.com/login' });
const CAPITAL = inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'Capital of France?' } }], maxTokens: 50 });
/** Handler runs per tool: a refused retry must not add one. */
const runs: Record<string, number> = {};

/** A server whose 2026 instance asks for input through the MultiRound httmcp gives it. */
class MrtrDemo extends HTTMCP {
  protected override modernServerFactory(rounds: MultiRound): () => McpServer {
    return () => {
      const server = new McpServer({ name: 'mrtr', version: '1.0.0' }, { ...rounds.serverOptions });
      const tool = (name: string, body: (ask: (key: string, request: InputRequest) => Record<string, unknown>) => string) =>
        server.registerTool(name, { inputSchema: z.object({ env: z.string().optional() }) }, async (_args, ctx) => {
          const round = rounds.round(ctx, server.server.getNegotiatedProtocolVersion())!;
          return round.run(() => {
            runs[name] = (runs[name] ?? 0) + 1;
            return { content: [{ type: 'text' as const, text: body((key, request) => round.answer(key, request) as Record<string, unknown>) }] };
          });
        });
      tool('greet', (ask) => `Hello, ${(ask('user_name', NAME).content as { name: string }).name}!`);
      tool('login', (ask) => `signed in: ${ask('login', LOGIN).action}`);
      tool('capital', (ask) => `model says ${((ask('capital', CAPITAL) as { content: { text: string } }).content.text)}`);
      tool('roots', (ask) => `roots: ${(ask('roots', inputRequired.listRoots()).roots as { uri: string }[]).map((r) => r.uri).join(',')}`);
      return server;
    };
  }
}

describe('multi-round-trip requests through nginx+nchan', () => {
  let stack: Stack;
  let url: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    stack = await startTestStack({ servers: [new MrtrDemo({ name: 'mrtr', version: '1.0.0' })], gateway: { maxInputResponsesBytes: MAX_INPUT_RESPONSES } });
    url = stack.servers.mrtr!;
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    await stack?.stop();
  });

  async function pinnedClient(): Promise<{ client: Client; asked: string[] }> {
    const asked: string[] = [];
    const client = new Client(
      { name: 'httmcp-mrtr-test', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: MODERN } }, capabilities: { elicitation: { form: {}, url: {} }, sampling: {}, roots: {} } },
    );
    client.setRequestHandler('elicitation/create', (request) => {
      asked.push(request.params.message);
      return request.params.mode === 'url' ? { action: 'accept' } : { action: 'accept', content: { name: 'Alice' } };
    });
    client.setRequestHandler('sampling/createMessage', () => ({ role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'test-model', stopReason: 'endTurn' }));
    client.setRequestHandler('roots/list', () => ({ roots: [{ uri: 'file:///work', name: 'work' }] }));
    clients.push(client);
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    return { client, asked };
  }

  /** A raw 2026 tools/call with the standard headers. */
  async function call(id: number | string, name: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': name, ...headers },
      body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {}, _meta: envelope(), ...extra } }),
    });
    const text = await response.text();
    return { status: response.status, type: response.headers.get('content-type'), json: JSON.parse(text) as any };
  }

  test('the v2 client pinned to 2026-07-28 answers elicitation (form and URL), sampling and roots, and gets the results', async () => {
    const { client, asked } = await pinnedClient();
    expect(client.getProtocolEra()).toBe('modern');
    expect(await client.callTool({ name: 'greet', arguments: {} })).toMatchObject({ content: [{ type: 'text', text: 'Hello, Alice!' }] });
    expect(await client.callTool({ name: 'login', arguments: {} })).toMatchObject({ content: [{ text: 'signed in: accept' }] });
    expect(await client.callTool({ name: 'capital', arguments: {} })).toMatchObject({ content: [{ text: 'model says Paris' }] });
    expect(await client.callTool({ name: 'roots', arguments: {} })).toMatchObject({ content: [{ text: 'roots: file:///work' }] });
    expect(asked).toEqual(['What is your name?', 'Sign in to continue']);
    expect(workerCrashes(stack)).toEqual([]);
  });

  test('bad retries get -32602 before the handler runs, and nothing is published for them', async () => {
    const first = await call(1, 'greet');
    expect(first).toMatchObject({ status: 200, json: { id: 1, result: { resultType: 'input_required', inputRequests: { user_name: NAME } } } });
    const state = first.json.result.requestState as string;
    const answer = { user_name: { action: 'accept', content: { name: 'Eve' } } };
    const before = { runs: runs.greet, published: stack.gateway.publisher.stats.published };

    const tampered = await call(2, 'greet', { inputResponses: answer, requestState: `${state}-TAMPERED` });
    expect(tampered.json).toMatchObject({ id: 2, error: { code: -32602, message: 'Invalid or expired requestState' } });
    const otherPrincipal = await call(3, 'greet', { inputResponses: answer, requestState: state }, { authorization: 'Bearer someone-else' });
    expect(otherPrincipal.json).toMatchObject({ id: 3, error: { code: -32602 } });
    const otherArguments = await call(4, 'greet', { arguments: { env: 'prod' }, inputResponses: answer, requestState: state });
    expect(otherArguments.json).toMatchObject({ id: 4, error: { code: -32602 } });
    const otherTool = await call(5, 'login', { inputResponses: answer, requestState: state });
    expect(otherTool.json).toMatchObject({ id: 5, error: { code: -32602 } });
    const oversized = await call(6, 'greet', { inputResponses: { user_name: { action: 'accept', content: { name: 'x'.repeat(MAX_INPUT_RESPONSES) } } }, requestState: state });
    expect(oversized.json).toMatchObject({ id: 6, error: { code: -32602, data: { setting: 'HTTMCP_MAX_INPUT_RESPONSES_BYTES' } } });
    for (const refused of [tampered, otherPrincipal, otherArguments, otherTool, oversized]) expect(refused.type).toMatch(/application\/json/);
    expect({ runs: runs.greet, published: stack.gateway.publisher.stats.published }).toEqual(before);

    // The genuine retry still works.
    const retry = await call(7, 'greet', { inputResponses: answer, requestState: state });
    expect(retry.json).toMatchObject({ id: 7, result: { resultType: 'complete', content: [{ text: 'Hello, Eve!' }] } });
    expect(workerCrashes(stack)).toEqual([]);
  });

  test('asking a client for what it did not declare answers HTTP 400 with -32021', async () => {
    const refused = await call(8, 'capital', { _meta: envelope({ elicitation: {} }) });
    expect(refused).toMatchObject({ status: 400, json: { id: 8, error: { code: -32021, data: { requiredCapabilities: { sampling: expect.anything() } } } } });
  });
});
