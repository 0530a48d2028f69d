/**
 * `httmcp stdio`, driven by the SDK's own StdioClientTransport the way desktop clients launch it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioClientTransportV2 } from '@modelcontextprotocol/client/stdio';
import { TRANSPORTS_CLI } from '../helpers/nats.js';
import { alive } from '../helpers/processes.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Launches `httmcp stdio ARGS` through the SDK client, collecting what the process writes to stderr. */
async function launch(args: string[]): Promise<{ client: Client; transport: StdioClientTransport; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [TRANSPORTS_CLI, 'stdio', ...args],
    env: { ...process.env, HTTMCP_LOG_LEVEL: 'info' } as Record<string, string>,
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr!.on('data', (d: Buffer) => (stderr += d));
  const client = new Client({ name: 'test-stdio', version: '1.0.0' });
  const errors: Error[] = [];
  client.onerror = (error) => {
    // The SDK's stdio client handles a response at once and a notification a microtask later:
    // a call's last progress, read in the same chunk as its response, comes too late for it.
    if (!/progress notification for an unknown token/.test(error.message)) errors.push(error);
  };
  await client.connect(transport);
  return { client, transport, stderr: () => stderr + errors.map((e) => `client error: ${e.message}\n`).join('') };
}

/** A module of the user's own, importing the built package like an installed one. */
function userModule(source: (imports: { httmcp: string; zod: string }) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'httmcp-stdio-'));
  const file = join(dir, 'servers.mjs');
  writeFileSync(
    file,
    source({
      httmcp: pathToFileURL(join(ROOT, 'dist', 'src', 'index.js')).href,
      zod: pathToFileURL(join(ROOT, 'node_modules', 'zod', 'index.js')).href,
    }),
  );
  return file;
}

function text(result: unknown): string {
  return (result as { content: { text: string }[] }).content[0]!.text;
}

test('the demo server over stdio: lists, calls, progress, cancellation, resources and prompts', async () => {
  const { client, transport, stderr } = await launch(['--server', 'demo']);
  try {
    expect(client.getServerVersion()).toEqual({ name: 'demo', version: '1.0.0' });
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['add', 'divide', 'sleep', 'long_task']);
    expect(await client.callTool({ name: 'add', arguments: { a: 40, b: 2 } })).toEqual({ content: [{ type: 'text', text: '42' }] });

    const progress: Progress[] = [];
    const long = await client.callTool({ name: 'long_task', arguments: { steps: 3, stepMs: 20 } }, undefined, { onprogress: (p) => progress.push(p) });
    expect(text(long)).toBe('finished 3 steps');
    // The SDK's stdio client may drop a call's last progress (see `launch`); what arrives is in order.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.map((p) => p.progress)).toEqual([1, 2, 3].slice(0, progress.length));

    const controller = new AbortController();
    const started = Date.now();
    const slow = client.callTool({ name: 'sleep', arguments: { ms: 30_000 } }, undefined, { signal: controller.signal });
    setTimeout(() => controller.abort('enough'), 100);
    await expect(slow).rejects.toThrow(/enough/);
    expect(Date.now() - started).toBeLessThan(5000);
    // The server is still responsive after the cancellation.
    expect(text(await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } }))).toBe('2');

    expect((await client.readResource({ uri: 'demo://greeting/Ada' })).contents[0]).toMatchObject({ text: 'Hello, Ada!' });
    expect((await client.getPrompt({ name: 'explain', arguments: { topic: 'stdio' } })).messages[0]!.content).toEqual({
      type: 'text',
      text: 'Explain stdio in two sentences.',
    });
    // Logs go to stderr, as JSON lines of pino; stdout only ever carried the protocol (anything
    // else there would be a parse error on the client).
    expect(stderr()).toContain('"msg":"serving over stdio"');
    expect(stderr()).not.toContain('client error');
    expect(transport.pid).toBeGreaterThan(0);
  } finally {
    await client.close();
  }
});

