/**
 * The stack is never half alive, and its internal hops serve nginx only. Real processes: the
 * built `httmcp` command, nginx+nchan, `httmcp backend`, `runuser`, `ss`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort, type Stack } from '../../src/index.js';
import { deriveBackendKey } from '../../src/http/backend-guard.js';
import { BackendProcess, eventually } from '../helpers/cluster.js';
import { CLI, startCli } from '../helpers/cli.js';
import { exited } from '../helpers/processes.js';
import { connectClient, startTestStack } from '../helpers/stack.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'supervision-test-secret-0123456789abcdef';
const isRoot = process.getuid?.() === 0;

/** True while `pid` runs (a zombie waiting for its reaper counts as gone). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Pids whose parent is `pid` (nginx's workers, when `pid` is its master). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1] === String(pid)) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** Whether anything accepts connections on 127.0.0.1:port. */
function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits until none of `pids` runs and nothing answers on `port`; how long that took. */
function allGone(pids: number[], port: number): Promise<number> {
  return eventually(async () => pids.every((pid) => !running(pid)) && !(await portAnswers(port)), 5000, `nginx ${pids.join(',')} and port ${port} to be gone`, 50);
}

describe('nginx never outlives its launcher', () => {
  test('kill -9 of `httmcp start`: its nginx (master and workers) is gone within seconds, nothing answers on the port', async () => {
    const port = await freePort();
    const { child, info } = await startCli(['start', '--port', String(port)]);
    const nginx = [info.nginxPid as number, ...childrenOf(info.nginxPid)];
    expect(nginx.length).toBeGreaterThan(1);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);

    child.kill('SIGKILL');
    await exited(child);
    const ms = await allGone(nginx, port);
    expect(ms).toBeLessThan(5000);
  });

  test('nginx killed under a running stack: the launcher stops the backend and exits non-zero', async () => {
    const port = await freePort();
    const { child, info, stderr } = await startCli(['start', '--port', String(port)]);
    const workers = childrenOf(info.nginxPid);
    process.kill(info.nginxPid, 'SIGKILL'); // its workers would go on serving on their own
    expect(await exited(child)).toBe(1);
    expect(stderr()).toMatch(/nginx \(pid \d+\) exited \(killed by a signal\); the stack stopped/);
    await allGone([info.nginxPid, ...workers], port);
    // The temp prefix stays for its error log, which the message names.
    expect(existsSync(join(info.prefix as string, 'logs', 'error.log'))).toBe(true);
    rmSync(info.prefix as string, { recursive: true, force: true });
  });

  test('a clean stop (SIGTERM) removes the temp prefix the stack made; one given with --prefix stays', async () => {
    const { child, info } = await startCli(['start', '--port', String(await freePort())]);
    expect(existsSync(join(info.prefix as string, 'nginx.conf'))).toBe(true);
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    expect(existsSync(info.prefix as string)).toBe(false);

    const own = mkdtempSync(join(tmpdir(), 'httmcp-own-'));
    try {
      const given = await startCli(['start', '--port', String(await freePort()), '--prefix', own]);
      given.child.kill('SIGTERM');
      expect(await exited(given.child)).toBe(0);
      expect(existsSync(join(own, 'logs', 'error.log'))).toBe(true);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  test('a backend crash (an uncaught error in a tool) stops the whole stack: no nginx answering 502', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'httmcp-crash-'));
    const module = join(dir, 'crashing.mjs');
    const httmcp = pathToFileURL(join(ROOT, 'dist', 'src', 'index.js')).href;
    writeFileSync(
      module,
      `import { HTTMCP } from '${httmcp}';
export const crashy = new HTTMCP({ name: 'crashy', version: '1.0.0' })
  .tool('crash', {}, () => { setTimeout(() => { throw new Error('a bug outside any handler'); }, 10); return 'soon'; });
`,
    );
    const port = await freePort();
    const { child, info } = await startCli(['serve', module, '--port', String(port)]);
    const nginx = [info.nginxPid as number, ...childrenOf(info.nginxPid)];
    const client = await connectClient('streamable', info.servers.crashy);
    expect(await client.callTool({ name: 'crash', arguments: {} })).toEqual({ content: [{ type: 'text', text: 'soon' }] });
    expect(await exited(child)).not.toBe(0);
    await allGone(nginx, port);
    await client.close().catch(() => undefined);
  });
});

