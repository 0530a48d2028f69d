/**
 * The multi-round-trip machinery (src/mrtr/) on a bare SDK v2 McpServer pinned to 2026-07-28
 * through `serveStdio`, driven with raw JSON-RPC: suspension and re-run, answers carried in the
 * signed state, refusals before the handler.
 */
import { inputRequired, McpServer, type InputRequest } from '@modelcontextprotocol/server';
import { jest } from '@jest/globals';
import { z } from 'zod';
import { Gateway } from '../../src/gateway.js';
import { MultiRound } from '../../src/mrtr/multi-round.js';
import { enveloped, MuxTransport, servePinned, type Reply } from '../helpers/pinned-2026.js';

const SECRET = 'a-session-secret-of-32-bytes-or-more!';
const NAME_SCHEMA = { type: 'object' as const, properties: { name: { type: 'string' as const } }, required: ['name'] };
const NAME = inputRequired.elicit({ message: 'What is your name?', requestedSchema: NAME_SCHEMA });
const COLOR = inputRequired.elicit({ message: 'Favourite colour?', requestedSchema: { type: 'object', properties: { color: { type: 'string' } }, required: ['color'] } });
const CAPITAL = inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'Capital of France?' } }], maxTokens: 50 });
const accept = (content: Record<string, unknown>) => ({ action: 'accept', content });
const sampled = (text: string) => ({ role: 'assistant', content: { type: 'text', text }, model: 'test-model', stopReason: 'endTurn' });

