/**
 * `subscriptions/listen` (MCP 2026-07-28) through real nginx+nchan, for tests: a stack whose
 * backend runs in this process, and raw listen streams read with fetch.
 *
 * The example servers have no 2026 instance yet (the 2026 path hands listen requests to the
 * ListenEndpoint through its method hook only for servers that have one: listen-sdk.test.ts), so
 * the backend here hands a POST whose Mcp-Method is `subscriptions/listen` to the server's
 * ListenEndpoint itself, as that hook does after the envelope and header checks, and everything
 * else to the ordinary backend handler.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import { createExampleServers } from '../../examples/index.js';
import { readBody, writeAnswer } from '../../src/http/io.js';
import { createBackendHandler, freePort, type HTTMCP, type Stack, type StackOptions } from '../../src/index.js';
import { EventStream, STREAMABLE_ACCEPT } from './raw-clients.js';
import { startTestStack } from './stack.js';
import { envelope, MODERN } from './era-2026.js';

export { MODERN };
export const ENVELOPE = envelope('listen-test');
export const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

const SERVER_PATH = /^\/mcp\/([A-Za-z0-9_-]+)$/;

/** The backend: listen requests to the ListenEndpoint, the rest to createBackendHandler. */
export function listenBackend(servers: HTTMCP[], stack: Stack): RequestListener {
  const handler = createBackendHandler(servers, stack.gateway);
  return (req, res) => {
    const server = SERVER_PATH.exec(req.url ?? '')?.[1];
    const target = server === undefined ? undefined : servers.find((s) => s.name === server);
    if (req.method !== 'POST' || req.headers['mcp-method'] !== 'subscriptions/listen' || !target) return handler(req, res);
    void (async () => {
      const body = await readBody(req, stack.gateway.maxMessageBytes);
      const message = JSON.parse(body as string) as { id: unknown; params?: unknown };
      writeAnswer(res, await target.listenEndpoint(stack.gateway).open(message, req.headers));
    })().catch((error: unknown) => {
      res.writeHead(500).end(String(error));
    });
  };
}

/** A stack (nginx+nchan) whose backend is {@link listenBackend} in this process. */
export interface ListenStack {
  stack: Stack;
  servers: HTTMCP[];
  demo: HTTMCP;
  stop(): Promise<void>;
}

export async function startListenStack(options: Partial<StackOptions> = {}): Promise<ListenStack> {
  const port = await freePort();
  const servers = createExampleServers();
  const stack = await startTestStack({ ...options, servers, backends: [`127.0.0.1:${port}`], gateway: { sessionSecret: 'listen-test-secret-0123456789abcdef', ...options.gateway } });
  const backend: Server = createServer(listenBackend(servers, stack));
  await new Promise<void>((resolve) => backend.listen(port, '127.0.0.1', resolve));
  return {
    stack,
    servers,
    demo: servers.find((s) => s.name === 'demo')!,
    async stop() {
      backend.closeAllConnections();
      await new Promise((resolve) => backend.close(resolve));
      for (const server of servers) await server.unmount();
      await stack.stop();
    },
  };
}

/** The headers a 2026-07-28 client sends with a listen request. */
export function listenHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { accept: STREAMABLE_ACCEPT, 'content-type': 'application/json', 'mcp-protocol-version': MODERN, 'mcp-method': 'subscriptions/listen', ...extra };
}

/** POSTs a listen request to `url` (`.../mcp/{name}`); the answer is an open event stream, or a JSON error. */
export async function openListen(url: string, id: string | number, notifications: unknown, headers: Record<string, string> = {}): Promise<EventStream> {
  const controller = new AbortController();
  const response = await fetch(url, {
    method: 'POST',
    headers: listenHeaders(headers),
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: { notifications, _meta: ENVELOPE } }),
    signal: controller.signal,
  });
  return new EventStream(response, controller);
}

/**
 * Waits until the clock's second turns. A new listen stream gets every event of its channels from
 * the second it opens in (nginx.conf.template, `/_httmcp/listen_stream`), so an event published
 * earlier in that second reaches it too; a test that counts a new stream's events waits here after
 * the events it must not see.
 */
export async function nextSecond(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));
}

/** The JSON-RPC messages a listen stream delivered, parsed. */
export function messages(stream: EventStream): Array<{ method: string; params: Record<string, unknown> & { _meta?: Record<string, unknown> } }> {
  return stream.events.map((event) => JSON.parse(event.data) as { method: string; params: Record<string, unknown> });
}

/** What {@link hammerAckOrder} saw. */
export interface AckOrderRun {
  streams: number;
  /** list_changed events the streams received (after their acks). */
  events: number;
  publishes: number;
  /** Streams whose first message was not their ack, or that got a message with another id. */
  violations: string[];
}

/**
 * Opens `rounds` x `perRound` listen streams on `url` while `publish` runs back to back, and
 * checks that each stream's first message is its own acknowledgement and every later one a
 * `tools/list_changed` with its own id: the race between the stored ack and live events.
 */
export async function hammerAckOrder(url: string, publish: () => Promise<void>, rounds: number, perRound: number): Promise<AckOrderRun> {
  const run: AckOrderRun = { streams: 0, events: 0, publishes: 0, violations: [] };
  let publishing = true;
  const publisher = (async () => {
    while (publishing) {
      await publish();
      run.publishes++;
    }
  })();
  try {
    for (let round = 0; round < rounds; round++) {
      const ids = Array.from({ length: perRound }, (_, i) => `r${round}-${i}`);
      const streams = await Promise.all(ids.map((id) => openListen(url, id, { toolsListChanged: true })));
      try {
        await Promise.all(streams.map((stream) => stream.next((_e, index) => index >= 2, 10_000)));
        for (const [i, stream] of streams.entries()) {
          const got = messages(stream);
          run.streams++;
          run.events += got.length - 1;
          const [first, ...rest] = got;
          if (first?.method !== 'notifications/subscriptions/acknowledged') run.violations.push(`${ids[i]}: first was ${first?.method}`);
          if (rest.some((m) => m.method !== 'notifications/tools/list_changed')) run.violations.push(`${ids[i]}: a second ack or a foreign event`);
          if (got.some((m) => m.params._meta?.[SUBSCRIPTION_ID] !== ids[i])) run.violations.push(`${ids[i]}: a message with another subscription id`);
        }
      } finally {
        for (const stream of streams) stream.close();
      }
    }
  } finally {
    publishing = false;
    await publisher;
  }
  return run;
}
