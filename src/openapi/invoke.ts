import type { CallToolResult, LoggingLevel, ReadResourceResult } from '@modelcontextprotocol/server';
import { requestContext, withClientSpan } from '../observability/tracing.js';
import type { Authenticator, AuthTarget, Credential } from './auth.js';
import { encodeBody } from './body.js';
import { ArgumentError, SpecError, type OperationSpec, type ParameterSpec, type ServerSpec } from './model.js';
import { assertHeaderSafe, cookiePair, fillPath, headerValue, queryPairs } from './parameters.js';
import { HttpError, type HttpClient, type HttpRequest } from './request.js';
import { toResourceContents, toToolResult } from './response.js';
import { resolveServer, type ServerOptions } from './servers.js';
import type { OpenApiTool } from './tools.js';
import type { SchemaValidator } from './validate.js';

/** What a call needs from its MCP request (a subset of the HTTMCP handler `Context`). */
export interface CallContext {
  signal: AbortSignal;
  /** Headers of the MCP client's request (for per-session credentials only; never forwarded). */
  headers: Record<string, string | string[] | undefined>;
  log?: (level: LoggingLevel, data: unknown) => Promise<void>;
  /**
   * Who is calling, for the fair share of API connections: calls of one client wait for each
   * other beyond `connectionsPerClient`, never for other clients' (default: one anonymous client).
   */
  client?: string;
  /** Credentials for this call only, by security scheme (a token exchanged for the caller). */
  credentials?: Record<string, Credential>;
}

/** A request ready to send, and what is safe to show of it. */
export interface BuiltRequest {
  request: HttpRequest;
  /** The URL with secret query values replaced by `***`. */
  displayUrl: string;
  /** Security schemes applied. */
  used: string[];
  /** Security schemes that had no credential (the request goes out without). */
  missing: string[];
}

export interface InvokerOptions extends ServerOptions {
  /** Headers sent with every request (they win over header parameters; credentials win over them). */
  headers?: Record<string, string>;
  /** Characters of an error body kept in a tool result (default 2000). */
  maxErrorChars?: number;
  /** The spec's own URL, for relative server URLs. */
  specSource?: string;
}

/** Headers neither parameters nor configuration may set: undici and the transport own them. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'upgrade', 'keep-alive', 'te', 'trailer', 'expect']);

/**
 * Turns validated tool arguments into HTTP requests and their responses into MCP results.
 * Every URL is checked before it is sent: its origin must be the configured server's, and its
 * path must be exactly the one built (nothing a parameter holds can move the request elsewhere).
 */
export class Invoker {
  private readonly bases = new Map<readonly ServerSpec[], URL | SpecError>();

