import {
  ProtocolErrorCode,
  UriTemplate,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type MessageExtraInfo,
  type RequestId,
  type Transport,
  type TransportSendOptions,
} from '@modelcontextprotocol/server';
import { principalOfAuthInfo } from '../auth/auth-info.js';
import { TransportMiddleware } from './transport-middleware.js';
import { authInfoOfFacts } from './request-facts.js';

/** The scopes of `needed` that `granted` lacks. */
export function missingScopes(needed: readonly string[] | undefined, granted: readonly string[]): string[] {
  return needed ? needed.filter((scope) => !granted.includes(scope)) : [];
}

/** What a request uses that may need scopes: a tool, a prompt or a resource. */
export interface ScopedTarget {
  kind: 'tool' | 'prompt' | 'resource';
  /** The tool's or prompt's name, or the resource's URI. */
  name: string;
}

/**
 * The scopes each tool, prompt and resource needs (those that need none are absent). A resource
 * template's scopes cover every URI it matches.
 */
export class Scopes {
  readonly tools = new Map<string, readonly string[]>();
  readonly prompts = new Map<string, readonly string[]>();
  private readonly resources = new Map<string, readonly string[]>();
  private readonly templates = new Map<string, { template: UriTemplate; scopes: readonly string[] }>();

  /** How many things need scopes (0: nothing to enforce). */
  get size(): number {
    return this.tools.size + this.prompts.size + this.resources.size + this.templates.size;
  }

  /** Records the scopes a resource (a `{variable}` URI: a template) needs. */
  setResource(uri: string, scopes: readonly string[]): void {
    if (uri.includes('{')) this.templates.set(uri, { template: new UriTemplate(uri), scopes });
    else this.resources.set(uri, scopes);
  }

  /** The scopes `target` needs, or undefined when it needs none. */
  of(target: ScopedTarget): readonly string[] | undefined {
    switch (target.kind) {
      case 'tool':
        return this.tools.get(target.name);
      case 'prompt':
        return this.prompts.get(target.name);
      case 'resource': {
        const exact = this.resources.get(target.name);
        if (exact) return exact;
        for (const { template, scopes } of this.templates.values()) if (template.match(target.name)) return scopes;
        return undefined;
      }
    }
  }

  /** The scopes of a resource template, by its URI template. */
  ofTemplate(uriTemplate: string): readonly string[] | undefined {
    return this.templates.get(uriTemplate)?.scopes;
  }

  /**
   * What a request uses, for the requests that use one thing: `tools/call`, `prompts/get`,
   * `resources/read`, `resources/subscribe` and `completion/complete`.
   */
  static targetOf(method: string, params: unknown): ScopedTarget | undefined {
    const p = (params ?? {}) as { name?: unknown; uri?: unknown; ref?: { type?: unknown; name?: unknown; uri?: unknown } };
    switch (method) {
      case 'tools/call':
        return named('tool', p.name);
      case 'prompts/get':
        return named('prompt', p.name);
      case 'resources/read':
      case 'resources/subscribe':
        return named('resource', p.uri);
      case 'completion/complete':
        return p.ref?.type === 'ref/prompt' ? named('prompt', p.ref.name) : p.ref?.type === 'ref/resource' ? named('resource', p.ref.uri) : undefined;
      default:
        return undefined;
    }
  }
}

/** A target of `kind` when `name` is a string (a module function: a closure per call costs the hot path an allocation). */
function named(kind: ScopedTarget['kind'], name: unknown): ScopedTarget | undefined {
  return typeof name === 'string' ? { kind, name } : undefined;
}

/**
 * The JSON-RPC error refusing `request` to a principal granted `granted`, when it uses a tool,
 * prompt or resource that needs scopes the principal lacks (undefined: allowed).
 */
export function scopeRefusal(scopes: Scopes, request: { method: string; params?: unknown }, granted: readonly string[]): { code: number; message: string; data: { error: 'insufficient_scope'; scope: string } } | undefined {
  const target = Scopes.targetOf(request.method, request.params);
  const needed = target ? scopes.of(target) : undefined;
  const missing = missingScopes(needed, granted);
  if (!target || missing.length === 0) return undefined;
  return {
    code: ProtocolErrorCode.InvalidRequest,
    message: `Forbidden: ${target.kind} ${target.name} needs scope ${missing.join(' ')} (insufficient_scope)`,
    data: { error: 'insufficient_scope', scope: needed!.join(' ') },
  };
}

/** The list methods whose answers are filtered, and what each lists. */
type ListFilter = (result: Record<string, unknown>, scopes: Scopes, granted: readonly string[]) => Record<string, unknown>;
const LISTS = new Map<string, ListFilter>(Object.entries({
  'tools/list': (result, scopes, granted) => only(result, 'tools', (item) => scopes.tools.get(item.name as string), granted),
  'prompts/list': (result, scopes, granted) => only(result, 'prompts', (item) => scopes.prompts.get(item.name as string), granted),
  'resources/list': (result, scopes, granted) => only(result, 'resources', (item) => scopes.of({ kind: 'resource', name: item.uri as string }), granted),
  'resources/templates/list': (result, scopes, granted) => only(result, 'resourceTemplates', (item) => scopes.ofTemplate(item.uriTemplate as string), granted),
} satisfies Record<string, ListFilter>));

function only(
  result: Record<string, unknown>,
  key: string,
  needs: (item: Record<string, unknown>) => readonly string[] | undefined,
  granted: readonly string[],
): Record<string, unknown> {
  const items = result[key];
  if (!Array.isArray(items)) return result;
  return { ...result, [key]: items.filter((item: Record<string, unknown>) => missingScopes(needs(item), granted).length === 0) };
}

/**
 * Scopes as transport middleware between the SDK server and its transport: a principal's
 * `tools/list`, `prompts/list`, `resources/list` and `resources/templates/list` show only what
 * its scopes allow, and a request that uses anything else (`tools/call`, `prompts/get`,
 * `resources/read`, …) is answered with an `insufficient_scope` error without reaching the SDK
 * server or a handler.
 *
 * Enforced only for requests that carry a principal (authentication on); without one everything
 * is listed and usable, as without authentication everything is.
 */
export class ScopedTransport extends TransportMiddleware {
  /** List requests being answered, by id: their method and the scopes of whoever asked. */
  private readonly lists = new Map<RequestId, { method: string; granted: readonly string[] }>();

  constructor(
    inner: Transport,
    private readonly scopes: Scopes,
  ) {
    super(inner);
  }

  override send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.lists.size > 0 && 'id' in message && message.id !== undefined && ('result' in message || 'error' in message)) {
      const list = this.lists.get(message.id);
      if (list) {
        this.lists.delete(message.id);
        if ('result' in message) return this.inner.send({ ...message, result: LISTS.get(list.method)!(message.result, this.scopes, list.granted) }, options);
      }
    }
    return this.inner.send(message, options);
  }

  protected override receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    // The session hub keeps a request's authInfo in its facts rather than in `extra`.
    const request = this.scopes.size > 0 && 'method' in message && 'id' in message ? (message as JSONRPCRequest) : undefined;
    const principal = request ? principalOfAuthInfo(authInfoOfFacts(this.inner, request.id, extra)) : undefined;
    if (request && principal) {
      if (LISTS.has(request.method)) {
        this.lists.set(request.id, { method: request.method, granted: principal.scopes });
      } else {
        const error = scopeRefusal(this.scopes, request, principal.scopes);
        if (error) {
          void this.inner.send({ jsonrpc: '2.0', id: request.id, error });
          return;
        }
      }
    }
    this.onmessage?.(message, extra);
  }
}
