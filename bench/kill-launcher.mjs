// How long nginx outlives a SIGKILLed launcher: starts `httmcp start --json` RUNS times (default
// 5), SIGKILLs it, and polls /proc and the public port every 5 ms until the nginx master and its
// workers are gone and the port refuses connections. Needs the build (npm run build).
//   node bench/kill-launcher.mjs [runs]
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { childrenOf, CLI, freePort, running } from './scale-lib.mjs';
import { startedInfo } from './lib/started.mjs';

const runs = Number(process.argv[2] ?? 5);
const answers = (port) =>
  new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

for (let i = 1; i <= runs; i++) {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'start', '--port', String(port), '--json'], { env: { ...process.env, HTTMCP_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'ignore'] });
  const info = await startedInfo(child);
  const nginx = [info.nginxPid, ...childrenOf(info.nginxPid)];
  const start = process.hrtime.bigint();
  child.kill('SIGKILL');
  while (nginx.some(running) || (await answers(port))) await new Promise((r) => setTimeout(r, 5));
  console.log(`run ${i}: ${nginx.length} nginx processes gone and port ${port} refusing ${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(1)} ms after SIGKILL`);
}
