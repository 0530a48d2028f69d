import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  type LoggingMessageNotification,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import { Empty, headers, ServiceError, type NatsConnection } from 'nats';
import { createExampleServers } from '../../examples/index.js';
import {
  NATS_HEADERS,
  NatsClientTransport,
  discoverNatsServers,
  serveNats,
  serviceSubject,
  type NatsService,
} from '../../src/transports/index.js';
import { pino } from 'pino';
import { connectNats, connectNatsClient, createProbeServer, startNatsServer, type NatsTestServer } from '../helpers/nats.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const logger = pino({ level: process.env.HTTMCP_TEST_LOG ?? 'silent' });

let nats: NatsTestServer;
let serverConnection: NatsConnection;
let nc: NatsConnection;
let services: NatsService[];
const probe = createProbeServer('one');

beforeAll(async () => {
  nats = await startNatsServer();
  serverConnection = await connectNats(nats.url);
  nc = await connectNats(nats.url);
  services = [];
  for (const server of [...createExampleServers(), probe.server]) services.push(await serveNats(server, serverConnection, { logger }));
});

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await nc?.close();
  await serverConnection?.close();
  await nats?.stop();
});

function service(name: string): NatsService {
  return services.find((s) => s.name === name)!;
}

async function withClient<T>(server: string, run: (client: Client, transport: NatsClientTransport) => Promise<T>, capabilities?: Record<string, unknown>): Promise<T> {
  const { client, transport } = await connectNatsClient(nc, server, { ...(capabilities ? { capabilities } : {}) });
  try {
    return await run(client, transport);
  } finally {
    await client.close();
  }
}

test('initialize over NATS gives the server its identity, instructions and capabilities', async () => {
  await withClient('demo', async (client) => {
    expect(client.getServerVersion()).toEqual({ name: 'demo', version: '1.0.0' });
    expect(client.getInstructions()).toBe('A demo server for httmcp.');
    expect(client.getServerCapabilities()).toMatchObject({ tools: {}, resources: {}, prompts: {}, logging: {} });
    expect(await client.ping()).toEqual({});
  });
});

test('tools, resources, templates and prompts are listed and used', async () => {
  await withClient('demo', async (client) => {
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['add', 'divide', 'sleep', 'long_task']);
    expect((await client.listResources()).resources.map((r) => r.uri)).toEqual(['demo://readme']);
    expect((await client.listResourceTemplates()).resourceTemplates.map((r) => r.uriTemplate)).toEqual(['demo://greeting/{name}']);
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(['explain']);

    expect(await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })).toEqual({ content: [{ type: 'text', text: '42' }] });
    const divided = await client.callTool({ name: 'divide', arguments: { dividend: 17, divisor: 5 } });
    expect(divided.structuredContent).toEqual({ quotient: 3, remainder: 2 });
    const byZero = await client.callTool({ name: 'divide', arguments: { dividend: 1, divisor: 0 } });
    expect(byZero.isError).toBe(true);
    expect(JSON.stringify(byZero.content)).toContain('divisor must not be 0');

    const greeting = await client.readResource({ uri: 'demo://greeting/Ada' });
    expect(greeting.contents).toEqual([{ uri: 'demo://greeting/Ada', mimeType: 'text/plain', text: 'Hello, Ada!' }]);
    const prompt = await client.getPrompt({ name: 'explain', arguments: { topic: 'NATS' } });
    expect(prompt.messages[0]?.content).toEqual({ type: 'text', text: 'Explain NATS in two sentences.' });
  });
  await withClient('notes', async (client) => {
    expect(await client.callTool({ name: 'add_note', arguments: { title: 't', text: 'over NATS' } })).toEqual({
      content: [{ type: 'text', text: 'saved "t"' }],
    });
    const read = await client.readResource({ uri: 'notes://note/t' });
    expect(read.contents[0]).toMatchObject({ text: 'over NATS' });
  });
});

test('a long task reports progress and log messages, honouring logging/setLevel', async () => {
  await withClient('demo', async (client) => {
    const logs: LoggingMessageNotification['params'][] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
    const progress: Progress[] = [];
    const result = await client.callTool({ name: 'long_task', arguments: { steps: 4, stepMs: 30 } }, undefined, {
      onprogress: (p) => progress.push(p),
    });
    expect(result.content).toEqual([{ type: 'text', text: 'finished 4 steps' }]);
    expect(progress.map((p) => p.progress)).toEqual([1, 2, 3, 4]);
    expect(progress[3]).toMatchObject({ total: 4, message: 'step 4 of 4' });
    expect(logs.map((l) => l.data)).toEqual([1, 2, 3, 4].map((step) => ({ step, of: 4 })));

    await client.setLoggingLevel('error');
    logs.length = 0;
    await client.callTool({ name: 'long_task', arguments: { steps: 2, stepMs: 10 } });
    expect(logs).toEqual([]);
  });
});

