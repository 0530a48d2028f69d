/**
 * Asking the client for input with one handler for both protocol eras, through a real
 * nginx+nchan stack (docs/mrtr.md):
 * - 2026-07-28: the official SDK v2 client pinned to that revision answers `input_required`
 *   (elicitation in form and URL mode, sampling, roots; several rounds, several questions in one
 *   round; tools, a prompt and a resource) and retries;
 * - 2025: the v1 client on a Streamable HTTP session gets real server-to-client requests from
 *   the same handlers;
 * - the Python SDK (`mcp` 2.3.0) answers an elicitation on both eras;
 * - bad retries (tampered, foreign or oversized) get the spec's errors before the handler runs,
 *   and nothing is published for them.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { ElicitRequestSchema, CreateMessageRequestSchema, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { acceptedContent, inputRequired } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { HTTMCP, type Context, type Stack } from '../../src/index.js';
import { pythonSdk, runPythonClient, type PythonSdk } from '../helpers/python-sdk.js';
import { connectClient, startTestStack, workerCrashes } from '../helpers/stack.js';

const MODERN = '2026-07-28';
const MAX_INPUT_RESPONSES = 8192;
const NAME_SCHEMA = { type: 'object' as const, properties: { name: { type: 'string' as const } }, required: ['name'] };
const COLOR_SCHEMA = { type: 'object' as const, properties: { color: { type: 'string' as const } }, required: ['color'] };
const envelope = (capabilities: Record<string, unknown> = { elicitation: { form: {}, url: {} }, sampling: {}, roots: {} }) => ({
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientCapabilities': capabilities,
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1.0.0' },
});
/** Handler runs per tool, prompt or resource: re-runs are visible, refused retries must add none. */
const runs: Record<string, number> = {};
const ran = (name: string) => void (runs[name] = (runs[name] ?? 0) + 1);

const nameOf = async (ctx: Context) => {
  const answer = await ctx.elicit({ message: 'What is your name?', requestedSchema: NAME_SCHEMA }, { key: 'user_name' });
  return answer.action === 'accept' ? String(answer.content?.name) : `(${answer.action})`;
};
const textOf = (result: { content: unknown }) => {
  const block = (Array.isArray(result.content) ? result.content[0] : result.content) as { type: string; text?: string } | undefined;
  return block?.type === 'text' ? block.text : '';
};

/** Every handler is written once, for both eras. */
function createMrtrServer(): HTTMCP {
  return new HTTMCP({ name: 'mrtr', version: '1.0.0', requestTimeoutMs: 10_000 })
    .tool('greet', { input: { env: z.string().optional() } }, async (_args, ctx) => {
      ran('greet');
      return `Hello, ${await nameOf(ctx)}!`;
    })
    .tool('login', {}, async (_args, ctx) => {
      ran('login');
      const answer = await ctx.elicit({ mode: 'url', message: 'Sign in to continue', url: 'https://example.com/login' });
      return `signed in: ${answer.action}`;
    })
    .tool('capital', {}, async (_args, ctx) => {
      ran('capital');
      const answer = await ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: 'Capital of France?' } }], maxTokens: 50 });
      return `model says ${textOf(answer)}`;
    })
    .tool('roots', {}, async (_args, ctx) => {
      ran('roots');
      return `roots: ${(await ctx.roots()).roots.map((root) => root.uri).join(',')}`;
    })
    .tool('survey', {}, async (_args, ctx) => {
      ran('survey');
      // Round 1 asks two questions at once; round 2 a third.
      const [name, model] = await Promise.all([nameOf(ctx), ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: 'Say hi' } }], maxTokens: 20 })]);
      const color = await ctx.elicit({ message: 'Favourite colour?', requestedSchema: COLOR_SCHEMA }, { key: 'color' });
      return `${name} / ${textOf(model)} / ${String(color.content?.color)}`;
    })
    .tool('batch', {}, async (_args, ctx) => {
      ran('batch');
      const answers = await ctx.input({
        who: inputRequired.elicit({ message: 'Who?', requestedSchema: NAME_SCHEMA }),
        where: inputRequired.listRoots(),
      });
      return JSON.stringify(Object.keys(answers).sort());
    })
    .tool('explicit', {}, (_args, ctx) => {
      ran('explicit');
      // The SDK's explicit form: return the question, read the answer on the next run.
      const answer = acceptedContent(ctx.extra.mcpReq.inputResponses, 'who');
      if (!answer) return inputRequired({ inputRequests: { who: inputRequired.elicit({ message: 'Who, explicitly?', requestedSchema: NAME_SCHEMA }) } });
      return `explicit: ${String(answer.name)}`;
    })
    .prompt('intro', {}, async (_args, ctx) => {
      ran('intro');
      return `Introduce ${await nameOf(ctx)}.`;
    })
    .resource('profile', 'mrtr://profile', { mimeType: 'text/plain' }, async (_variables, ctx) => {
      ran('profile');
      return `profile of ${await nameOf(ctx)}`;
    });
}

