#!/usr/bin/env node
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createLogger } from '../log.js';
import { HTTMCP } from '../server/httmcp.js';
import { NginxMissingError } from '../stack/nginx.js';
import { Gateway } from '../gateway.js';
import { registerNatsCommand } from './nats-command.js';
import { registerOpenApiCommand } from './openapi-command.js';
import { registerStdioCommand } from './stdio-command.js';
import { superviseStack } from './supervise-stack.js';
import { createBackendHandler } from '../http/node-handler.js';
import { deriveBackendKey } from '../http/backend-guard.js';
import { listen, startStack, type Stack } from '../stack/stack.js';
import { consoleAllowFromEnv, DEFAULT_CLIENT_LIMITS, DEFAULT_PRINCIPAL_LIMITS } from '../stack/nginx-config.js';
import { listenForMetrics } from '../observability/metrics-listener.js';
import { tracingRequested } from '../observability/otel-env.js';

interface StackFlags {
  port: number;
  host: string;
  origins?: string;
  hosts?: string;
  workers: string;
  prefix?: string;
  json?: boolean;
  redis?: string;
  backends?: string;
  publishListen?: string;
  clientConnections?: number;
  clientRate?: number;
  principalConnections?: number;
  principalRate?: number;
  principalBurst?: number;
  principalToolRate?: number;
  principalToolBurst?: number;
  clientBurst?: number;
  trustedProxies?: string;
  consoleAllow?: string;
  oauthIssuer?: string;
  oauthScopes?: string;
  apiKeys?: string;
  publicUrl?: string;
  metricsListen?: string;
}

const METRICS_LISTEN_HELP =
  "also serve the backend's Prometheus /metrics here, for a scraper on the host (for example 127.0.0.1:9464; default: only through nginx's private hops)";

const program = new Command()
  .name('httmcp')
  .description('Run MCP servers behind Nginx + Nchan (WebSocket, legacy SSE and Streamable HTTP on one URL)');

withStackFlags(program.command('start').description('start nginx+nchan and the backend with the example servers')).action(
  async (flags: StackFlags) => {
    const { createExampleServers } = await import('../../examples/index.js');
    await run(createExampleServers(), flags);
  },
);

withStackFlags(
  program
    .command('serve')
    .description('start nginx+nchan and the backend with the servers a module exports')
    .argument('<module>', 'a JS module whose exports (default or named) are HTTMCP servers, arrays of them, or a function returning them'),
).action(async (module: string, flags: StackFlags) => {
  await run(await loadServers(module), flags);
});

program
  .command('backend')
  .description('run only the backend, for nginx+nchan running elsewhere (Docker, your own nginx)')
  .argument('[module]', 'a JS module exporting HTTMCP servers (default: the examples)')
  .option('-l, --listen <host:port>', 'address to listen on', '127.0.0.1:3000')
  .option('--publish-url <url>', "nchan's publish listener (default: HTTMCP_PUBLISH_URL)")
  .option('--oauth-issuer <urls>', 'require bearer tokens (JWT) from these issuers (HTTMCP_OAUTH_ISSUER); nginx must run with auth on too')
  .option('--oauth-scopes <scopes>', 'scopes every request needs (HTTMCP_OAUTH_SCOPES)')
  .option('--api-keys <entries>', 'accept these API keys: subject:sha256hex[:scopes] (HTTMCP_API_KEYS)')
  .option('--public-url <origin>', 'the origin clients use: token audiences are <origin>/mcp/<name> (HTTMCP_PUBLIC_URL; needed with auth)')
  .option('--metrics-listen <host:port>', METRICS_LISTEN_HELP)
  .action(async (module: string | undefined, flags: { listen: string; publishUrl?: string; metricsListen?: string } & Pick<StackFlags, 'oauthIssuer' | 'oauthScopes' | 'apiKeys' | 'publicUrl'>) => {
    applyAuthFlags(flags);
    const stopTracing = await startTracingIfAsked();
    const servers = module ? await loadServers(module) : (await import('../../examples/index.js')).createExampleServers();
    const logger = createLogger();
    const gateway = Gateway.fromEnv(process.env, { logger, ...(flags.publishUrl ? { publishUrl: flags.publishUrl } : {}) });
    const [host, port] = splitHostPort(flags.listen);
    const server = await listen(createBackendHandler(servers, gateway), port, host);
    const metricsServer = flags.metricsListen === undefined ? undefined : await serveMetrics(gateway, flags.metricsListen, logger);
    const stop = () => {
      server.close();
      metricsServer?.close();
      void gateway.close().then(stopTracing).then(() => process.exit(0));
    };
    // Before the line that says it listens: a supervisor may signal as soon as it reads it.
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    logger.info({ listen: flags.listen, servers: servers.map((s) => s.name) }, 'backend listening');
  });