  constructor(
    private readonly http: HttpClient,
    private readonly auth: Authenticator,
    private readonly validator: SchemaValidator,
    private readonly options: InvokerOptions,
    private readonly schemeTypes: ReadonlyMap<string, string>,
  ) {
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (RESERVED_HEADERS.has(name.toLowerCase())) throw new TypeError(`the header ${name} cannot be configured`);
      assertHeaderSafe(name, value);
    }
  }

  /** Calls the tool's operation: arguments checked first, then the request, then the result. */
  async call(tool: OpenApiTool, args: Record<string, unknown>, ctx: CallContext): Promise<CallToolResult> {
    const problems = this.validator.problems(tool.input.schema, args);
    if (problems) return errorResult(`Invalid arguments for ${tool.name}:\n- ${problems.join('\n- ')}`);
    let built: BuiltRequest;
    try {
      built = await this.build(tool, args, ctx.headers, ctx.signal, ctx.credentials);
    } catch (error) {
      if (error instanceof ArgumentError) return errorResult(`Invalid arguments for ${tool.name}: ${error.message}`);
      if (error instanceof SpecError) return errorResult(`${tool.name} cannot be called: ${error.message}`);
      if (ctx.signal.aborted) throw error;
      return errorResult(`${tool.name}: ${(error as Error).message}`);
    }
    const { method } = built.request;
    let response;
    try {
      response = await tracedSend(built, ctx.headers, () =>
        this.http.send(built.request, {
          signal: ctx.signal,
          ...(ctx.client === undefined ? {} : { client: ctx.client }),
          onRetry: (attempt, delay, status) => {
            void ctx.log?.('notice', `${method.toUpperCase()} ${built.displayUrl}: HTTP ${status}, retry ${attempt} in ${delay} ms`);
          },
        }),
      );
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      if (error instanceof HttpError) return errorResult(`${method.toUpperCase()} ${built.displayUrl}: ${error.message}`);
      throw error;
    }
    if (response.status === 401) this.auth.invalidate(built.used.filter((s) => this.schemeTypes.get(s) === 'oauth2'));
    const outputSchema = tool.outputSchema;
    return toToolResult(response, {
      structured: outputSchema !== undefined,
      ...(outputSchema === undefined ? {} : { checkOutput: (value: Record<string, unknown>) => this.validator.problems(outputSchema, value, 'property')?.join('; ') }),
      url: built.displayUrl,
      ...(this.options.maxErrorChars === undefined ? {} : { maxErrorChars: this.options.maxErrorChars }),
      ...(built.missing.length === 0 ? {} : { authHint: this.authHint(built.missing) }),
    });
  }

  /** Reads a resource mapped onto a GET operation; `args` come from the URI's variables. */
  async read(tool: OpenApiTool, args: Record<string, unknown>, uri: string, ctx: CallContext): Promise<ReadResourceResult> {
    const built = await this.build(tool, args, ctx.headers, ctx.signal, ctx.credentials);
    const response = await tracedSend(built, ctx.headers, () =>
      this.http.send(built.request, { signal: ctx.signal, ...(ctx.client === undefined ? {} : { client: ctx.client }) }),
    );
    return toResourceContents(response, uri);
  }

  /** The HTTP request for a call, checked; throws {@link ArgumentError} for arguments that cannot be sent. */
  async build(
    tool: OpenApiTool,
    args: Record<string, unknown>,
    clientHeaders: Record<string, string | string[] | undefined>,
    signal?: AbortSignal,
    credentials?: Record<string, Credential>,
  ): Promise<BuiltRequest> {
    const op = tool.operation;
    const base = this.baseFor(op);
    const pathValues = new Map<string, { param: ParameterSpec; value: unknown }>();
    const query: string[] = [];
    const paramHeaders: Record<string, string> = {};
    const cookies: string[] = [];
    const properties: Record<string, unknown> = {};
    const files = new Map<string, 'one' | 'many'>();
    let body: unknown;
    let hasBody = false;
    for (const binding of tool.input.bindings) {
      const value = args[binding.arg];
      if (value === undefined) continue;
      if (binding.kind === 'param') {
        const { param } = binding;
        if (param.in === 'path') pathValues.set(param.name, { param, value });
        else if (param.in === 'query') query.push(...queryPairs(param.name, value, param.style, param.explode, param.allowReserved, param.contentType));
        else if (param.in === 'header') {
          if (!RESERVED_HEADERS.has(param.name.toLowerCase())) paramHeaders[param.name.toLowerCase()] = headerValue(param, value);
        } else cookies.push(cookiePair(param, value));
      } else if (binding.kind === 'property') {
        properties[binding.property] = value;
        if (binding.file) files.set(binding.property, binding.file);
        hasBody = true;
      } else {
        body = value;
        hasBody = true;
      }
    }

    const path = fillPath(op.path, pathValues);
    const basePath = base.pathname === '/' ? '' : base.pathname;
    const headers: Record<string, string> = { ...paramHeaders, accept: tool.accept };
    for (const [name, value] of Object.entries(this.options.headers ?? {})) headers[name.toLowerCase()] = value;

    const target: AuthTarget = { headers: {}, query: [], cookies: [], secretQuery: [] };
    const { used, missing } = await this.auth.apply(op.security, target, clientHeaders, signal, credentials);
    Object.assign(headers, target.headers);

    let encoded: ReturnType<typeof encodeBody> | undefined;
    if (op.body !== undefined && (hasBody || op.body.required)) {
      const value = tool.input.bindings.some((b) => b.kind === 'property') ? properties : body;
      if (value !== undefined) {
        encoded = encodeBody(op.body, value, files);
        if (encoded.contentType !== undefined) headers['content-type'] = encoded.contentType;
      }
    }
    const { request, displayUrl } = this.finish(op, base, basePath, path, query, target, headers, cookies);
    if (encoded !== undefined) request.body = encoded.body;
    return { request, displayUrl, used, missing };
  }

  private finish(
    op: OperationSpec,
    base: URL,
    basePath: string,
    path: string,
    query: string[],
    target: AuthTarget,
    headers: Record<string, string>,
    cookies: string[],
  ): { request: HttpRequest; displayUrl: string } {
    const allCookies = [headers.cookie, ...cookies, ...target.cookies].filter((c): c is string => c !== undefined && c !== '');
    if (allCookies.length > 0) headers.cookie = allCookies.join('; ');
    const pairs = [...query, ...target.query];
    const search = pairs.length === 0 ? '' : `?${pairs.join('&')}`;
    const built = `${basePath}${path}${search}`;
    const url = new URL(`${base.origin}${built}`);
    if (url.origin !== base.origin) throw new ArgumentError(`refused: the request would go to ${url.origin} instead of ${base.origin}`);
    if (`${url.pathname}${url.search}` !== built || !url.pathname.startsWith(basePath)) {
      throw new ArgumentError(`refused: the URL would not be the one built from the arguments (${JSON.stringify(built)})`);
    }
    const secret = new Set(target.secretQuery.map((name) => `${encodeURIComponent(name)}=`));
    const shown = pairs.map((pair) => ([...secret].some((s) => pair.startsWith(s)) ? `${pair.slice(0, pair.indexOf('=') + 1)}***` : pair));
    const displayUrl = `${base.origin}${basePath}${path}${shown.length === 0 ? '' : `?${shown.join('&')}`}`;
    return { request: { method: op.method, url, headers }, displayUrl };
  }

  private baseFor(op: OperationSpec): URL {
    let base = this.bases.get(op.servers);
    if (base === undefined) {
      try {
        base = resolveServer(op.servers, this.options, this.options.specSource);
      } catch (error) {
        base = error instanceof SpecError ? error : new SpecError((error as Error).message);
      }
      this.bases.set(op.servers, base);
    }
    if (base instanceof SpecError) throw base;
    return base;
  }

  private authHint(missing: string[]): string {
    return `No credential is configured for the security scheme${missing.length > 1 ? 's' : ''} ${missing
      .map((name) => `${name} (${this.auth.envName(name)})`)
      .join(', ')}.`;
  }
}

/**
 * The upstream request as a CLIENT span of the traced MCP request, with `traceparent` added to
 * its headers so the API's own traces join the client's.
 */
function tracedSend<T>(built: BuiltRequest, clientHeaders: object, send: () => Promise<T>): Promise<T> {
  const method = built.request.method.toUpperCase();
  return withClientSpan(method, { 'http.request.method': method, 'url.full': built.displayUrl }, send, built.request.headers, requestContext(clientHeaders));
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}
