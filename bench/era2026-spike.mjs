#!/usr/bin/env node
// Runs the issue-11 spike (bench/era2026-spike-server.mjs) and measures each mode: 2026-07-28
// tools/call on node:http, no nginx, closed loop (bench/load.mjs --era 2026), backend CPU per call
// from /proc. Writes bench/results/<date>-era2026-spike.json and prints a markdown table.
//
//   node bench/era2026-spike.mjs [--modes handler,pinned,cached] [--clients 16,64] [--duration 10] [--warmup 2]

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gitCommit, stopChild } from './scale-lib.mjs';
import { runLoad } from './load.mjs';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const SERVER = join(BENCH_DIR, 'era2026-spike-server.mjs');

const { values: v } = parseArgs({
  options: {
    modes: { type: 'string', default: 'handler,pinned,cached' },
    clients: { type: 'string', default: '16,64' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
  },
});

function startServer(mode) {
  const child = spawn(process.execPath, [SERVER, '--mode', mode, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl !== -1) resolve({ child, info: JSON.parse(buf.slice(0, nl)) });
    });
    child.once('exit', (code) => reject(new Error(`${mode} server exited (${code})`)));
  });
}

const rows = [];
for (const mode of v.modes.split(',')) {
  const { child, info } = await startServer(mode);
  try {
    for (const clients of v.clients.split(',').map(Number)) {
      const r = await runLoad({
        transport: 'http',
        era: '2026',
        url: info.url,
        clients,
        duration: v.duration,
        warmup: v.warmup,
        pids: [info.pid],
        log: () => {},
      });
      rows.push({ mode, ...r });
      process.stderr.write(`[spike] ${mode} @${clients}: ${r.rps} rps, ${r.cpu_us_per_call} µs/call, errors ${r.errors}\n`);
    }
  } finally {
    await stopChild(child);
  }
}

const table =
  '| mode | clients | rps | p50 ms | p99 ms | errors | backend CPU µs/call | backend CPU % |\n|---|---:|---:|---:|---:|---:|---:|---:|\n' +
  rows.map((r) => `| ${r.mode} | ${r.clients} | ${r.rps} | ${r.p50_ms} | ${r.p99_ms} | ${r.errors} | ${r.cpu_us_per_call} | ${r.cpu_pct} |`).join('\n') +
  '\n';
process.stdout.write(table);
const now = new Date();
const out = join(BENCH_DIR, 'results', `${now.toISOString().slice(0, 10)}-era2026-spike.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  JSON.stringify(
    {
      date: now.toISOString(),
      command: ['node', 'bench/era2026-spike.mjs', ...process.argv.slice(2)].join(' '),
      commit: gitCommit(),
      machine: { node: process.version, cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, loadavg_after: os.loadavg() },
      results: rows,
      table_markdown: table,
    },
    null,
    2,
  ) + '\n',
);
process.stderr.write(`[spike] results written to ${out}\n`);