test("a module's own console.log goes to stderr, and a single server needs no --server", async () => {
  const module = userModule(
    ({ httmcp, zod }) => `import { HTTMCP } from '${httmcp}';
import { z } from '${zod}';
console.log('hello from the module');
export const greeter = new HTTMCP({ name: 'greeter', version: '2.0.0' })
  .tool('greet', { input: { name: z.string() } }, ({ name }) => { console.log('greeting', name); return 'Hello ' + name; });
`,
  );
  const { client, stderr } = await launch([module]);
  try {
    expect(client.getServerVersion()).toEqual({ name: 'greeter', version: '2.0.0' });
    expect(await client.callTool({ name: 'greet', arguments: { name: 'Ada' } })).toEqual({ content: [{ type: 'text', text: 'Hello Ada' }] });
    expect(stderr()).toContain('hello from the module');
    expect(stderr()).toContain('greeting Ada');
    expect(stderr()).not.toContain('client error');
  } finally {
    await client.close();
  }
});

test('closing stdin ends the process with status 0', async () => {
  const { client, transport } = await launch(['--server', 'notes']);
  const pid = transport.pid!;
  await client.close();
  const deadline = Date.now() + 5000;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(alive(pid)).toBe(false);
  // And the exit status, with stdin closed by hand:
  const run = spawnSync(process.execPath, [TRANSPORTS_CLI, 'stdio', '--server', 'notes'], { input: '', encoding: 'utf8', timeout: 10_000 });
  expect(run.status).toBe(0);
  expect(run.stdout).toBe('');
});

test('several servers and no --server: an error naming them, on stderr, status 1', () => {
  const run = spawnSync(process.execPath, [TRANSPORTS_CLI, 'stdio'], { input: '', encoding: 'utf8', timeout: 10_000 });
  expect(run.status).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).toContain('the module has several servers (demo, notes, everything): choose one with --server <name>');
  const unknown = spawnSync(process.execPath, [TRANSPORTS_CLI, 'stdio', '--server', 'nope'], { input: '', encoding: 'utf8', timeout: 10_000 });
  expect(unknown.status).toBe(1);
  expect(unknown.stderr).toContain('no server named "nope"; the module has: demo, notes, everything');
});

/** The 2026-07-28 `_meta` envelope every request of that era carries. */
const ENVELOPE_2026 = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
  'io.modelcontextprotocol/clientInfo': { name: 'raw-2026', version: '1.0.0' },
};

/** Processes of {@link rawStdio}, killed after the tests should one be left running by a failure. */
const launched: ChildProcess[] = [];
afterAll(() => {
  for (const child of launched) if (child.exitCode === null) child.kill();
});

/** `httmcp stdio ARGS` spoken to line by line: `ask` writes one JSON-RPC request and resolves with its reply. */
function rawStdio(args: string[]): {
  ask: (message: Record<string, unknown>) => Promise<Record<string, unknown>>;
  end: () => Promise<number | null>;
  /** Every line without an id the server wrote so far (notifications), in order. */
  notifications: Array<Record<string, unknown>>;
} {
  const child = spawn(process.execPath, [TRANSPORTS_CLI, 'stdio', ...args], { stdio: ['pipe', 'pipe', 'ignore'] });
  launched.push(child);
  const waiting = new Map<unknown, (reply: Record<string, unknown>) => void>();
  const notifications: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    const reply = JSON.parse(line) as Record<string, unknown>;
    if (reply.id === undefined) notifications.push(reply);
    else waiting.get(reply.id)?.(reply);
  });
  return {
    notifications,
    ask: (message) =>
      new Promise((resolve) => {
        waiting.set(message.id, resolve);
        child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
      }),
    end: () =>
      new Promise((resolve) => {
        child.once('exit', (code) => resolve(code));
        child.stdin.end();
      }),
  };
}

