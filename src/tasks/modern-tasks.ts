import type { McpServer, RequestId, Transport } from '@modelcontextprotocol/server';
import type { ModernRequestFacts, MultiplexTransport } from '../http/modern-transport.js';
import type { Gateway } from '../gateway.js';
import { Tasks, type TaskSupport } from './extension.js';

/** What a server's 2026-era endpoint needs to serve tasks (see {@link tasksForModern}). */
export interface ModernTasks {
  readonly tasks: Tasks<ModernRequestFacts>;
  /** The instance factory, with the extension installed on what it builds. */
  factory(build: () => McpServer | Promise<McpServer>): () => Promise<McpServer>;
  /** The transport the instance is served on, around the endpoint's multiplexing transport. */
  wrap(mux: MultiplexTransport): Transport;
}

/**
 * The Tasks extension for one server's pinned 2026-era instance, with the gateway's store and
 * settings. `taskSupport` says which tools run as tasks (the `task` option of a tool).
 */
export function tasksForModern(gateway: Gateway, server: { name: string; version: string }, taskSupport: (tool: string) => TaskSupport | undefined): ModernTasks {
  let mux: MultiplexTransport | undefined;
  const tasks = new Tasks<ModernRequestFacts>({
    store: gateway.taskStore,
    settings: gateway.taskSettings,
    taskSupport,
    factsOf: (id) => mux?.requestFacts(id),
    serverInfo: server,
    onError: (error) => gateway.logger.warn({ server: server.name, err: error }, 'task store error'),
  });
  return {
    tasks,
    factory: (build) => async () => {
      const instance = await build();
      tasks.install(instance);
      return instance;
    },
    wrap: (transport) => {
      mux = transport;
      const wrapped = tasks.wrap(transport);
      // httmcp's Context reads a request's facts (headers, principal) from the instance's
      // transport: task rounds run under ids of the extension, other requests under the mux's.
      return Object.assign(wrapped, { requestFacts: (id: RequestId) => tasks.requestFacts(id) ?? transport.requestFacts(id) });
    },
  };
}
