// Deoptimizations per V8 isolate, from `node --log-deopt --logfile=DIR/v8.log` (V8 writes one
// `isolate-<address>-<pid>-v8.log` per isolate: the main thread's and each worker thread's).
//   node bench/deopt-isolates.mjs DIR [--window-ms 200]
// Per isolate: all deoptimizations; those in node's stream, HTTP, net and events code (where the
// OTLP exporter's node:http client and the server share functions, bench/README.md "obscost");
// and the largest number of those within any --window-ms (a burst, such as the one that followed
// the first OTLP export in the main thread).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: v, positionals } = parseArgs({ allowPositionals: true, options: { 'window-ms': { type: 'string', default: '200' } } });
const dir = positionals[0];
const windowUs = Number(v['window-ms']) * 1000;
const NODE_IO = /<node:(internal\/streams\/|_http_|net|events|internal\/stream_base_commons)/;

for (const file of readdirSync(dir).filter((f) => f.endsWith('-v8.log')).sort()) {
  const lines = readFileSync(join(dir, file), 'utf8').split('\n');
  // code-deopt,<time µs>,<size>,<code>,<inlining id>,<offset>,<kind>,<position>,<reason>
  const deopts = lines.filter((l) => l.startsWith('code-deopt,')).map((l) => l.split(','));
  const io = deopts.filter((d) => NODE_IO.test(d[7])).map((d) => Number(d[1]));
  let burst = 0;
  let burstAt = 0;
  for (let i = 0, j = 0; i < io.length; i++) {
    while (io[i] - io[j] > windowUs) j++;
    if (i - j + 1 > burst) [burst, burstAt] = [i - j + 1, io[j]];
  }
  const created = lines.filter((l) => l.startsWith('code-creation,')).length;
  console.log(JSON.stringify({ file, codeCreated: created, deopts: deopts.length, nodeIo: io.length, burst, burstAtS: +(burstAt / 1e6).toFixed(2) }));
}
