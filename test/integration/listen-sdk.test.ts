/**
 * `subscriptions/listen` through the whole 2026-07-28 path (edge header checks, the modern
 * classifier's hook, nchan-held streams) with the official SDK v2 client pinned to 2026-07-28:
 * `client.listen()` resolves on the acknowledgement, and change notifications reach the
 * client's notification handlers, each stream's own.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/server';
import { jest } from '@jest/globals';
import { z } from 'zod';
import { freePort, hashApiKey, HTTMCP, type Stack } from '../../src/index.js';
import { eventually } from '../helpers/cluster.js';
import { ENVELOPE, listenHeaders } from '../helpers/listen.js';
import { pythonSdk, runPythonClient, type PythonSdk } from '../helpers/python-sdk.js';
import { EventStream } from '../helpers/raw-clients.js';
import { startTestStack, workerCrashes } from '../helpers/stack.js';

const MODERN = '2026-07-28';

/** A server with a v2 instance for its 2026 requests (until every HTTMCP builds its own). */
class ModernNotes extends HTTMCP {
  private touched = 0;

  protected override modernServerFactory(): () => McpServer {
    return () => {
      const server = new McpServer({ name: 'notes', version: '1.0.0' }, { capabilities: { tools: { listChanged: true }, resources: { listChanged: true } } });
      server.registerTool('echo', { inputSchema: z.object({ text: z.string() }) }, ({ text }) => ({ content: [{ type: 'text', text }] }));
      // Changes the server from a client's call: a tool more, and notes://readme updated.
      server.registerTool('touch', { inputSchema: z.object({}) }, async () => {
        this.tool(`touched_${++this.touched}`, { input: {} }, () => 'ok');
        await this.resourceUpdated('notes://readme');
        return { content: [{ type: 'text', text: 'touched' }] };
      });
      server.registerResource('readme', 'notes://readme', { mimeType: 'text/plain' }, (uri) => ({ contents: [{ uri: uri.href, text: 'hi' }] }));
      return server;
    };
  }
}

let stack: Stack;
let notes: ModernNotes;
const clients: Client[] = [];

beforeAll(async () => {
  notes = new ModernNotes({ name: 'notes', version: '1.0.0' });
  notes.tool('echo', { input: { text: z.string() } }, ({ text }) => text);
  stack = await startTestStack({ servers: [notes] });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  await stack?.stop();
});

async function connect(): Promise<{ client: Client; seen: Array<{ method: string; params?: Record<string, unknown> }> }> {
  const client = new Client({ name: 'listen-sdk-test', version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } } });
  clients.push(client);
  await client.connect(new StreamableHTTPClientTransport(new URL(stack.servers.notes!)));
  expect(client.getProtocolEra()).toBe('modern');
  const seen: Array<{ method: string; params?: Record<string, unknown> }> = [];
  client.setNotificationHandler('notifications/tools/list_changed', (n) => void seen.push(n as (typeof seen)[number]));
  client.setNotificationHandler('notifications/resources/updated', (n) => void seen.push(n as (typeof seen)[number]));
  return { client, seen };
}

test('the v2 client pinned to 2026-07-28 listens: list_changed after a tool is added, resources/updated for its URI', async () => {
  const a = await connect();
  const b = await connect();
  const subA = await a.client.listen({ toolsListChanged: true, resourceSubscriptions: ['notes://readme'] });
  const subB = await b.client.listen({ toolsListChanged: true });
  expect(subA.honoredFilter).toEqual({ toolsListChanged: true, resourceSubscriptions: ['notes://readme'] });
  expect(subB.honoredFilter).toEqual({ toolsListChanged: true });

  const publish = jest.spyOn(stack.gateway.publisher, 'publish');
  notes.tool('shout', { input: { text: z.string() } }, ({ text }) => text.toUpperCase());
  await notes.resourceUpdated('notes://readme');
  await eventually(async () => a.seen.length === 2 && b.seen.length === 1, 10_000, 'the notifications');
  // Each client got them on its own stream, stamped with its own subscription id ('listen:N').
  expect(a.seen.map((n) => n.method).sort()).toEqual(['notifications/resources/updated', 'notifications/tools/list_changed']);
  expect(b.seen.map((n) => n.method)).toEqual(['notifications/tools/list_changed']);
  for (const n of [...a.seen, ...b.seen]) expect(n.params?._meta).toEqual({ 'io.modelcontextprotocol/subscriptionId': expect.stringMatching(/^listen:\d+$/) });
  expect(a.seen.find((n) => n.method === 'notifications/resources/updated')?.params?.uri).toBe('notes://readme');
  // One publish per event to the listen channels, however many listen.
  const listenPublishes = publish.mock.calls.map(([channel]) => channel).filter((channel) => /^httmcp\.(list|res)\./.test(channel));
  expect(listenPublishes).toHaveLength(2);
  publish.mockRestore();

  await subA.close();
  expect(await subA.closed).toBe('local');
  await subB.close();
  expect(workerCrashes(stack)).toEqual([]);
});

