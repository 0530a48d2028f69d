/**
 * Floods and bad input against a two-node cluster (one Redis): one client pipelining messages as
 * fast as it can does not starve another's calls, and garbage from many clients at once (invalid
 * JSON, binary, 5 MB frames and bodies) leaves both nodes serving, and no nginx worker dies when
 * the fixed nchan build is installed (below: a SIGSEGV inside Debian's nchan that this test found).
 */
import { existsSync } from 'node:fs';
import { findNginx, FIXED_NCHAN_MODULE, type Stack } from '../../src/index.js';
import { WsClient } from '../helpers/raw-clients.js';
import { startTwoNodes, stopTwoNodes } from '../helpers/cluster.js';
import type { RedisTestServer } from '../helpers/redis.js';
import { connectClient, workerCrashes } from '../helpers/stack.js';

const SECRET = 'faults-flood-secret-0123456789abcdef';

let redis: RedisTestServer;
let nodeA: Stack;
let nodeB: Stack;
const cleanup: Array<() => unknown> = [];

beforeAll(async () => {
  ({ redis, nodeA, nodeB } = await startTwoNodes(SECRET));
}, 30_000);

afterAll(() => stopTwoNodes({ redis, nodeA, nodeB }, cleanup));

const PINGS = 2000;

test(`${PINGS} pings pipelined on one WebSocket do not starve another client's calls`, async () => {
  const flooder = await WsClient.open(nodeA.servers.demo!);
  cleanup.push(() => flooder.close());
  await flooder.initialize();
  const victims = await Promise.all((['websocket', 'streamable'] as const).map((kind) => connectClient(kind, nodeA.servers.demo!)));
  for (const victim of victims) cleanup.push(() => victim.close());

  const floodStart = Date.now();
  for (let i = 0; i < PINGS; i++) flooder.send({ jsonrpc: '2.0', id: `p${i}`, method: 'ping' });
  const pongs = () => flooder.received.filter((m) => typeof m === 'object' && m !== null && String((m as { id?: unknown }).id).startsWith('p')).length;

  // While the flood is being worked through: 20 calls per victim, one after the other.
  const latencies: number[] = [];
  let pongsWhenVictimsDone = 0;
  await Promise.all(
    victims.map(async (victim) => {
      for (let i = 0; i < 20; i++) {
        const t = Date.now();
        expect(await victim.callTool({ name: 'add', arguments: { a: i, b: 1 } }, undefined, { timeout: 10_000 })).toEqual({ content: [{ type: 'text', text: String(i + 1) }] });
        latencies.push(Date.now() - t);
      }
    }),
  );
  pongsWhenVictimsDone = pongs();
  const last = `p${PINGS - 1}`;
  await flooder.next((m) => typeof m === 'object' && m !== null && (m as { id?: unknown }).id === last, 30_000);
  const floodMs = Date.now() - floodStart;
  latencies.sort((a, b) => a - b);
  console.log(
    `flood of ${PINGS} pings answered in ${floodMs} ms; other clients' 40 calls: median ${latencies[20]} ms, max ${latencies.at(-1)} ms; ` +
      `${pongsWhenVictimsDone} pongs had arrived when they were done`,
  );
  expect(pongs()).toBe(PINGS); // every ping answered, in a pipeline nginx serializes per socket
  expect(latencies.at(-1)!).toBeLessThan(2000); // generous: a starved client would wait for the whole flood
  expect(workerCrashes(nodeA)).toEqual([]);
}, 50_000);

test('garbage from 50 clients in parallel (invalid JSON, binary, 5 MB frames and bodies) crashes nothing on either node', async () => {
  const big = 'x'.repeat(5 * 1024 * 1024);
  const jobs: Promise<unknown>[] = [];
  for (let i = 0; i < 50; i++) {
    const node = i % 2 ? nodeB : nodeA;
    jobs.push(
      (async () => {
        const ws = await WsClient.open(node.servers.demo!);
        cleanup.push(() => ws.close());
        switch (i % 5) {
          case 0: ws.send('{"jsonrpc":"2.0","id":1,"method":'); break; // truncated JSON
          case 1: ws.ws.send(Buffer.from([0xff, 0x00, 0xfe, 0x01, 0x80])); break; // binary garbage
          case 2: ws.send(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"${big}"}}`); break; // 5 MB frame
          case 3: ws.send(big); break; // 5 MB of non-JSON
          case 4: for (let k = 0; k < 50; k++) ws.send(`[${'['.repeat(k * 20)}`); break; // deep, broken nesting
        }
        // Whatever the server answers (an error or a close), the socket must not take others down.
        await ws.next(() => true, 10_000).catch(() => undefined);
        ws.close();
      })(),
    );
    jobs.push(
      fetch(node.servers.demo!, {
        method: 'POST',
        headers: { accept: 'application/json, text/event-stream', 'content-type': 'application/json' },
        body: i % 2 ? big : '{"jsonrpc":"2.0","id":1,"method":"initialize","params":',
      }).then((r) => r.text(), () => undefined),
    );
  }
  await Promise.all(jobs);

  // Both nodes still serve, on every path, and no worker died on a signal.
  for (const node of [nodeA, nodeB]) {
    for (const kind of ['websocket', 'sse', 'streamable'] as const) {
      const client = await connectClient(kind, node.servers.demo!);
      expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 2 } })).toEqual({ content: [{ type: 'text', text: '4' }] });
      await client.close();
    }
  }
  // Debian's nchan (1.3.6) crashes a worker with SIGSEGV in about 1 run in 10 of this test: a
  // WebSocket that closes while one of its frames is upstream leaves that frame's pool with the
  // closed connection's log, and nchan's cleanup timer reads it from freed memory
  // (bench/nchan-close-crash.mjs reproduces it). scripts/build-nchan-module.sh builds nchan with
  // that fixed, and the launcher uses it when present (as CI does): then no worker may die. With
  // Debian's module, only that known crash is tolerated (and printed); nginx's master starts a new
  // worker at once and both nodes keep serving (checked above), but that worker's sessions are cut.
  const fixed = findNginx().nchanFixed;
  for (const node of [nodeA, nodeB]) {
    const crashes = workerCrashes(node);
    if (fixed) {
      expect(crashes).toEqual([]);
    } else {
      if (crashes.length > 0) console.warn(`known crash of Debian's nchan module (SIGSEGV) seen:\n${crashes.join('\n')}`);
      expect(crashes.filter((line) => !/exited on signal 11\b/.test(line))).toEqual([]);
    }
  }
}, 50_000);

test('the launcher prefers the fixed nchan build when it is installed, and an explicit HTTMCP_NCHAN_MODULE over both', () => {
  const stock = '/usr/lib/nginx/modules/ngx_nchan_module.so';
  expect(findNginx({ ...process.env, HTTMCP_NCHAN_MODULE: stock })).toMatchObject({ module: stock, nchanFixed: false });
  const found = findNginx({ ...process.env, HTTMCP_NCHAN_MODULE: undefined });
  expect(found.nchanFixed).toBe(existsSync(FIXED_NCHAN_MODULE));
  expect(found.module).toBe(found.nchanFixed ? FIXED_NCHAN_MODULE : stock);
});
