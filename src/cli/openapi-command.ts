import type { AddressInfo } from 'node:net';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Gateway } from '../gateway.js';
import { createBackendHandler } from '../http/node-handler.js';
import { createLogger } from '../log.js';
import { OpenAPIMCP, SpecLoadError, type Credential, type LoadProgress, type OpenAPIMCPOptions, type SessionCredential } from '../openapi/index.js';
import { NginxMissingError } from '../stack/nginx.js';
import { listen, startStack, type Stack } from '../stack/stack.js';
import { superviseStack } from './supervise-stack.js';

/** Flags of `httmcp openapi`. */
interface OpenApiFlags {
  openapiFile?: string;
  name?: string;
  publishServer?: string;
  host: string;
  port?: number;
  baseUrl?: string;
  serverIndex?: number;
  serverVar: string[];
  header: string[];
  auth: string[];
  sessionAuth: string[];
  includeTag: string[];
  excludeTag: string[];
  includeOperation: string[];
  excludeOperation: string[];
  method: string[];
  resources?: boolean;
  securityScopes?: boolean;
  tokenExchange?: string;
  tokenExchangeUrl?: string;
  tokenExchangeClientId?: string;
  tokenExchangeClientSecret?: string;
  tokenExchangeAudience?: string;
  tokenExchangeResource?: string;
  tokenExchangeScopes?: string;
  outputSchemas: boolean;
  validate: 'strict' | 'warn' | 'off';
  timeout?: number;
  connectTimeout?: number;
  headersTimeout?: number;
  bodyTimeout?: number;
  connections?: number;
  connectionsPerClient?: number;
  queuePerClient?: number;
  maxResponseBytes?: number;
  maxToolBytes?: number;
  pageBytes?: number;
  schemaInlineLimit?: number;
  cacheTtl?: number;
  cacheScope?: 'public' | 'private';
  list?: boolean;
  origins?: string;
  workers: string;
  prefix?: string;
  json?: boolean;
  quiet?: boolean;
}

/** Exit status for a spec that cannot be loaded (1: other failures, 3: nginx missing). */
export const EXIT_BAD_SPEC = 2;

/**
 * Adds `httmcp openapi <spec-file-or-url>`: serves an OpenAPI/Swagger API as an MCP server
 * through a local nginx+nchan stack, or as a backend only (`--publish-server URL`) for an
 * nginx+nchan running elsewhere. `--list` prints the tools as JSON and exits.
 */
