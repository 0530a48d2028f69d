import type { ClientCapabilities, RequestId, ServerContext } from '@modelcontextprotocol/server';
import type { Principal } from '../auth/principal.js';
import type { Logger } from '../log.js';
import type { Context, ResourceContext } from './types.js';

type Headers = Record<string, string | string[] | undefined>;

/** What a {@link HandlerContext} holds as plain values: the request's identity and its methods. */
export type ContextFields = Omit<Context, 'logger' | 'headers' | 'clientCapabilities'>;

/**
 * What a {@link HandlerContext} computes on first read: most handlers never read these. One
 * object with methods (not four closures and an object holding them): it is made on every call.
 */
export interface ContextSources {
  /** The request's child logger (server, session or request, tool). */
  logger(): Logger;
  /** The request's headers as handlers see them (undefined: none known). */
  headers(): Headers | undefined;
  /** What the client declared it supports. */
  clientCapabilities(): ClientCapabilities | undefined;
}

/**
 * The {@link Context} a handler receives. A class with its lazy members on the prototype, not an
 * object literal with getters: V8 builds a literal with getters in dictionary mode, and what its
 * getters close over (here the SDK's request context, the signal, the request's facts) then
 * survived young-generation collections and was promoted until a full collection, on every call
 * (bench/gc-patterns.mjs: 6.3 KB of a dropped 14 KB graph promoted per call behind a getter
 * literal, none behind a class getter; bench/README.md, "gcroots"). Spreading a context copies
 * its own fields only: `logger`, `headers` and `clientCapabilities` are read through it.
 */
export class HandlerContext implements Context {
  readonly sessionId: string | undefined;
  readonly requestId: RequestId;
  readonly signal: AbortSignal;
  readonly auth: Principal | undefined;
  readonly extra: ServerContext;
  readonly progress: Context['progress'];
  readonly log: Context['log'];
  readonly push: Context['push'];
  readonly sample: Context['sample'];
  readonly elicit: Context['elicit'];
  readonly roots: Context['roots'];
  readonly input: Context['input'];
  readonly closeStream: Context['closeStream'];
  readonly runAsTask: Context['runAsTask'];
  readonly #sources: ContextSources;
  #logger: Logger | undefined;
  #headers: Headers | undefined;

  constructor(fields: ContextFields, sources: ContextSources) {
    this.sessionId = fields.sessionId;
    this.requestId = fields.requestId;
    this.signal = fields.signal;
    this.auth = fields.auth;
    this.extra = fields.extra;
    this.progress = fields.progress;
    this.log = fields.log;
    this.push = fields.push;
    this.sample = fields.sample;
    this.elicit = fields.elicit;
    this.roots = fields.roots;
    this.input = fields.input;
    this.closeStream = fields.closeStream;
    this.runAsTask = fields.runAsTask;
    this.#sources = sources;
  }

  /** A child logger, made on first read: most calls never log. */
  get logger(): Logger {
    return (this.#logger ??= this.#sources.logger());
  }

  /** Read on demand: the hub copies a request's headers for handlers only when asked. */
  get headers(): Headers {
    return (this.#headers ??= this.#sources.headers() ?? {});
  }

  get clientCapabilities(): ClientCapabilities | undefined {
    return this.#sources.clientCapabilities();
  }
}

/** The {@link ResourceContext} of a resource read: a {@link HandlerContext} with the URI read. */
export class ResourceHandlerContext extends HandlerContext implements ResourceContext {
  readonly uri: URL;

  constructor(fields: ContextFields, sources: ContextSources, uri: URL) {
    super(fields, sources);
    this.uri = uri;
  }
}
