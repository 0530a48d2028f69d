import { ProtocolError, ProtocolErrorCode, type CallToolResult, type McpServer, type Tool, type ToolAnnotations } from '@modelcontextprotocol/server';
import type { ZodRawShape } from 'zod';
import { bearerOfAuthInfo, principalOfAuthInfo } from '../auth/auth-info.js';
import { principalKey } from '../auth/principal.js';
import type { MultiRound } from '../mrtr/multi-round.js';
import type { Logger } from '../log.js';
import type { ItemKind } from '../server/cache-hints.js';
import { HTTMCP, type HTTMCPOptions } from '../server/httmcp.js';
import { rememberItemBytes } from '../server/paginate.js';
import type { Context, ToolHandler, ToolOptions as HttmcpToolOptions } from '../server/types.js';
import { Authenticator, type Credential, type SessionCredential } from './auth.js';
import { Invoker, type CallContext } from './invoke.js';
import { loadSpec, type LoadedSpec, type LoadProgress, type SpecInput, type ValidationMode } from './load.js';
import { isRecord, type OperationSpec } from './model.js';
import { collectOperations, collectSecuritySchemes } from './operations.js';
import { RefResolver } from './refs.js';
import { HttpClient, type HttpOptions } from './request.js';
import { mapResources, resourceScheme, type OpenApiResource } from './resources.js';
import { SchemaConverter } from './schema.js';
import { operationScopes } from './scopes.js';
import { TokenExchanger, type TokenExchangeOptions } from './token-exchange.js';
import { requestAuthInfo } from '../server/request-auth.js';
import { buildTools, type OpenApiTool, type OperationFilter } from './tools.js';
import { SchemaValidator } from './validate.js';

/** Everything an {@link OpenAPIMCP} server can be told. All optional. */
export interface OpenAPIMCPOptions extends HttpOptions, Partial<HTTMCPOptions> {
  /** Server name and URL segment (`/mcp/{name}`); default: from the spec's `info.title`. */
  name?: string;
  /** Default: the spec's `info.version`. */
  version?: string;
  /** Default: the spec's `info.title`. */
  title?: string;
  /** Default: the spec's title and (the start of) its description. */
  instructions?: string;

  /** Replaces the spec's servers (`https://api.example.com/v2`). */
  baseUrl?: string;
  /** Which of the spec's servers to call (default the first). */
  serverIndex?: number;
  /** Values of the server's `{variables}` (default: their defaults). */
  serverVariables?: Record<string, string>;
  /** Headers sent with every API request. */
  headers?: Record<string, string>;

  /** Credentials by security scheme name (see {@link Credential}). */
  auth?: Record<string, Credential>;
  /** Where credentials not in `auth` are read from: `${authEnvPrefix}<SCHEME>` (default `HTTMCP_AUTH_`). */
  authEnvPrefix?: string;
  /** Environment for credentials (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /**
   * Credentials taken from a header the MCP client sends (per session). The MCP client's own
   * `Authorization` reaches the API only when listed here.
   */
  sessionCredentials?: SessionCredential[];
  /**
   * With authentication on (docs/auth.md): calls the API with a token exchanged (RFC 8693) for
   * the MCP client's own, whose audience is the API, in the security scheme named here; cached
   * per principal until shortly before it expires. The client's token itself never reaches the API.
   */
  tokenExchange?: TokenExchangeOptions;

  /** Which operations become tools. */
  filter?: OperationFilter;
  /** Tool names by operationId or `METHOD /path`. */
  names?: Record<string, string>;
  /** Annotation overrides by tool name, operationId or `METHOD /path`. */
  annotations?: Record<string, ToolAnnotations>;
  /** Derive output schemas (and `structuredContent`) from 2xx JSON object responses; default true. */
  outputSchemas?: boolean;
  /** Longest tool description (default 4000 characters). */
  maxDescriptionLength?: number;
  /**
   * Largest tool definition in bytes of JSON (default 256 KiB); a larger tool is skipped with a
   * warning saying its size. `tools/list` pages are bounded too (`pageSize`, `pageBytes`).
   */
  maxToolBytes?: number;
  /**
   * Referenced schemas up to this many characters of JSON are inlined where used (default 2048);
   * larger ones are written once per tool under `$defs` and referenced with `$ref`.
   */
  schemaInlineLimit?: number;
  /** Characters of an error body kept in a tool result (default 2000). */
  maxErrorChars?: number;