test('cancelling a call aborts its handler on the server', async () => {
  await withClient('probe', async (client, transport) => {
    const controller = new AbortController();
    const call = client.callTool({ name: 'wait_for_cancel', arguments: {} }, undefined, { signal: controller.signal });
    await waitFor(() => transport.inflight.length === 1 && transport.inflight[0]!.worker !== undefined);
    expect(service('probe').inflightCount).toBe(1);
    controller.abort('changed my mind');
    await expect(call).rejects.toThrow(/changed my mind/);
    await waitFor(() => probe.events.aborted.length === 1);
    expect(probe.events.aborted[0]).toEqual({ label: 'one', reason: 'changed my mind' });
    await waitFor(() => service('probe').inflightCount === 0);
    expect(transport.inflight).toEqual([]);
  });
  probe.events.aborted.length = 0;
});

test('a cancellation sent before any process acknowledged the call still reaches it', async () => {
  await withClient('probe', async (client) => {
    const controller = new AbortController();
    const call = client.callTool({ name: 'wait_for_cancel', arguments: {} }, undefined, { signal: controller.signal });
    controller.abort('at once');
    await expect(call).rejects.toThrow(/at once/);
    await waitFor(() => probe.events.aborted.length === 1);
    expect(probe.events.aborted[0]!.reason).toBe('at once');
  });
  probe.events.aborted.length = 0;
});

test('server-to-client requests (sampling, elicitation, roots) are answered by the client', async () => {
  await withClient(
    'probe',
    async (client) => {
      client.setRequestHandler(CreateMessageRequestSchema, (request) => ({
        model: 'test-model',
        role: 'assistant',
        content: { type: 'text', text: `echo ${(request.params.messages[0]!.content as { text: string }).text}` },
      }));
      client.setRequestHandler(ElicitRequestSchema, () => ({ action: 'accept', content: { name: 'Ada' } }));
      client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: 'file:///work', name: 'work' }] }));
      expect(await client.callTool({ name: 'ask_model', arguments: { prompt: 'hi' } })).toEqual({ content: [{ type: 'text', text: 'one: echo hi' }] });
      expect(await client.callTool({ name: 'ask_user', arguments: {} })).toEqual({ content: [{ type: 'text', text: 'one: accept Ada' }] });
      expect(await client.callTool({ name: 'list_roots', arguments: {} })).toEqual({ content: [{ type: 'text', text: 'one: file:///work' }] });
    },
    { sampling: {}, elicitation: {}, roots: {} },
  );
});

test('a client without the sampling capability gets a clear error, not a hang', async () => {
  await withClient('probe', async (client) => {
    const result = await client.callTool({ name: 'ask_model', arguments: { prompt: 'hi' } });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain('sampling');
  });
});

test('handlers see the client id as the session id, and a push after the handler returned arrives', async () => {
  await withClient('probe', async (client, transport) => {
    const who = await client.callTool({ name: 'whoami', arguments: {} });
    expect(JSON.parse((who.content as { text: string }[])[0]!.text)).toEqual({
      label: 'one',
      sessionId: transport.clientId,
      clientHeader: transport.clientId,
    });
    const pushed = new Promise<unknown>((resolve) => client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => resolve(n.params.data)));
    expect(await client.callTool({ name: 'later', arguments: {} })).toEqual({ content: [{ type: 'text', text: 'soon' }] });
    expect(await pushed).toBe('one later');
  });
});

test('closing the client ends its session on the server and aborts what still runs', async () => {
  const { client, transport } = await connectNatsClient(nc, 'probe');
  const call = client.callTool({ name: 'wait_for_cancel', arguments: {} }).catch((error: Error) => error);
  await waitFor(() => transport.inflight[0]?.worker !== undefined);
  expect(service('probe').sessionCount).toBeGreaterThanOrEqual(1);
  await client.close();
  expect(await call).toBeInstanceOf(Error);
  await waitFor(() => probe.events.aborted.length === 1);
  await waitFor(() => service('probe').inflightCount === 0);
  probe.events.aborted.length = 0;
});

test('a result larger than NATS carries becomes an error response', async () => {
  const max = serverConnection.info!.max_payload;
  await withClient('probe', async (client) => {
    await expect(client.callTool({ name: 'big', arguments: { bytes: max + 10 } })).rejects.toThrow(/exceeds what NATS carries/);
    const fits = await client.callTool({ name: 'big', arguments: { bytes: 1000 } });
    expect((fits.content as { text: string }[])[0]!.text).toHaveLength(1000);
  });
});

