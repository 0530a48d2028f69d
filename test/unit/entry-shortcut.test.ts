/**
 * The 2026-era shortcut past the SDK's `serveStdio` entry (src/http/entry-shortcut.ts): requests
 * go straight to the pinned instance's connection and their replies straight back. For every kind
 * of request a 2026 client sends (plain calls, refusals, handler errors, multi-round input, tasks,
 * cached lists, per-request log level, authentication and scopes), the backend's answer with the
 * shortcut is the one the SDK entry's own way gives, byte for byte apart from what is random by
 * design (signed `requestState`, task ids and times, stream channels).
 */
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { pino } from 'pino';
import { z } from 'zod';
import { encodePrincipal } from '../../src/auth/principal.js';
import { Gateway, HTTMCP, TASKS_EXTENSION_ID, type Answer } from '../../src/index.js';

const MODERN = '2026-07-28';
const SECRET = 'x'.repeat(32);
const PRINCIPAL_HEADER = 'x-httmcp-principal';
const alice = encodePrincipal({ issuer: 'https://as.example', subject: 'alice', scopes: ['notes:read'], clientId: undefined, expiresAt: undefined });
const bob = encodePrincipal({ issuer: 'https://as.example', subject: 'bob', scopes: [], clientId: undefined, expiresAt: undefined });

function fixtures(): HTTMCP {
  return new HTTMCP({ name: 'codec', version: '1.0.0', cacheHint: { ttlMs: 5000, cacheScope: 'private' } })
    .tool('add', { description: 'Add', input: { a: z.number(), b: z.number() } }, ({ a, b }) => a + b)
    .tool('structured', { input: { n: z.number() }, output: { twice: z.number() } }, ({ n }) => ({ twice: 2 * n }))
    .tool('whoami', {}, (_args, ctx) => `${ctx.auth?.subject ?? 'anonymous'} ${ctx.requestId} ${String(ctx.sessionId)}`)
    .tool('throws', {}, () => {
      throw new Error('the tool broke');
    })
    .tool('protocol_error', {}, () => {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'no such thing', { what: 'thing' });
    })
    .tool('ask', { input: { question: z.string() } }, async ({ question }, ctx) => {
      const answer = await ctx.elicit({ message: question, requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } }, { key: 'q' });
      return answer.action === 'accept' && answer.content?.['ok'] === true ? 'yes' : 'no';
    })
    .tool('chatty', {}, async (_args, ctx) => {
      await ctx.log('info', 'working');
      return 'done';
    })
    .tool('secret_notes', { scopes: ['notes:read'] }, () => 'the notes')
    .tool('job', { task: 'optional', input: { label: z.string() } }, ({ label }) => `job ${label}`)
    .resource('readme', 'notes://readme', { mimeType: 'text/plain' }, () => 'read me')
    .prompt('greet', { args: { name: z.string() } }, ({ name }) => `Hello ${name}`);
}

interface Backend {
  post(body: Record<string, unknown>, principal?: string, capabilities?: Record<string, unknown>, logLevel?: string): Promise<Answer>;
  close(): Promise<void>;
}

function backend(entryShortcut: boolean, auth: boolean): Backend {
  const gateway = new Gateway({
    publishUrl: 'unix:/nonexistent/httmcp-test.sock',
    sessionSecret: SECRET,
    logger: pino({ level: 'silent' }),
    // Answers inline unless a request talks first, however busy the machine: timing is not compared.
    inlineBudgetMs: 60_000,
    entryShortcut,
    ...(auth ? { auth: { publicUrl: 'http://127.0.0.1:1', apiKeys: [{ subject: 'nobody', sha256: '0'.repeat(64) }] } } : {}),
  });
  const server = fixtures();
  const endpoint = server.endpoint(gateway);
  return {
    post: (body, principal, capabilities = {}, logLevel) => {
      const params = (body['params'] ?? {}) as Record<string, unknown>;
      const name = params['name'] ?? params['uri'];
      const headers: Record<string, string> = {
        accept: 'application/json, text/event-stream',
        'content-type': 'application/json',
        host: 'localhost',
        'mcp-protocol-version': MODERN,
        'mcp-method': body['method'] as string,
        ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
        ...(principal ? { [PRINCIPAL_HEADER]: principal } : {}),
      };
      const _meta = {
        'io.modelcontextprotocol/protocolVersion': MODERN,
        'io.modelcontextprotocol/clientCapabilities': capabilities,
        'io.modelcontextprotocol/clientInfo': { name: 'codec-test', version: '1.0.0' },
        ...(logLevel ? { 'io.modelcontextprotocol/logLevel': logLevel } : {}),
      };
      return endpoint.post(headers, JSON.stringify({ jsonrpc: '2.0', ...body, params: { ...params, _meta: { ...(params['_meta'] as object), ..._meta } } }));
    },
    close: async () => {
      await server.unmount();
      await gateway.close();
    },
  };
}

