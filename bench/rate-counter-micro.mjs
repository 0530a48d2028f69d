#!/usr/bin/env node
// The client side of counting per-principal rates in Redis, in process: RedisRateCounter.takeCall
// against a redis-server of its own, one call at a time and with 16 and 64 in flight. CPU and wall
// time per call of this process; `fallbacks` counts calls that waited past the timeout (100 ms)
// and were counted locally (docs/auth.md, "Across a cluster"; bench/README.md, "clusterlimit").
//
//   npm run build && node bench/rate-counter-micro.mjs [--calls 40000]
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { RedisRateCounter } from '../dist/src/auth/rate-counter.js';
import { PrincipalQuota } from '../dist/src/auth/principal-quota.js';
import { freePort } from './scale-lib.mjs';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '40000' } } });
const port = await freePort();
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 300));
const huge = 1_000_000;
const counter = new RedisRateCounter({ url: `redis://127.0.0.1:${port}`, toolRatePerSecond: huge, toolBurst: huge, ratePerSecond: huge, burst: huge, fallback: new PrincipalQuota() });
try {
  // Until connected every call is counted locally: wait for the first one to reach Redis.
  while ((await counter.takeCall('warm', 'demo', { kind: 'tool', name: 'add' }), counter.fallbacks > 0)) {
    counter.fallbacks = 0;
    await new Promise((r) => setTimeout(r, 20));
  }
  const target = { kind: 'tool', name: 'add' };
  const calls = Number(values.calls);
  for (const inFlight of [1, 16, 64]) {
    for (let rep = 0; rep < 2; rep++) {
      let started = 0;
      const fallbacksBefore = counter.fallbacks;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: inFlight }, async (_, w) => {
          while (started < calls) {
            started++;
            await counter.takeCall(`p${w}`, 'demo', target);
          }
        }),
      );
      const cpu = process.cpuUsage(cpu0);
      const ms = performance.now() - t0;
      console.log(JSON.stringify({ inFlight, calls, cpu_us_per_call: +((cpu.user + cpu.system) / calls).toFixed(1), wall_us_per_call: +((ms * 1000) / calls).toFixed(1), fallbacks: counter.fallbacks - fallbacksBefore }));
    }
  }
} finally {
  await counter.close();
  redis.kill('SIGTERM');
}
