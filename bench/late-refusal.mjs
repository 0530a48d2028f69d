#!/usr/bin/env node
/**
 * Whether a 2026-07-28 refusal keeps its HTTP 400 when the inline budget is missed (the late2026
 * lane): starts a stack per build with the `everything` server, runs the official conformance
 * scenario `server-stateless` (0.2.0-alpha.12, `--spec-version 2026-07-28`) several times and
 * counts its FAILURE and WARNING checks and the outcome of `sep-2575-missing-capability-http-400`.
 *
 * A tiny inline budget (`--budget 1`) stands in for a loaded machine: the budget's timer then
 * wins against anything that leaves the current turn (a thread-pool HMAC, I/O).
 *
 *   npx tsc -p tsconfig.build.json   # each build's dist/
 *   node bench/late-refusal.mjs --roots /work/main,. --budget 1 --hold 0 --rounds 5
 *
 * `--hold -` keeps the default status hold (HTTMCP_STATUS_HOLD_MS); a build without one ignores it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';

const HERE = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: { roots: { type: 'string', default: '.' }, budget: { type: 'string', default: '50' }, hold: { type: 'string', default: '-' }, rounds: { type: 'string', default: '3' } },
});
const SUITE = join(HERE, 'node_modules', 'mcp-conformance-next');
const NODE22 = join(HERE, 'node_modules', 'node', 'bin', 'node');
const bin = join(SUITE, JSON.parse(readFileSync(join(SUITE, 'package.json'), 'utf8')).bin.conformance);

for (const root of values.roots.split(',').map((r) => resolve(r))) {
  const { startStack } = await import(join(root, 'dist/src/index.js'));
  const { createEverythingServer } = await import(join(root, 'dist/examples/everything.js'));
  const gateway = { livenessIntervalMs: 2000, inlineBudgetMs: Number(values.budget), ...(values.hold === '-' ? {} : { statusHoldMs: Number(values.hold) }) };
  const unlimited = { connections: 65535, ratePerSecond: 1_000_000, burst: 1_000_000 };
  const stack = await startStack({
    servers: [createEverythingServer()], port: 0, workerProcesses: 1, logger: pino({ level: 'silent' }), gateway,
    clientLimits: unlimited, principalLimits: { ...unlimited, toolRatePerSecond: 1_000_000, toolBurst: 1_000_000 },
  });
  const tally = {};
  try {
    for (let round = 0; round < Number(values.rounds); round++) {
      const out = mkdtempSync(join(tmpdir(), 'httmcp-late-refusal-'));
      const env = { ...process.env };
      delete env.NODE_OPTIONS;
      await new Promise((done) =>
        spawn(NODE22, [bin, 'server', '--url', stack.servers.everything, '--scenario', 'server-stateless', '--spec-version', '2026-07-28', '-o', out], { env, stdio: 'ignore' }).on('close', done),
      );
      for (const dir of readdirSync(out)) {
        for (const check of JSON.parse(readFileSync(join(out, dir, 'checks.json'), 'utf8'))) {
          if (check.status !== 'FAILURE' && check.status !== 'WARNING' && check.id !== 'sep-2575-missing-capability-http-400') continue;
          const key = `${check.id} ${check.status}`;
          tally[key] = (tally[key] ?? 0) + 1;
        }
      }
      rmSync(out, { recursive: true, force: true });
    }
  } finally {
    await stack.stop();
  }
  console.log(JSON.stringify({ root, budgetMs: Number(values.budget), holdMs: values.hold, rounds: Number(values.rounds), tally }));
}
