// One long-lived closed-loop load (bench/load.mjs's runLoad) that bench/slices.mjs measures in
// short slices. Forked with an IPC channel and one argument, the JSON of runLoad's options.
//
// Why a process that lives for the whole comparison: connecting and initializing 64 clients
// takes a noticeable share of a 1-s slice, and reconnecting every slice would pile up HTTP
// sessions on the backend and churn WebSockets in nginx, so the clients stay connected. The
// parent pauses this process with SIGSTOP while the other stack is measured (the kernel freezes
// it: no timer, no request, no CPU; its sockets stay open and its sessions stay alive) and
// resumes it with SIGCONT. Pausing from outside needs nothing from load.mjs beyond its
// `progress` counters, so the generator can change underneath (another HTTP client) and this
// keeps working.
//
// Messages: the parent sends 'snap'; this process answers {calls, errors, t_ms, cpu_us}: the
// counts so far, its own monotonic clock and its own CPU time, so a slice's rate and the load
// generator's CPU per call come from one clock in one process (no IPC delay inside the window).
// It sends {ready: true} once the first reply has arrived (every client is then connected).

import { performance } from 'node:perf_hooks';
import { runLoad } from '../load.mjs';

const options = JSON.parse(process.argv[2] ?? '{}');
const progress = { calls: 0, errors: 0 };

process.on('message', (m) => {
  if (m !== 'snap') return;
  const cpu = process.cpuUsage();
  process.send({ calls: progress.calls, errors: progress.errors, t_ms: performance.now(), cpu_us: cpu.user + cpu.system });
});
// The parent went away: nothing left to measure for.
process.on('disconnect', () => process.exit(0));

const ready = setInterval(() => {
  if (progress.calls + progress.errors === 0) return;
  clearInterval(ready);
  process.send({ ready: true });
}, 20);

runLoad({ ...options, warmup: 0, duration: options.duration ?? 24 * 3600, progress, log: () => {} }).then(
  () => process.exit(0),
  (err) => {
    process.send?.({ error: String(err?.message ?? err) });
    process.exit(1);
  },
);
