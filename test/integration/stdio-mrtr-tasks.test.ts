/**
 * Multi-round-trip input (ctx.elicit / sample / roots) and the Tasks extension over stdio
 * (`httmcp stdio`, the SDK's `serveStdio` entry deciding the era on the first message), driven by
 * the official clients the way desktop clients launch a server:
 * - the SDK v2 client pinned to 2026-07-28: `input_required` answered by its own handlers, a
 *   signed `requestState`; a task tool answered `resultType: task` and polled (raw frames: the
 *   v2 client has no tasks API);
 * - the v1 client (2025): the same handlers send real requests; a task tool is a plain call.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioClientTransportV2 } from '@modelcontextprotocol/client/stdio';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { tamperedState } from '../helpers/era-2026.js';
import { TRANSPORTS_CLI } from '../helpers/nats.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODERN = '2026-07-28';
const TASKS = 'io.modelcontextprotocol/tasks';

/** A user module (importing the built package) with one server whose handlers ask for input, and a task tool. */
function serversModule(): string {
  const dir = mkdtempSync(join(tmpdir(), 'httmcp-stdio-mrtr-'));
  const file = join(dir, 'servers.mjs');
  const httmcp = pathToFileURL(join(ROOT, 'dist', 'src', 'index.js')).href;
  const zod = pathToFileURL(join(ROOT, 'node_modules', 'zod', 'index.js')).href;
  writeFileSync(
    file,
    `import { HTTMCP } from ${JSON.stringify(httmcp)};
import { z } from ${JSON.stringify(zod)};
const NAME = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] };
let runs = 0;
export default new HTTMCP({ name: 'asker', version: '1.0.0', requestTimeoutMs: 10000 })
  .tool('greet', {}, async (_args, ctx) => {
    runs++;
    const answer = await ctx.elicit({ message: 'What is your name?', requestedSchema: NAME }, { key: 'user_name' });
    return answer.action === 'accept' ? 'Hello, ' + answer.content.name + '! (run ' + runs + ')' : '(' + answer.action + ')';
  })
  .tool('survey', {}, async (_args, ctx) => {
    const [model, roots] = await Promise.all([ctx.sample({ messages: [{ role: 'user', content: { type: 'text', text: 'Capital of France?' } }], maxTokens: 20 }), ctx.roots()]);
    return model.content.text + ' / ' + roots.roots.map((root) => root.uri).join(',');
  })
  .tool('confirm_job', { task: 'optional' }, async (_args, ctx) => {
    const answer = await ctx.elicit({ message: 'Run the job?', requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } }, { key: 'confirm' });
    return answer.content?.ok === true ? 'job ran' : 'job skipped';
  })
  .tool('slow_compute', { task: 'optional', input: { ms: z.number(), label: z.string() } }, async ({ ms, label }, ctx) => {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      ctx.signal.addEventListener('abort', () => { clearTimeout(timer); reject(new Error('aborted')); });
    });
    return 'computed ' + label;
  });
`,
  );
  return file;
}

const text = (result: unknown) => (result as { content: Array<{ text: string }> }).content[0]!.text;