program
  .command('backend-key')
  .description("print the key nginx must send backends (X-Httmcp-Backend-Key), derived from HTTMCP_SESSION_SECRET: the template's HTTMCP_BACKEND_KEY for an nginx you run yourself")
  .action(() => {
    const secret = process.env.HTTMCP_SESSION_SECRET;
    if (!secret) throw new Error('HTTMCP_SESSION_SECRET is not set: the key is derived from the secret the backends share');
    process.stdout.write(`${deriveBackendKey(secret)}\n`);
  });

/** Starts the OpenTelemetry SDK when the standard OTEL_* variables ask for traces; returns how to stop it. */
async function startTracingIfAsked(): Promise<() => Promise<void>> {
  if (!tracingRequested()) return async () => undefined;
  // Loaded only then: a backend without tracing never loads the SDK.
  const { startTracing } = await import('../observability/otel-sdk.js');
  const logger = createLogger();
  return startTracing(process.env, (message, error) => logger.warn({ err: error }, message));
}

async function serveMetrics(gateway: Gateway, address: string, logger: ReturnType<typeof createLogger>) {
  const [host, port] = splitHostPort(address);
  const server = await listenForMetrics(gateway.metrics, port, host === '0.0.0.0' && !address.includes(':') ? '127.0.0.1' : host);
  logger.info({ metrics: `http://${address}/metrics` }, 'metrics listening');
  return server;
}

function splitHostPort(value: string): [string, number] {
  const at = value.lastIndexOf(':');
  const port = parsePort(at < 0 ? value : value.slice(at + 1));
  return [at < 0 ? '0.0.0.0' : value.slice(0, at), port];
}