export function registerOpenApiCommand(program: Command): void {
  program
    .command('openapi')
    .description('serve an OpenAPI 3.x or Swagger 2.0 API as an MCP server whose tools call the API')
    .argument('[spec]', 'the API description: a JSON or YAML file, or an http(s) URL')
    .option('-f, --openapi-file <spec>', 'the API description (instead of the argument)')
    .option('-n, --name <name>', 'server name, the URL segment /mcp/<name> (default: from the spec title)')
    .option('-p, --publish-server <url>', "backend only: nchan's publish listener (http://host:port or unix:/path) of an nginx+nchan running elsewhere")
    .addOption(new Option('-H, --host <host>', 'public address; with --publish-server, the address the backend listens on').default('127.0.0.1'))
    .addOption(new Option('-P, --port <port>', 'public port (default 8080); with --publish-server, the backend port (default 3000)').argParser(parsePort))
    .option('--base-url <url>', "the API's base URL, replacing the spec's servers")
    .addOption(new Option('--server-index <n>', "which of the spec's servers to call (default 0)").argParser(parseCount))
    .option('--server-var <name=value>', 'value of a server URL variable (repeatable)', collect, [])
    .option('--header <name: value>', 'header sent with every API request (repeatable)', collect, [])
    .option(
      '--auth <scheme=value>',
      'credential of a security scheme: the key or token, user:password (HTTP basic) or clientId:clientSecret (OAuth2 client credentials); repeatable. Default: the HTTMCP_AUTH_<SCHEME> environment variable',
      collect,
      [],
    )
    .option('--session-auth <scheme=header>', "take the scheme's credential from this header of the MCP client's request (repeatable)", collect, [])
    .option('--include-tag <tags>', 'only operations with one of these tags (comma-separated, repeatable)', collectList, [])
    .option('--exclude-tag <tags>', 'leave out operations with these tags', collectList, [])
    .option('--include-operation <ids>', "only these operations: operationId, tool name or 'GET /path'", collectList, [])
    .option('--exclude-operation <ids>', 'leave out these operations', collectList, [])
    .option('--method <methods>', 'only these HTTP methods', collectList, [])
    .option('--resources', 'serve GET operations whose required parameters are all in the path as resources instead of tools')
    .option('--security-scopes', "with auth on: an operation's OAuth scopes (its security requirement) are the scopes its tool needs (docs/auth.md)")
    .addOption(
      new Option('--token-exchange <scheme>', "with auth on: fill this security scheme with a token exchanged (RFC 8693) for the caller's; docs/auth.md").env(
        'HTTMCP_TOKEN_EXCHANGE_SCHEME',
      ),
    )
    .addOption(new Option('--token-exchange-url <url>', "the authorization server's token endpoint for the exchange").env('HTTMCP_TOKEN_EXCHANGE_URL'))
    .addOption(new Option('--token-exchange-client-id <id>', "this gateway's client at the authorization server").env('HTTMCP_TOKEN_EXCHANGE_CLIENT_ID'))
    // The secret only from the environment: a flag would show it in the process list.
    .addOption(new Option('--token-exchange-client-secret <secret>').env('HTTMCP_TOKEN_EXCHANGE_CLIENT_SECRET').hideHelp())
    .addOption(new Option('--token-exchange-audience <audience>', 'audience of the exchanged token (the API, as the authorization server names it)').env('HTTMCP_TOKEN_EXCHANGE_AUDIENCE'))
    .addOption(new Option('--token-exchange-resource <url>', 'resource of the exchanged token (RFC 8707: the API\'s URL)').env('HTTMCP_TOKEN_EXCHANGE_RESOURCE'))
    .addOption(new Option('--token-exchange-scopes <scopes>', 'scopes asked for, space- or comma-separated').env('HTTMCP_TOKEN_EXCHANGE_SCOPES'))
    .option('--no-output-schemas', 'no outputSchema/structuredContent; replies are text only')
    .addOption(new Option('--validate <mode>', 'spec validation: warn (in the background), strict (fatal) or off').choices(['warn', 'strict', 'off']).default('warn'))
    .addOption(limit('--timeout <ms>', "a call's deadline: waiting for a connection, retries and a trickling reply included (default 45000)", 'TIMEOUT_MS'))
    .addOption(limit('--connect-timeout <ms>', 'connecting to the API (default 10000)', 'CONNECT_TIMEOUT_MS'))
    .addOption(limit('--headers-timeout <ms>', "waiting for the API's response headers (default 30000)", 'HEADERS_TIMEOUT_MS'))
    .addOption(limit('--body-timeout <ms>', 'longest pause between two pieces of a reply (default 15000)', 'BODY_TIMEOUT_MS'))
    .addOption(limit('--connections <n>', 'API calls in flight per API origin, all clients together (default 64)', 'CONNECTIONS'))
    .addOption(limit('--connections-per-client <n>', 'API calls in flight per API origin of one client; more wait their turn (default 4)', 'CONNECTIONS_PER_CLIENT'))
    .addOption(limit('--queue-per-client <n>', 'API calls of one client waiting for a connection; more get a tool error (default 32)', 'QUEUE_PER_CLIENT', 0))
    .addOption(limit('--max-response-bytes <n>', 'largest API reply read (default 1048576)', 'MAX_RESPONSE_BYTES'))
    .addOption(limit('--max-tool-bytes <n>', 'largest tool definition (JSON); larger tools are skipped with a warning (default 262144)', 'MAX_TOOL_BYTES'))
    .addOption(limit('--page-bytes <n>', 'largest tools/list page (JSON of its tools; one tool at least) (default 1048576)', 'PAGE_BYTES'))
    .addOption(limit('--schema-inline-limit <n>', 'referenced schemas up to this size (JSON characters) are inlined, larger ones are $defs (default 2048)', 'SCHEMA_INLINE_LIMIT', 0))
    .addOption(
      new Option('--cache-ttl <ms>', 'ttlMs of cacheable 2026-07-28 results (lists, resource reads, server/discover); default 0')
        .env('HTTMCP_CACHE_TTL_MS')
        .argParser((value) => parseLimit(value, 0)),
    )
    .addOption(
      new Option('--cache-scope <scope>', "cacheScope of those results: 'public' only for an API that answers everyone alike (default private; never public for --session-auth or token exchange)")
        .choices(['private', 'public'])
        .env('HTTMCP_CACHE_SCOPE'),
    )
    .option('--list', 'print the tools as JSON (name, description, inputSchema, annotations) and exit')
    .option('--origins <regex>', 'regular expression of browser Origins allowed (default: localhost pages)')
    .option('--workers <n>', 'nginx worker processes, or "auto"', '1')
    .option('--prefix <dir>', 'runtime directory for nginx config, logs and sockets (default: a temp dir, removed at a clean stop)')
    .option('--json', 'print one JSON line with the URLs instead of text')
    .option('-q, --quiet', 'no progress and warnings on stderr')
    .action(async (specArgument: string | undefined, flags: OpenApiFlags) => {
      try {
        await runOpenApi(specArgument, flags);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        process.stderr.write(`httmcp openapi: ${message}\n`);
        process.exit(error instanceof SpecLoadError ? EXIT_BAD_SPEC : error instanceof NginxMissingError ? 3 : 1);
      }
    });
}

