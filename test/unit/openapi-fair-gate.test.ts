/** The fair share of API connections between clients (src/openapi/fair-gate.ts). */
import { optionsFrom } from '../../src/cli/openapi-command.js';
import { FairGate, GateFullError, OpenAPIMCP } from '../../src/openapi/index.js';
import { StandIn, type Reply } from '../fixtures/openapi/stand-in.js';
import { waitFor } from './support.js';

const never = new AbortController().signal;
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Acquires and records the order in which slots are granted. */
function recorder(gate: FairGate) {
  const granted: string[] = [];
  const releases = new Map<string, () => void>();
  const ask = (client: string, label: string, signal = never) =>
    gate.acquire(client, signal).then((release) => {
      granted.push(label);
      releases.set(label, release);
    });
  return { granted, releases, ask };
}

test('one client holds at most perClient slots; a newcomer is served before its queue, then turns alternate', async () => {
  const gate = new FairGate({ capacity: 4, perClient: 3, perClientQueue: 10 });
  const { granted, releases, ask } = recorder(gate);
  for (let i = 1; i <= 6; i++) void ask('a', `a${i}`);
  await tick();
  expect(granted).toEqual(['a1', 'a2', 'a3']);
  expect([gate.inFlight, gate.waiting]).toEqual([3, 3]);
  // A free slot (capacity 4) goes to b at once, although a waits.
  void ask('b', 'b1');
  void ask('b', 'b2');
  void ask('c', 'c1');
  await tick();
  expect(granted).toEqual(['a1', 'a2', 'a3', 'b1']);
  // Capacity is full: each freed slot goes to the waiting client with the fewest running (c: 0,
  // although a waited longer), then between equals to the one served longest ago (a, then b).
  releases.get('a1')!();
  await tick();
  expect(granted.slice(4)).toEqual(['c1']);
  releases.get('a2')!();
  await tick();
  expect(granted.slice(5)).toEqual(['a4']);
  releases.get('a3')!();
  await tick();
  expect(granted.slice(6)).toEqual(['b2']);
  for (const label of ['b1', 'b2', 'c1', 'a4']) releases.get(label)!();
  await tick();
  expect(granted.slice(7)).toEqual(['a5', 'a6']);
  releases.get('a5')!();
  releases.get('a6')!();
  releases.get('a6')!(); // a second release is ignored
  expect([gate.inFlight, gate.waiting]).toEqual([0, 0]);
});

test("a full queue refuses at once with a clear error; the client's running calls are unaffected", async () => {
  const gate = new FairGate({ capacity: 10, perClient: 1, perClientQueue: 2 });
  const first = await gate.acquire('a', never);
  const queued = [gate.acquire('a', never), gate.acquire('a', never)];
  await expect(gate.acquire('a', never)).rejects.toThrow(GateFullError);
  await expect(gate.acquire('a', never)).rejects.toThrow('this client already has 1 calls to the API running and 2 waiting (the limits are 1 and 2); try again when one has finished');
  // Another client is not affected.
  (await gate.acquire('b', never))();
  first();
  (await queued[0]!)();
  (await queued[1]!)();
  expect([gate.inFlight, gate.waiting]).toEqual([0, 0]);
});

test('an abort while waiting leaves the queue with the reason, and the slot goes to the next waiter', async () => {
  const gate = new FairGate({ capacity: 1, perClient: 1, perClientQueue: 5 });
  const { granted, releases, ask } = recorder(gate);
  await ask('a', 'a1');
  const cancel = new AbortController();
  const cancelled = gate.acquire('b', cancel.signal);
  void ask('c', 'c1');
  cancel.abort(new Error('client cancelled'));
  await expect(cancelled).rejects.toThrow('client cancelled');
  expect(gate.waiting).toBe(1);
  releases.get('a1')!();
  await tick();
  expect(granted).toEqual(['a1', 'c1']);
  await expect(gate.acquire('d', AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
});

test('limits must be whole numbers', () => {
  expect(() => new FairGate({ capacity: 0, perClient: 1, perClientQueue: 0 })).toThrow(/capacity must be a whole number above 0/);
  expect(() => new FairGate({ capacity: 1, perClient: 1.5, perClientQueue: 0 })).toThrow(/perClient/);
});

test('the CLI flags of the upstream limits reach the options', () => {
  const flags = { timeout: 9000, connectTimeout: 1000, headersTimeout: 2000, bodyTimeout: 3000, connections: 16, connectionsPerClient: 2, queuePerClient: 0, maxResponseBytes: 4096, maxToolBytes: 50_000, pageBytes: 100_000, schemaInlineLimit: 0 };
  expect(optionsFrom(flags)).toEqual({
    validate: 'warn',
    outputSchemas: true,
    totalTimeoutMs: 9000,
    connectTimeoutMs: 1000,
    headersTimeoutMs: 2000,
    bodyTimeoutMs: 3000,
    connections: 16,
    connectionsPerClient: 2,
    queuePerClient: 0,
    maxResponseBytes: 4096,
    maxToolBytes: 50_000,
    pageBytes: 100_000,
    schemaInlineLimit: 0,
  });
});

test("past its queue a client's call is an isError result at once; the calls it has running and waiting are served", async () => {
  const releases: Array<() => void> = [];
  const api = await StandIn.start(() => new Promise<Reply>((resolve) => releases.push(() => resolve({ body: { ok: true } }))));
  const server = await OpenAPIMCP.create(
    { openapi: '3.0.3', info: { title: 't', version: '1' }, paths: { '/held': { get: { operationId: 'held', responses: { '200': { description: 'ok' } } } } } },
    { baseUrl: api.url, validate: 'off', connectionsPerClient: 1, queuePerClient: 1 },
  );
  try {
    const running = server.callTool('held', {}, { client: 'a' });
    const waiting = server.callTool('held', {}, { client: 'a' });
    await waitFor(() => releases.length === 1, 'the first request at the API');
    expect(await server.callTool('held', {}, { client: 'a' })).toEqual({
      isError: true,
      content: [{ type: 'text', text: `GET ${api.url}/held: refused: this client already has 1 calls to the API running and 1 waiting (the limits are 1 and 1); try again when one has finished` }],
    });
    releases[0]!();
    await waitFor(() => releases.length === 2, 'the waiting request at the API');
    releases[1]!();
    expect(await Promise.all([running, waiting])).toEqual([{ content: [{ type: 'text', text: '{"ok":true}' }] }, { content: [{ type: 'text', text: '{"ok":true}' }] }]);
  } finally {
    await server.close();
    await api.close();
  }
});