function withStackFlags(command: Command): Command {
  return command
    .addOption(new Option('-p, --port <port>', 'public port').default(8080).argParser(parsePort))
    .addOption(new Option('-H, --host <host>', 'public address').default('127.0.0.1'))
    .option('--origins <regex>', 'regular expression of browser Origins allowed (default: localhost pages)')
    .option('--hosts <regex>', 'regular expression of Host names allowed, against DNS rebinding (default: loopback names and --host)')
    .option('--workers <n>', 'nginx worker processes, or "auto"', '1')
    .option('--prefix <dir>', 'runtime directory for nginx config, logs and sockets (default: a temp dir, removed at a clean stop)')
    .option('--redis <url>', "nchan's Redis store (redis://host:port): nodes on one Redis form one cluster")
    .option('--backends <list>', 'comma-separated host:port of backends (httmcp backend) to use instead of an in-process one')
    .option('--publish-listen <host:port>', "where nginx takes backends' publishes (default: a private unix socket)")
    .addOption(
      new Option('--client-connections <n>', `requests one client may hold open: WebSockets, streams (default ${DEFAULT_CLIENT_LIMITS.connections})`)
        .env('HTTMCP_CLIENT_CONNECTIONS')
        .argParser(parseCount),
    )
    .addOption(
      new Option('--client-rate <n>', `requests per second one client may send (default ${DEFAULT_CLIENT_LIMITS.ratePerSecond})`)
        .env('HTTMCP_CLIENT_RATE')
        .argParser(parseCount),
    )
    .addOption(
      new Option('--client-burst <n>', `requests above that rate admitted at once (default ${DEFAULT_CLIENT_LIMITS.burst})`)
        .env('HTTMCP_CLIENT_BURST')
        .argParser(parseCount),
    )
    .addOption(
      new Option('--principal-connections <n>', `requests and streams one principal may hold open on a server, with auth on (default ${DEFAULT_PRINCIPAL_LIMITS.connections})`)
        .env('HTTMCP_PRINCIPAL_CONNECTIONS')
        .argParser(parseCount),
    )
    .addOption(
      new Option('--principal-rate <n>', `requests per second one principal may send to a server, with auth on (default ${DEFAULT_PRINCIPAL_LIMITS.ratePerSecond})`)
        .env('HTTMCP_PRINCIPAL_RATE')
        .argParser(parseCount),
    )
    .addOption(
      new Option('--principal-burst <n>', `requests above that rate admitted at once (default ${DEFAULT_PRINCIPAL_LIMITS.burst})`)
        .env('HTTMCP_PRINCIPAL_BURST')
        .argParser(parseCount),
    )
    .addOption(
      new Option('--principal-tool-rate <n>', `requests per second one principal may send to one tool named in Mcp-Name (default ${DEFAULT_PRINCIPAL_LIMITS.toolRatePerSecond})`)
        .env('HTTMCP_PRINCIPAL_TOOL_RATE')
        .argParser(parseCount),
    )
    .addOption(
      new Option('--principal-tool-burst <n>', `requests above the tool rate admitted at once (default ${DEFAULT_PRINCIPAL_LIMITS.toolBurst})`)
        .env('HTTMCP_PRINCIPAL_TOOL_BURST')
        .argParser(parseCount),
    )
    .addOption(
      new Option('--trusted-proxies <list>', 'comma-separated addresses or CIDRs of proxies whose X-Forwarded-For names the client (default: none)').env(
        'HTTMCP_TRUSTED_PROXIES',
      ),
    )
    .option('--metrics-listen <host:port>', METRICS_LISTEN_HELP)
    .addOption(
      new Option('--console-allow <list>', 'addresses or CIDRs that may open the operator console at /console/, "all", or "off" (default: 127.0.0.1, ::1)').env(
        'HTTMCP_CONSOLE_ALLOW',
      ),
    )
    .option('--json', 'print one JSON line with the URLs instead of text')
    .option('--oauth-issuer <urls>', 'require bearer tokens (JWT) from these issuers, comma-separated (HTTMCP_OAUTH_ISSUER); docs/auth.md')
    .option('--oauth-scopes <scopes>', 'scopes every request needs, comma-separated (HTTMCP_OAUTH_SCOPES)')
    .option('--api-keys <entries>', 'accept these API keys: subject:sha256hex[:scopes], comma-separated (HTTMCP_API_KEYS)')
    .option('--public-url <origin>', 'the origin clients use, when it is not http://host:port; token audiences are <origin>/mcp/<name> (HTTMCP_PUBLIC_URL)');
}

/** Authentication flags win over the environment they stand for (the backend reads it too). */
function applyAuthFlags(flags: Pick<StackFlags, 'oauthIssuer' | 'oauthScopes' | 'apiKeys' | 'publicUrl'>): void {
  if (flags.oauthIssuer !== undefined) process.env.HTTMCP_OAUTH_ISSUER = flags.oauthIssuer;
  if (flags.oauthScopes !== undefined) process.env.HTTMCP_OAUTH_SCOPES = flags.oauthScopes;
  if (flags.apiKeys !== undefined) process.env.HTTMCP_API_KEYS = flags.apiKeys;
  if (flags.publicUrl !== undefined) process.env.HTTMCP_PUBLIC_URL = flags.publicUrl;
}

