// Preloaded into a benchmarked Node process (NODE_OPTIONS="--expose-gc --require bench/gc-preload.cjs"):
// on SIGUSR2 it runs a full GC and writes process.memoryUsage() to /tmp/httmcp-bench-mem-<pid>.json,
// so the idle-session benchmark can read the backend's live heap, not garbage left from setup.
process.on('SIGUSR2', () => {
  if (globalThis.gc) { globalThis.gc(); globalThis.gc(); }
  require('node:fs').writeFileSync(`/tmp/httmcp-bench-mem-${process.pid}.json`, JSON.stringify({ gc: Boolean(globalThis.gc), ...process.memoryUsage() }));
});