  /**
   * Serve GET operations without a body whose required parameters are all in the path as
   * resources (templates when the path has variables) instead of tools. `true` maps every such
   * operation; a filter maps the matching ones.
   */
  resources?: boolean | OperationFilter;
  /**
   * With authentication on (docs/auth.md), an operation's OAuth scopes (its `security`
   * requirement's `oauth2`/`openIdConnect` scopes) become the scopes its tool or resource needs
   * from the MCP client's principal: listed only to principals that have them, refused with
   * `insufficient_scope` otherwise. Default false (every principal may call every operation).
   */
  securityScopes?: boolean;
  /** Keep the tools of operations mapped to resources (default false). */
  keepResourceTools?: boolean;
  /** URI scheme of those resources (default: from the server name). */
  resourceScheme?: string;

  /** Spec validation: `warn` (default), `strict` or `off` (see {@link LoadOptions.validate}). */
  validate?: ValidationMode;
  /** Loading and building steps, for progress displays. */
  onProgress?: (event: LoadProgress) => void;
  /** Non-fatal problems: invalid spec parts, skipped operations. Also in {@link OpenAPIMCP.warnings}. */
  onWarning?: (message: string) => void;
  /** Warnings are also logged here. */
  logger?: Logger;
  /** Timeout for fetching the spec over HTTP (default 30 s). */
  fetchTimeoutMs?: number;
}


/**
 * An MCP server whose tools call an HTTP API described by OpenAPI 3.0/3.1 or Swagger 2.0.
 *
 * It is an {@link HTTMCP} server: serve it through nginx+nchan with `.router`/`.mount()`, the
 * stack or the CLI, or over any SDK transport with `.connect()`. Tools are built once when the
 * server is created; `tools/list` is served from that list.
 *
 * @example
 * const petstore = await OpenAPIMCP.create('https://petstore3.swagger.io/api/v3/openapi.json', {
 *   name: 'petstore',
 *   auth: { api_key: process.env.PETSTORE_KEY! },
 *   filter: { includeTags: ['pet'] },
 * });
 * app.use(petstore.router);
 */
export class OpenAPIMCP extends HTTMCP {
  /** The loaded document (our own copy, never changed). */
  readonly spec: LoadedSpec;
  /** One entry per tool, in the spec's order. */
  readonly tools: readonly OpenApiTool[];
  /** GET operations served as resources. */
  readonly resources: readonly OpenApiResource[];
  /** Operations that could not be turned into tools, and why. */
  readonly skipped: ReadonlyArray<{ key: string; reason: string }>;
  /** Non-fatal problems found while loading and building (validation problems arrive later, see {@link OpenAPIMCP.validated}). */
  readonly warnings: readonly string[];
  /**
   * Settles when the spec's validation is done (`validate: 'warn'` runs it in a worker thread
   * while the server already serves); its problems are then in {@link OpenAPIMCP.warnings}.
   */
  readonly validated: Promise<void>;
  private readonly toolList: readonly Tool[];
  private readonly byName: ReadonlyMap<string, OpenApiTool>;
  private readonly http: HttpClient;
  private readonly invoker: Invoker;
  private readonly exchanger: TokenExchanger | undefined;
  /** Whether API calls carry the MCP caller's own credentials (session credentials or an exchanged token). */
  private readonly callsAsCaller: boolean;