describe('MultiRound on a server pinned to 2026-07-28', () => {
  let mux: MuxTransport;
  let rounds: MultiRound;
  let served: { close(): Promise<void> };
  /** Handler runs, by tool: re-run semantics made visible. */
  const runs: Record<string, number> = {};

  beforeEach(() => {
    mux = new MuxTransport();
    rounds = new MultiRound({ server: 'mrtr-test', sessionSecret: SECRET, maxInputResponsesBytes: 4096, principal: (id) => mux.principalOf(id) });
    const server = new McpServer({ name: 'mrtr-test', version: '1.0.0' }, { ...rounds.serverOptions });
    const tool = (name: string, body: (ask: (key: string, request: InputRequest) => Record<string, unknown>, args: { label?: string }, all: (requests: Record<string, InputRequest>) => Record<string, unknown>) => string) =>
      server.registerTool(name, { inputSchema: z.object({ label: z.string().optional() }) }, async (args, ctx) => {
        const round = rounds.round(ctx, server.server.getNegotiatedProtocolVersion());
        if (!round) throw new Error('not a 2026 request');
        return round.run(() => {
          runs[name] = (runs[name] ?? 0) + 1;
          const text = body((key, request) => round.answer(key, request) as Record<string, unknown>, args, (requests) => round.answers(requests));
          return { content: [{ type: 'text' as const, text }] };
        });
      });
    tool('greet', (ask) => `Hello, ${(ask('user_name', NAME).content as { name: string }).name}!`);
    tool('two_steps', (ask) => {
      const name = (ask('step1', NAME).content as { name: string }).name;
      const color = (ask('step2', COLOR).content as { color: string }).color;
      return `${name} likes ${color}`;
    });
    tool('swallows', (ask) => {
      try {
        ask('user_name', NAME);
      } catch {
        // A handler that catches the signal...
      }
      return 'returned anyway';
    });
    tool('same_key_twice', (ask) => `${JSON.stringify(ask('k', NAME))}${JSON.stringify(ask('k', COLOR))}`);
    tool('changing', (ask) => {
      // A question that differs on every run (it names the run): not a stable question.
      const first = ask('first', inputRequired.elicit({ message: `Name? (run ${runs.changing})`, requestedSchema: NAME_SCHEMA }));
      ask('second', COLOR);
      return JSON.stringify(first);
    });
    tool('three_steps', (ask) => ['step1', 'step2', 'step3'].map((key) => JSON.stringify(ask(key, NAME).content).length).join(','));
    tool('all_at_once', (_ask, _args, all) => {
      const answers = all({ name: NAME, capital: CAPITAL, roots: inputRequired.listRoots() });
      return JSON.stringify(Object.keys(answers));
    });
    for (const key of Object.keys(runs)) delete runs[key];
    served = servePinned(server, rounds.intake(mux));
  });

  afterEach(async () => {
    await served.close();
  });

  const call = (name: string, extra: Record<string, unknown> = {}, principal = 'alice', capabilities?: Record<string, unknown>): Promise<Reply> =>
    mux.request('tools/call', enveloped({ name, arguments: {}, ...extra }, capabilities), principal);
  const text = (reply: Reply) => (reply.result?.content as { text: string }[] | undefined)?.[0]?.text;

  test('round 1 answers input_required with the question and a signed state; the retry completes', async () => {
    const first = await call('greet');
    expect(first.result).toMatchObject({ resultType: 'input_required', inputRequests: { user_name: NAME } });
    expect(typeof first.result!.requestState).toBe('string');
    const second = await call('greet', { inputResponses: { user_name: accept({ name: 'Alice' }) }, requestState: first.result!.requestState });
    expect(second.result?.resultType).toBe('complete');
    expect(text(second)).toBe('Hello, Alice!');
    expect(runs.greet).toBe(2);
  });

  test('several rounds: the first answer comes back from the state when the client sends only the second', async () => {
    const r1 = await call('two_steps');
    expect(Object.keys(r1.result!.inputRequests as object)).toEqual(['step1']);
    const r2 = await call('two_steps', { inputResponses: { step1: accept({ name: 'Alice' }) }, requestState: r1.result!.requestState });
    expect(Object.keys(r2.result!.inputRequests as object)).toEqual(['step2']);
    expect(r2.result!.requestState).not.toBe(r1.result!.requestState);
    const r3 = await call('two_steps', { inputResponses: { step2: accept({ color: 'blue' }) }, requestState: r2.result!.requestState });
    expect(text(r3)).toBe('Alice likes blue');
  });

  test('questions asked together come in one round (elicitation, sampling and roots)', async () => {
    const r1 = await call('all_at_once');
    expect(r1.result!.inputRequests).toEqual({ name: NAME, capital: CAPITAL, roots: { method: 'roots/list' } });
    const r2 = await call('all_at_once', {
      inputResponses: { name: accept({ name: 'A' }), capital: sampled('Paris'), roots: { roots: [{ uri: 'file:///tmp', name: 'tmp' }] } },
      requestState: r1.result!.requestState,
    });
    expect(text(r2)).toBe('["name","capital","roots"]');
  });

  test('a missing or malformed answer asks again; unknown keys are ignored', async () => {
    const wrong = await call('greet', { inputResponses: { wrong_key: accept({ name: 'x' }) } });
    expect(wrong.result).toMatchObject({ resultType: 'input_required', inputRequests: { user_name: NAME } });
    const malformed = await call('greet', { inputResponses: { user_name: 12345 } });
    expect(malformed.result).toMatchObject({ resultType: 'input_required', inputRequests: { user_name: NAME } });
    const extra = await call('greet', { inputResponses: { user_name: accept({ name: 'Bo' }), other: accept({ x: 1 }) } });
    expect(text(extra)).toBe('Hello, Bo!');
  });

  test('a tampered state gets -32602 before the handler runs', async () => {
    const r1 = await call('greet');
    const before = runs.greet;
    const tampered = await call('greet', { inputResponses: { user_name: accept({ name: 'Eve' }) }, requestState: `${r1.result!.requestState as string}-TAMPERED` });
    expect(tampered.error).toMatchObject({ code: -32602, message: 'Invalid or expired requestState' });
    expect(runs.greet).toBe(before);
  });

  test('a state presented by another principal, or with other arguments, gets -32602 before the handler', async () => {
    const r2 = await call('two_steps', { inputResponses: { step1: accept({ name: 'Alice' }) } });
    const state = r2.result!.requestState;
    const before = runs.two_steps;
    const bob = await call('two_steps', { inputResponses: { step2: accept({ color: 'red' }) }, requestState: state }, 'bob');
    expect(bob.error).toMatchObject({ code: -32602 });
    const other = await mux.request('tools/call', enveloped({ name: 'two_steps', arguments: { label: 'x' }, inputResponses: { step2: accept({ color: 'red' }) }, requestState: state }), 'alice');
    expect(other.error).toMatchObject({ code: -32602 });
    const otherTool = await call('greet', { inputResponses: { user_name: accept({ name: 'A' }) }, requestState: state });
    expect(otherTool.error).toMatchObject({ code: -32602 });
    expect(runs.two_steps).toBe(before);
    expect(runs.greet).toBeUndefined();
  });

  test('oversized, non-object inputResponses and a non-string requestState are refused by the intake: -32602, the handler never runs, nothing else is sent', async () => {
    const big = await call('greet', { inputResponses: { user_name: accept({ name: 'x'.repeat(5000) }) } });
    expect(big.error).toMatchObject({ code: -32602, data: { setting: 'HTTMCP_MAX_INPUT_RESPONSES_BYTES', max: 4096 } });
    expect((await call('greet', { inputResponses: null })).error).toMatchObject({ code: -32602 });
    expect((await call('greet', { inputResponses: [1] })).error).toMatchObject({ code: -32602 });
    expect((await call('greet', { requestState: 42 })).error).toMatchObject({ code: -32602 });
    expect(runs.greet).toBeUndefined();
    expect(mux.sent).toEqual([]);
  });

  test('asking for a capability the client did not declare answers -32021 naming it', async () => {
    const reply = await call('greet', {}, 'alice', { sampling: {} });
    expect(reply.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { elicitation: expect.anything() } } });
  });

  test('a handler that swallows the signal still ends in input_required (what it returned is dropped)', async () => {
    const reply = await call('swallows');
    expect(reply.result).toMatchObject({ resultType: 'input_required', inputRequests: { user_name: NAME } });
  });

  test('one key for two different questions in one run is a handler bug: an error result, not a silent mix-up', async () => {
    const reply = await call('same_key_twice', { inputResponses: { k: accept({ name: 'A' }) } });
    expect(reply.result).toMatchObject({ isError: true });
    expect(text(reply)).toMatch(/two different questions/);
  });

  test('a carried answer is used only for the question it answered: a changed question is asked again', async () => {
    const r2 = await call('changing', { inputResponses: { first: accept({ name: 'Bo' }) } });
    expect(Object.keys(r2.result!.inputRequests as object)).toEqual(['second']);
    const r3 = await call('changing', { inputResponses: { second: accept({ color: 'red' }) }, requestState: r2.result!.requestState });
    expect(Object.keys(r3.result!.inputRequests as object)).toEqual(['first']);
  });

  test('the answers a state carries count against the same limit (a tool call reports it as an error result)', async () => {
    // Each answer fits under the 4096 bytes alone; carried together they do not.
    const r2 = await call('three_steps', { inputResponses: { step1: accept({ name: 'n'.repeat(3000) }) } });
    expect(r2.result?.resultType).toBe('input_required');
    const r3 = await call('three_steps', { inputResponses: { step2: accept({ name: 'c'.repeat(3000) }) }, requestState: r2.result!.requestState });
    expect(r3.result).toMatchObject({ isError: true });
    expect(text(r3)).toMatch(/HTTMCP_MAX_INPUT_RESPONSES_BYTES/);
  });
});

