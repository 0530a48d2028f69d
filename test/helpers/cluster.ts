/**
 * Helpers for the cluster fault tests: `httmcp backend` processes that can be killed and started
 * again on the same port, and a reader for the backend's `/metrics`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createExampleServers } from '../../examples/index.js';
import type { Stack } from '../../src/index.js';
import { startRedis, type RedisTestServer } from './redis.js';
import { startTestStack } from './stack.js';

export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

/** An `httmcp backend` child process on 127.0.0.1:port; its stdout+stderr are kept in `log`. */
export class BackendProcess {
  child: ChildProcess | undefined;
  /** Everything the process wrote (pino JSON lines), across restarts. */
  log = '';

  constructor(
    readonly port: number,
    readonly publishUrl: string,
    readonly secret: string,
    readonly env: Record<string, string> = {},
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts it and resolves once `/healthz` answers. */
  async start(): Promise<this> {
    const child = spawn(process.execPath, [CLI, 'backend', '--listen', this.address, '--publish-url', this.publishUrl], {
      env: { ...process.env, HTTMCP_SESSION_SECRET: this.secret, HTTMCP_LOG_LEVEL: 'warn', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await fetch(`${this.url}/healthz`).then((r) => r.ok, () => false))) {
      if (child.exitCode !== null) throw new Error(`backend exited with ${child.exitCode}: ${this.log}`);
      if (Date.now() > deadline) throw new Error('backend did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    return this;
  }

  /** SIGKILL (no goodbye) and wait for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }

  /** True while the process has not exited (it did not crash). */
  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  metrics(): Promise<BackendMetrics> {
    return fetchMetrics(this.url);
  }

  /** Parsed pino lines at level error (50) or above. */
  errorLines(): Array<{ level: number; msg: string; [key: string]: unknown }> {
    return this.log
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => {
        try {
          return JSON.parse(line) as { level: number; msg: string };
        } catch {
          return { level: 0, msg: line };
        }
      })
      .filter((entry) => entry.level >= 50);
  }
}

/** The metrics the backend's `/metrics` always has. */
const METRIC_NAMES = [
  'httmcp_publish_total',
  'httmcp_publish_retries_total',
  'httmcp_publish_failures_total',
  'httmcp_inflight_requests',
  'httmcp_sessions_closed_total',
] as const;
export type BackendMetrics = Record<(typeof METRIC_NAMES)[number], number>;

/** `GET {base}/metrics` parsed into name -> value (Prometheus text, no labels); all present. */
export async function fetchMetrics(base: string): Promise<BackendMetrics> {
  const res = await fetch(`${base}/metrics`);
  if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
  const parsed = parsePrometheus(await res.text());
  for (const name of METRIC_NAMES) {
    if (!Number.isFinite(parsed[name])) throw new Error(`/metrics has no ${name}`);
  }
  return parsed as BackendMetrics;
}

export function parsePrometheus(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const [name, value] = line.split(/\s+/);
    out[name!] = Number(value);
  }
  return out;
}

/** Waits until `check` resolves truthy; returns how long that took in ms. */
export async function eventually(check: () => Promise<unknown>, timeoutMs: number, what: string, intervalMs = 100): Promise<number> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return Date.now() - start;
    } catch (error) {
      last = error;
    }
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last error: ${String(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Two `npm start -- --redis URL` nodes (each its own nginx and in-process backend) on a fresh redis-server. */
export interface TwoNodes {
  redis: RedisTestServer;
  nodeA: Stack;
  nodeB: Stack;
}

export async function startTwoNodes(secret: string): Promise<TwoNodes> {
  const redis = await startRedis();
  const options = { servers: createExampleServers(), redis: redis.url, gateway: { sessionSecret: secret } };
  const nodeA = await startTestStack(options);
  const nodeB = await startTestStack({ ...options, servers: createExampleServers() });
  return { redis, nodeA, nodeB };
}

/**
 * Closes what a test opened (`cleanup`, even when it failed half way), then the nodes that are
 * still running and Redis. For a fault test's afterAll.
 */
export async function stopTwoNodes(nodes: Partial<TwoNodes>, cleanup: Array<() => unknown>, alreadyStopped: Array<Stack | undefined> = []): Promise<void> {
  for (const close of cleanup) await Promise.resolve().then(close).catch(() => undefined);
  for (const node of [nodes.nodeA, nodes.nodeB]) if (node && !alreadyStopped.includes(node)) await node.stop();
  await nodes.redis?.stop();
}
