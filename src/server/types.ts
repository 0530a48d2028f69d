import type {
  CallToolResult,
  ClientCapabilities,
  CreateMessageRequest,
  CreateMessageResult,
  ElicitRequestFormParams,
  ElicitRequestURLParams,
  ElicitResult,
  GetPromptResult,
  InputRequest,
  InputResponse,
  ListRootsResult,
  LoggingLevel,
  PromptMessage,
  ReadResourceResult,
  RequestId,
  ServerContext,
  ToolAnnotations,
} from '@modelcontextprotocol/server';
import type { Logger } from '../log.js';
import type { z, ZodRawShape } from 'zod';
import type { Principal } from '../auth/principal.js';
import type { CacheHint } from './cache-hints.js';
import type { TaskSupport } from '../tasks/extension.js';

/** A value or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** The arguments a handler receives for a zod shape. */
export type ArgsOf<S extends ZodRawShape | undefined> = S extends ZodRawShape ? z.output<z.ZodObject<S>> : Record<string, never>;

/**
 * What a tool handler may return. With an output schema: an object of that schema (it becomes
 * `structuredContent` plus a JSON text block) or a full `CallToolResult`. Without one: a string,
 * a number or boolean, any JSON value (sent as JSON text), nothing, or a full `CallToolResult`.
 */
export type ToolReturn<O extends ZodRawShape | undefined> = O extends ZodRawShape
  ? z.input<z.ZodObject<O>> | CallToolResult
  : unknown;

/** Describes a tool. */
export interface ToolOptions<I extends ZodRawShape | undefined = undefined, O extends ZodRawShape | undefined = undefined> {
  /** Tool name; defaults to the method name when used as a decorator. */
  name?: string;
  title?: string;
  description?: string;
  /** zod shape of the arguments; the handler's first parameter is typed from it. */
  input?: I;
  /** zod shape of the result; makes the tool return `structuredContent`. */
  output?: O;
  annotations?: ToolAnnotations;
  /**
   * Runs the tool as a task (the `io.modelcontextprotocol/tasks` extension of 2026-07-28) for
   * clients that declare the extension: they get `resultType: "task"` at once and poll
   * `tasks/get` for the result while the handler runs detached. `optional`: other clients (and
   * the 2025 era) get a plain call; `required`: other 2026 clients are refused (-32021). A
   * handler that throws a protocol error (`ProtocolError`) fails its task; other errors complete
   * it with `isError`. See docs/operations.md, "Limits / Tasks".
   */
  task?: TaskSupport;
  /**
   * OAuth scopes a caller needs (all of them), when authentication is on: `tools/list` hides the
   * tool from principals without them, and calling it is refused with `insufficient_scope`
   * (HTTP 403 on Streamable HTTP, a JSON-RPC error elsewhere). Not enforced without authentication.
   */
  scopes?: string[];
  /**
   * How cacheable the 2026-07-28 `tools/list` pages that show this tool are: a page takes the
   * shortest `ttlMs` and the narrowest `cacheScope` of its tools and the server's hint.
   */
  cacheHint?: CacheHint;
}

/** Describes a resource, static (`docs://readme`) or templated (`users://{id}/profile`). */
export interface ResourceOptions {
  /** Resource name; defaults to the method name when used as a decorator. */
  name?: string;
  title?: string;
  description?: string;
  mimeType?: string;
  /**
   * Templates only: suggestions for a variable's value (`completion/complete`), by variable
   * name. Receives what the user typed so far and the other variables already chosen.
   */
  complete?: Record<string, (value: string, context: { arguments: Record<string, string> }) => string[] | Promise<string[]>>;
  /**
   * OAuth scopes a reader needs (all of them), when authentication is on: `resources/list` and
   * `resources/templates/list` hide the resource (every URI of a template) from principals
   * without them, and reading or subscribing to it is refused with `insufficient_scope`.
   */
  scopes?: string[];
  /**
   * Cache hint of this resource's 2026-07-28 `resources/read` results (over the server's), and
   * a bound on the list pages that show it. A resource with `scopes` is never `public`.
   */
  cacheHint?: CacheHint;
}

