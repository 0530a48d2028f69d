#!/usr/bin/env node
// Makes this machine ready for `npm start` or `npm test` (run by their `pre` scripts), so that a
// fresh clone on Debian/Ubuntu needs nothing but those two commands:
//   node scripts/setup.mjs start   nginx + nchan + headers-more, the fixed nchan module, node_modules
//   node scripts/setup.mjs test    the same, plus the servers and tools the tests start
// It says what it is about to install and why, does only what is missing (a second run costs a
// few dpkg look-ups), and refuses clearly where it cannot (no root and no sudo, not Debian).
// Plain Node with no dependencies: it runs before node_modules exists.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const FIXED_MODULE = '/usr/local/lib/httmcp/ngx_nchan_module.so';
const EXIT_CANNOT = 3;

/** Debian packages, each with the reason a user is shown before it is installed. */
const PACKAGES = {
  start: {
    'nginx-light': 'nginx, which holds every client connection',
    'libnginx-mod-nchan': 'the Nchan module (WebSocket and SSE streams, publishing)',
    'libnginx-mod-http-headers-more-filter': 'headers-more (answers the WebSocket `mcp` subprotocol)',
  },
  test: {
    'docker-compose': 'checks docker-compose.yml (`docker-compose config`)',
    'gettext-base': 'envsubst, used by the nginx image entrypoint that the tests run',
    'redis-server': 'the cluster tests start their own Redis on an ephemeral port',
    'nats-server': 'the NATS transport tests start their own nats-server',
    iproute2: '`ss`, with which the supervision test lists every listener of a stack',
    'python3-venv': 'the Python MCP SDK interop tests create a venv (python3 -m venv) and pip-install `mcp` into it',
    chromium: 'the console test (test/integration/console.test.ts) opens the operator console in a real headless browser',
  },
};

const say = (msg) => process.stderr.write(`httmcp setup: ${msg}\n`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...opts });
  return r.status === 0;
}

function quiet(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT });
  return { ok: r.status === 0, out: (r.stdout ?? '').trim(), missing: r.error?.code === 'ENOENT' };
}

function osRelease() {
  try {
    return Object.fromEntries(
      readFileSync('/etc/os-release', 'utf8')
        .split('\n')
        .map((l) => l.match(/^([A-Z_]+)="?([^"]*)"?$/))
        .filter(Boolean)
        .map((m) => [m[1], m[2]]),
    );
  } catch {
    return {};
  }
}

function missingPackages(wanted) {
  return wanted.filter((p) => !quiet('dpkg-query', ['-W', '-f=${Status}', p]).out.includes('ok installed'));
}

/** How to run a command as root: directly, with passwordless sudo, or with sudo asking. */
function rootRunner() {
  if (process.getuid?.() === 0) return (cmd, args, opts) => run(cmd, args, opts);
  if (quiet('sudo', ['-n', 'true']).ok) return (cmd, args, opts) => run('sudo', ['-n', cmd, ...args], opts);
  if (!quiet('sudo', ['--version']).missing && process.stdin.isTTY) {
    return (cmd, args, opts) => run('sudo', [cmd, ...args], opts);
  }
  return null;
}

function cannot(msg, commands) {
  say(`cannot continue: ${msg}`);
  if (commands.length) say(`do this once as root, then run the npm command again:\n  ${commands.join('\n  ')}`);
  process.exit(EXIT_CANNOT);
}

/** apt-get install without starting the packages' system services (a busy port 80 fails it). */
function aptInstall(asRoot, packages) {
  const policy = '/usr/sbin/policy-rc.d';
  const addPolicy = !existsSync(policy);
  if (addPolicy) {
    asRoot('sh', ['-c', `printf '#!/bin/sh\\n# added by httmcp setup during apt-get install\\nexit 101\\n' > ${policy} && chmod 0755 ${policy}`]);
  }
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    return (
      asRoot('apt-get', ['-o', 'Acquire::Retries=3', 'update'], { env }) &&
      asRoot('apt-get', ['-o', 'Acquire::Retries=3', 'install', '-y', ...packages], { env })
    );
  } finally {
    if (addPolicy) asRoot('rm', ['-f', policy]);
  }
}

function nodeModulesCurrent() {
  const installed = join(ROOT, 'node_modules', '.package-lock.json');
  if (!existsSync(installed)) return false;
  return statSync(installed).mtimeMs >= statSync(join(ROOT, 'package-lock.json')).mtimeMs;
}

function main() {
  const purpose = process.argv[2];
  if (purpose !== 'start' && purpose !== 'test') {
    say('usage: node scripts/setup.mjs start|test');
    process.exit(2);
  }
  const reasons = { ...PACKAGES.start, ...(purpose === 'test' ? PACKAGES.test : {}) };
  const os = osRelease();
  const debianLike = [os.ID, ...(os.ID_LIKE ?? '').split(' ')].some((id) => id === 'debian' || id === 'ubuntu');
  const hasDpkg = !quiet('dpkg-query', ['--version']).missing;

  const missing = hasDpkg ? missingPackages(Object.keys(reasons)) : [];
  if (!hasDpkg && !existsSync('/usr/sbin/nginx')) {
    cannot(`this is ${os.PRETTY_NAME ?? 'not Debian or Ubuntu'}; httmcp installs its system packages on Debian/Ubuntu only`, [
      `install nginx with the nchan and headers-more modules (Debian: ${Object.keys(PACKAGES.start).join(' ')})`,
    ]);
  }
  // The fixed module is built from Debian 12's nginx sources; elsewhere the distribution's module
  // is used and the launcher warns about its known crash.
  const canBuildModule = os.VERSION_CODENAME === 'bookworm';
  const moduleCurrent = quiet('bash', ['scripts/build-nchan-module.sh', '--check', FIXED_MODULE]).ok;
  const buildModule = canBuildModule && !moduleCurrent;

  if (missing.length || buildModule) {
    say('this machine needs, once:');
    for (const p of missing) say(`  apt-get install ${p}: ${reasons[p]}`);
    if (buildModule) {
      say(`  ${FIXED_MODULE}: nchan rebuilt with httmcp's fixes for worker crashes and leaks`);
      say('    (scripts/build-nchan-module.sh: Debian nchan source + scripts/nchan-patches; about a minute)');
    }
    const asRoot = rootRunner();
    if (!asRoot) {
      const cmds = [];
      if (missing.length) cmds.push(`apt-get update && apt-get install -y ${missing.join(' ')}`);
      if (buildModule) cmds.push('bash scripts/build-nchan-module.sh');
      cannot('installing these needs root (run as root, or give this user sudo)', cmds);
    }
    if (!debianLike) say(`warning: ${os.PRETTY_NAME ?? 'this system'} is not Debian or Ubuntu; trying apt-get anyway`);
    if (missing.length && !aptInstall(asRoot, missing)) cannot(`apt-get install ${missing.join(' ')} failed (see above)`, []);
    if (buildModule && !asRoot('bash', ['scripts/build-nchan-module.sh', FIXED_MODULE])) {
      cannot('building the fixed nchan module failed (see above)', []);
    }
  } else if (!canBuildModule && !moduleCurrent) {
    say(`note: the fixed nchan module is built on Debian 12 only; using ${os.PRETTY_NAME ?? 'this system'}'s module`);
  }

  if (!nodeModulesCurrent()) {
    say('npm ci: node_modules is missing or older than package-lock.json');
    if (!run('npm', ['ci', '--no-audit', '--no-fund'])) cannot('npm ci failed (see above)', []);
  }
}

main();
