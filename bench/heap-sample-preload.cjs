// Preloaded into a benchmarked backend (`node --require bench/heap-sample-preload.cjs ...`, e.g.
// `bench/hotpath-http.mjs --node-flags '--require /abs/bench/heap-sample-preload.cjs'`): V8's
// sampling heap profiler from the start, told to keep what the garbage collector already freed,
// so the profile counts every allocation (node's own --heap-prof keeps only what is still alive
// when it writes, which for short-lived per-call garbage is almost nothing). On SIGTERM it writes
// HEAP_SAMPLE_DIR/heap-<pid>.heapprofile (default /tmp) before the backend's own shutdown runs.
// HEAP_SAMPLE_INTERVAL: mean bytes between samples (default 512). Summarize with
// bench/heap-profile-summary.mjs.
const { Session } = require('node:inspector');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');
const session = new Session();
session.connect();
session.post('HeapProfiler.startSampling', {
  samplingInterval: Number(process.env.HEAP_SAMPLE_INTERVAL ?? 512),
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
process.prependListener('SIGTERM', () => {
  // The main thread's session answers synchronously, so the file is written before any exit.
  session.post('HeapProfiler.stopSampling', (err, result) => {
    if (err) return void process.stderr.write(`heap-sample-preload: ${err.message}\n`);
    writeFileSync(join(process.env.HEAP_SAMPLE_DIR ?? '/tmp', `heap-${process.pid}.heapprofile`), JSON.stringify(result.profile));
  });
});
