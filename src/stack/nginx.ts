import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';

/** What the machine needs for the stack, and the one command that installs it. */
export const INSTALL_HINT = 'sudo apt-get update && sudo apt-get install -y nginx-light libnginx-mod-nchan libnginx-mod-http-headers-more-filter';

/** Where Debian and Ubuntu put nginx's dynamic modules. */
const MODULE_DIRS = ['/usr/lib/nginx/modules', '/usr/share/nginx/modules'];

/**
 * Where `scripts/build-nchan-module.sh` installs nchan with its WebSocket-close crash fixed
 * (docs/operations.md, "Known issue"). Used in preference to Debian's module when present.
 */
export const FIXED_NCHAN_MODULE = '/usr/local/lib/httmcp/ngx_nchan_module.so';

/** nginx or the nchan module is missing; the message says what to install. */
export class NginxMissingError extends Error {
  readonly code = 'HTTMCP_NGINX_MISSING';
  constructor(what: string) {
    super(`${what}\nInstall nginx with the nchan module:\n  ${INSTALL_HINT}`);
    this.name = 'NginxMissingError';
  }
}

/** The nginx binary and the dynamic modules this machine has. */
export interface NginxInstall {
  binary: string;
  /** nchan */
  module: string;
  /** True when `module` is the fixed build of {@link FIXED_NCHAN_MODULE}. */
  nchanFixed: boolean;
  /** headers-more (answers the `mcp` WebSocket subprotocol; see the template) */
  headersMoreModule: string;
}

/**
 * Finds nginx, the nchan module and the headers-more module (overridable with `HTTMCP_NGINX`,
 * `HTTMCP_NCHAN_MODULE`, `HTTMCP_HEADERS_MORE_MODULE`). Without `HTTMCP_NCHAN_MODULE`, the fixed
 * nchan build ({@link FIXED_NCHAN_MODULE}) is taken when it exists, else Debian's.
 */
export function findNginx(env: NodeJS.ProcessEnv = process.env): NginxInstall {
  const binary = env.HTTMCP_NGINX ?? ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find(existsSync) ?? 'nginx';
  const version = spawnSync(binary, ['-v'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    throw new NginxMissingError(`nginx was not found (looked for ${binary}).`);
  }
  const nchan = env.HTTMCP_NCHAN_MODULE ?? (existsSync(FIXED_NCHAN_MODULE) ? FIXED_NCHAN_MODULE : undefined);
  const module = findModule('the nchan module', nchan, 'ngx_nchan_module.so');
  const headersMoreModule = findModule('the headers-more module', env.HTTMCP_HEADERS_MORE_MODULE, 'ngx_http_headers_more_filter_module.so');
  return { binary, module, nchanFixed: module === FIXED_NCHAN_MODULE, headersMoreModule };
}

function findModule(what: string, given: string | undefined, file: string): string {
  const candidates = given === undefined ? MODULE_DIRS.map((dir) => `${dir}/${file}`) : [given];
  const found = candidates.find(existsSync);
  if (!found) throw new NginxMissingError(`${what[0]!.toUpperCase()}${what.slice(1)} for nginx was not found (looked for ${candidates.join(', ')}).`);
  return found;
}

/** A running nginx master started with its own prefix and config. */
export class NginxProcess {
  private exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly errorLog: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ? null : code)));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /**
   * Tests the config, starts nginx in the foreground (`daemon off`) and waits until `readyPort`
   * accepts connections. On failure the error says why, with the end of nginx's error log.
   */
  static async start(install: NginxInstall, prefix: string, config: string, errorLog: string, ready: { host: string; port: number }): Promise<NginxProcess> {
    const test = spawnSync(install.binary, ['-p', prefix, '-c', config, '-t', '-q'], { encoding: 'utf8' });
    if (test.status !== 0) throw new Error(`nginx rejected the generated config ${config}:\n${test.stderr}`);
    const child = spawn(install.binary, ['-p', prefix, '-c', config, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const nginx = new NginxProcess(child, errorLog);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const state = await Promise.race([nginx.exited.then(() => 'exited' as const), portOpen(ready.host, ready.port)]);
      if (state === 'exited') {
        throw new Error(`nginx exited at start: ${stderr.trim()}\n${tail(errorLog)}`);
      }
      if (state) return nginx;
      if (Date.now() > deadline) {
        await nginx.stop();
        throw new Error(`nginx did not open ${ready.host}:${ready.port} within 10 s\n${tail(errorLog)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Fast shutdown (SIGTERM: nginx closes client connections at once; a graceful SIGQUIT would
   * wait for every WebSocket and SSE client to leave), then SIGKILL after `graceMs`.
   */
  async stop(graceMs = 3000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills at once; for `process.on('exit')`, where nothing async runs. */
  killNow(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
