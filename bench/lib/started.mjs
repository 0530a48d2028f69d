/**
 * The JSON line `httmcp start --json` prints once its stack is up (ports, pids, server URLs),
 * read from `child`'s stdout (piped); rejects if the process exits before it. What the process
 * writes afterwards is read and dropped, so its pipe never fills.
 * @param {import('node:child_process').ChildProcess} child
 * @param {string} [label] names the process in the error
 * @returns {Promise<any>}
 */
export function startedInfo(child, label = 'httmcp start') {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) return;
      child.stdout.off('data', onData);
      child.stdout.resume();
      resolve(JSON.parse(line));
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${label} exited ${code}`)));
  });
}
