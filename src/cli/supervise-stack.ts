import { rmSync } from 'node:fs';
import type { Logger } from '../log.js';
import type { Stack } from '../stack/stack.js';

/** What {@link superviseStack} does around a stop. */
export interface SuperviseOptions {
  /** The command's name, before the message of a failure on stderr (`httmcp`, `httmcp openapi`). */
  name: string;
  /** Remove the stack's prefix after a clean stop: a temp directory this run made (no `--prefix`). */
  removePrefix: boolean;
  logger?: Logger;
  /** Called first when a signal arrives (close listeners of the command's own). */
  closing?: () => void;
  /** Awaited after the stack has stopped, before the process exits 0 (flush traces). */
  closed?: () => Promise<void>;
}

/**
 * Ties this process to a started stack: SIGINT and SIGTERM stop it cleanly and exit 0; nginx dying
 * under it (the stack then stops its backend) exits 1, so a service manager restarts the whole
 * stack, and the prefix stays for nginx's error log, which the failure names. Call it before
 * printing that the stack is up: whoever reads that line may signal at once.
 */
export function superviseStack(stack: Stack, options: SuperviseOptions): void {
  void stack.failed.then((error) => {
    process.stderr.write(`${options.name}: ${error.message}\n`);
    process.exit(1);
  });
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    options.logger?.info({ signal }, 'stopping');
    options.closing?.();
    await stack.stop();
    if (options.removePrefix) rmSync(stack.prefix, { recursive: true, force: true });
    await options.closed?.();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