  /**
   * Loads `spec` (object, JSON/YAML text, file path or URL) and builds the server.
   * Rejects with a `SpecLoadError` when the document cannot be read or is no OpenAPI/Swagger
   * document; problems of single operations only skip those (see {@link OpenAPIMCP.skipped}).
   */
  static async create(spec: SpecInput, options: OpenAPIMCPOptions = {}): Promise<OpenAPIMCP> {
    const loaded = await loadSpec(spec, {
      ...(options.validate === undefined ? {} : { validate: options.validate }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      ...(options.fetchTimeoutMs === undefined ? {} : { fetchTimeoutMs: options.fetchTimeoutMs }),
    });
    return new OpenAPIMCP(loaded, options);
  }

  /** Builds a server from an already loaded spec (see `loadSpec`), synchronously. */
  static fromLoaded(spec: LoadedSpec, options: OpenAPIMCPOptions = {}): OpenAPIMCP {
    return new OpenAPIMCP(spec, options);
  }

  private constructor(spec: LoadedSpec, options: OpenAPIMCPOptions) {
    const document = spec.document as unknown as Record<string, unknown>;
    const info = isRecord(document.info) ? document.info : {};
    const name = options.name ?? serverName(info.title);
    // HTTMCPOptions (gateway, pageSize...) pass through; credentials stay out of `server.options`.
    const { auth: _auth, env: _env, headers: _headers, sessionCredentials: _session, ...rest } = options;
    super({
      ...rest,
      name,
      version: options.version ?? (typeof info.version === 'string' ? info.version : '0.0.0'),
      ...(options.title !== undefined ? { title: options.title } : typeof info.title === 'string' ? { title: info.title } : {}),
      ...(options.instructions !== undefined ? { instructions: options.instructions } : instructionsOf(info)),
    });
    const started = performance.now();
    const warnings: string[] = [];
    const warn = (message: string) => {
      if (warnings.includes(message)) return;
      warnings.push(message);
      options.onWarning?.(message);
      options.logger?.warn({ server: name }, message);
    };
    for (const message of spec.warnings) warn(message);
    this.validated = (spec.validation ?? Promise.resolve(undefined)).then((problem) => {
      if (problem !== undefined) warn(problem);
    });
    this.spec = spec;
    const resolver = new RefResolver(spec.document);
    const converter = new SchemaConverter(resolver, spec.version, warn, options.schemaInlineLimit === undefined ? {} : { inlineLimit: options.schemaInlineLimit });
    const collected = collectOperations(spec, resolver);
    const built = buildTools(collected.operations, converter, {
      ...(options.names === undefined ? {} : { names: options.names }),
      ...(options.annotations === undefined ? {} : { annotations: options.annotations }),
      ...(options.filter === undefined ? {} : { filter: options.filter }),
      ...(options.outputSchemas === undefined ? {} : { outputSchemas: options.outputSchemas }),
      ...(options.maxDescriptionLength === undefined ? {} : { maxDescriptionLength: options.maxDescriptionLength }),
      ...(options.maxToolBytes === undefined ? {} : { maxToolBytes: options.maxToolBytes }),
      onProgress: (done, total) => options.onProgress?.({ phase: 'building', done, total }),
    });
    const skipped = [...collected.skipped, ...built.skipped];
    for (const { key, reason } of skipped) warn(`skipped ${key}: ${reason}`);

    let tools = built.tools;
    let resources: OpenApiResource[] = [];
    if (options.resources) {
      const filter = options.resources === true ? undefined : options.resources;
      resources = mapResources(tools, options.resourceScheme ?? resourceScheme(name), filter);
      if (!options.keepResourceTools) {
        const mapped = new Set(resources.map((r) => r.tool));
        tools = tools.filter((t) => !mapped.has(t));
      }
    }
    this.tools = tools;
    this.resources = resources;
    this.skipped = skipped;
    this.warnings = warnings;
    this.toolList = tools.map((t) => t.definition);
    for (const tool of tools) rememberItemBytes(tool.definition, tool.bytes);
    this.byName = new Map(tools.map((t) => [t.name, t]));

    const schemes = collectSecuritySchemes(spec, resolver);
    const auth = new Authenticator(schemes, {
      ...(options.auth === undefined ? {} : { credentials: options.auth }),
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.authEnvPrefix === undefined ? {} : { envPrefix: options.authEnvPrefix }),
      ...(options.sessionCredentials === undefined ? {} : { sessionCredentials: options.sessionCredentials }),
    });
    for (const session of options.sessionCredentials ?? []) {
      if (!schemes.has(session.scheme)) warn(`session credential for ${session.scheme}: the spec has no such security scheme`);
    }
    const scopesOf = (operation: OperationSpec, name: string): string[] => {
      if (!options.securityScopes) return [];
      const { scopes, merged } = operationScopes(operation, schemes);
      if (merged) warn(`${name}: the security alternatives of ${operation.key} name different scopes; all of them are required (${scopes.join(' ')})`);
      return scopes;
    };
    for (const tool of tools) {
      const scopes = scopesOf(tool.operation, tool.name);
      if (scopes.length > 0) this.scopes.tools.set(tool.name, scopes);
    }
    for (const scheme of Object.keys(options.auth ?? {})) {
      if (!schemes.has(scheme)) warn(`credential for ${scheme}: the spec has no such security scheme (it has: ${[...schemes.keys()].join(', ') || 'none'})`);
    }
    if (options.tokenExchange) {
      if (!schemes.has(options.tokenExchange.scheme)) warn(`tokenExchange for ${options.tokenExchange.scheme}: the spec has no such security scheme`);
      this.exchanger = new TokenExchanger(options.tokenExchange);
    }
    this.callsAsCaller = this.exchanger !== undefined || (options.sessionCredentials?.length ?? 0) > 0;
    this.http = new HttpClient(options);
    this.invoker = new Invoker(
      this.http,
      auth,
      new SchemaValidator(warn),
      {
        ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
        ...(options.serverIndex === undefined ? {} : { serverIndex: options.serverIndex }),
        ...(options.serverVariables === undefined ? {} : { serverVariables: options.serverVariables }),
        ...(options.headers === undefined ? {} : { headers: options.headers }),
        ...(options.maxErrorChars === undefined ? {} : { maxErrorChars: options.maxErrorChars }),
        ...(spec.source === undefined ? {} : { specSource: spec.source }),
      },
      new Map([...schemes].map(([n, s]) => [n, s.type])),
    );
    for (const resource of resources) {
      this.resource(
        resource.name,
        resource.uri,
        {
          ...(resource.tool.definition.title === undefined ? {} : { title: resource.tool.definition.title }),
          ...(resource.tool.definition.description === undefined ? {} : { description: resource.tool.definition.description }),
          ...(resource.mimeType === undefined ? {} : { mimeType: resource.mimeType }),
          scopes: scopesOf(resource.tool.operation, resource.name),
        },
        async (variables, ctx) => {
          const args: Record<string, unknown> = {};
          for (const [variable, arg] of resource.variables) {
            const value = (variables as Record<string, string | string[] | undefined>)[variable];
            if (value !== undefined) args[arg] = decode(Array.isArray(value) ? value.join(',') : value);
          }
          return this.invoker.read(resource.tool, args, ctx.uri.href, { ...callContext(ctx, ''), ...(await this.exchanged(ctx)) });
        },
      );
    }
    const bytes = tools.reduce((sum, tool) => sum + tool.bytes + 1, 1);
    options.onProgress?.({ phase: 'built', tools: tools.length, skipped: skipped.length, ms: Math.round(performance.now() - started), bytes });
  }

