// Jest globalSetup: every temporary directory of this run (stack prefixes, sockets, browser
// profiles) goes under one directory, which test/tmp-reporter.mjs removes when every test passed
// and names when one failed (its nginx logs are what a failure is read from).
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'httmcp-test-'));
  // nginx's workers run as another user (nobody or www-data under root) and must pass through to
  // their prefix; they may not list what else is here.
  chmodSync(dir, 0o711);
  process.env.HTTMCP_TEST_TMP = dir;
  // os.tmpdir() reads TMPDIR at each call, in this process and the workers it starts.
  process.env.TMPDIR = dir;
}
