import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NchanStatusReader, parseNchanStatus } from '../../src/nchan/status.js';

const STATUS = 'total published messages: 12\nstored messages: 3\nshared memory used: 16K\nchannels: 4\nsubscribers: 2\nnchan version: 1.3.7\n';

/** A stand-in for the publish listener's /status: answers `status` and counts the requests. */
async function statusListener(listen: { port: 0; host: string } | { path: string }, status = 200): Promise<{ server: Server; requests: () => number }> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    if (req.url !== '/status') return void res.writeHead(404).end();
    // Slow enough that reads made meanwhile find the first one pending.
    setTimeout(() => res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? STATUS : 'no\n'), 20);
  });
  await new Promise<void>((resolve) => server.listen(listen, resolve));
  return { server, requests: () => requests };
}

test("nchan_stub_status text: counts, sizes in K become bytes, text stays text, labels as nchan writes them", () => {
  const parsed = parseNchanStatus(
    'total published messages: 12\nstored messages: 3\nshared memory used: 16K\nshared memory limit: 131072K\nchannels: 4\nsubscribers: 2\nRedis  Connected Servers: 1\nnchan version: 1.3.7\n\n',
  );
  expect(Object.fromEntries(parsed)).toEqual({
    'total published messages': 12,
    'stored messages': 3,
    'shared memory used': 16 * 1024,
    'shared memory limit': 131072 * 1024,
    channels: 4,
    subscribers: 2,
    'redis connected servers': 1,
    'nchan version': '1.3.7',
  });
});

test('reads share one request while pending and within cacheMs, and ask again after it', async () => {
  const { server, requests } = await statusListener({ port: 0, host: '127.0.0.1' });
  const reader = new NchanStatusReader({ publishUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, cacheMs: 150 });
  try {
    const [a, b] = await Promise.all([reader.read(), reader.read()]);
    expect(a.get('channels')).toBe(4);
    expect(b).toBe(a);
    expect(await reader.read()).toBe(a);
    expect(requests()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await reader.read()).get('stored messages')).toBe(3);
    expect(requests()).toBe(2);
  } finally {
    await reader.close();
    server.close();
  }
});

test('over a unix socket; a status other than 200 rejects with the status, and cacheMs 0 asks every time', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'httmcp-status-'));
  const path = join(dir, 'publish.sock');
  const { server, requests } = await statusListener({ path }, 503);
  const reader = new NchanStatusReader({ publishUrl: `unix:${path}`, cacheMs: 0 });
  try {
    await expect(reader.read()).rejects.toThrow("nchan's status answered 503");
    await expect(reader.read()).rejects.toThrow("nchan's status answered 503");
    expect(requests()).toBe(2);
  } finally {
    await reader.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an nchan that never answers is given up on after timeoutMs', async () => {
  const server = createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const reader = new NchanStatusReader({ publishUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, timeoutMs: 150 });
  const started = Date.now();
  try {
    await expect(reader.read()).rejects.toThrow(/nchan's status did not answer/);
    expect(Date.now() - started).toBeLessThan(2000);
  } finally {
    await reader.close();
    server.closeAllConnections();
    server.close();
  }
});