test('a bogus filter gets -32602 from listen(), and the client still works', async () => {
  const { client } = await connect();
  await expect(client.listen({ resourceSubscriptions: [''] })).rejects.toThrow(/-32602|Invalid params/);
  expect(await client.callTool({ name: 'echo', arguments: { text: 'still here' } })).toMatchObject({ content: [{ type: 'text', text: 'still here' }] });
});

const sdk = await pythonSdk();
if ('skip' in sdk) console.warn(`listen-sdk.test.ts: the Python SDK case is skipped: ${sdk.skip}`);
const pythonTest = 'skip' in sdk ? test.skip : test;

pythonTest('the Python SDK (mcp 2.3.0) listens: its stream gets tools/list_changed and resources/updated', async () => {
  const reply = await runPythonClient<{ protocolVersion: string; honored: unknown; events: unknown[] }>(sdk as PythonSdk, 'listen.py', [stack.servers.notes!, 'notes://readme'], 60_000);
  expect(reply).toEqual({
    protocolVersion: MODERN,
    honored: { toolsListChanged: true, resourceSubscriptions: ['notes://readme'] },
    events: [{ kind: 'resource_updated', uri: 'notes://readme' }, { kind: 'tools_list_changed' }],
  });
  expect(workerCrashes(stack)).toEqual([]);
}, 120_000);

describe('with authentication: a resource the principal may not read is refused at listen time', () => {
  const KEYS = { reader: 'listen-reader-key-0123456789', admin: 'listen-admin-key-0123456789' };
  let authed: Stack;
  let secretNotes: ModernNotes;

  beforeAll(async () => {
    const port = await freePort();
    secretNotes = new ModernNotes({ name: 'notes', version: '1.0.0' });
    secretNotes.resource('secret', 'notes://secret', { scopes: ['secret:read'] }, () => 'classified');
    authed = await startTestStack({
      port,
      servers: [secretNotes],
      auth: {
        publicUrl: `http://127.0.0.1:${port}`,
        apiKeys: [
          { subject: 'reader', sha256: hashApiKey(KEYS.reader), scopes: [] },
          { subject: 'admin', sha256: hashApiKey(KEYS.admin), scopes: ['secret:read'] },
        ],
      },
    });
  });

  afterAll(async () => {
    await authed?.stop();
  });

  function listen(key: string, id: string, uris: string[]): Promise<Response> {
    return fetch(authed.servers.notes!, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, ...listenHeaders() },
      body: JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { notifications: { resourceSubscriptions: uris }, _meta: ENVELOPE } }),
    });
  }

  test('403 with the scope to ask for, nothing published; a principal with the scope gets its stream', async () => {
    const publish = jest.spyOn(authed.gateway.publisher, 'publish');
    const refused = await listen(KEYS.reader, 'r', ['notes://readme', 'notes://secret']);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toMatch(/error="insufficient_scope", scope="secret:read"/);
    expect(await refused.json()).toEqual({ jsonrpc: '2.0', id: 'r', error: { code: -32600, message: expect.stringMatching(/^Forbidden: resource notes:\/\/secret needs scope secret:read/) } });
    expect(publish).not.toHaveBeenCalled();
    publish.mockRestore();

    const controller = new AbortController();
    const allowed = await fetch(authed.servers.notes!, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.admin}`, ...listenHeaders() },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'a', method: 'subscriptions/listen', params: { notifications: { resourceSubscriptions: ['notes://secret'] }, _meta: ENVELOPE } }),
      signal: controller.signal,
    });
    const stream = new EventStream(allowed, controller);
    try {
      await stream.next((e) => e.data.includes('acknowledged'));
      await secretNotes.resourceUpdated('notes://secret');
      const event = await stream.next((e) => e.data.includes('resources/updated'));
      expect(JSON.parse(event.data).params).toEqual({ uri: 'notes://secret', _meta: { 'io.modelcontextprotocol/subscriptionId': 'a' } });
    } finally {
      stream.close();
    }
    expect(workerCrashes(authed)).toEqual([]);
  });
});
