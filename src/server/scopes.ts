import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, type JSONRPCMessage, type JSONRPCRequest, type MessageExtraInfo, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { principalOfAuthInfo } from '../auth/auth-info.js';
import { TransportMiddleware } from './transport-middleware.js';

/** The scopes each tool needs, by tool name (tools that need none are absent). */
export type ToolScopes = ReadonlyMap<string, readonly string[]>;

/** The scopes of `needed` that `granted` lacks. */
export function missingScopes(needed: readonly string[] | undefined, granted: readonly string[]): string[] {
  return needed ? needed.filter((scope) => !granted.includes(scope)) : [];
}

/**
 * Per-tool scopes, as transport middleware between the SDK server and its transport: a
 * principal's `tools/list` shows only the tools its scopes allow, and a `tools/call` of any other
 * tool is answered with an `insufficient_scope` error without reaching the SDK server or a handler.
 *
 * Enforced only for requests that carry a principal (authentication on); without one every tool
 * is listed and callable, as without authentication everything is.
 */
export class ScopedTransport extends TransportMiddleware {
  /** tools/list requests being answered, by id: the scopes of whoever asked. */
  private readonly lists = new Map<RequestId, readonly string[]>();

  constructor(
    inner: Transport,
    private readonly scopesOf: ToolScopes,
  ) {
    super(inner);
  }

  override send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.lists.size > 0 && 'id' in message && message.id !== undefined && ('result' in message || 'error' in message)) {
      const granted = this.lists.get(message.id);
      if (granted) {
        this.lists.delete(message.id);
        if ('result' in message) return this.inner.send({ ...message, result: this.filter(message.result, granted) }, options);
      }
    }
    return this.inner.send(message, options);
  }

  protected override receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    const principal = this.scopesOf.size > 0 ? principalOfAuthInfo(extra?.authInfo) : undefined;
    if (principal && 'method' in message && 'id' in message) {
      const request = message as JSONRPCRequest;
      if (request.method === 'tools/list') {
        this.lists.set(request.id, principal.scopes);
      } else if (request.method === 'tools/call') {
        const name = (request.params as { name?: unknown } | undefined)?.name;
        const missing = typeof name === 'string' ? missingScopes(this.scopesOf.get(name), principal.scopes) : [];
        if (missing.length > 0) {
          void this.inner.send({
            jsonrpc: '2.0',
            id: request.id,
            error: {
              code: ErrorCode.InvalidRequest,
              message: `Forbidden: tool ${name as string} needs scope ${missing.join(' ')} (insufficient_scope)`,
              data: { error: 'insufficient_scope', scope: (this.scopesOf.get(name as string) ?? []).join(' ') },
            },
          });
          return;
        }
      }
    }
    this.onmessage?.(message, extra);
  }

  private filter(result: Record<string, unknown>, granted: readonly string[]): Record<string, unknown> {
    const tools = result.tools;
    if (!Array.isArray(tools)) return result;
    return { ...result, tools: tools.filter((tool: { name: string }) => missingScopes(this.scopesOf.get(tool.name), granted).length === 0) };
  }
}