describe('a taken port is an error before anything says "up"', () => {
  test('a second `httmcp start` on the port of a running one exits non-zero with a clear message', async () => {
    const port = await freePort();
    const first = await startCli(['start', '--port', String(port)]);
    try {
      // Without --json, as a person runs it: it must never print "httmcp is up".
      const second = spawnSync(process.execPath, [CLI, 'start', '--port', String(port)], {
        env: { ...process.env, HTTMCP_LOG_LEVEL: 'warn' },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(second.status).toBe(1);
      expect(second.stdout).not.toMatch(/is up/);
      expect(second.stderr).toContain(`httmcp: 127.0.0.1:${port} is already in use`);
      // The first one is untouched.
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect(running(first.info.nginxPid)).toBe(true);
    } finally {
      first.child.kill('SIGINT');
    }
    expect(await exited(first.child)).toBe(0);
  });
});

describe('a backend on TCP serves nginx only', () => {
  let stack: Stack;
  let backend: BackendProcess;

  beforeAll(async () => {
    const port = await freePort();
    stack = await startTestStack({ backends: [`127.0.0.1:${port}`], gateway: { sessionSecret: SECRET } });
    backend = await new BackendProcess(port, stack.publishUrl, SECRET).start();
  });

  afterAll(async () => {
    await backend?.kill();
    await stack?.stop();
  });

  const initialize = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'direct', version: '1' } },
  });
  /** node:http, not fetch: fetch does not let a caller choose Host. */
  const send = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: backend.port, method, path, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, text }));
      });
      req.once('error', reject);
      req.end(body);
    });
  const post = (headers: Record<string, string>) =>
    send('POST', '/mcp/demo', { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, initialize);

  test('clients through nginx are served', async () => {
    const client = await connectClient('streamable', stack.servers.demo!);
    expect(await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } })).toEqual({ content: [{ type: 'text', text: '3' }] });
    await client.close();
  });

  test('403 without the key, with a wrong key, with any Origin, or with a Host that is not its own', async () => {
    const key = deriveBackendKey(SECRET);
    const noKey = await post({});
    expect(noKey.status).toBe(403);
    expect(noKey.text).toMatch(/missing or wrong backend key/);
    expect((await post({ 'x-httmcp-backend-key': deriveBackendKey('another-secret-0123456789abcdef') })).status).toBe(403);
    // A DNS-rebinding page: its own name as Host, and (for a POST) its Origin.
    expect((await post({ 'x-httmcp-backend-key': key, origin: `http://127.0.0.1:${stack.port}` })).status).toBe(403);
    expect((await post({ 'x-httmcp-backend-key': key, host: `rebind.example:${backend.port}` })).status).toBe(403);
    expect((await send('GET', '/metrics', { host: 'rebind.example' })).status).toBe(403);
    // The same request as nginx sends it is served.
    expect((await post({ 'x-httmcp-backend-key': key, host: 'httmcp_backend' })).status).toBe(200);
    // Probes need no key.
    expect((await send('GET', '/healthz', {})).status).toBe(200);
    expect((await send('GET', '/metrics', { host: 'localhost' })).status).toBe(200);
  });
});