describe('stdio serves both protocol eras, chosen by the first message', () => {
  test('2025: initialize, then a call', async () => {
    const raw = rawStdio(['--server', 'demo']);
    const init = await raw.ask({ id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    expect(init.result).toMatchObject({ protocolVersion: '2025-11-25', serverInfo: { name: 'demo', version: '1.0.0' } });
    const call = await raw.ask({ id: 2, method: 'tools/call', params: { name: 'add', arguments: { a: 40, b: 2 } } });
    expect(call.result).toEqual({ content: [{ type: 'text', text: '42' }] });
    // A 2026 request on the 2025 connection is not served as 2026.
    const discover = await raw.ask({ id: 3, method: 'server/discover', params: { _meta: ENVELOPE_2026 } });
    expect(discover.error).toMatchObject({ code: -32601 });
    expect(await raw.end()).toBe(0);
  });

  test('2026-07-28: server/discover and an enveloped tools/call, no initialize', async () => {
    const raw = rawStdio(['--server', 'demo']);
    const discover = await raw.ask({ id: 'd', method: 'server/discover', params: { _meta: ENVELOPE_2026 } });
    expect(discover.result).toMatchObject({
      supportedVersions: expect.arrayContaining(['2026-07-28']),
      _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'demo', version: '1.0.0' } },
    });
    const call = await raw.ask({ id: 'c', method: 'tools/call', params: { name: 'add', arguments: { a: 40, b: 2 }, _meta: ENVELOPE_2026 } });
    expect(call.result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: '42' }] });
    // And the reverse: the 2025 handshake on the 2026 connection is refused.
    const init = await raw.ask({ id: 'i', method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    expect(init.error).toBeDefined();
    expect(await raw.end()).toBe(0);
  });

  test('2026-07-28: a call with a progress token gets its progress before its result', async () => {
    const raw = rawStdio(['--server', 'demo']);
    const call = await raw.ask({ id: 9, method: 'tools/call', params: { name: 'long_task', arguments: { steps: 3, stepMs: 5 }, _meta: { ...ENVELOPE_2026, progressToken: 'p9' } } });
    expect(call.result).toMatchObject({ content: [{ type: 'text', text: 'finished 3 steps' }] });
    // Read in line order: every progress line came before the result's.
    const progress = raw.notifications.filter((n) => n.method === 'notifications/progress').map((n) => n.params);
    expect(progress).toEqual([1, 2, 3].map((step) => expect.objectContaining({ progressToken: 'p9', progress: step, total: 3 })));
    expect(await raw.end()).toBe(0);
  });

  test('an enveloped tools/call as the very first message pins 2026 too', async () => {
    const raw = rawStdio(['--server', 'demo']);
    const call = await raw.ask({ id: 7, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 }, _meta: ENVELOPE_2026 } });
    expect(call.result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: '3' }] });
    expect(await raw.end()).toBe(0);
  });

  test('the SDK v2 client pinned to 2026-07-28: lists, calls with progress, reads and gets a prompt', async () => {
    const transport = new StdioClientTransportV2({ command: process.execPath, args: [TRANSPORTS_CLI, 'stdio', '--server', 'demo'], stderr: 'pipe' });
    const client = new ClientV2({ name: 'test-stdio-v2', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    try {
      await client.connect(transport);
      expect(client.getProtocolEra()).toBe('modern');
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['add', 'divide', 'sleep', 'long_task']);
      expect(await client.callTool({ name: 'add', arguments: { a: 40, b: 2 } })).toMatchObject({ content: [{ type: 'text', text: '42' }] });
      // Progress reaches the SDK client's onprogress unless the client reads the progress lines
      // and the result in one chunk (a loaded machine): it dispatches notifications a microtask
      // later but the response at once, which drops the request's progress handler first. That
      // the server sends progress, in order, is the raw test above.
      const long = await client.callTool({ name: 'long_task', arguments: { steps: 3, stepMs: 20 } }, { onprogress: () => undefined });
      expect(text(long)).toBe('finished 3 steps');
      expect((await client.readResource({ uri: 'demo://greeting/Ada' })).contents[0]).toMatchObject({ text: 'Hello, Ada!' });
      expect((await client.getPrompt({ name: 'explain', arguments: { topic: 'stdio' } })).messages[0]!.content).toEqual({
        type: 'text',
        text: 'Explain stdio in two sentences.',
      });
    } finally {
      await client.close();
    }
  });
});
