/**
 * The fixed nchan build (scripts/build-nchan-module.sh) against the crash it fixes: WebSockets
 * that close while their frames are on the upstream hop. Run through bench/nchan-close-crash.mjs
 * with glibc's MALLOC_PERTURB_, which overwrites freed memory at once, so that Debian's module
 * crashes in (nearly) every round instead of in about one flood-test run in ten. The same run
 * against Debian's module shows the reproducer still detects the crash.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FIXED_NCHAN_MODULE } from '../../src/index.js';

const REPRODUCER = fileURLToPath(new URL('../../bench/nchan-close-crash.mjs', import.meta.url));
const DEBIAN_MODULE = '/usr/lib/nginx/modules/ngx_nchan_module.so';

/**
 * Workers that died on a signal in a perturbed run with that module: while the stack ran
 * (`crashes`), and while it stopped (`crashesAtStop`: nchan's exit path, patch 06).
 */
function perturbedRun(module: string, extra: string[] = ['--close', 'nextterm']): { crashes: number; crashesAtStop: number; lines: string } {
  const run = spawnSync(process.execPath, [REPRODUCER, '--rounds', '4', '--perturb', ...extra], {
    env: { ...process.env, HTTMCP_NCHAN_MODULE: module },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const summary = run.stdout.split('\n').find((line) => line.startsWith('{'));
  if (run.status !== 0 || !summary) throw new Error(`reproducer failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  const { crashes, crashesAtStop } = JSON.parse(summary) as { crashes: number; crashesAtStop: number };
  return { crashes, crashesAtStop, lines: run.stdout };
}

// `npm test` builds the fixed module (scripts/setup.mjs); elsewhere the test needs it installed to run.
const fixedTest = existsSync(FIXED_NCHAN_MODULE) || process.env.CI ? test : test.skip;

fixedTest('the fixed build: WebSockets closing with frames upstream crash no worker, even with freed memory overwritten', () => {
  expect(existsSync(FIXED_NCHAN_MODULE)).toBe(true);
  expect(perturbedRun(FIXED_NCHAN_MODULE)).toEqual({ crashes: 0, crashesAtStop: 0, lines: expect.any(String) });
}, 90_000);

// Valid pings, each socket closed right after sending, with Redis: the publish of the backend's
// answer comes back after the socket is gone (patch 04), bursts of frames fail the connect to the
// backend at once (patch 05), and publishes are still pending when the stack stops (patch 06).
// Each killed workers of the 01+02 build, in some runs (docs/operations.md).
fixedTest('the fixed build: WebSockets closing right after pipelining valid frames, with Redis, crash no worker', () => {
  expect(perturbedRun(FIXED_NCHAN_MODULE, ['--kinds', '5', '--close', 'now'])).toEqual({ crashes: 0, crashesAtStop: 0, lines: expect.any(String) });
}, 90_000);

(existsSync(DEBIAN_MODULE) ? test : test.skip)("control: Debian's module crashes under the same run, so the run above can see a crash", () => {
  expect(perturbedRun(DEBIAN_MODULE).crashes).toBeGreaterThan(0);
}, 90_000);