/** Describes a prompt. Prompt arguments are strings in MCP, so use `z.string()` shapes. */
export interface PromptOptions<A extends ZodRawShape | undefined = undefined> {
  /** Prompt name; defaults to the method name when used as a decorator. */
  name?: string;
  title?: string;
  description?: string;
  args?: A;
  /**
   * OAuth scopes a caller needs (all of them), when authentication is on: `prompts/list` hides
   * the prompt from principals without them, and getting it is refused with `insufficient_scope`.
   */
  scopes?: string[];
  /** Like a tool's `cacheHint`: a bound on the 2026-07-28 `prompts/list` pages that show this prompt. */
  cacheHint?: CacheHint;
}

/**
 * What every handler gets besides its arguments: who is calling, a way to report progress and
 * log to the client, the cancellation signal, and a way to reach the session later.
 */
export interface Context {
  /** The MCP session the request arrived on (undefined on single-client transports). */
  readonly sessionId: string | undefined;
  readonly requestId: RequestId;
  /** Aborted when the client sends `notifications/cancelled` or its session ends. */
  readonly signal: AbortSignal;
  /**
   * Who is calling, when authentication is on (the edge verified the client's token or API key);
   * undefined when it is off.
   */
  readonly auth: Principal | undefined;
  /** Headers of the client's request (for WebSocket, those of its handshake). */
  readonly headers: Record<string, string | string[] | undefined>;
  /** Sends `notifications/progress` when the client asked for progress; otherwise does nothing. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /** Sends `notifications/message` when `level` passes the session's `logging/setLevel`. */
  log(level: LoggingLevel, data: unknown, logger?: string): Promise<void>;
  /**
   * Pushes a notification to this session at any time, also after the handler has returned
   * (for example the result of work that goes on in the background).
   */
  push(notification: { method: string; params?: Record<string, unknown> }): Promise<void>;
  /**
   * What the client declared it can do: at `initialize` (2025 era) or in this request's envelope
   * (2026-07-28). Undefined when not known (a session opened before a backend restart).
   */
  readonly clientCapabilities: ClientCapabilities | undefined;
  /**
   * Asks the client's model for a completion (`sampling/createMessage`).
   *
   * The input methods (`sample`, `elicit`, `roots`, `input`) serve both protocol eras with the
   * same code. On a 2025 session they send the client a real request and wait at most
   * `timeoutMs` (default: the server's `requestTimeoutMs`); they fail at once when the client
   * did not declare the capability. On a 2026-07-28 request, one whose answer is not in the
   * request ends the handler: the client gets `input_required` with the question, asks, and
   * retries, and the handler runs again from the start, this time getting the answer. So a
   * handler must do nothing it cannot repeat before its last question (docs/mrtr.md).
   */
  sample(params: CreateMessageRequest['params'], options?: InputOptions): Promise<CreateMessageResult>;
  /**
   * Asks the user for input through the client (`elicitation/create`): a form (`mode: 'form'`,
   * the default: `message` and `requestedSchema`), or a URL to visit (`mode: 'url'`: `message`
   * and `url`; on a 2025 session an `elicitationId` is made up when not given). See
   * {@link Context.sample} for how it serves both eras.
   */
  elicit(params: ElicitFormInput | ElicitUrlInput, options?: InputOptions): Promise<ElicitResult>;
  /** Asks the client for its roots (`roots/list`). See {@link Context.sample} for both eras. */
  roots(options?: InputOptions): Promise<ListRootsResult>;
  /**
   * Asks several questions at once, keyed (build them with the SDK's `inputRequired.elicit`,
   * `.elicitUrl`, `.createMessage`, `.listRoots`), and resolves with the answer of each key: in
   * one round on 2026-07-28 (every unanswered one in the same `input_required`), in parallel
   * requests on a 2025 session.
   */
  input<K extends string>(requests: Record<K, InputRequest>, options?: ServerRequestOptions): Promise<Record<K, InputResponse>>;
  /**
   * Streamable HTTP: ends the SSE stream this request's messages travel on, while the request
   * goes on (SEP-1699 polling). The client reconnects with Last-Event-ID and receives the rest.
   * Does nothing on transports without such a stream.
   */
  closeStream(): Promise<void>;
  /**
   * Turns this `tools/call` into a task (the 2026-07-28 tasks extension) from inside the handler:
   * the client is answered `resultType: "task"` now and what the handler returns later becomes
   * the task's result. For a tool that first asks for input in the call itself and then goes on
   * in the background (a tool with the `task` option is a task from the start). Resolves false
   * when it cannot (a 2025 session, a client without the extension, the task bound reached, a
   * server none of whose tools has the `task` option): the call goes on as a plain one.
   */
  runAsTask(): Promise<boolean>;
  /**
   * The backend's pino logger for this request: every line carries the server, the session (or,
   * without one, the request id) and the tool, so an operator can follow one call.
   */
  readonly logger: Logger;
  /**
   * The SDK's own handler context (`ServerContext` of `@modelcontextprotocol/server`: `mcpReq`,
   * `http.authInfo`...), for anything not covered above. Its `sessionId` is the transport's, so
   * on nchan it is undefined: read {@link Context.sessionId}. Its `mcpReq.id` is the id the
   * transport delivered the request with (the hub's own, not the client's).
   */
  readonly extra: ServerContext;
}