async function run(servers: HTTMCP[], flags: StackFlags): Promise<void> {
  const logger = createLogger();
  applyAuthFlags(flags);
  const stopTracing = await startTracingIfAsked();
  let stack: Stack;
  try {
    stack = await startStack({
      servers,
      port: flags.port,
      host: flags.host,
      workerProcesses: flags.workers === 'auto' ? 'auto' : Number(flags.workers),
      logger,
      ...(flags.origins === undefined ? {} : { allowedOrigins: flags.origins }),
      ...(flags.hosts === undefined ? {} : { allowedHosts: flags.hosts }),
      ...(flags.prefix === undefined ? {} : { prefix: flags.prefix }),
      ...(flags.redis === undefined ? {} : { redis: flags.redis }),
      ...(flags.backends === undefined ? {} : { backends: splitList(flags.backends) }),
      ...(flags.publishListen === undefined ? {} : { publishListen: flags.publishListen }),
      clientLimits: {
        ...(flags.clientConnections === undefined ? {} : { connections: flags.clientConnections }),
        ...(flags.clientRate === undefined ? {} : { ratePerSecond: flags.clientRate }),
        ...(flags.clientBurst === undefined ? {} : { burst: flags.clientBurst }),
      },
      principalLimits: {
        ...(flags.principalConnections === undefined ? {} : { connections: flags.principalConnections }),
        ...(flags.principalRate === undefined ? {} : { ratePerSecond: flags.principalRate }),
        ...(flags.principalBurst === undefined ? {} : { burst: flags.principalBurst }),
        ...(flags.principalToolRate === undefined ? {} : { toolRatePerSecond: flags.principalToolRate }),
        ...(flags.principalToolBurst === undefined ? {} : { toolBurst: flags.principalToolBurst }),
      },
      ...(flags.trustedProxies === undefined ? {} : { trustedProxies: splitList(flags.trustedProxies) }),
      ...(flags.consoleAllow === undefined ? {} : { consoleAllow: consoleAllowFromEnv(flags.consoleAllow) }),
    });
  } catch (error) {
    if (error instanceof NginxMissingError) {
      process.stderr.write(`httmcp: ${error.message}\n`);
      process.exit(3);
    }
    throw error;
  }
  const metricsServer =
    flags.metricsListen === undefined || flags.backends !== undefined ? undefined : await serveMetrics(stack.gateway, flags.metricsListen, logger);
  superviseStack(stack, {
    name: 'httmcp',
    removePrefix: flags.prefix === undefined,
    logger,
    closing: () => metricsServer?.close(),
    closed: stopTracing,
  });
  if (flags.json) {
    process.stdout.write(
      JSON.stringify({
        url: stack.url,
        port: stack.port,
        servers: stack.servers,
        prefix: stack.prefix,
        nginxPid: stack.nginxPid,
        backendPid: flags.backends === undefined ? process.pid : undefined,
        publishUrl: stack.publishUrl,
        metricsUrl: metricsServer ? `http://${flags.metricsListen}/metrics` : undefined,
        console: `${stack.url}/console/`,
      }) + '\n',
    );
  } else {
    process.stdout.write(`httmcp is up (nginx+nchan: ${stack.prefix})\n`);
    for (const [name, url] of Object.entries(stack.servers)) {
      process.stdout.write(`  ${name.padEnd(12)} ${url}   (WebSocket: ${url.replace(/^http/, 'ws')})\n`);
    }
    process.stdout.write(`  ${'console'.padEnd(12)} ${stack.url}/console/   (operator console; HTTMCP_CONSOLE_ALLOW says who may open it)\n`);
    process.stdout.write('Ctrl-C stops nginx and the backend.\n');
  }
}

/** Collects HTTMCP servers from a module's exports. */
async function loadServers(specifier: string): Promise<HTTMCP[]> {
  const url = /^[./]/.test(specifier) ? pathToFileURL(resolve(specifier)).href : specifier;
  const exports = (await import(url)) as Record<string, unknown>;
  const found: HTTMCP[] = [];
  const collect = async (value: unknown): Promise<void> => {
    if (value instanceof HTTMCP) found.push(value);
    else if (Array.isArray(value)) for (const item of value) await collect(item);
    else if (typeof value === 'function' && value.length === 0 && !/^class[\s{]/.test(Function.prototype.toString.call(value))) {
      await collect(await (value as () => unknown)());
    }
  };
  await collect(exports.default);
  for (const [key, value] of Object.entries(exports)) if (key !== 'default' && value instanceof HTTMCP) found.push(value);
  const unique = [...new Set(found)];
  if (unique.length === 0) {
    throw new Error(`${specifier} exports no HTTMCP server (export one, an array of them, or a function returning them)`);
  }
  return unique;
}

function splitList(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((item) => item.trim())
    .filter(Boolean);
}

function parseCount(value: string): number {
  const count = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(count)) throw new InvalidArgumentError('a whole number');
  return count;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError('a port is a number from 1 to 65535');
  return port;
}

/** The servers of `specifier`, or the example servers when none is given. */
async function loadServersOrExamples(specifier?: string): Promise<HTTMCP[]> {
  return specifier === undefined ? (await import('../../examples/index.js')).createExampleServers() : loadServers(specifier);
}

registerStdioCommand(program, loadServersOrExamples);
registerNatsCommand(program, loadServersOrExamples);
registerOpenApiCommand(program);

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`httmcp: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