test('discovery through the NATS service API lists each server, its subjects and tools', async () => {
  const found = await discoverNatsServers(nc);
  expect(found.map((s) => s.name)).toEqual(['demo', 'everything', 'notes', 'probe']);
  const demo = found.find((s) => s.name === 'demo')!;
  expect(demo).toMatchObject({
    version: '1.0.0',
    subject: 'mcp.service.demo.request',
    worker: service('demo').workerSubject,
    queue: 'httmcp',
    tools: ['add', 'divide', 'sleep', 'long_task'],
    resources: ['readme', 'greeting'],
    prompts: ['explain'],
  });
  // The same through the raw service API any NATS tool uses.
  const reply = await nc.request('$SRV.PING.notes', Empty, { timeout: 1000 });
  expect(JSON.parse(new TextDecoder().decode(reply.data))).toMatchObject({ name: 'notes', type: 'io.nats.micro.v1.ping_response' });
});

test('a message without the client headers, or not JSON-RPC, is refused with a service error', async () => {
  const subject = serviceSubject('demo');
  const bare = await nc.request(subject, new TextEncoder().encode('{"jsonrpc":"2.0","id":1,"method":"ping"}'), { timeout: 1000 });
  expect(ServiceError.toServiceError(bare)).toMatchObject({ code: 400 });
  const h = headers();
  h.set(NATS_HEADERS.clientId, 'raw');
  h.set(NATS_HEADERS.replyTo, 'mcp.response.raw');
  const garbage = await nc.request(subject, new TextEncoder().encode('not json'), { timeout: 1000, headers: h });
  expect(ServiceError.toServiceError(garbage)?.message).toMatch(/not one JSON-RPC message/);
});

test('a hand-written NATS client can speak the protocol: any process answers a first non-initialize message', async () => {
  const inbox = 'mcp.response.handwritten';
  const sub = nc.subscribe(inbox, { max: 1 });
  const h = headers();
  h.set(NATS_HEADERS.clientId, 'handwritten');
  h.set(NATS_HEADERS.replyTo, inbox);
  const ack = await nc.request(serviceSubject('demo'), new TextEncoder().encode(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } })), {
    timeout: 1000,
    headers: h,
  });
  expect(ack.headers?.get(NATS_HEADERS.worker)).toBe(service('demo').workerSubject);
  for await (const msg of sub) {
    expect(JSON.parse(new TextDecoder().decode(msg.data))).toEqual({ jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: '3' }] } });
  }
});

test('a 2026-07-28 request over NATS gets -32022 listing the versions NATS serves, and opens no session', async () => {
  const inbox = 'mcp.response.modern';
  const sub = nc.subscribe(inbox, { max: 1 });
  const h = headers();
  h.set(NATS_HEADERS.clientId, 'modern');
  h.set(NATS_HEADERS.replyTo, inbox);
  const envelope = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
  const body = { jsonrpc: '2.0', id: 'm1', method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 }, _meta: envelope } };
  const sessionsBefore = service('demo').sessionCount;
  const ack = await nc.request(serviceSubject('demo'), new TextEncoder().encode(JSON.stringify(body)), { timeout: 1000, headers: h });
  expect(ack.headers?.get(NATS_HEADERS.worker)).toBe(service('demo').workerSubject);
  for await (const msg of sub) {
    const reply = JSON.parse(new TextDecoder().decode(msg.data)) as { id: unknown; error: { code: number; message: string; data: { supported: string[]; requested: string } } };
    expect(reply.id).toBe('m1');
    expect(reply.error.code).toBe(-32022);
    expect(reply.error.message).toMatch(/NATS serves the 2025 era/);
    expect(reply.error.data.requested).toBe('2026-07-28');
    expect(reply.error.data.supported).toEqual(expect.arrayContaining(['2025-11-25', '2025-06-18', '2025-03-26']));
    expect(reply.error.data.supported).not.toContain('2026-07-28');
  }
  expect(service('demo').sessionCount).toBe(sessionsBefore);
  // The same client goes on with a 2025 session.
  await withClient('demo', async (client) => {
    expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 2 } })).toMatchObject({ content: [{ text: '4' }] });
  });
});

test('a server nobody serves fails the connect with a clear error instead of hanging', async () => {
  const transport = new NatsClientTransport(nc, { server: 'nobody', deliveryAttempts: 2 });
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const client = new Client({ name: 'lost', version: '1.0.0' });
  await expect(client.connect(transport)).rejects.toThrow(/no MCP server process took the message on mcp.service.nobody.request/);
});

test('the example client of examples/nats discovers the servers and calls the demo server', async () => {
  const script = fileURLToPath(new URL('../../dist/examples/nats/client.js', import.meta.url));
  const { stdout, stderr } = await run(process.execPath, [script], { env: { ...process.env, NATS_URL: nats.url } });
  expect(stderr).toBe('');
  expect(stdout).toContain('found demo 1.0.0 at mcp.service.demo.request');
  expect(stdout).toContain('tools add, divide, sleep, long_task');
  expect(stdout).toContain('add(2, 3) = 5');
  expect(stdout).toContain('progress 3/3');
  expect(stdout).toContain('finished 3 steps');
});

