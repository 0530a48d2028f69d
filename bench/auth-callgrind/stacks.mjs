// Starts an authorization server (oauth2-mock-server, RS256) and httmcp stacks of one build, one
// nginx worker each, limits far above the load (as bench/slices.mjs): `off` (no authentication)
// and/or `jwt` (HTTMCP_OAUTH_ISSUER). Prints one JSON line (each stack's `httmcp start --json`
// answer, and a token for the jwt stack's demo server), then stays up until SIGTERM.
//
//   node bench/auth-callgrind/stacks.mjs [DIST=dist] [KINDS=off,jwt] > stacks.json &
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { OAuth2Server } from 'oauth2-mock-server';
import { freePort } from '../../dist/src/stack/stack.js';

const dist = resolve(process.argv[2] ?? 'dist');
const kinds = (process.argv[3] ?? 'off,jwt').split(',');
const UNLIMITED = Object.fromEntries(
  ['CLIENT_CONNECTIONS', 'PRINCIPAL_CONNECTIONS'].map((n) => [`HTTMCP_${n}`, '65535']).concat(
    ['CLIENT_RATE', 'CLIENT_BURST', 'PRINCIPAL_RATE', 'PRINCIPAL_BURST', 'PRINCIPAL_TOOL_RATE', 'PRINCIPAL_TOOL_BURST'].map((n) => [`HTTMCP_${n}`, '1000000']),
  ),
);
const as = new OAuth2Server();
await as.issuer.keys.generate('RS256');
await as.start(0, '127.0.0.1');
const children = [];
async function start(env) {
  const port = await freePort();
  const child = spawn(process.execPath, [`${dist}/src/cli/main.js`, 'start', '--port', String(port), '--json'], {
    env: { ...process.env, HTTMCP_LOG_LEVEL: 'warn', HTTMCP_WORKER_PROCESSES: '1', ...UNLIMITED, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((done) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) done(JSON.parse(line));
    });
  });
}
const out = {};
for (const kind of kinds) out[kind] = await start(kind === 'jwt' ? { HTTMCP_OAUTH_ISSUER: as.issuer.url } : { HTTMCP_OAUTH_ISSUER: '', HTTMCP_API_KEYS: '' });
if (out.jwt) out.token = await as.issuer.buildToken({ expiresIn: 3600, scopesOrTransform: (_h, p) => Object.assign(p, { sub: 'bench', aud: out.jwt.servers.demo }) });
console.log(JSON.stringify(out));
process.on('SIGTERM', async () => {
  for (const child of children) child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));
  await as.stop();
  process.exit(0);
});
setInterval(() => {}, 1 << 30);
