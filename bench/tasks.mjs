#!/usr/bin/env node
// What a task costs the backend, in process (no HTTP): N task-augmented tools/call of a tool that
// returns at once, each polled with tasks/get until completed, on one pinned SDK v2 instance with
// the tasks extension (dist/src/tasks), with the memory store and with Redis (a local
// redis-server started here, no persistence). Prints one JSON line per store.
//
// Usage: node bench/tasks.mjs [--tasks 2000] [--concurrency 16]
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';
import { Tasks, MemoryTaskStore, RedisTaskStore, resolveTaskSettings, TASKS_EXTENSION_ID } from '../dist/src/tasks/index.js';

const { values: args } = parseArgs({ options: { tasks: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '16' } } });
const total = Number(args.tasks);
const concurrency = Number(args.concurrency);

class Mux {
  waiting = new Map();
  next = 1;
  async start() {}
  async close() {}
  async send(message) {
    if ('method' in message) return;
    const resolve = this.waiting.get(message.id);
    this.waiting.delete(message.id);
    resolve?.(message);
  }
  request(method, params) {
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      const _meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': { extensions: { [TASKS_EXTENSION_ID]: {} } } };
      this.onmessage?.({ jsonrpc: '2.0', id, method, params: { ...params, _meta } });
    });
  }
}

async function run(store, name) {
  const mux = new Mux();
  const tasks = new Tasks({ store, settings: resolveTaskSettings({ maxPerPrincipal: total + 1 }), taskSupport: (tool) => (tool === 'add' ? 'optional' : undefined), factsOf: () => ({ principal: 'bench' }) });
  const server = new McpServer({ name: 'bench', version: '1' });
  server.registerTool('add', { inputSchema: z.object({ a: z.number(), b: z.number() }) }, ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }));
  tasks.install(server);
  const handle = serveStdio(() => server, { transport: tasks.wrap(mux), legacy: 'reject' });
  let gets = 0;
  const one = async (i) => {
    const created = await mux.request('tools/call', { name: 'add', arguments: { a: i, b: 1 } });
    for (;;) {
      gets++;
      const got = await mux.request('tasks/get', { taskId: created.result.taskId });
      if (got.result.status === 'completed') return;
      await new Promise((r) => setImmediate(r));
    }
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next < total) await one(next++); }));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await tasks.close();
  await handle.close();
  await store.close();
  console.log(JSON.stringify({ store: name, tasks: total, concurrency, tasksPerSecond: Math.round(total / (ms / 1000)), getsPerTask: +(gets / total).toFixed(2), cpuUsPerTask: Math.round((cpu.user + cpu.system) / total) }));
}

const port = await new Promise((resolve) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
try {
  await run(new MemoryTaskStore(), 'memory');
  let store;
  for (let i = 0; i < 100 && !store; i++) store = await RedisTaskStore.connect({ url: `redis://127.0.0.1:${port}` }).catch(() => new Promise((r) => setTimeout(() => r(undefined), 50)));
  await run(store, 'redis');
} finally {
  redis.kill('SIGTERM');
}
