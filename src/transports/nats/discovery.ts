import { RequestStrategy, type NatsConnection, type ServiceInfo } from 'nats';

/** One process serving one MCP server over NATS, as the NATS service API describes it. */
export interface NatsServerInstance {
  /** The MCP server's name (what `NatsClientTransport`'s `server` option takes). */
  name: string;
  /** The MCP server's version. */
  version: string;
  /** The process's id in the service API (`$SRV.INFO.{serviceName}.{serviceId}`). */
  serviceId: string;
  /** Name in the service API. */
  serviceName: string;
  description: string;
  /** Where clients send their messages (shared by every process of the server). */
  subject: string;
  /** This process's own subject. */
  worker: string;
  /** The queue group the process listens in. */
  queue: string | undefined;
  /** Names of the tools, resources and prompts the server had when the process started. */
  tools: string[];
  resources: string[];
  prompts: string[];
}

/** What {@link discoverNatsServers} asks. */
export interface DiscoverOptions {
  /** Only processes of this service name. */
  name?: string;
  /** How long to collect answers (default 500 ms). */
  timeoutMs?: number;
}

/**
 * Every process serving an MCP server over NATS that answers `$SRV.INFO` within `timeoutMs`
 * (services without httmcp's `mcp.*` metadata are left out). Several processes of one server
 * appear once each, with the same `subject` and their own `worker`.
 *
 * Any NATS tool sees the same: `nats micro info demo` or a request to `$SRV.INFO.demo`.
 */
export async function discoverNatsServers(nc: NatsConnection, options: DiscoverOptions = {}): Promise<NatsServerInstance[]> {
  const client = nc.services.client({ strategy: RequestStrategy.Timer, maxWait: options.timeoutMs ?? 500 });
  const found: NatsServerInstance[] = [];
  for await (const info of await client.info(options.name)) {
    const instance = describe(info);
    if (instance) found.push(instance);
  }
  return found.sort((a, b) => a.name.localeCompare(b.name) || a.serviceId.localeCompare(b.serviceId));
}

function describe(info: ServiceInfo): NatsServerInstance | undefined {
  const meta = info.metadata ?? {};
  const name = meta['mcp.server'];
  const subject = meta['mcp.subject'];
  const worker = meta['mcp.worker'];
  if (!name || !subject || !worker) return undefined;
  const endpoint = info.endpoints.find((e) => e.subject === subject);
  return {
    name,
    version: meta['mcp.version'] ?? info.version,
    serviceId: info.id,
    serviceName: info.name,
    description: info.description,
    subject,
    worker,
    queue: endpoint?.queue_group,
    tools: names(meta['mcp.tools']),
    resources: names(meta['mcp.resources']),
    prompts: names(meta['mcp.prompts']),
  };
}

function names(json: string | undefined): string[] {
  try {
    const value: unknown = JSON.parse(json ?? '[]');
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}