/** What is random by design (signatures, task ids, times, stream channels) made comparable. */
function normalized(answer: Answer): string {
  const headers = { ...answer.headers };
  if (headers['x-httmcp-stream'] !== undefined) headers['x-httmcp-stream'] = '<channel>';
  const body = String(answer.body ?? '')
    .replace(/"requestState":"[^"]+"/g, '"requestState":"<signed>"')
    .replace(/"taskId":"[^"]+"/g, '"taskId":"<task>"')
    .replace(/"(createdAt|lastUpdatedAt)":"[^"]+"/g, '"$1":"<time>"');
  return JSON.stringify({ status: answer.status, headers }) + '\n' + body;
}

const call = (id: number, name: string, args: Record<string, unknown> = {}, params: Record<string, unknown> = {}) => ({ id, method: 'tools/call', params: { name, arguments: args, ...params } });

describe('2026-era requests past the SDK entry', () => {
  test.each([false, true])('answers as the entry does (authentication %s)', async (auth) => {
    const fast = backend(true, auth);
    const entry = backend(false, auth);
    const who = auth ? alice : undefined;
    try {
      const cases: Array<[string, (b: Backend) => Promise<Answer>]> = [
        ['plain call', (b) => b.post(call(1, 'add', { a: 1, b: 2 }), who)],
        ['the same, string id', (b) => b.post({ ...call(1, 'add', { a: 2, b: 2 }), id: 'abc' }, who)],
        ['structured output', (b) => b.post(call(2, 'structured', { n: 4 }), who)],
        ['request facts', (b) => b.post(call(3, 'whoami'), who)],
        ['unknown tool', (b) => b.post(call(4, 'nope'), who)],
        ['bad arguments', (b) => b.post(call(5, 'add', { a: 'one', b: 2 }), who)],
        ['missing arguments', (b) => b.post({ id: 6, method: 'tools/call', params: { name: 'add' } }, who)],
        ['a tool that throws', (b) => b.post(call(7, 'throws'), who)],
        ['a tool that throws a protocol error', (b) => b.post(call(8, 'protocol_error'), who)],
        ['elicitation without the capability', (b) => b.post(call(9, 'ask', { question: 'go?' }), who)],
        ['elicitation', (b) => b.post(call(10, 'ask', { question: 'go?' }), who, { elicitation: {} })],
        ['a tampered requestState', (b) => b.post(call(11, 'ask', { question: 'go?' }, { requestState: 'forged', inputResponses: { q: { action: 'accept', content: { ok: true } } } }), who, { elicitation: {} })],
        ['a log message at the request level', (b) => b.post(call(12, 'chatty'), who, {}, 'info')],
        ['a log message below it', (b) => b.post(call(13, 'chatty'), who, {}, 'error')],
        ['a scoped tool', (b) => b.post(call(14, 'secret_notes'), who)],
        ['a task-augmented call', (b) => b.post(call(15, 'job', { label: 'a' }), who, { extensions: { [TASKS_EXTENSION_ID]: {} } })],
        ['a task tool called plainly', (b) => b.post(call(16, 'job', { label: 'b' }), who)],
        ['tools/list', (b) => b.post({ id: 17, method: 'tools/list', params: {} }, who)],
        ['resources/read', (b) => b.post({ id: 18, method: 'resources/read', params: { uri: 'notes://readme' } }, who)],
        ['prompts/get', (b) => b.post({ id: 19, method: 'prompts/get', params: { name: 'greet', arguments: { name: 'Ann' } } }, who)],
        ['server/discover', (b) => b.post({ id: 20, method: 'server/discover', params: {} }, who)],
        ['an unknown method', (b) => b.post({ id: 21, method: 'tools/frobnicate', params: {} }, who)],
        ['a removed method', (b) => b.post({ id: 22, method: 'ping', params: {} }, who)],
        ['a progress token', (b) => b.post(call(23, 'add', { a: 1, b: 1 }, { _meta: { progressToken: 't1' } }), who)],
      ];
      if (auth) cases.push(['a scoped tool refused', (b) => b.post(call(24, 'secret_notes'), bob)]);
      // The elicitation's second round, with the state each backend signed in its first.
      for (const [name, send] of cases) {
        const [a, b] = [await send(fast), await send(entry)];
        expect(`${name}\n${normalized(a)}`).toBe(`${name}\n${normalized(b)}`);
      }
      const retry = async (b: Backend): Promise<Answer> => {
        const first = JSON.parse(String((await b.post(call(30, 'ask', { question: 'sure?' }), who, { elicitation: {} })).body)) as { result: { requestState: string } };
        return b.post(call(31, 'ask', { question: 'sure?' }, { requestState: first.result.requestState, inputResponses: { q: { action: 'accept', content: { ok: true } } } }), who, { elicitation: {} });
      };
      const [a, b] = [await retry(fast), await retry(entry)];
      expect(normalized(a)).toBe(normalized(b));
      expect(String(a.body)).toContain('"yes"');
    } finally {
      await fast.close();
      await entry.close();
    }
  });
});
