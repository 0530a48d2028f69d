/**
 * What the conformance suite's `server-stateless` scenario checks with its SHOULD-level
 * `sep-2575-server-sends-{tools,prompts}-list-changed-on-subscription`: a client opens a
 * `subscriptions/listen` stream, waits for its acknowledgement, makes the server change a list
 * right then (the fixture's `test_trigger_tool_change` / `test_trigger_prompt_change`, through
 * `HTTMCP.listChanged`), and must see the list_changed on that stream. Through real nginx+nchan,
 * with the memory store (one worker and two: a channel may live in the other worker) and the Redis
 * store (two workers: the subscription goes through Redis), each stream new, so every round is a
 * first subscriber right after its ack; with Redis also 40 channels nobody had subscribed yet, one
 * first stream each. A 2025-era session hears the same change on its own stream.
 *
 * A stream gets every event of its channels from the second it opens in (nginx.conf.template,
 * `/_httmcp/listen_stream`) with the Redis store: before, it lost an event published right after
 * the acknowledgement now and then (docs/operations.md, "subscriptions/listen"). There each round
 * waits for the second of the round before to pass, so that it sees its own change only.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { PromptListChangedNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { createEverythingServer } from '../../examples/everything.js';
import { HTTMCP, type Stack, type StackOptions } from '../../src/index.js';
import { envelope, postModern, replyOf } from '../helpers/era-2026.js';
import { messages, nextSecond, openListen, SUBSCRIPTION_ID } from '../helpers/listen.js';
import { startRedis, type RedisTestServer } from '../helpers/redis.js';
import { connectClient, startTestStack, workerCrashes } from '../helpers/stack.js';

const ROUNDS = 15;
const TRIGGER_SERVERS = 20;

/** Servers t0..t19 with the fixture's trigger tools: their list_changed channels start unsubscribed. */
function triggerServers(): HTTMCP[] {
  return Array.from({ length: TRIGGER_SERVERS }, (_, i) => {
    const server = new HTTMCP({ name: `t${i}`, version: '1.0.0' });
    server.tool(KINDS[0].trigger, { description: 'sends tools/list_changed' }, async () => {
      await server.listChanged('tools');
      return 'tools/list_changed sent';
    });
    server.tool(KINDS[1].trigger, { description: 'sends prompts/list_changed' }, async () => {
      await server.listChanged('prompts');
      return 'prompts/list_changed sent';
    });
    server.prompt('p', { description: 'a prompt, so that prompts are listed' }, () => 'p');
    return server;
  });
}
const KINDS = [
  { kind: 'tools', filter: { toolsListChanged: true }, trigger: 'test_trigger_tool_change' },
  { kind: 'prompts', filter: { promptsListChanged: true }, trigger: 'test_trigger_prompt_change' },
] as const;

/** Opens a listen stream, waits for its ack, triggers the change and waits for the event on it. */
async function listenThenChange(stack: Stack, id: string, which: (typeof KINDS)[number], server = 'everything'): Promise<Array<{ method: string; id: unknown }>> {
  const url = stack.servers[server]!;
  const stream = await openListen(url, id, which.filter);
  const seen = () =>
    `${id}: HTTP ${stream.response.status} ${stream.response.headers.get('content-type')}, stream ended: ${stream.ended}, publishes ${JSON.stringify(stack.gateway.publisher.stats)}, got ${JSON.stringify(stream.raw.slice(0, 600))}`;
  try {
    await stream.next((event) => event.data.includes('notifications/subscriptions/acknowledged')).catch((error: Error) => {
      throw new Error(`no acknowledgement (${error.message}); ${seen()}`);
    });
    const { response, id: callId } = await postModern(url, 'tools/call', { name: which.trigger, arguments: {} }, envelope('listen-list-changed'));
    const reply = await replyOf(response, callId);
    expect(reply).toMatchObject({ status: 200, result: { content: [{ type: 'text', text: `${which.kind}/list_changed sent` }] } });
    // Bounds a hang only: the event is there long before (bench-free test, no timing asserted).
    await stream.next((event) => event.data.includes(`notifications/${which.kind}/list_changed`), 15_000).catch((error: Error) => {
      throw new Error(`no ${which.kind}/list_changed (${error.message}); ${seen()}`);
    });
    return messages(stream).map((m) => ({ method: m.method, id: m.params._meta?.[SUBSCRIPTION_ID] }));
  } finally {
    stream.close();
  }
}

describe.each([
  ['memory store, 1 worker', { workerProcesses: 1 }, false],
  ['memory store, 2 workers', { workerProcesses: 2 }, false],
  ['Redis store, 2 workers', { workerProcesses: 2 }, true],
] as Array<[string, Partial<StackOptions>, boolean]>)('%s', (_name, options, withRedis) => {
  let redis: RedisTestServer | undefined;
  let stack: Stack;

  beforeAll(async () => {
    if (withRedis) redis = await startRedis();
    stack = await startTestStack({ ...options, servers: [createEverythingServer(), ...(withRedis ? triggerServers() : [])], ...(redis ? { redis: redis.url } : {}) });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  test(`${ROUNDS} new listen streams each see the list_changed a change right after their ack causes`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const which = KINDS[round % KINDS.length]!;
      const id = `round-${round}`;
      if (withRedis) await nextSecond();
      expect(await listenThenChange(stack, id, which)).toEqual([
        { method: 'notifications/subscriptions/acknowledged', id },
        { method: `notifications/${which.kind}/list_changed`, id },
      ]);
    }
  }, 120_000);

  if (withRedis) {
    test(`the first stream of each of ${TRIGGER_SERVERS * KINDS.length} channels nobody had subscribed yet sees the change right after its ack`, async () => {
      for (let i = 0; i < TRIGGER_SERVERS; i++) {
        for (const which of KINDS) {
          const id = `first-${i}-${which.kind}`;
          expect(await listenThenChange(stack, id, which, `t${i}`)).toEqual([
            { method: 'notifications/subscriptions/acknowledged', id },
            { method: `notifications/${which.kind}/list_changed`, id },
          ]);
        }
      }
    }, 120_000);
  }

  test('no nginx worker died', () => {
    expect(workerCrashes(stack)).toEqual([]);
  });
});

test('a 2025-era session hears the same changes on its own stream', async () => {
  const stack = await startTestStack({ servers: [createEverythingServer()] });
  let client: Client | undefined;
  try {
    client = await connectClient('streamable', stack.servers.everything!);
    const heard: string[] = [];
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void heard.push('tools'));
    client.setNotificationHandler(PromptListChangedNotificationSchema, () => void heard.push('prompts'));
    await client.callTool({ name: 'test_trigger_tool_change', arguments: {} });
    await client.callTool({ name: 'test_trigger_prompt_change', arguments: {} });
    const deadline = Date.now() + 10_000;
    while (heard.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(heard.sort()).toEqual(['prompts', 'tools']);
  } finally {
    await client?.close();
    await stack.stop();
  }
}, 60_000);