describe('MRTR and tasks over stdio', () => {
  let module: string;
  beforeAll(() => {
    module = serversModule();
  });

  test('2026-07-28, the v2 client pinned: ctx.elicit, ctx.sample and ctx.roots become input_required, answered by the client, one handler re-run per round', async () => {
    const transport = new StdioClientTransportV2({ command: process.execPath, args: [TRANSPORTS_CLI, 'stdio', module], stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (d: Buffer) => (stderr += d));
    const client = new ClientV2({ name: 'stdio-v2', version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } }, capabilities: { elicitation: { form: {} }, sampling: {}, roots: {} } });
    const asked: string[] = [];
    client.setRequestHandler('elicitation/create', (request) => {
      asked.push(request.params.message);
      return { action: 'accept', content: { name: 'Ada' } };
    });
    client.setRequestHandler('sampling/createMessage', () => ({ role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'test-model', stopReason: 'endTurn' }));
    client.setRequestHandler('roots/list', () => ({ roots: [{ uri: 'file:///stdio', name: 'stdio' }] }));
    try {
      await client.connect(transport);
      expect(client.getProtocolEra()).toBe('modern');
      // Run 1 asked, run 2 had the answer.
      expect(text(await client.callTool({ name: 'greet', arguments: {} }))).toBe('Hello, Ada! (run 2)');
      expect(asked).toEqual(['What is your name?']);
      expect(text(await client.callTool({ name: 'survey', arguments: {} }))).toBe('Paris / file:///stdio');
    } finally {
      await client.close();
    }
    expect(stderr).not.toMatch(/error/i);
  });

  /** `httmcp stdio` driven by hand: newline-delimited JSON-RPC on its stdin and stdout. */
  function launchRaw(): { child: ChildProcess; request: (message: object) => Promise<any>; close: () => Promise<void> } {
    const child = spawn(process.execPath, [TRANSPORTS_CLI, 'stdio', module], { stdio: ['pipe', 'pipe', 'pipe'] });
    const waiting = new Map<unknown, (message: unknown) => void>();
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const message = JSON.parse(line) as { id?: unknown };
      waiting.get(message.id)?.(message);
    });
    return {
      child,
      request: (message) =>
        new Promise((resolve) => {
          waiting.set((message as { id: unknown }).id, resolve);
          child.stdin!.write(`${JSON.stringify(message)}\n`);
        }),
      close: async () => {
        child.stdin!.end();
        if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
      },
    };
  }

  const meta = (capabilities: Record<string, unknown>) => ({
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientCapabilities': capabilities,
    'io.modelcontextprotocol/clientInfo': { name: 'raw-stdio', version: '1.0.0' },
  });

  test('2026-07-28, raw frames: a tampered requestState is refused before the handler; a task tool answers resultType task and tasks/get polls it', async () => {
    const raw = launchRaw();
    try {
      const capabilities = { elicitation: { form: {} }, extensions: { [TASKS]: {} } };
      const first = await raw.request({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'greet', arguments: {}, _meta: meta(capabilities) } });
      expect(first.result).toMatchObject({ resultType: 'input_required', inputRequests: { user_name: { method: 'elicitation/create' } } });
      const state = first.result.requestState as string;
      const inputResponses = { user_name: { action: 'accept', content: { name: 'Eve' } } };
      const tampered = await raw.request({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'greet', arguments: {}, inputResponses, requestState: tamperedState(state), _meta: meta(capabilities) } });
      expect(tampered.error).toMatchObject({ code: -32602 });
      const ok = await raw.request({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'greet', arguments: {}, inputResponses, requestState: state, _meta: meta(capabilities) } });
      expect(ok.result).toMatchObject({ resultType: 'complete', content: [{ text: expect.stringMatching(/^Hello, Eve!/) }] });

      const created = await raw.request({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'slow_compute', arguments: { ms: 200, label: 'stdio-task' }, _meta: meta(capabilities) } });
      expect(created.result).toMatchObject({ resultType: 'task', status: 'working' });
      const taskId = created.result.taskId as string;
      let status = 'working';
      let reply: any;
      for (let id = 5; status === 'working' && id < 200; id++) {
        reply = await raw.request({ jsonrpc: '2.0', id, method: 'tasks/get', params: { taskId, _meta: meta(capabilities) } });
        status = reply.result?.status ?? 'error';
        if (status === 'working') await new Promise((r) => setTimeout(r, 50));
      }
      expect(reply.result).toMatchObject({ status: 'completed', result: { content: [{ type: 'text', text: 'computed stdio-task' }] } });

      // A task that asks for input parks in input_required; tasks/update answers it.
      let id = 1000;
      const poll = async (taskId: string, done: (status: string) => boolean) => {
        for (;;) {
          const got = await raw.request({ jsonrpc: '2.0', id: id++, method: 'tasks/get', params: { taskId, _meta: meta(capabilities) } });
          if (!got.result || done(got.result.status) || id > 1200) return got;
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      const asking = await raw.request({ jsonrpc: '2.0', id: id++, method: 'tools/call', params: { name: 'confirm_job', arguments: {}, _meta: meta(capabilities) } });
      const askingId = asking.result.taskId as string;
      expect((await poll(askingId, (s) => s !== 'working')).result).toMatchObject({ status: 'input_required', inputRequests: { confirm: { method: 'elicitation/create' } } });
      const update = await raw.request({ jsonrpc: '2.0', id: id++, method: 'tasks/update', params: { taskId: askingId, inputResponses: { confirm: { action: 'accept', content: { ok: true } } }, _meta: meta(capabilities) } });
      expect(update.result).toMatchObject({ resultType: 'complete' });
      expect((await poll(askingId, (s) => ['completed', 'failed', 'cancelled'].includes(s))).result).toMatchObject({ status: 'completed', result: { content: [{ text: 'job ran' }] } });
    } finally {
      await raw.close();
    }
  });

  test('2025 (the v1 client): the same handlers send real requests to the client; a task tool is a plain call', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [TRANSPORTS_CLI, 'stdio', module], stderr: 'pipe' });
    const client = new Client({ name: 'stdio-v1', version: '1.0.0' }, { capabilities: { elicitation: { form: {} }, sampling: {}, roots: {} } });
    client.setRequestHandler(ElicitRequestSchema, () => ({ action: 'accept', content: { name: 'Bo' } }));
    client.setRequestHandler(CreateMessageRequestSchema, () => ({ role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'test-model', stopReason: 'endTurn' }));
    client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: 'file:///v1', name: 'v1' }] }));
    try {
      await client.connect(transport);
      // One run: the answer came back on the same run.
      expect(text(await client.callTool({ name: 'greet', arguments: {} }))).toBe('Hello, Bo! (run 1)');
      expect(text(await client.callTool({ name: 'survey', arguments: {} }))).toBe('Paris / file:///v1');
      expect(text(await client.callTool({ name: 'slow_compute', arguments: { ms: 10, label: 'plain' } }))).toBe('computed plain');
    } finally {
      await client.close();
    }
  });
});