async function runOpenApi(specArgument: string | undefined, flags: OpenApiFlags): Promise<void> {
  const spec = flags.openapiFile ?? specArgument;
  if (spec === undefined) throw new InvalidArgumentError('give the API description: httmcp openapi <spec-file-or-url> (or -f <spec>)');
  const say = (line: string) => {
    if (!flags.quiet) process.stderr.write(`httmcp openapi: ${line}\n`);
  };
  say(`loading ${spec}`);
  const server = await OpenAPIMCP.create(spec, {
    ...optionsFrom(flags),
    // Building progress only for large specs, every few hundred operations.
    onProgress: (event) => (event.phase !== 'building' || (event.total >= 500 && event.done < event.total) ? say(describeProgress(event)) : undefined),
    onWarning: (message) => say(`warning: ${firstLines(message)}`),
  });
  if (server.tools.length === 0 && server.resources.length === 0) say('warning: no operation became a tool (check the filters)');

  if (flags.list) {
    await printTools(server);
    process.exit(0);
  }

  const logger = createLogger();
  if (flags.publishServer !== undefined) {
    const gateway = Gateway.fromEnv(process.env, { logger, publishUrl: flags.publishServer });
    const port = flags.port ?? 3000;
    const listener = await listen(createBackendHandler([server], gateway), port, flags.host);
    const url = `http://${flags.host}:${(listener.address() as AddressInfo).port}`;
    if (flags.json) process.stdout.write(`${JSON.stringify({ backend: url, server: server.name, path: `/mcp/${server.name}`, publishUrl: flags.publishServer, tools: server.tools.length, backendPid: process.pid })}\n`);
    else process.stdout.write(`httmcp openapi: backend for /mcp/${server.name} on ${url} (${server.tools.length} tools), publishing to ${flags.publishServer}\n`);
    const stop = () => {
      listener.close();
      void Promise.all([server.close(), gateway.close()]).then(() => process.exit(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    return;
  }

  const stack: Stack = await startStack({
    servers: [server],
    port: flags.port ?? 8080,
    host: flags.host,
    workerProcesses: flags.workers === 'auto' ? 'auto' : Number(flags.workers),
    logger,
    ...(flags.origins === undefined ? {} : { allowedOrigins: flags.origins }),
    ...(flags.prefix === undefined ? {} : { prefix: flags.prefix }),
  });
  superviseStack(stack, { name: 'httmcp openapi', removePrefix: flags.prefix === undefined });
  const url = stack.servers[server.name]!;
  if (flags.json) {
    process.stdout.write(
      `${JSON.stringify({ url: stack.url, port: stack.port, servers: stack.servers, tools: server.tools.length, prefix: stack.prefix, nginxPid: stack.nginxPid, backendPid: process.pid })}\n`,
    );
  } else {
    process.stdout.write(`httmcp is up (nginx+nchan: ${stack.prefix})\n`);
    process.stdout.write(`  ${server.name.padEnd(12)} ${url}   (WebSocket: ${url.replace(/^http/, 'ws')})   ${server.tools.length} tools\n`);
    process.stdout.write('Ctrl-C stops nginx and the backend.\n');
  }
}

/** The library options the flags stand for. */
export function optionsFrom(flags: Partial<OpenApiFlags>): OpenAPIMCPOptions {
  const options: OpenAPIMCPOptions = { validate: flags.validate ?? 'warn', outputSchemas: flags.outputSchemas ?? true };
  if (flags.name !== undefined) options.name = flags.name;
  if (flags.baseUrl !== undefined) options.baseUrl = flags.baseUrl;
  if (flags.serverIndex !== undefined) options.serverIndex = flags.serverIndex;
  if (flags.serverVar?.length) options.serverVariables = Object.fromEntries(flags.serverVar.map((pair) => split(pair, '=', '--server-var')));
  if (flags.header?.length) options.headers = Object.fromEntries(flags.header.map((pair) => split(pair, ':', '--header')));
  if (flags.auth?.length) {
    options.auth = Object.fromEntries(flags.auth.map((pair) => split(pair, '=', '--auth') as [string, Credential]));
  }
  if (flags.sessionAuth?.length) {
    options.sessionCredentials = flags.sessionAuth.map((pair): SessionCredential => {
      const [scheme, header] = split(pair, '=', '--session-auth');
      return { scheme, header };
    });
  }
  const filter: NonNullable<OpenAPIMCPOptions['filter']> = {};
  if (flags.includeTag?.length) filter.includeTags = flags.includeTag;
  if (flags.excludeTag?.length) filter.excludeTags = flags.excludeTag;
  if (flags.includeOperation?.length) filter.includeOperations = flags.includeOperation;
  if (flags.excludeOperation?.length) filter.excludeOperations = flags.excludeOperation;
  if (flags.method?.length) filter.methods = flags.method;
  if (Object.keys(filter).length > 0) options.filter = filter;
  if (flags.resources) options.resources = true;
  if (flags.securityScopes) options.securityScopes = true;
  if (flags.tokenExchange !== undefined) options.tokenExchange = tokenExchangeFrom(flags);
  if (flags.timeout !== undefined) options.totalTimeoutMs = flags.timeout;
  if (flags.connectTimeout !== undefined) options.connectTimeoutMs = flags.connectTimeout;
  if (flags.headersTimeout !== undefined) options.headersTimeoutMs = flags.headersTimeout;
  if (flags.bodyTimeout !== undefined) options.bodyTimeoutMs = flags.bodyTimeout;
  if (flags.connections !== undefined) options.connections = flags.connections;
  if (flags.connectionsPerClient !== undefined) options.connectionsPerClient = flags.connectionsPerClient;
  if (flags.queuePerClient !== undefined) options.queuePerClient = flags.queuePerClient;
  if (flags.maxResponseBytes !== undefined) options.maxResponseBytes = flags.maxResponseBytes;
  if (flags.maxToolBytes !== undefined) options.maxToolBytes = flags.maxToolBytes;
  if (flags.pageBytes !== undefined) options.pageBytes = flags.pageBytes;
  if (flags.schemaInlineLimit !== undefined) options.schemaInlineLimit = flags.schemaInlineLimit;
  if (flags.cacheTtl !== undefined || flags.cacheScope !== undefined) {
    options.cacheHint = { ...(flags.cacheTtl === undefined ? {} : { ttlMs: flags.cacheTtl }), ...(flags.cacheScope === undefined ? {} : { cacheScope: flags.cacheScope }) };
  }
  return options;
}

/** `--token-exchange*` (or `HTTMCP_TOKEN_EXCHANGE_*`) as the `tokenExchange` option. */
function tokenExchangeFrom(flags: Partial<OpenApiFlags>): NonNullable<OpenAPIMCPOptions['tokenExchange']> {
  const missing = [
    flags.tokenExchangeUrl === undefined && '--token-exchange-url (HTTMCP_TOKEN_EXCHANGE_URL)',
    flags.tokenExchangeClientId === undefined && '--token-exchange-client-id (HTTMCP_TOKEN_EXCHANGE_CLIENT_ID)',
    flags.tokenExchangeClientSecret === undefined && 'HTTMCP_TOKEN_EXCHANGE_CLIENT_SECRET',
  ].filter(Boolean);
  if (missing.length > 0) throw new InvalidArgumentError(`--token-exchange ${flags.tokenExchange} needs ${missing.join(', ')}`);
  const scopes = flags.tokenExchangeScopes?.split(/[\s,]+/).filter(Boolean);
  return {
    scheme: flags.tokenExchange!,
    tokenUrl: flags.tokenExchangeUrl!,
    clientId: flags.tokenExchangeClientId!,
    clientSecret: flags.tokenExchangeClientSecret!,
    ...(flags.tokenExchangeAudience === undefined ? {} : { audience: flags.tokenExchangeAudience }),
    ...(flags.tokenExchangeResource === undefined ? {} : { resource: flags.tokenExchangeResource }),
    ...(scopes?.length ? { scopes } : {}),
  };
}

/** A numeric limit flag, also read from `HTTMCP_OPENAPI_<env>` (the flag wins). */
function limit(flags: string, description: string, env: string, least = 1): Option {
  return new Option(flags, description).env(`HTTMCP_OPENAPI_${env}`).argParser((value) => parseLimit(value, least));
}

/**
 * `--list`: the tools as a JSON array, written one tool at a time (a whole large list as one
 * string could exceed the longest string V8 can make).
 */
async function printTools(server: OpenAPIMCP): Promise<void> {
  const write = (text: string) => new Promise<void>((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())));
  const tools = server.toolDefinitions;
  await write(tools.length === 0 ? '[' : '[\n');
  for (const [i, { name, description, inputSchema, annotations }] of tools.entries()) {
    const json = JSON.stringify({ name, description, inputSchema, annotations }, null, 2).replace(/^/gm, '  ');
    await write(`${json}${i < tools.length - 1 ? ',' : ''}\n`);
  }
  await write(']\n');
}

function describeProgress(event: LoadProgress): string {
  switch (event.phase) {
    case 'read':
      return `read ${event.source}${event.bytes === undefined ? '' : ` (${size(event.bytes)})`} in ${event.ms} ms`;
    case 'parsed':
      return `${event.version === '2.0' ? 'Swagger 2.0' : `OpenAPI ${event.version}`}, ${event.paths} paths`;
    case 'bundled':
      return `external references resolved in ${event.ms} ms`;
    case 'validated':
      return event.problems ? `validation found problems (${event.ms} ms)` : `the spec is valid (checked in ${event.ms} ms)`;
    case 'building':
      return `building tools: ${event.done}/${event.total}`;
    case 'built':
      return `${event.tools} tools${event.skipped > 0 ? `, ${event.skipped} operations skipped` : ''} (built in ${event.ms} ms; tools/list ${size(event.bytes)} of JSON)`;
  }
}

function size(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.ceil(bytes / 1e3)} kB`;
}

function firstLines(text: string): string {
  const lines = text.split('\n');
  return lines.length <= 6 ? text : `${lines.slice(0, 6).join('\n')}\n  ... (${lines.length - 6} more lines)`;
}

function split(pair: string, separator: string, flag: string): [string, string] {
  const at = pair.indexOf(separator);
  if (at <= 0) throw new InvalidArgumentError(`${flag} expects name${separator}value, got ${JSON.stringify(pair)}`);
  return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function collectList(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter((v) => v !== '')];
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('a port is a number from 0 to 65535');
  return port;
}

function parseLimit(value: string, least: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < least) throw new InvalidArgumentError(`expected a whole number of at least ${least}`);
  return n;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}
