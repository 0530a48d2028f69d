import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import type { McpServer, Transport } from '@modelcontextprotocol/server';
import { serveStdio as serveStdioEntry, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { MultiRound } from '../mrtr/multi-round.js';
import type { HTTMCP } from '../server/httmcp.js';
import { MemoryTaskStore, resolveTaskSettings, Tasks, taskSettingsFromEnv } from '../tasks/index.js';
import { TransportMiddleware } from '../server/transport-middleware.js';

/** A server being served over stdio by {@link serveStdio}. */
export interface StdioServing {
  /**
   * The SDK server the connection pinned: built from the HTTMCP server's definitions on the
   * client's first message, for the era that message chose (undefined before it).
   */
  readonly server: McpServer | undefined;
  /** Resolves when the session ends: stdin reached its end, or {@link StdioServing.close} was called. */
  readonly closed: Promise<void>;
  /** Ends the session (running handlers are aborted). */
  close(): Promise<void>;
}

/**
 * Serves `server` over the process's stdin and stdout (newline-delimited JSON-RPC), the way
 * desktop clients that launch a command expect. Nothing else may write to stdout: log to stderr.
 *
 * Both protocol eras, through the SDK's own stdio entry (`serveStdio` of
 * `@modelcontextprotocol/server/stdio`): the client's first message chooses one, an `initialize`
 * the 2025 era, a request carrying the 2026-07-28 `_meta` envelope (`server/discover`, or any
 * other) the 2026 one, and one SDK server built for that era serves the connection. httmcp's
 * pagination runs between the entry and stdio, so it applies to both. `onerror` hears what the
 * entry refused or dropped (a malformed envelope, an era mismatch).
 */
export async function serveStdio(
  server: HTTMCP,
  streams: { stdin?: Readable; stdout?: Writable; onerror?: (error: Error) => void } = {},
): Promise<StdioServing> {
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const wire = new WhenClosed(new StdioServerTransport(streams.stdin ?? process.stdin, streams.stdout ?? process.stdout), resolveClosed);
  // The 2026 era asks for input in multi-round-trip requests (docs/mrtr.md) and runs task tools
  // as tasks, as on HTTP; on a 2025 connection both stand aside (real requests, plain calls).
  // One local client and one process: an anonymous principal, and a state key of the process's
  // own unless HTTMCP_SESSION_SECRET is set.
  const rounds = new MultiRound({ server: server.name, sessionSecret: process.env.HTTMCP_SESSION_SECRET || randomBytes(32) });
  const tasks = server.hasTaskTools()
    ? new Tasks({
        store: new MemoryTaskStore(),
        settings: resolveTaskSettings(taskSettingsFromEnv(process.env)),
        taskSupport: (tool) => server.taskSupport(tool),
        factsOf: () => undefined,
        serverInfo: { name: server.name, version: server.options.version },
        ...(streams.onerror ? { onError: (error: unknown) => streams.onerror!(error instanceof Error ? error : new Error(String(error))) } : {}),
      })
    : undefined;
  server.standaloneTasks = tasks;
  // Task rounds above the intake: a task's handler can ask for input (its requestState is bound).
  const intake = rounds.intake(tasks ? tasks.wrap(wire) : wire);
  let pinned: McpServer | undefined;
  const entry = serveStdioEntry(
    () => {
      pinned = server.createMcpServer(rounds);
      tasks?.install(pinned);
      return pinned;
    },
    { transport: server.middleware(intake), ...(streams.onerror ? { onerror: streams.onerror } : {}) },
  );
  return {
    get server() {
      return pinned;
    },
    closed,
    close: async () => {
      await tasks?.close();
      await entry.close();
    },
  };
}

/** Passes everything through, and tells when the transport under it closed (the entry takes `onclose` over). */
class WhenClosed extends TransportMiddleware {
  constructor(inner: Transport, onClosed: () => void) {
    super(inner);
    inner.onclose = () => {
      this.onclose?.();
      onClosed();
    };
  }
}