const sdk = await pythonSdk();
if ('skip' in sdk) console.warn(`mrtr.test.ts: the Python SDK cases are skipped: ${sdk.skip}`);
const pythonTest = 'skip' in sdk ? test.skip : test;

describe('one handler asks for input on both eras, through nginx+nchan', () => {
  let stack: Stack;
  let url: string;
  const closers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    stack = await startTestStack({ servers: [createMrtrServer()], gateway: { maxInputResponsesBytes: MAX_INPUT_RESPONSES } });
    url = stack.servers.mrtr!;
  });

  afterAll(async () => {
    await Promise.all(closers.map((close) => close().catch(() => undefined)));
    await stack?.stop();
  });

  /** The v2 client pinned to 2026-07-28, answering every kind of question. */
  async function modernClient(): Promise<{ client: Client; asked: string[] }> {
    const asked: string[] = [];
    const client = new Client(
      { name: 'httmcp-mrtr-test', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: MODERN } }, capabilities: { elicitation: { form: {}, url: {} }, sampling: {}, roots: {} } },
    );
    client.setRequestHandler('elicitation/create', (request) => {
      asked.push(request.params.message);
      if (request.params.mode === 'url') return { action: 'accept' };
      const content: Record<string, string> = request.params.message.startsWith('Favourite') ? { color: 'blue' } : { name: 'Alice' };
      return { action: 'accept', content };
    });
    client.setRequestHandler('sampling/createMessage', () => ({ role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'test-model', stopReason: 'endTurn' }));
    client.setRequestHandler('roots/list', () => ({ roots: [{ uri: 'file:///work', name: 'work' }] }));
    closers.push(() => client.close());
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

  test('2026-07-28, the v2 client pinned: elicitation (form and URL), sampling, roots, several rounds, a prompt and a resource', async () => {
    const { client, asked } = await modernClient();
    expect(client.getProtocolEra()).toBe('modern');
    expect(await client.callTool({ name: 'greet', arguments: {} })).toMatchObject({ content: [{ type: 'text', text: 'Hello, Alice!' }] });
    expect(await client.callTool({ name: 'login', arguments: {} })).toMatchObject({ content: [{ text: 'signed in: accept' }] });
    expect(await client.callTool({ name: 'capital', arguments: {} })).toMatchObject({ content: [{ text: 'model says Paris' }] });
    expect(await client.callTool({ name: 'roots', arguments: {} })).toMatchObject({ content: [{ text: 'roots: file:///work' }] });
    const before = runs.survey ?? 0;
    expect(await client.callTool({ name: 'survey', arguments: {} })).toMatchObject({ content: [{ text: 'Alice / Paris / blue' }] });
    // Three runs: no answer, then the first two, then all three.
    expect(runs.survey! - before).toBe(3);
    expect(await client.callTool({ name: 'batch', arguments: {} })).toMatchObject({ content: [{ text: '["where","who"]' }] });
    expect(await client.callTool({ name: 'explicit', arguments: {} })).toMatchObject({ content: [{ text: 'explicit: Alice' }] });
    const prompt = await client.getPrompt({ name: 'intro' });
    expect(prompt.messages[0]).toMatchObject({ content: { type: 'text', text: 'Introduce Alice.' } });
    expect(await client.readResource({ uri: 'mrtr://profile' })).toMatchObject({ contents: [{ uri: 'mrtr://profile', text: 'profile of Alice' }] });
    expect(asked).toEqual(expect.arrayContaining(['What is your name?', 'Sign in to continue', 'Favourite colour?', 'Who?']));
    expect(workerCrashes(stack)).toEqual([]);
  });

  test('2025, the v1 client on a session: the same handlers send real requests to the client, and run once', async () => {
    const client = await connectClient('streamable', url, { elicitation: { form: {}, url: {} }, sampling: {}, roots: {} });
    closers.push(() => client.close());
    const asked: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, (request) => {
      asked.push(request.params.message);
      if (request.params.mode === 'url') return { action: 'accept' };
      const content: Record<string, string> = request.params.message.startsWith('Favourite') ? { color: 'green' } : { name: 'Bob' };
      return { action: 'accept', content };
    });
    client.setRequestHandler(CreateMessageRequestSchema, () => ({ role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'test-model', stopReason: 'endTurn' }));
    client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: 'file:///home', name: 'home' }] }));
    expect(await client.callTool({ name: 'greet', arguments: {} })).toMatchObject({ content: [{ text: 'Hello, Bob!' }] });
    expect(await client.callTool({ name: 'login', arguments: {} })).toMatchObject({ content: [{ text: 'signed in: accept' }] });
    expect(await client.callTool({ name: 'capital', arguments: {} })).toMatchObject({ content: [{ text: 'model says Paris' }] });
    expect(await client.callTool({ name: 'roots', arguments: {} })).toMatchObject({ content: [{ text: 'roots: file:///home' }] });
    const before = runs.survey ?? 0;
    expect(await client.callTool({ name: 'survey', arguments: {} })).toMatchObject({ content: [{ text: 'Bob / Paris / green' }] });
    expect(runs.survey! - before).toBe(1);
    expect(await client.callTool({ name: 'batch', arguments: {} })).toMatchObject({ content: [{ text: '["where","who"]' }] });
    // The SDK's legacy shim asks the explicit form's question over the session.
    expect(await client.callTool({ name: 'explicit', arguments: {} })).toMatchObject({ content: [{ text: 'explicit: Bob' }] });
    expect((await client.getPrompt({ name: 'intro' })).messages[0]).toMatchObject({ content: { text: 'Introduce Bob.' } });
    expect(await client.readResource({ uri: 'mrtr://profile' })).toMatchObject({ contents: [{ text: 'profile of Bob' }] });
    expect(asked).toEqual(expect.arrayContaining(['What is your name?', 'Sign in to continue', 'Favourite colour?', 'Who?']));
  });

  pythonTest.each([
    [MODERN, MODERN],
    ['legacy', '2025-11-25'],
  ])(
    'the Python SDK (mode %s) answers an elicitation round trip',
    async (mode, version) => {
      const reply = await runPythonClient<{ protocolVersion: string; asked: string[]; result: { content: Array<{ text?: string }> } }>(
        sdk as PythonSdk,
        'elicit_call.py',
        [url, mode, 'greet', '{}', '{"name":"Py"}'],
        60_000,
      );
      expect(reply.protocolVersion).toBe(version);
      expect(reply.asked).toEqual(['What is your name?']);
      expect(reply.result.content).toEqual([{ type: 'text', text: 'Hello, Py!' }]);
    },
    120_000,
  );

  test('bad retries get -32602 before the handler runs, and nothing is published for them', async () => {
    const first = await call(1, 'greet');
    expect(first).toMatchObject({ status: 200, json: { id: 1, result: { resultType: 'input_required', inputRequests: { user_name: { method: 'elicitation/create' } } } } });
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
    const notAnObject = await call(7, 'greet', { inputResponses: null });
    expect(notAnObject.json).toMatchObject({ id: 7, error: { code: -32602 } });
    for (const refused of [tampered, otherPrincipal, otherArguments, otherTool, oversized, notAnObject]) expect(refused.type).toMatch(/application\/json/);
    expect({ runs: runs.greet, published: stack.gateway.publisher.stats.published }).toEqual(before);

    // A malformed answer asks again; the genuine retry completes.
    const malformed = await call(8, 'greet', { inputResponses: { user_name: 12345 }, requestState: state });
    expect(malformed.json).toMatchObject({ id: 8, result: { resultType: 'input_required', inputRequests: { user_name: {} } } });
    const retry = await call(9, 'greet', { inputResponses: answer, requestState: state });
    expect(retry.json).toMatchObject({ id: 9, result: { resultType: 'complete', content: [{ text: 'Hello, Eve!' }] } });
    expect(workerCrashes(stack)).toEqual([]);
  });

  test('asking a client for what it did not declare answers HTTP 400 with -32021 naming it', async () => {
    const refused = await call(10, 'capital', { _meta: envelope({ elicitation: {} }) });
    expect(refused).toMatchObject({ status: 400, json: { id: 10, error: { code: -32021, data: { requiredCapabilities: { sampling: expect.anything() } } } } });
  });
});
