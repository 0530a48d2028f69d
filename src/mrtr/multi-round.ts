import type { MessageExtraInfo, RequestId, ServerContext, Transport } from '@modelcontextprotocol/server';
import { InputRound, type InputState } from './input-round.js';
import { RequestStates } from './request-state.js';
import { DEFAULT_MAX_INPUT_RESPONSES_BYTES, RetryIntake } from './retry-intake.js';

/** The first protocol revision with multi-round-trip requests (and no server-to-client requests). */
const FIRST_MODERN_REVISION = '2026-07-28';

/** Options of {@link MultiRound}. */
export interface MultiRoundOptions {
  /** The MCP server's name (states are bound to it). */
  server: string;
  /** `HTTMCP_SESSION_SECRET`: the states' key is derived from it. */
  sessionSecret: string | Uint8Array;
  /** Lifetime of a `requestState` in seconds (`HTTMCP_REQUEST_STATE_TTL`, default 600). */
  ttlSeconds?: number;
  /** Largest `inputResponses` of a retry, and of the answers a state carries (`HTTMCP_MAX_INPUT_RESPONSES_BYTES`, default 256 KiB). */
  maxInputResponsesBytes?: number;
  /** Who sent request `id` ('' when anonymous), from what its transport delivered with it. */
  principal?: (id: RequestId, extra: MessageExtraInfo | undefined) => string;
  /** Requests in flight whose binding is kept (the server's in-flight bound; default 100,000). */
  maxInFlight?: number;
}

/**
 * Multi-round-trip requests (MCP 2026-07-28) for ONE SDK server instance: put {@link intake}
 * between the instance and its transport, pass {@link serverOptions} to its constructor, and
 * run each `tools/call`, `prompts/get` and `resources/read` handler through {@link round}.
 *
 * Nothing is stored between rounds: the answers travel in the signed `requestState`, which any
 * backend holding the same session secret verifies.
 */
export class MultiRound {
  readonly states: RequestStates<InputState>;
  private intakeTransport: RetryIntake | undefined;
  private readonly maxBytes: number;

  constructor(private readonly options: MultiRoundOptions) {
    this.maxBytes = options.maxInputResponsesBytes ?? DEFAULT_MAX_INPUT_RESPONSES_BYTES;
    this.states = new RequestStates<InputState>({
      sessionSecret: options.sessionSecret,
      server: options.server,
      ...(options.ttlSeconds === undefined ? {} : { ttlSeconds: options.ttlSeconds }),
      binding: (ctx) => this.intakeTransport?.binding(ctx.mcpReq.id),
    });
  }

  /** The `ServerOptions` member that makes the SDK verify every echoed `requestState` before the handler. */
  get serverOptions(): { requestState: { verify: RequestStates<InputState>['verify'] } } {
    return { requestState: { verify: this.states.verify } };
  }

  /** Wraps the transport the instance is served on (one per instance). */
  intake(inner: Transport): Transport {
    if (this.intakeTransport) throw new Error(`${this.options.server}: this MultiRound already wraps a transport (use one per SDK server instance)`);
    return (this.intakeTransport = new RetryIntake(inner, {
      maxInputResponsesBytes: this.maxBytes,
      principal: this.options.principal ?? (() => ''),
      ...(this.options.maxInFlight === undefined ? {} : { maxInFlight: this.options.maxInFlight }),
    }));
  }

  /**
   * A round for the handler serving `ctx`, when its instance serves the 2026 era (no
   * server-to-client requests there); undefined on a 2025-era instance, where input is asked
   * with real requests to the client.
   */
  round(ctx: ServerContext, negotiatedVersion: string | undefined): InputRound | undefined {
    if (negotiatedVersion === undefined || negotiatedVersion < FIRST_MODERN_REVISION) return undefined;
    return new InputRound(ctx, this.states, this.maxBytes);
  }
}
