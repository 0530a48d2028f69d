/**
 * Issue 13, point 2: logs are human-readable in a terminal (pino-pretty) and JSON lines when
 * piped, as under Docker, systemd or a test. The logger is created in a child process whose
 * stderr is a pipe, or a pseudo-terminal made by util-linux's `script`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const LOG_MODULE = join(process.cwd(), 'dist', 'src', 'log.js');
const PROGRAM = `import { createLogger } from ${JSON.stringify(LOG_MODULE)}; createLogger().info({ server: 'demo', session: 's1', tool: 'add' }, 'hello from a request');`;

function runLogger(env: Record<string, string>, terminal: boolean): string {
  const node = [process.execPath, '--input-type=module', '-e', PROGRAM];
  // `script` runs the command on a pseudo-terminal and copies what it writes to our stdout.
  const quoted = node.map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = terminal
    ? spawnSync('script', ['-qec', quoted, '/dev/null'], { encoding: 'utf8', env: { ...process.env, ...env } })
    : spawnSync(node[0]!, node.slice(1), { encoding: 'utf8', env: { ...process.env, ...env } });
  expect(child.status).toBe(0);
  return terminal ? child.stdout : child.stderr;
}

const describeBuilt = existsSync(LOG_MODULE) ? describe : describe.skip;

describeBuilt('log format', () => {
  test('piped: one JSON object per line, with the request fields', () => {
    const line = runLogger({ HTTMCP_LOG_FORMAT: '' }, false).trim();
    expect(JSON.parse(line)).toMatchObject({ msg: 'hello from a request', server: 'demo', session: 's1', tool: 'add', level: 30 });
  });

  test('in a terminal: pino-pretty lines, not JSON', () => {
    const out = runLogger({ HTTMCP_LOG_FORMAT: '' }, true);
    expect(out).toMatch(/INFO.*hello from a request/);
    expect(out).toMatch(/server\S*: "demo"/);
    expect(() => JSON.parse(out.trim())).toThrow();
  });

  test('HTTMCP_LOG_FORMAT overrides the choice either way', () => {
    expect(() => JSON.parse(runLogger({ HTTMCP_LOG_FORMAT: 'json' }, true).trim())).not.toThrow();
    expect(runLogger({ HTTMCP_LOG_FORMAT: 'pretty' }, false)).toMatch(/INFO.*hello from a request/);
  });
});
