import { InvalidArgumentError, type Command } from 'commander';
import { connect, type NatsConnection } from 'nats';
import { createLogger } from '../log.js';
import type { HTTMCP } from '../server/httmcp.js';
import { limitsFromEnv } from '../session/limits.js';
import { NATS_DEFAULTS } from '../transports/nats/protocol.js';
import { serveNats, type NatsService } from '../transports/nats/service.js';
import type { ServerLoader } from './stdio-command.js';

interface NatsFlags {
  url: string;
  server?: string[];
  prefix: string;
  queue: string;
  grace: number;
  json?: boolean;
}

/**
 * Adds `httmcp nats [module]`: serves the servers of a module over NATS request/reply. Run it
 * on several machines: the processes share a queue group per server, and clients fail over
 * between them.
 */
export function registerNatsCommand(program: Command, loadServers: ServerLoader): Command {
  return program
    .command('nats')
    .description('serve the servers of a module over NATS (queue group, NATS service API discovery)')
    .argument('[module]', 'a JS module exporting HTTMCP servers (default: the examples)')
    .option('-u, --url <urls>', 'NATS server URLs, comma-separated (default: $NATS_URL or nats://127.0.0.1:4222)', process.env.NATS_URL ?? 'nats://127.0.0.1:4222')
    .option('-s, --server <name...>', 'serve only these servers (default: all of the module)')
    .option('--prefix <token>', 'first token of the subjects', NATS_DEFAULTS.prefix)
    .option('--queue <name>', 'queue group of the processes serving a server', NATS_DEFAULTS.queue)
    .option('--grace <ms>', 'on SIGINT/SIGTERM, how long running requests may finish', parseMs, 10_000)
    .option('--json', 'print one JSON line with the subjects once serving')
    .action(async (module: string | undefined, flags: NatsFlags) => {
      const servers = selectServers(await loadServers(module), flags.server);
      await serve(servers, flags);
    });
}

async function serve(servers: HTTMCP[], flags: NatsFlags): Promise<void> {
  const logger = createLogger();
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: flags.url.split(',').map((u) => u.trim()), name: `httmcp-${process.pid}`, maxReconnectAttempts: -1 });
  } catch (error) {
    throw new Error(`cannot reach NATS at ${flags.url}: ${(error as Error).message}`);
  }
  const services: NatsService[] = [];
  const { inflightPerSession } = limitsFromEnv(process.env);
  const bounds = inflightPerSession === undefined ? {} : { maxInflightPerSession: inflightPerSession };
  for (const server of servers) services.push(await serveNats(server, nc, { prefix: flags.prefix, queue: flags.queue, logger, ...bounds }));

  // Before anything says it serves: whoever reads that may signal at once, and must get a clean stop.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: flags.grace }, 'stopping');
    await Promise.all(services.map((s) => s.stop({ graceMs: flags.grace })));
    await nc.drain().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const described = services.map((s) => ({ name: s.name, subject: s.subject, worker: s.workerSubject, queue: s.queue }));
  if (flags.json) {
    process.stdout.write(JSON.stringify({ url: flags.url, pid: process.pid, servers: described }) + '\n');
  } else {
    process.stdout.write(`httmcp serves over NATS (${flags.url})\n`);
    for (const s of described) process.stdout.write(`  ${s.name.padEnd(12)} ${s.subject}   (queue group ${s.queue})\n`);
    process.stdout.write('Ctrl-C stops (running requests get the grace period to finish).\n');
  }
  logger.info({ url: flags.url, servers: described }, 'serving over NATS');

  void nc.closed().then((error) => {
    if (stopping) return;
    logger.error({ err: error }, 'the NATS connection closed');
    process.exit(1);
  });
}

/** The servers named in `names` (all when none), failing on a name the module lacks. */
export function selectServers(servers: HTTMCP[], names: string[] | undefined): HTTMCP[] {
  if (!names || names.length === 0) return servers;
  const unknown = names.filter((n) => !servers.some((s) => s.name === n));
  if (unknown.length > 0) {
    throw new Error(`no server named ${unknown.map((n) => JSON.stringify(n)).join(', ')}; the module has: ${servers.map((s) => s.name).join(', ')}`);
  }
  return servers.filter((s) => names.includes(s.name));
}

function parseMs(value: string): number {
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 0) throw new InvalidArgumentError('a whole number of milliseconds');
  return ms;
}
