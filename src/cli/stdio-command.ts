import type { Command } from 'commander';
import { createLogger } from '../log.js';
import type { HTTMCP } from '../server/httmcp.js';
import { serveStdio } from '../transports/stdio.js';

/** Loads the servers of a module (undefined: the example servers). */
export type ServerLoader = (specifier?: string) => Promise<HTTMCP[]>;

/**
 * Adds `httmcp stdio [module] [--server <name>]`: serves one server of a module over
 * stdin/stdout, for MCP clients that launch a command. stdout carries only the protocol: logs,
 * and anything the module prints with `console.log`, go to stderr.
 */
export function registerStdioCommand(program: Command, loadServers: ServerLoader): Command {
  return program
    .command('stdio')
    .description('serve one server of a module over stdin/stdout (for clients that launch a command); logs go to stderr')
    .argument('[module]', 'a JS module exporting HTTMCP servers (default: the examples)')
    .option('-s, --server <name>', 'which server, when the module has several')
    .action(async (module: string | undefined, flags: { server?: string }) => {
      keepStdoutForProtocol();
      const server = pickServer(await loadServers(module), flags.server);
      const logger = createLogger();
      const serving = await serveStdio(server, { onerror: (error) => logger.warn({ err: error }, 'stdio') });
      logger.info({ server: server.name, pid: process.pid }, 'serving over stdio');
      const stop = () => void serving.close();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await serving.closed;
      logger.info({ server: server.name }, 'stdin closed, exiting');
      process.exit(0);
    });
}

/**
 * The server named `name`, or the only one. Throws, naming the choices, when the name is unknown
 * or missing among several.
 */
export function pickServer(servers: HTTMCP[], name: string | undefined): HTTMCP {
  const names = servers.map((s) => s.name).join(', ');
  if (name !== undefined) {
    const found = servers.find((s) => s.name === name);
    if (!found) throw new Error(`no server named ${JSON.stringify(name)}; the module has: ${names}`);
    return found;
  }
  if (servers.length === 1) return servers[0]!;
  throw new Error(`the module has several servers (${names}): choose one with --server <name>`);
}

/** Sends `console.log`, `console.info` and `console.debug` to stderr: stdout is the protocol's. */
function keepStdoutForProtocol(): void {
  const toStderr = (...args: unknown[]) => console.error(...args);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
}
