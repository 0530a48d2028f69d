import { randomUUID } from 'node:crypto';
import {
  ProtocolError,
  ProtocolErrorCode,
  type ClientCapabilities,
  type CreateMessageResult,
  type ElicitResult,
  type InputRequest,
  type InputRequiredResult,
  type InputResponse,
  type ListRootsResult,
  type ServerRequest,
} from '@modelcontextprotocol/server';
import type { InputRound } from '../mrtr/input-round.js';
import type { Context } from './types.js';

/** How a 2025 session's client is asked, and what it declared (a request's context sources). */
export interface SessionAsker {
  /** Sends one request to the client of a 2025 session and waits for its answer. */
  ask<T>(capability: keyof ClientCapabilities, request: ServerRequest, timeoutMs: number | undefined): Promise<T>;
  /** What the client declared it supports. */
  clientCapabilities(): ClientCapabilities | undefined;
}

/** The capability a client must declare for each kind of question. */
const CAPABILITY: Record<InputRequest['method'], keyof ClientCapabilities> = {
  'elicitation/create': 'elicitation',
  'sampling/createMessage': 'sampling',
  'roots/list': 'roots',
};

/** On a 2025 session: the request as that era sends it (a URL elicitation needs an id there). */
function toSession(request: InputRequest, session: SessionAsker): ServerRequest {
  if (request.method !== 'elicitation/create' || request.params.mode !== 'url') return request as ServerRequest;
  const capabilities = session.clientCapabilities();
  // A bare `elicitation: {}` means form only (2025-11-25).
  if (capabilities?.elicitation !== undefined && capabilities.elicitation.url === undefined) {
    throw new ProtocolError(ProtocolErrorCode.InvalidRequest, 'The client does not support URL elicitation (it did not declare elicitation.url)');
  }
  const params = request.params as typeof request.params & { elicitationId?: string };
  return { method: 'elicitation/create', params: { ...params, elicitationId: params.elicitationId ?? randomUUID() } } as ServerRequest;
}

/** On a 2026 request: the request as that era embeds it (a URL elicitation has no id there). */
function toRound(request: InputRequest): InputRequest {
  if (request.method !== 'elicitation/create' || request.params.mode !== 'url') return request;
  // The SDK types the embedded request with the 2025 URL shape; 2026-07-28 has no id in it.
  const { elicitationId: _ignored, ...params } = request.params as typeof request.params & { elicitationId?: string };
  return { method: 'elicitation/create', params } as InputRequest;
}

/**
 * One question: answered from the round on a 2026-07-28 request, asked over the session otherwise.
 * Async so that whatever it throws (a refused URL elicitation, a missing answer) is a rejection.
 */
async function one<T>(round: InputRound | undefined, session: SessionAsker, kind: string, request: InputRequest, options: { key?: string; timeoutMs?: number } | undefined): Promise<T> {
  if (round) return round.answer(options?.key ?? round.nextKey(kind), toRound(request)) as T;
  return session.ask<T>(CAPABILITY[request.method], toSession(request, session), options?.timeoutMs);
}

/**
 * The input methods of a handler's {@link Context} (`sample`, `elicit`, `roots`, `input`), written
 * once for both eras: answered from the request's rounds when `round` is given (a 2026-07-28
 * request: an unanswered question ends the run in `input_required`), asked over the session
 * with `session` otherwise. Made on every call: only the four methods close over the request,
 * the rest is module-level.
 */
export function inputMethods(round: InputRound | undefined, session: SessionAsker): Pick<Context, 'sample' | 'elicit' | 'roots' | 'input'> {
  return {
    sample: (params, options) => one<CreateMessageResult>(round, session, 'sample', { method: 'sampling/createMessage', params }, options),
    elicit: (params, options) =>
      one<ElicitResult>(round, session, 'elicit', { method: 'elicitation/create', params: params.mode === 'url' ? params : { ...params, mode: 'form' } } as InputRequest, options),
    roots: (options) => one<ListRootsResult>(round, session, 'roots', { method: 'roots/list' }, options),
    input: async <K extends string>(requests: Record<K, InputRequest>, options?: { timeoutMs?: number }) => {
      if (round) {
        const embedded = Object.fromEntries(Object.entries<InputRequest>(requests).map(([key, request]) => [key, toRound(request)])) as Record<K, InputRequest>;
        return round.answers(embedded);
      }
      const answers = await Promise.all(
        Object.entries<InputRequest>(requests).map(async ([key, request]) => [key, await session.ask<InputResponse>(CAPABILITY[request.method], toSession(request, session), options?.timeoutMs)] as const),
      );
      return Object.fromEntries(answers) as Record<K, InputResponse>;
    },
  };
}

/**
 * Runs a handler with its arguments and context: in its input round on a 2026-07-28 request (see
 * `InputRound.run`), as is otherwise (no closure and no promise of its own then: called on every
 * 2025 call). What a handler throws synchronously is thrown here: callers await it in a `try`.
 */
export function runInRound<A, C extends Context, R>(round: InputRound | undefined, handler: (args: A, ctx: C) => R | Promise<R>, args: A, ctx: C): R | Promise<R | InputRequiredResult> {
  return round ? round.run(() => handler(args, ctx)) : handler(args, ctx);
}
