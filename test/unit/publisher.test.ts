import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { NchanPublisher, PublishError } from '../../src/index.js';

/** Records what a logger was told, to assert failures are reported, not dropped. */
function recordingLogger() {
  const lines: Array<{ level: number; msg: string; channel?: string }> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** A stand-in for the publish listener that answers with the given statuses in turn. */
async function faultyListener(statuses: number[]): Promise<{ url: string; server: Server; seen: Array<{ method: string; url: string; body: string; event: string | undefined }> }> {
  const seen: Array<{ method: string; url: string; body: string; event: string | undefined }> = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body, event: req.headers['x-eventsource-event'] as string | undefined });
      const status = statuses.shift() ?? 201;
      res.writeHead(status, { 'content-type': 'application/json' }).end(status < 300 ? '{"messages":1,"subscribers":2,"last_message_id":"1:0"}' : 'busy');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, seen };
}

test('publish posts the body to /pub/{channel} with the event name and returns channel info', async () => {
  const { url, server, seen } = await faultyListener([]);
  const { logger } = recordingLogger();
  const publisher = new NchanPublisher({ url, logger });
  expect(await publisher.publish('abc.def', '{"x":1}', 'endpoint')).toEqual({ messages: 1, subscribers: 2, lastMessageId: '1:0' });
  expect(seen).toEqual([{ method: 'POST', url: '/pub/abc.def', body: '{"x":1}', event: 'endpoint' }]);
  expect(publisher.stats).toEqual({ published: 1, retried: 0, failed: 0 });
  await publisher.close();
  server.close();
});

test('a publish answered 503 is retried until it succeeds', async () => {
  const { url, server, seen } = await faultyListener([503, 502]);
  const { logger } = recordingLogger();
  const publisher = new NchanPublisher({ url, logger, retryDelayMs: 1 });
  await publisher.publish('chan', 'late result');
  expect(seen.map((s) => s.body)).toEqual(['late result', 'late result', 'late result']);
  expect(publisher.stats).toEqual({ published: 1, retried: 2, failed: 0 });
  await publisher.close();
  server.close();
});

test('a publish that keeps failing is rejected, counted and logged with its channel', async () => {
  const { url, server, seen } = await faultyListener([503, 503, 503]);
  const { logger, lines } = recordingLogger();
  const publisher = new NchanPublisher({ url, logger, attempts: 3, retryDelayMs: 1 });
  await expect(publisher.publish('lost', 'x')).rejects.toBeInstanceOf(PublishError);
  expect(seen).toHaveLength(3);
  expect(publisher.stats).toEqual({ published: 0, retried: 2, failed: 1 });
  expect(lines).toContainEqual(expect.objectContaining({ level: 50, msg: 'publish failed', channel: 'lost' }));
  await publisher.close();
  server.close();
});

test('a publish nchan refuses (4xx) is not retried and is reported', async () => {
  const { url, server, seen } = await faultyListener([413]);
  const { logger, lines } = recordingLogger();
  const publisher = new NchanPublisher({ url, logger, retryDelayMs: 1 });
  await expect(publisher.publish('big', 'x')).rejects.toThrow(/413/);
  expect(seen).toHaveLength(1);
  expect(publisher.stats.failed).toBe(1);
  expect(lines).toContainEqual(expect.objectContaining({ level: 50, msg: 'publish refused', channel: 'big' }));
  await publisher.close();
  server.close();
});

test('an unreachable publish listener (unix socket) fails after bounded retries', async () => {
  const socket = join(mkdtempSync(join(tmpdir(), 'httmcp-pub-')), 'none.sock');
  const { logger } = recordingLogger();
  const publisher = new NchanPublisher({ url: `unix:${socket}`, logger, attempts: 2, retryDelayMs: 1 });
  const error = await publisher.publish('c', 'x').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(PublishError);
  expect((error as PublishError).code).toBe('HTTMCP_PUBLISH_FAILED');
  expect(publisher.stats).toEqual({ published: 0, retried: 1, failed: 1 });
  await publisher.close();
});

test('info of a missing channel is undefined', async () => {
  const { url, server } = await faultyListener([404]);
  const { logger } = recordingLogger();
  const publisher = new NchanPublisher({ url, logger });
  expect(await publisher.info('gone')).toBeUndefined();
  await publisher.close();
  server.close();
});
