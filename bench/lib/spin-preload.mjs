// A bench-only slower backend: `NODE_OPTIONS=--import=<this file> BENCH_SPIN_US=3` makes every
// HTTP request the process serves (nginx's tools/call POSTs, and the WebSocket frames nchan
// forwards as POSTs) spin the CPU for BENCH_SPIN_US microseconds before it is handled. The bytes
// on every socket stay the same; the backend is only slower, by a known amount. With
// BENCH_SPIN_TOGGLE=1 the spin starts off and each SIGUSR2 switches it on or off, so one running
// stack can be measured both ways in alternating slices (bench/obsedge-spin.mjs). Why:
// bench/README.md, "### obsedge (2026-12-06)": do nginx's and the load generator's CPU per call
// rise when the backend they wait on is slower, with nothing else different?
import { Server } from 'node:http';
import { performance } from 'node:perf_hooks';

const spinMs = Number(process.env.BENCH_SPIN_US ?? 0) / 1000;
let spinning = process.env.BENCH_SPIN_TOGGLE !== '1';
if (process.env.BENCH_SPIN_TOGGLE === '1') process.on('SIGUSR2', () => (spinning = !spinning));
if (spinMs > 0) {
  const emit = Server.prototype.emit;
  Server.prototype.emit = function (event, ...args) {
    if (spinning && event === 'request') {
      const until = performance.now() + spinMs;
      while (performance.now() < until);
    }
    return emit.call(this, event, ...args);
  };
}