  /** With `tokenExchange`, API calls use a token exchanged for the caller's own. */
  override get exchangesCallerToken(): boolean {
    return this.exchanger !== undefined;
  }

  /**
   * A resource read with the caller's own credentials (`sessionCredentials`, `tokenExchange`)
   * is the caller's: its 2026-07-28 results are never `cacheScope: 'public'`.
   */
  protected override dependsOnPrincipal(kind: ItemKind, key: string | undefined): boolean {
    if ((kind === 'resource' || kind === 'template') && key !== undefined && this.callsAsCaller) return true;
    return super.dependsOnPrincipal(kind, key);
  }

  /** Exactly what `tools/list` returns for the API's tools (built once). */
  get toolDefinitions(): readonly Tool[] {
    return this.toolList;
  }

  /** The operations behind the tools. */
  get operations(): readonly OperationSpec[] {
    return this.tools.map((t) => t.operation);
  }

  /**
   * Calls a tool directly, without an MCP client (scripts, tests). `headers` stand for the MCP
   * client's headers (per-session credentials), `client` for who calls (the fair share of API
   * connections; default one anonymous client).
   */
  async callTool(name: string, args: Record<string, unknown> = {}, context: Partial<CallContext> = {}): Promise<CallToolResult> {
    const tool = this.byName.get(name);
    if (!tool) throw new Error(`${this.name} has no tool ${JSON.stringify(name)}`);
    return this.invoker.call(tool, args, {
      signal: context.signal ?? new AbortController().signal,
      headers: context.headers ?? {},
      ...(context.log ? { log: context.log } : {}),
      ...(context.client === undefined ? {} : { client: context.client }),
    });
  }

  /** Whether the API has a tool of this name (metric labels and span names use only these). */
  override hasTool(name: string): boolean {
    return this.byName.has(name);
  }

