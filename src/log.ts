import { pino, type Logger as PinoLogger } from 'pino';

/** The logger type used across httmcp (pino). */
export type Logger = PinoLogger;

/**
 * Creates the process logger. Level from `HTTMCP_LOG_LEVEL` (default `info`).
 * Logs go to stderr so that stdout stays free for machine-readable output and stdio transports.
 */
export function createLogger(name = 'httmcp', level = process.env.HTTMCP_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level }, pino.destination(2));
}
