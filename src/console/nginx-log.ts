import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** What the console reports from nginx's error log. */
export interface NginxLogFigures {
  /** Workers that died (a signal, or a non-zero exit) and were started again by the master. */
  workerExits: number;
  /** The last such line, as nginx wrote it. */
  lastWorkerExit?: string;
}

/** Read at most this much new log per look, so a flood of log lines never stalls the backend. */
const MAX_READ = 1024 * 1024;

/**
 * Counts worker deaths in nginx's error log (`worker process N exited on signal S`): reads only
 * what was appended since the last look, and starts again from the top when the file shrank
 * (rotated). nginx's master restarts a dead worker at once; its sessions are gone with it.
 */
export class NginxLogWatcher {
  private offset = 0;
  private partial = '';
  private readonly figures: NginxLogFigures = { workerExits: 0 };

  constructor(readonly path: string) {}

  read(): NginxLogFigures {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return { ...this.figures };
    }
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset) {
        this.offset = 0;
        this.partial = '';
      }
      const length = Math.min(size - this.offset, MAX_READ);
      if (length > 0) {
        const buffer = Buffer.alloc(length);
        const read = readSync(fd, buffer, 0, length, this.offset);
        this.offset += read;
        const lines = (this.partial + buffer.subarray(0, read).toString('utf8')).split('\n');
        this.partial = lines.pop() ?? '';
        for (const line of lines) {
          if (/worker process \d+ exited on signal|worker process \d+ exited with code [1-9]/.test(line)) {
            this.figures.workerExits++;
            this.figures.lastWorkerExit = line.length > 300 ? line.slice(0, 300) : line;
          }
        }
      }
    } finally {
      closeSync(fd);
    }
    return { ...this.figures };
  }
}