  /**
   * Refused: an OpenAPIMCP serves the API's tools. Put hand-written tools on another HTTMCP
   * server; several servers mount on one app and one stack.
   */
  override tool<I extends ZodRawShape | undefined = undefined, O extends ZodRawShape | undefined = undefined>(
    name: string,
    _options: HttmcpToolOptions<I, O>,
    _handler: ToolHandler<I, O>,
  ): this {
    if (!this.byName) return super.tool(name, _options, _handler); // HTTMCP's constructor, before the API is known
    throw new TypeError(`${this.name}: an OpenAPIMCP serves the API's tools; add ${JSON.stringify(name)} to another HTTMCP server (several mount on one app)`);
  }

  /**
   * The SDK server, answering `tools/list` and `tools/call` from the tools built once from the
   * spec (their JSON Schemas as converted, with no zod round trip), through the SDK's public
   * `setRequestHandler`; `tools/list` is served from that prebuilt list every time.
   */
  override createMcpServer(rounds?: MultiRound): McpServer {
    const server = super.createMcpServer(rounds);
    server.server.setRequestHandler('tools/list', () => ({ tools: this.toolList as Tool[] }));
    server.server.setRequestHandler('tools/call', async (request, extra) => {
      const tool = this.byName.get(request.params.name);
      if (!tool) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Tool ${request.params.name} not found`);
      const started = performance.now();
      const ctx = this.context(extra, server, tool.name);
      let exchanged: Pick<CallContext, 'credentials'>;
      try {
        exchanged = await this.exchanged(ctx);
      } catch (error) {
        this.recordCall(tool.name, started, 'isError');
        return { isError: true, content: [{ type: 'text' as const, text: (error as Error).message }] };
      }
      try {
        const result = await this.invoker.call(tool, request.params.arguments ?? {}, {
          ...callContext(ctx, this.principalOf(extra, server)),
          ...exchanged,
        });
        this.recordCall(tool.name, started, result.isError ? 'isError' : undefined);
        return result;
      } catch (error) {
        this.recordCall(tool.name, started, error ?? 'error');
        throw error;
      }
    });
    return server;
  }

  /** The credential of a call made for the caller with an exchanged token (`tokenExchange`); none without. */
  private async exchanged(ctx: Context): Promise<Pick<CallContext, 'credentials'>> {
    if (!this.exchanger) return {};
    // Both eras: a 2025 session's transport passes it, a 2026 request's comes from httmcp's exchange table.
    const info = requestAuthInfo(ctx);
    const principal = principalOfAuthInfo(info);
    const bearer = bearerOfAuthInfo(info);
    if (!principal || !bearer) throw new Error('this API is called with a token exchanged for the caller\'s: the request has no bearer token (authentication is off?)');
    const token = await this.exchanger.token(principalKey(principal), bearer, ctx.signal);
    return { credentials: { [this.exchanger.options.scheme]: { token } } };
  }

  /** Detaches from the gateway and closes the API connections. */
  override async unmount(): Promise<void> {
    await super.unmount();
    await this.http.close();
  }

  /** Closes the pooled API connections (new calls open new ones). */
  async close(): Promise<void> {
    await this.http.close();
  }
}

/**
 * A handler's context as a call's: with who is calling, for the fair share of API connections.
 * That is the session's principal when it has one (the gateway's notion, as for the backend's
 * per-principal bounds: by default a digest of the `Authorization` header), so that opening more
 * sessions gains nothing, else the MCP session.
 */
function callContext(ctx: Context, principal: string): CallContext {
  const client = principal !== '' ? `principal:${principal}` : ctx.sessionId === undefined ? undefined : `session:${ctx.sessionId}`;
  return { signal: ctx.signal, headers: ctx.headers, log: (level, data) => ctx.log(level, data), ...(client === undefined ? {} : { client }) };
}

/** `Swagger Petstore - OpenAPI 3.0` → `swagger-petstore-openapi-3-0`. */
export function serverName(title: unknown): string {
  const name = (typeof title === 'string' ? title : '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '')
    .slice(0, 64)
    .replace(/[-_]+$/, '');
  return name === '' ? 'openapi' : name;
}

function instructionsOf(info: Record<string, unknown>): { instructions?: string } {
  const title = typeof info.title === 'string' ? info.title.trim() : '';
  const description = typeof info.description === 'string' ? info.description.trim() : '';
  const text = [title, description].filter((t) => t !== '').join('\n\n');
  if (text === '') return {};
  return { instructions: text.length <= 2000 ? text : `${text.slice(0, 1999)}…` };
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
