import { pino, type Logger as PinoLogger } from 'pino';
import pretty from 'pino-pretty';

/** The logger type used across httmcp (pino). */
export type Logger = PinoLogger;

/** How log lines are written: `pretty` for people, `json` for machines, `auto` picks by stderr. */
export type LogFormat = 'auto' | 'pretty' | 'json';

/**
 * Creates the process logger. Level from `HTTMCP_LOG_LEVEL` (default `info`); format from
 * `HTTMCP_LOG_FORMAT` (default `auto`: human-readable in a terminal, JSON lines when stderr is a
 * pipe or a file, as under Docker, systemd or a test).
 * Logs go to stderr so that stdout stays free for machine-readable output and stdio transports.
 */
export function createLogger(
  name = 'httmcp',
  level = process.env.HTTMCP_LOG_LEVEL ?? 'info',
  format = parseLogFormat(process.env.HTTMCP_LOG_FORMAT),
): Logger {
  const human = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true);
  if (!human) return pino({ name, level }, pino.destination(2));
  // Synchronous and in-process: a worker-thread transport would lose the last lines of a crash.
  return pino({ name, level }, pretty({ destination: 2, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
}

function parseLogFormat(value: string | undefined): LogFormat {
  if (value === undefined || value === '') return 'auto';
  if (value === 'auto' || value === 'pretty' || value === 'json') return value;
  throw new Error(`HTTMCP_LOG_FORMAT must be auto, pretty or json, not ${JSON.stringify(value)}`);
}