describe('the multi-round settings of a gateway', () => {
  const answer = (bytes: number) => ({ user_name: { action: 'accept', content: { name: 'x'.repeat(bytes) } } });

  test('HTTMCP_MAX_INPUT_RESPONSES_BYTES bounds a retry, HTTMCP_REQUEST_STATE_TTL the life of a state', async () => {
    const gateway = Gateway.fromEnv({
      HTTMCP_PUBLISH_URL: 'http://127.0.0.1:1',
      HTTMCP_SESSION_SECRET: 'x'.repeat(32),
      HTTMCP_MAX_INPUT_RESPONSES_BYTES: '300',
      HTTMCP_REQUEST_STATE_TTL: '30',
    });
    const mux = new MuxTransport();
    const rounds = gateway.createMultiRound('calc', (id) => mux.principalOf(id));
    const server = new McpServer({ name: 'calc', version: '1.0.0' }, { ...rounds.serverOptions });
    server.registerTool('greet', { inputSchema: z.object({}) }, async (_args, ctx) => {
      const round = rounds.round(ctx, server.server.getNegotiatedProtocolVersion())!;
      return round.run(() => ({ content: [{ type: 'text' as const, text: `Hello, ${String((round.answer('user_name', NAME) as { content?: Record<string, unknown> }).content?.name)}` }] }));
    });
    const served = servePinned(server, rounds.intake(mux));
    try {
      const call = (extra: Record<string, unknown>) => mux.request('tools/call', enveloped({ name: 'greet', arguments: {}, ...extra }));
      expect((await call({ inputResponses: answer(400) })).error).toMatchObject({ code: -32602, data: { max: 300 } });
      const first = await call({});
      const state = first.result!.requestState;
      const clock = jest.spyOn(Date, 'now');
      const now = Date.now();
      try {
        clock.mockReturnValue(now + 32_000);
        expect((await call({ inputResponses: answer(3), requestState: state })).error).toMatchObject({ code: -32602, message: 'Invalid or expired requestState' });
        clock.mockReturnValue(now + 20_000);
        expect((await call({ inputResponses: answer(3), requestState: state })).result).toMatchObject({ resultType: 'complete' });
      } finally {
        clock.mockRestore();
      }
    } finally {
      await served.close();
    }
  });

  test('a TTL of 0 is refused when the server is mounted, naming the problem', () => {
    const gateway = Gateway.fromEnv({ HTTMCP_PUBLISH_URL: 'http://127.0.0.1:1', HTTMCP_SESSION_SECRET: 'x'.repeat(32), HTTMCP_REQUEST_STATE_TTL: '0' });
    expect(() => gateway.createMultiRound('calc', () => '')).toThrow(/requestState TTL must be a positive number/);
  });
});
