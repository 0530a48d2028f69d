#!/usr/bin/env node
// Which per-call JavaScript patterns make a call's garbage survive V8's young-generation
// collections (scavenges) and get promoted, on this Node. Each pattern runs in its own child
// process under --trace-gc-nvp: N "calls", ten per macrotask (as a server's requests arrive),
// each building a ~14 KB graph that is dropped at once, plus the pattern under test. Printed per
// pattern: bytes promoted by scavenges per call and full (mark-compact) GCs per 100,000 calls.
// A graph nothing keeps promotes ~0 KB; one kept alive until a full GC promotes ~14 KB.
//
//   node bench/gc-patterns.mjs [--calls 200000] [--only getter-literal,abort-controller]
//
// The patterns are those found on the backend's request path (bench/README.md, "gcroots"):
// an object literal with a getter closing over the call (httmcp's handler context until then),
// the same as a class getter, a failed zod safeParse (the SDK's message classifier fails two
// per inbound request), the SDK's per-request AbortController, AbortSignal.any, and a WeakMap
// entry keyed by a per-call object (auth and tracing keep some).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const PATTERNS = {
  'nothing': () => {},
  'getter-literal': (graph) => {
    const ctx = { id: 1, get graph() { return graph; } };
    return ctx.id;
  },
  'class-getter': (graph) => new Holder(graph).id,
  'arrow-in-literal': (graph) => ({ id: 1, graph: () => graph }).id,
  'abort-controller': () => new AbortController().signal.aborted,
  'abort-controller-holds-graph': (graph) => {
    const controller = new AbortController();
    controller.signal.addEventListener('abort', () => graph.length);
  },
  'abort-signal-any': (graph) => AbortSignal.any([new AbortController().signal]).addEventListener('abort', () => graph.length),
  'weakmap-entry-per-call': (graph) => byCall.set({ id: 1 }, graph),
  'zod-failed-safeParse': (graph) => schema.safeParse({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { graph } }).success,
  'zod-passed-safeParse': (graph) => schema.safeParse({ jsonrpc: '2.0', id: 1, result: { graph } }).success,
};

class Holder {
  #graph;
  constructor(graph) {
    this.id = 1;
    this.#graph = graph;
  }
  get graph() {
    return this.#graph;
  }
}

let schema;
const byCall = new WeakMap();

async function child(name, calls) {
  const { z } = await import('zod');
  schema = z.object({ jsonrpc: z.literal('2.0'), id: z.number(), result: z.object({}).passthrough() });
  const pattern = PATTERNS[name];
  let i = 0;
  const tick = () => {
    for (let k = 0; k < 10 && i < calls; k++, i++) {
      const graph = Array.from({ length: 200 }, (_, j) => ({ j, s: `x${j}` }));
      pattern(graph);
    }
    if (i < calls) setImmediate(tick);
  };
  tick();
}

async function measure(name, calls) {
  const proc = spawn(process.execPath, ['--trace-gc-nvp', fileURLToPath(import.meta.url), '--child', name, '--calls', String(calls)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let promoted = 0;
  let full = 0;
  let rest = '';
  proc.stdout.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    for (const line of lines) {
      if (/\bgc=s\b/.test(line)) promoted += Number(/\bpromoted=(\d+)/.exec(line)?.[1] ?? 0);
      else if (/\bgc=(mc|mmc)\b/.test(line)) full++;
    }
  });
  await new Promise((resolve) => proc.once('exit', resolve));
  return { pattern: name, promoted_kb_per_call: +(promoted / calls / 1024).toFixed(3), full_gcs_per_100k: +((full * 100000) / calls).toFixed(1) };
}

const { values: v } = parseArgs({ options: { calls: { type: 'string', default: '200000' }, only: { type: 'string' }, child: { type: 'string' } } });
if (v.child) {
  await child(v.child, Number(v.calls));
} else {
  const names = v.only ? v.only.split(',') : Object.keys(PATTERNS);
  for (const name of names) {
    if (!PATTERNS[name]) throw new Error(`unknown pattern ${name}: ${Object.keys(PATTERNS).join(', ')}`);
    console.log(JSON.stringify(await measure(name, Number(v.calls))));
  }
  console.log(JSON.stringify({ node: process.version, loadavg: (await import('node:os')).loadavg().map((x) => +x.toFixed(2)) }));
}
