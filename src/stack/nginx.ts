import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { get as httpGet } from 'node:http';

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

/** Something else already listens on the public address; nothing was started. */
export class PortInUseError extends Error {
  readonly code = 'HTTMCP_PORT_IN_USE';
  constructor(readonly address: string) {
    super(`${address} is already in use (another httmcp, or an nginx left running?); choose another --port or stop what listens there`);
    this.name = 'PortInUseError';
  }
}

/** Where nginx's readiness is checked, and the id the launcher gave this start of nginx. */
export interface NginxReadiness {
  host: string;
  port: number;
  /** The value of `X-Httmcp-Instance` on `/healthz` (HTTMCP_INSTANCE_ID of the template). */
  instance: string;
}

/** util-linux's `setpriv`, which sets the parent-death signal Node cannot set on a child. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find(existsSync);

/**
 * False where util-linux's `setpriv` is missing: nginx then still stops with the launcher on
 * every exit Node sees, but not when the launcher is killed with SIGKILL.
 */
export const NGINX_DIES_WITH_LAUNCHER = SETPRIV !== undefined;

/**
 * Runs the command after it (`exec "$@"`) only while its parent is still the launcher (`$1`):
 * setpriv sets the parent-death signal in the child after the fork, so a launcher that died
 * before that would never send it. From then on the signal is kept across both execs.
 */
const PARENT_CHECK = 'test "$PPID" = "$1" || exit 70; shift; exec "$@"';

/**
 * A running nginx master started with its own prefix and config, that never outlives the
 * process that started it: it runs in the foreground (`daemon off`) as this process's child
 * with SIGTERM as its parent-death signal (`setpriv --pdeathsig`), so the kernel stops it (and
 * with it its workers) when the launcher dies, even of SIGKILL. It leads its own process group,
 * so the launcher can also kill workers whose master died first.
 */
export class NginxProcess {
  /** Resolves when the master exits: its exit code, or null when a signal ended it. */
  readonly exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly errorLog: string,
  ) {
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        // Workers of a master killed by a signal would keep serving on their own (the group
        // still exists while they do, so its id cannot have been reused).
        if (signal) killGroup(child.pid, 'SIGKILL');
        resolve(signal ? null : code);
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** True while the master runs. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Tests the config, starts nginx, and waits until `/healthz` on the public address answers
   * with this start's instance id: an older nginx still on the port answers without it. On
   * failure the error says why ({@link PortInUseError} when the public address is taken), with
   * the end of nginx's error log, and no nginx of this start is left running.
   */
  static async start(install: NginxInstall, prefix: string, config: string, errorLog: string, ready: NginxReadiness): Promise<NginxProcess> {
    const test = spawnSync(install.binary, ['-p', prefix, '-c', config, '-t', '-q'], { encoding: 'utf8' });
    if (test.status !== 0) throw new Error(`nginx rejected the generated config ${config}:\n${test.stderr}`);
    const logStart = fileSize(errorLog);
    const nginx = [install.binary, '-p', prefix, '-c', config, '-g', 'daemon off;'];
    const [command, ...args] = SETPRIV
      ? [SETPRIV, '--pdeathsig', 'TERM', '--', '/bin/sh', '-c', PARENT_CHECK, 'httmcp-nginx', String(process.pid), ...nginx]
      : nginx;
    const child = spawn(command!, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const nginxProcess = new NginxProcess(child, errorLog);
    const address = `${ready.host}:${ready.port}`;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const state = await Promise.race([nginxProcess.exited.then(() => 'exited' as const), answersAsInstance(ready)]);
      const log = readFrom(errorLog, logStart);
      if (state === 'exited' || bindRefused(log, ready.port)) {
        await nginxProcess.stop();
        if (bindRefused(log, ready.port)) throw new PortInUseError(address);
        throw new Error(`nginx exited at start: ${stderr.trim()}\n${lastLines(log)}`);
      }
      if (state) return nginxProcess;
      if (Date.now() > deadline) {
        await nginxProcess.stop();
        throw new Error(`nginx did not answer on ${address} within 10 s\n${lastLines(log)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Fast shutdown (SIGTERM: nginx closes client connections at once; a graceful SIGQUIT would
   * wait for every WebSocket and SSE client to leave), then SIGKILL to every process of nginx
   * after `graceMs`.
   */
  async stop(graceMs = 3000): Promise<void> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => killGroup(this.child.pid, 'SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
  }

  /**
   * For `process.on('exit')`, where nothing async runs: SIGTERM, so the master stops its workers
   * (a SIGKILLed master would leave them serving).
   */
  killNow(): void {
    if (this.running) this.child.kill('SIGTERM');
  }
}

/** Signals every process of a process group led by `pid`; gone already is fine. */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left in the group
  }
}

/** True when `/healthz` at `ready` answers with `ready.instance` in X-Httmcp-Instance. */
function answersAsInstance(ready: NginxReadiness): Promise<boolean> {
  const host = ready.host === '0.0.0.0' ? '127.0.0.1' : ready.host === '::' ? '::1' : ready.host;
  return new Promise((resolve) => {
    const req = httpGet({ host, port: ready.port, path: '/healthz', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.headers['x-httmcp-instance'] === ready.instance);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
  });
}

/** nginx logs `bind() to ADDRESS failed (98: Address already in use)` before it gives up. */
function bindRefused(log: string, port: number): boolean {
  return new RegExp(`bind\\(\\) to \\S*:${port} failed \\(98:`).test(log);
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** What `file` holds after its first `offset` bytes (this start's part of a reused log). */
function readFrom(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

function lastLines(text: string, lines = 20): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}