/** Options of a request the server sends to the client. */
export interface ServerRequestOptions {
  /** Give up after this long (ms); the handler then sees an error (2025 era). */
  timeoutMs?: number;
}

/** Options of one question of {@link Context.sample}, {@link Context.elicit} or {@link Context.roots}. */
export interface InputOptions extends ServerRequestOptions {
  /**
   * Its key in the `inputRequests` of a 2026-07-28 `input_required` (default: `elicit-1`,
   * `sample-2`, ... in the order asked). Name questions asked conditionally or in loops, so a
   * re-run matches each answer to its question.
   */
  key?: string;
}

/** A form elicitation: what the user should be asked, and the schema of the form. */
export type ElicitFormInput = Omit<ElicitRequestFormParams, 'mode'> & { mode?: 'form' };

/** A URL elicitation: send the user to `url` (sign in, pay...) and wait until they are done. */
export type ElicitUrlInput = Omit<ElicitRequestURLParams, 'elicitationId'> & { elicitationId?: string };

/** The context of a resource read: the handler context plus the URI being read. */
export interface ResourceContext extends Context {
  readonly uri: URL;
}

/** Handler of a tool with input shape I and output shape O. */
export type ToolHandler<I extends ZodRawShape | undefined, O extends ZodRawShape | undefined> = (
  args: ArgsOf<I>,
  ctx: Context,
) => MaybePromise<ToolReturn<O>>;

/** The variable names of a URI template: `'users://{id}/{tab}'` gives `'id' | 'tab'`. */
export type TemplateVariables<U extends string> = U extends `${string}{${infer V}}${infer Rest}`
  ? StripOperator<V> | TemplateVariables<Rest>
  : never;
type StripOperator<V extends string> = V extends `${'+' | '#' | '.' | '/' | ';' | '?' | '&'}${infer N}` ? SplitNames<N> : SplitNames<V>;
type SplitNames<V extends string> = V extends `${infer Head},${infer Tail}` ? StripExplode<Head> | SplitNames<Tail> : StripExplode<V>;
type StripExplode<V extends string> = V extends `${infer N}*` ? N : V;

/**
 * What a resource handler may return: text, bytes (sent as a base64 blob), any JSON value
 * (sent as `application/json` text), or a full `ReadResourceResult`.
 */
export type ResourceReturn = string | Uint8Array | ReadResourceResult | object;

/** Handler of a resource whose URI (template) is U. */
export type ResourceHandler<U extends string = string> = (
  variables: { [K in TemplateVariables<U>]: string },
  ctx: ResourceContext,
) => MaybePromise<ResourceReturn>;

/** What a prompt handler may return: one user message as text, several messages, or the full result. */
export type PromptReturn = string | PromptMessage | PromptMessage[] | GetPromptResult;

/** Handler of a prompt with argument shape A. */
export type PromptHandler<A extends ZodRawShape | undefined> = (args: ArgsOf<A>, ctx: Context) => MaybePromise<PromptReturn>;

/** A registered definition, whichever way it was declared. */
export type Definition =
  | { kind: 'tool'; name: string; options: ToolOptions<ZodRawShape | undefined, ZodRawShape | undefined>; handler: ToolHandler<any, any> }
  | { kind: 'resource'; name: string; uri: string; options: ResourceOptions; handler: ResourceHandler<any> }
  | { kind: 'prompt'; name: string; options: PromptOptions<ZodRawShape | undefined>; handler: PromptHandler<any> };