(isRoot ? describe : describe.skip)('internal hops of a stack started as root (CI runs as root)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startTestStack();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  /** What `user` gets connecting to the unix socket `path`: an error code, or CONNECTED. */
  function connectAs(user: string, path: string): string {
    const script = "require('net').connect({ path: process.argv[1] }).on('connect', function () { console.log('CONNECTED'); this.destroy(); }).on('error', (e) => console.log(e.code))";
    // The checkout may be in a directory only root can enter (CI's clone), and `npm test` may run
    // the node of the `node` devDependency from inside it: the other user needs a node of the
    // system's, and a working directory it can enter; otherwise neither answer would come back.
    const node = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => existsSync(path)) ?? process.execPath;
    return spawnSync('runuser', ['-u', user, '--', node, '-e', script, path], { encoding: 'utf8', cwd: '/' }).stdout.trim();
  }

  test('workers run as www-data, not root', () => {
    // From /proc (`ps -o user=` says the same; minimal CI images have no procps).
    const uid = (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    const wwwData = Number(spawnSync('id', ['-u', 'www-data'], { encoding: 'utf8' }).stdout);
    const workers = childrenOf(stack.nginxPid);
    expect(workers.length).toBeGreaterThan(0);
    for (const pid of workers) expect(uid(pid)).toBe(wwwData);
    expect(uid(stack.nginxPid)).toBe(0);
  });

  test('the prefix is for the launcher and the workers group only; another user cannot reach any socket', () => {
    const wwwData = Number(spawnSync('id', ['-g', 'www-data'], { encoding: 'utf8' }).stdout);
    const prefix = statSync(stack.prefix);
    expect(prefix.mode & 0o777).toBe(0o750);
    expect([prefix.uid, prefix.gid]).toEqual([0, wwwData]);
    expect(statSync(join(stack.prefix, 'nginx.conf')).mode & 0o777).toBe(0o600); // it holds the backend key
    expect(statSync(join(stack.prefix, 'private')).mode & 0o777).toBe(0o700);
    expect(stack.backendSocket).toBe(join(stack.prefix, 'backend.sock'));
    expect(statSync(stack.backendSocket).mode & 0o777).toBe(0o660);

    const sockets = [stack.backendSocket, join(stack.prefix, 'core.sock'), join(stack.prefix, 'private', 'publish.sock')];
    for (const socket of sockets) expect([socket, connectAs('nobody', socket)]).toEqual([socket, 'EACCES']);
    // The workers' user reaches what nginx needs: core (edge to core) and the backend.
    expect(connectAs('www-data', join(stack.prefix, 'core.sock'))).toBe('CONNECTED');
    expect(connectAs('www-data', stack.backendSocket)).toBe('CONNECTED');
  });

  // `ss` is iproute2's (.ci/run installs it).
  test('listeners: one public TCP port (nginx); every other hop a unix socket inside the prefix', () => {
    const nginx = new Set([stack.nginxPid, ...childrenOf(stack.nginxPid)].map(String));
    const pidsOf = (line: string) => [...line.matchAll(/pid=(\d+)/g)].map((m) => m[1]!);
    const tcp = spawnSync('ss', ['-ltnpH'], { encoding: 'utf8' }).stdout.split('\n').filter((line) => pidsOf(line).some((pid) => nginx.has(pid)));
    expect(tcp.map((line) => line.split(/\s+/)[3])).toEqual([`127.0.0.1:${stack.port}`]);
    // The backend is no TCP listener: nginx reaches it on its socket.
    expect(stack.backendPort).toBe(0);
    expect(readFileSync(join(stack.prefix, 'nginx.conf'), 'utf8')).toContain(`server unix:${stack.backendSocket} max_fails=0;`);
    const unix = spawnSync('ss', ['-lxnpH'], { encoding: 'utf8' }).stdout.split('\n').filter((line) => line.includes(stack.prefix));
    const owners = Object.fromEntries(unix.map((line) => [line.split(/\s+/)[4], pidsOf(line).every((pid) => nginx.has(pid)) ? 'nginx' : pidsOf(line).join()]));
    expect(owners).toEqual({
      [join(stack.prefix, 'core.sock')]: 'nginx',
      [join(stack.prefix, 'private', 'publish.sock')]: 'nginx',
      [stack.backendSocket]: String(process.pid),
    });
  });

  test('clients through nginx are served over the unix-socket backend', async () => {
    const client = await connectClient('websocket', stack.servers.demo!);
    expect(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })).toEqual({ content: [{ type: 'text', text: '5' }] });
    await client.close();
  });
});
