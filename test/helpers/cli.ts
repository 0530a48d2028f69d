import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built `httmcp` command. */
export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

/** A running `httmcp` command and the JSON line it printed once it served. */
export interface CliProcess<Info = Record<string, any>> {
  child: ChildProcess;
  info: Info;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
}

/** Starts `httmcp <args> --json` and resolves with its first JSON line; rejects if it exits first. */
export function startCli<Info = Record<string, any>>(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliProcess<Info>> {
  const child = spawn(process.execPath, [CLI, ...args, '--json'], {
    env: { ...process.env, HTTMCP_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ child, info: JSON.parse(line) as Info, stderr: () => err });
    });
    child.once('exit', (code) => reject(new Error(`httmcp ${args[0] ?? ''} exited ${code}: ${err}`)));
  });
}
