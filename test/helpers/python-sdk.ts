/**
 * The official MCP Python SDK (`mcp` on PyPI) as a test client, in a virtualenv this helper
 * creates once and caches under node_modules/.cache (shared by every test file and run).
 *
 * The venv is built with the machine's python3 and pip's own configuration (index, find-links):
 * nothing here names an index. Only a missing python3, or a python3 without the venv/ensurepip
 * modules, is a reason to skip; a failing `pip install` is a test failure.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Python SDK version the interop tests pin (issue 11). */
export const PYTHON_MCP_VERSION = '2.3.0';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CACHE_DIR = join(ROOT, 'node_modules', '.cache', 'httmcp');
/** pip may wait minutes per package on an unreachable default index; fail over to the others fast. */
const PIP_ENV = { PIP_RETRIES: '0', PIP_TIMEOUT: '15', PIP_DISABLE_PIP_VERSION_CHECK: '1' };
const INSTALL_TIMEOUT_MS = 10 * 60_000;

/** A ready venv with the SDK installed. */
export interface PythonSdk {
  /** The venv's python interpreter. */
  python: string;
  /** The installed `mcp` version. */
  version: string;
}

/** Why the Python SDK cannot be used here (the test prints it when it skips). */
export interface PythonSdkMissing {
  skip: string;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  missing: boolean;
}

function run(command: string, args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${error.message}`, missing: error.code === 'ENOENT' });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, missing: false });
    });
    child.stdin.end(options.input ?? '');
  });
}

let pending: Promise<PythonSdk | PythonSdkMissing> | undefined;

/**
 * The venv with `mcp==`{@link PYTHON_MCP_VERSION}, created on first use. Resolves `{ skip }`
 * only where python3 or its venv module is missing; rejects when pip fails.
 */
export function pythonSdk(): Promise<PythonSdk | PythonSdkMissing> {
  pending ??= createVenv();
  return pending;
}

async function createVenv(): Promise<PythonSdk | PythonSdkMissing> {
  const dir = join(CACHE_DIR, `python-mcp-${PYTHON_MCP_VERSION}`);
  const python = join(dir, 'bin', 'python');
  if (existsSync(python)) return { python, version: await installedVersion(python) };

  const probe = await run('python3', ['-c', 'import venv, ensurepip']);
  if (probe.missing) return { skip: 'python3 is not installed: the Python SDK interop tests need it' };
  if (probe.code !== 0) {
    return { skip: `python3 has no venv/ensurepip module (Debian: apt-get install python3-venv): ${probe.stderr.trim().split('\n').pop()}` };
  }

  // Build beside the final place and rename: concurrent test files never see a half-made venv.
  mkdirSync(CACHE_DIR, { recursive: true });
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  try {
    const venv = await run('python3', ['-m', 'venv', building], { timeoutMs: 120_000 });
    if (venv.code !== 0) throw new Error(`python3 -m venv failed (${venv.code}): ${venv.stderr}`);
    const pip = await run(join(building, 'bin', 'python'), ['-m', 'pip', 'install', '--quiet', `mcp==${PYTHON_MCP_VERSION}`], {
      timeoutMs: INSTALL_TIMEOUT_MS,
      env: PIP_ENV,
    });
    if (pip.code !== 0) throw new Error(`pip install mcp==${PYTHON_MCP_VERSION} failed (${pip.code}): ${pip.stderr.slice(-4000)}`);
    try {
      renameSync(building, dir);
    } catch (error) {
      // Another process finished first: use its venv (a venv is not relocatable, so drop ours).
      if (!existsSync(python)) throw error;
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return { python, version: await installedVersion(python) };
}

async function installedVersion(python: string): Promise<string> {
  const r = await run(python, ['-c', 'import importlib.metadata as m; print(m.version("mcp"))']);
  if (r.code !== 0) throw new Error(`${python} cannot import mcp: ${r.stderr}`);
  return r.stdout.trim();
}

/** Runs a script of test/fixtures/python with the venv's python; resolves its last stdout line as JSON. */
export async function runPythonClient<T>(sdk: PythonSdk, script: string, args: string[], timeoutMs = 60_000): Promise<T> {
  const file = join(ROOT, 'test', 'fixtures', 'python', script);
  const r = await run(sdk.python, [file, ...args], { timeoutMs });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || last === '') throw new Error(`${script} ${args.join(' ')} exited ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr.slice(-4000)}`);
  return JSON.parse(last) as T;
}
