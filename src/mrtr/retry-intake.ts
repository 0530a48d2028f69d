import type { JSONRPCMessage, MessageExtraInfo, RequestId, Transport, TransportSendOptions } from '@modelcontextprotocol/server';
import { TransportMiddleware } from '../server/transport-middleware.js';
import { BoundedMap } from '../util/bounded-map.js';
import type { RequestBinding } from './request-state.js';

/** The requests that may answer `input_required` (MCP 2026-07-28, multi round-trip requests). */
export const INPUT_REQUIRED_METHODS: ReadonlySet<string> = new Set(['tools/call', 'prompts/get', 'resources/read']);

/** Largest `inputResponses` of one retry, in bytes of JSON (`HTTMCP_MAX_INPUT_RESPONSES_BYTES`). */
export const DEFAULT_MAX_INPUT_RESPONSES_BYTES = 256 * 1024;

const INVALID_PARAMS = -32602;

/** Options of {@link RetryIntake}. */
export interface RetryIntakeOptions {
  /** See {@link DEFAULT_MAX_INPUT_RESPONSES_BYTES}. */
  maxInputResponsesBytes?: number;
  /**
   * Who sent a request, from what the transport delivered with it ('' when anonymous). The
   * binding of a `requestState` to its principal rests on it.
   */
  principal: (id: RequestId, extra: MessageExtraInfo | undefined) => string;
  /** Bindings kept for requests in flight; the oldest are forgotten past it (their state cannot be minted). */
  maxInFlight?: number;
}

/**
 * The first stop of a 2026-era request that may go several rounds, as a Transport between the
 * SDK server and the transport that delivers requests.
 *
 * On its way in, a `tools/call`, `prompts/get` or `resources/read` whose `inputResponses` is not
 * an object or is larger than the limit, or whose `requestState` is not a string, is answered
 * `-32602` here and never reaches the server (nothing runs, nothing is published). The others
 * are delivered, and what their `requestState` is bound to (principal, method, params) is kept
 * until their reply or cancellation, for {@link binding}.
 */
export class RetryIntake extends TransportMiddleware {
  private readonly bindings: BoundedMap<RequestId, RequestBinding>;
  private readonly maxBytes: number;

  constructor(
    inner: Transport,
    private readonly options: RetryIntakeOptions,
  ) {
    super(inner);
    this.maxBytes = options.maxInputResponsesBytes ?? DEFAULT_MAX_INPUT_RESPONSES_BYTES;
    if (!(this.maxBytes > 0)) throw new RangeError(`the inputResponses limit must be positive, got ${this.maxBytes}`);
    this.bindings = new BoundedMap(options.maxInFlight ?? 100_000);
  }

  override send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.bindings.size > 0 && ('result' in message || 'error' in message) && message.id !== undefined) this.bindings.delete(message.id);
    return this.inner.send(message, options);
  }

  /** What the request `id` (in flight) is, for binding its `requestState`. */
  binding(id: RequestId): RequestBinding | undefined {
    return this.bindings.get(id);
  }

  protected override receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    if ('method' in message && 'id' in message && INPUT_REQUIRED_METHODS.has(message.method)) {
      const refusal = this.refusal(message.params);
      if (refusal) {
        void this.inner
          .send({ jsonrpc: '2.0', id: message.id, error: { code: INVALID_PARAMS, ...refusal } })
          .catch((error: unknown) => this.onerror?.(error instanceof Error ? error : new Error(String(error))));
        return;
      }
      this.bindings.set(message.id, { principal: this.options.principal(message.id, extra), method: message.method, params: message.params });
    } else if ('method' in message && message.method === 'notifications/cancelled') {
      // A cancelled request gets no reply: forget its binding here.
      const requestId = (message.params as { requestId?: RequestId } | undefined)?.requestId;
      if (requestId !== undefined) this.bindings.delete(requestId);
    }
    this.onmessage?.(message, extra);
  }

  /** Why the retry fields of `params` are refused, or undefined when they are acceptable. */
  private refusal(params: unknown): { message: string; data?: Record<string, unknown> } | undefined {
    if (params === null || typeof params !== 'object') return undefined;
    const { inputResponses, requestState } = params as { inputResponses?: unknown; requestState?: unknown };
    if (requestState !== undefined && typeof requestState !== 'string') return { message: 'requestState must be a string (echo the value the server sent)' };
    if (inputResponses === undefined) return undefined;
    if (inputResponses === null || typeof inputResponses !== 'object' || Array.isArray(inputResponses)) {
      return { message: 'inputResponses must be an object mapping the keys of inputRequests to their results' };
    }
    const bytes = Buffer.byteLength(JSON.stringify(inputResponses), 'utf8');
    if (bytes > this.maxBytes) {
      return {
        message: `inputResponses is ${bytes} bytes of JSON, more than the ${this.maxBytes} this server accepts (HTTMCP_MAX_INPUT_RESPONSES_BYTES)`,
        data: { limit: 'inputResponsesBytes', setting: 'HTTMCP_MAX_INPUT_RESPONSES_BYTES', max: this.maxBytes },
      };
    }
    return undefined;
  }
}
