/**
 * `subscriptions/listen` (MCP 2026-07-28) held by nchan through real nginx: each stream gets its
 * acknowledgement first, then the events it asked for, each stamped with its own subscription
 * id, from ONE publish per event whatever the number of listeners. Bad filters are refused and
 * nothing is published for them.
 */
import { jest } from '@jest/globals';
import { z } from 'zod';
import { LISTEN_HEADERS } from '../../src/listen/index.js';
import { type EventStream } from '../helpers/raw-clients.js';
import { ListenFanout } from '../../src/listen/index.js';
import { hammerAckOrder, messages, openListen, startListenStack, SUBSCRIPTION_ID, type ListenStack } from '../helpers/listen.js';
import { workerCrashes } from '../helpers/stack.js';

let node: ListenStack;
let url: string;
const streams: EventStream[] = [];

beforeAll(async () => {
  node = await startListenStack();
  url = node.stack.servers.demo!;
});

afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
  jest.restoreAllMocks();
});

afterAll(async () => {
  await node?.stop();
});

async function listen(id: string | number, notifications: unknown): Promise<EventStream> {
  const stream = await openListen(url, id, notifications);
  streams.push(stream);
  return stream;
}

/** Publishes to nchan by channel prefix, counted from now. */
function countPublishes(): Map<string, number> {
  const counts = new Map<string, number>();
  const publisher = node.stack.gateway.publisher;
  const publish = publisher.publish.bind(publisher);
  jest.spyOn(publisher, 'publish').mockImplementation((channel: string, body: string, event?: string) => {
    const kind = channel.split('.').slice(0, 2).join('.');
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    return publish(channel, body, event);
  });
  return counts;
}

/** A resources/updated event for `uri` (acks name the URIs too). */
function updated(event: { data: string }, uri: string): boolean {
  const message = JSON.parse(event.data) as { method: string; params: { uri?: string } };
  return message.method === 'notifications/resources/updated' && message.params.uri === uri;
}

let added = 0;
/** Adds a tool to the demo server: the SDK sends tools/list_changed. */
function addTool(): string {
  const name = `added_${++added}`;
  node.demo.tool(name, { input: { x: z.number() } }, ({ x }) => x);
  return name;
}

test('a listen stream is held by nchan: the ack first, then tools/list_changed with its own id', async () => {
  const stream = await listen('listen:1', { toolsListChanged: true });
  expect(stream.response.status).toBe(200);
  expect(stream.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  // The backend's channel headers stay between the backend and nginx.
  expect(stream.response.headers.get(LISTEN_HEADERS.channels)).toBeNull();
  const ack = await stream.next((e) => e.data.includes('acknowledged'));
  expect(JSON.parse(ack.data)).toEqual({
    jsonrpc: '2.0',
    method: 'notifications/subscriptions/acknowledged',
    params: { notifications: { toolsListChanged: true }, _meta: { [SUBSCRIPTION_ID]: 'listen:1' } },
  });
  addTool();
  await stream.next((e) => e.data.includes('tools/list_changed'));
  expect(messages(stream)).toEqual([
    expect.objectContaining({ method: 'notifications/subscriptions/acknowledged' }),
    { jsonrpc: '2.0', method: 'notifications/tools/list_changed', params: { _meta: { [SUBSCRIPTION_ID]: 'listen:1' } } },
  ]);
});

test('resources/updated reaches the streams subscribed to that URI, and only those', async () => {
  const a = await listen(11, { resourceSubscriptions: ['notes://a', 'notes://shared'] });
  const b = await listen('b', { resourceSubscriptions: ['notes://shared'], promptsListChanged: true });
  await a.next((e) => e.data.includes('acknowledged'));
  const ackB = await b.next((e) => e.data.includes('acknowledged'));
  expect(JSON.parse(ackB.data).params.notifications).toEqual({ promptsListChanged: true, resourceSubscriptions: ['notes://shared'] });
  await node.demo.resourceUpdated('notes://a');
  await node.demo.resourceUpdated('notes://shared');
  await a.next((e) => updated(e, 'notes://shared'));
  await b.next((e) => updated(e, 'notes://shared'));
  expect(messages(a).slice(1)).toEqual([
    { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'notes://a', _meta: { [SUBSCRIPTION_ID]: 11 } } },
    { jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'notes://shared', _meta: { [SUBSCRIPTION_ID]: 11 } } },
  ]);
  expect(messages(b).slice(1)).toEqual([{ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'notes://shared', _meta: { [SUBSCRIPTION_ID]: 'b' } } }]);
  // A tool added meanwhile goes to neither: neither asked for tools/list_changed.
  addTool();
  const c = await listen('c', { toolsListChanged: true });
  await c.next((e) => e.data.includes('acknowledged'));
  addTool();
  await c.next((e) => e.data.includes('tools/list_changed'));
  expect(messages(a)).toHaveLength(3);
  expect(messages(b)).toHaveLength(2);
});

