import type { McpServer, RequestId, Transport } from '@modelcontextprotocol/server';
import type { ModernRequestFacts } from '../http/modern-transport.js';
import type { Gateway } from '../gateway.js';
import { Tasks, type TaskSupport, type TasksOptions } from './extension.js';

interface FactsSource {
  requestFacts(id: RequestId): ModernRequestFacts | undefined;
}

/** What a server's 2026-era endpoint needs to serve tasks (see {@link tasksForModern}). */
export interface ModernTasks {
  readonly tasks: Tasks<ModernRequestFacts>;
  /** The instance factory, with the extension installed on what it builds. */
  factory(build: () => McpServer | Promise<McpServer>): () => Promise<McpServer>;
  /** The transport the instance is served on, around the endpoint's multiplexing transport. */
  wrap(mux: Transport): Transport;
}

/**
 * The Tasks extension for one server's pinned 2026-era instance, with the gateway's store and
 * settings. `taskSupport` says which tools run as tasks (the `task` option of a tool); `checks`
 * count task rounds against their principal's bounds and refuse calls its scopes do not allow.
 */
export function tasksForModern(
  gateway: Gateway,
  server: { name: string; version: string },
  taskSupport: (tool: string) => TaskSupport | undefined,
  checks: Pick<TasksOptions<ModernRequestFacts>, 'admit' | 'authorize'> = {},
): ModernTasks {
  /** The endpoint's multiplexing transport: it knows the facts of the requests it delivers. */
  let mux: (Transport & Partial<FactsSource>) | undefined;
  const tasks = new Tasks<ModernRequestFacts>({
    store: gateway.taskStore,
    settings: gateway.taskSettings,
    taskSupport,
    ...checks,
    factsOf: (id) => mux?.requestFacts?.(id),
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
      const source = transport as Transport & Partial<FactsSource>;
      mux = source;
      const wrapped = tasks.wrap(transport);
      // Task rounds run under ids of the extension, other requests under the mux's: whoever reads
      // facts through the instance's transport finds both.
      return Object.assign(wrapped, { requestFacts: (id: RequestId) => tasks.requestFacts(id) ?? source.requestFacts?.(id) });
    },
  };
}
