// Jest reporter: removes the run's temporary directory (test/tmp-setup.mjs) when every test
// passed; otherwise keeps it and says where, for nginx's error logs of the failed tests.
import { rmSync } from 'node:fs';

export default class TemporaryDirectoryReporter {
  onRunComplete(_contexts, results) {
    const dir = process.env.HTTMCP_TEST_TMP;
    if (!dir) return;
    if (results.numFailedTests === 0 && results.numFailedTestSuites === 0 && results.numRuntimeErrorTestSuites === 0 && !results.wasInterrupted) {
      rmSync(dir, { recursive: true, force: true });
    } else {
      process.stderr.write(`\nTemporary files of this run (nginx prefixes and their logs) are kept in ${dir}\n`);
    }
  }
}