test('one publish per event, however many listen: each stream still gets its own id', async () => {
  const listeners = await Promise.all(Array.from({ length: 6 }, (_, i) => listen(`s-${i}`, { toolsListChanged: true, resourceSubscriptions: ['notes://x'] })));
  for (const stream of listeners) await stream.next((e) => e.data.includes('acknowledged'));
  const counts = countPublishes();
  addTool();
  await node.demo.resourceUpdated('notes://x');
  for (const [i, stream] of listeners.entries()) {
    await stream.next((e) => updated(e, 'notes://x'));
    await stream.next((e) => e.data.includes('tools/list_changed'));
    for (const message of messages(stream)) expect(message.params._meta).toEqual({ [SUBSCRIPTION_ID]: `s-${i}` });
    expect(messages(stream)).toHaveLength(3);
  }
  // One to the 2026 listen channels per event, one to the 2025 sessions' broadcast.
  expect(Object.fromEntries(counts)).toEqual({ 'httmcp.list': 1, 'httmcp.res': 1, 'httmcp.broadcast': 1 });
});

describe('bad filters get -32602 and nothing is published', () => {
  test.each([
    ['no filter', undefined],
    ['a filter that is not an object', 'tools'],
    ['an array as filter', [true]],
    ['a flag that is not a boolean', { toolsListChanged: 'yes' }],
    ['URIs that are not a list', { resourceSubscriptions: 'notes://a' }],
    ['a URI that is not a string', { resourceSubscriptions: [42] }],
    ['an empty URI', { resourceSubscriptions: [''] }],
    ['a URI with the stand-in of subscription ids', { resourceSubscriptions: ['x"@@SUBSCRIPTION_ID@@'] }],
    ['too many URIs', { resourceSubscriptions: Array.from({ length: 251 }, (_, i) => `notes://${i}`) }],
    ['a URI that is too long', { resourceSubscriptions: [`notes://${'x'.repeat(3000)}`] }],
    ['more URI text than one stream carries', { resourceSubscriptions: Array.from({ length: 100 }, (_, i) => `notes://${i}/${'x'.repeat(200)}`) }],
  ])('%s', async (_what, filter) => {
    const counts = countPublishes();
    const stream = await listen(5, filter);
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toBe('application/json');
    expect(await stream.response.json()).toEqual({ jsonrpc: '2.0', id: 5, error: { code: -32602, message: expect.stringMatching(/^Invalid params: /) } });
    expect(counts.size).toBe(0);
  });

  test.each([
    ['an id with non-ASCII text', 'ï'],
    ['an id too long for a header', 'x'.repeat(300)],
  ])('%s: -32602', async (_what, id) => {
    const counts = countPublishes();
    const stream = await listen(id, { toolsListChanged: true });
    expect(((await stream.response.json()) as { error: { code: number } }).error.code).toBe(-32602);
    expect(counts.size).toBe(0);
  });
});

test('250 URIs, the most one stream takes, fit through nginx; every one gets its events', async () => {
  const uris = Array.from({ length: 250 }, (_, i) => `notes://many/${i}`);
  const stream = await listen('many', { toolsListChanged: true, promptsListChanged: true, resourcesListChanged: true, resourceSubscriptions: uris });
  const ack = await stream.next((e) => e.data.includes('acknowledged'));
  expect(JSON.parse(ack.data).params.notifications.resourceSubscriptions).toHaveLength(250);
  await node.demo.resourceUpdated(uris[0]!);
  await node.demo.resourceUpdated(uris[249]!);
  await stream.next((e) => updated(e, 'notes://many/249'));
  expect(messages(stream).slice(1).map((m) => m.params.uri)).toEqual(['notes://many/0', 'notes://many/249']);
});

test('URIs outside ASCII travel in the acknowledgement and their events intact', async () => {
  const uri = 'notes://café/ü?q="x"&r=\\';
  const stream = await listen('u', { resourceSubscriptions: [uri] });
  const ack = await stream.next((e) => e.data.includes('acknowledged'));
  expect(JSON.parse(ack.data).params.notifications.resourceSubscriptions).toEqual([uri]);
  await node.demo.resourceUpdated(uri);
  await stream.next((e) => updated(e, uri));
});

test('the ack always comes first: 100 streams attach while list_changed is published back to back (memory store)', async () => {
  const fanout = new ListenFanout('demo', node.stack.gateway.publisher, node.stack.gateway.logger);
  const run = await hammerAckOrder(url, () => fanout.listChanged('tools'), 10, 10);
  process.stdout.write(`ack order, memory store: ${JSON.stringify({ ...run, violations: run.violations.length })}\n`);
  expect(run.violations).toEqual([]);
  expect(run.streams).toBe(100);
}, 120_000);

test('no nginx worker died', () => {
  expect(workerCrashes(node.stack)).toEqual([]);
});
