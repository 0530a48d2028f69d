import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from '../../src/index.js';
import { CLI, startCli } from '../helpers/cli.js';
import { alive, exited } from '../helpers/processes.js';
import { connectClient } from '../helpers/stack.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('without nginx the CLI says what to install and exits non-zero', () => {
  const result = spawnSync(process.execPath, [CLI, 'start', '--port', '18999'], {
    env: { ...process.env, HTTMCP_NGINX: '/nonexistent/nginx' },
    encoding: 'utf8',
  });
  expect(result.status).toBe(3);
  expect(result.stderr).toContain('nginx was not found');
  expect(result.stderr).toContain('apt-get install -y nginx-light libnginx-mod-nchan');
});

test('without the nchan module the CLI says what to install and exits non-zero', () => {
  const result = spawnSync(process.execPath, [CLI, 'start', '--port', '18999'], {
    env: { ...process.env, HTTMCP_NCHAN_MODULE: '/nonexistent/ngx_nchan_module.so' },
    encoding: 'utf8',
  });
  expect(result.status).toBe(3);
  expect(result.stderr).toContain('nchan module');
  expect(result.stderr).toContain('libnginx-mod-nchan');
});

test('`start --port P` serves the examples at /mcp/<server>, and SIGINT stops nginx and the backend', async () => {
  const port = await freePort();
  const { child, info } = await startCli(['start', '--port', String(port)]);
  try {
    expect(info.servers).toEqual({
      demo: `http://127.0.0.1:${port}/mcp/demo`,
      notes: `http://127.0.0.1:${port}/mcp/notes`,
      everything: `http://127.0.0.1:${port}/mcp/everything`,
    });
    const client = await connectClient('websocket', info.servers.demo);
    expect(await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } })).toEqual({ content: [{ type: 'text', text: '42' }] });
    await client.close();
    expect(alive(info.nginxPid)).toBe(true);
  } finally {
    child.kill('SIGINT');
  }
  expect(await exited(child)).toBe(0);
  expect(alive(info.nginxPid)).toBe(false);
});

test("`serve <module>` runs a user's own module of servers", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'httmcp-user-'));
  const module = join(dir, 'my-servers.mjs');
  const httmcp = pathToFileURL(join(ROOT, 'dist', 'src', 'index.js')).href;
  const zod = pathToFileURL(join(ROOT, 'node_modules', 'zod', 'index.js')).href;
  writeFileSync(
    module,
    `import { HTTMCP } from '${httmcp}';
import { z } from '${zod}';
export const greeter = new HTTMCP({ name: 'greeter', version: '2.0.0' })
  .tool('greet', { input: { name: z.string() } }, ({ name }) => 'Hello ' + name);
`,
  );
  const port = await freePort();
  const { child, info } = await startCli(['serve', module, '--port', String(port)]);
  try {
    expect(Object.keys(info.servers)).toEqual(['greeter']);
    const client = await connectClient('streamable', info.servers.greeter);
    expect(client.getServerVersion()).toEqual({ name: 'greeter', version: '2.0.0' });
    expect(await client.callTool({ name: 'greet', arguments: { name: 'Ada' } })).toEqual({ content: [{ type: 'text', text: 'Hello Ada' }] });
    await client.close();
  } finally {
    child.kill('SIGTERM');
  }
  expect(await exited(child)).toBe(0);
});

test('`serve` of a module without servers fails with a clear message', () => {
  const dir = mkdtempSync(join(tmpdir(), 'httmcp-user-'));
  const module = join(dir, 'empty.mjs');
  writeFileSync(module, 'export const nothing = 1;\n');
  const result = spawnSync(process.execPath, [CLI, 'serve', module, '--port', '18998'], { encoding: 'utf8' });
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('exports no HTTMCP server');
});
