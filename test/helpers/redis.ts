import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from '../../src/index.js';

/** A `redis-server` of a test's own, on an ephemeral port of 127.0.0.1, without persistence. */
export interface RedisTestServer {
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Stops and starts it again on the same port (a Redis restart). */
  restart(): Promise<void>;
}

export async function startRedis(): Promise<RedisTestServer> {
  const port = await freePort();
  let child = await spawnRedis(port);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    async restart() {
      await stop();
      child = await spawnRedis(port);
    },
  };
}

async function spawnRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} (is the redis-server package installed?)`);
    if (await pong(port)) return child;
    if (Date.now() > deadline) throw new Error('redis-server did not answer PING within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      resolve(data.toString().startsWith('+PONG'));
      socket.destroy();
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A Redis of the enclosing `describe` (or file): started before its tests, stopped after them.
 * A getter, because the server exists only once `beforeAll` has run.
 */
export function redisForSuite(): () => RedisTestServer {
  let redis: RedisTestServer | undefined;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  return () => {
    if (redis === undefined) throw new Error('redisForSuite(): its Redis is only there inside a test');
    return redis;
  };
}
