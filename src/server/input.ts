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

/** Sends one request to the client of a 2025 session and waits for its answer. */
export type SessionAsk = <T>(capability: keyof ClientCapabilities, request: ServerRequest, timeoutMs: number | undefined) => Promise<T>;

/** The capability a client must declare for each kind of question. */
const CAPABILITY: Record<InputRequest['method'], keyof ClientCapabilities> = {
  'elicitation/create': 'elicitation',
  'sampling/createMessage': 'sampling',
  'roots/list': 'roots',
};

/**
 * The input methods of a handler's {@link Context} (`sample`, `elicit`, `roots`, `input`), written
 * once for both eras: answered from the request's rounds when `round` is given (a 2026-07-28
 * request: an unanswered question ends the run in `input_required`), asked over the session
 * with `ask` otherwise.
 */
export function inputMethods(
  round: InputRound | undefined,
  ask: SessionAsk,
  declared: () => ClientCapabilities | undefined,
): Pick<Context, 'sample' | 'elicit' | 'roots' | 'input'> {
  /** On a 2025 session: the request as that era sends it (a URL elicitation needs an id there). */
  const toSession = (request: InputRequest): ServerRequest => {
    if (request.method !== 'elicitation/create' || request.params.mode !== 'url') return request as ServerRequest;
    const capabilities = declared();
    // A bare `elicitation: {}` means form only (2025-11-25).
    if (capabilities?.elicitation !== undefined && capabilities.elicitation.url === undefined) {
      throw new ProtocolError(ProtocolErrorCode.InvalidRequest, 'The client does not support URL elicitation (it did not declare elicitation.url)');
    }
    const params = request.params as typeof request.params & { elicitationId?: string };
    return { method: 'elicitation/create', params: { ...params, elicitationId: params.elicitationId ?? randomUUID() } } as ServerRequest;
  };
  /** On a 2026 request: the request as that era embeds it (a URL elicitation has no id there). */
  const toRound = (request: InputRequest): InputRequest => {
    if (request.method !== 'elicitation/create' || request.params.mode !== 'url') return request;
    // The SDK types the embedded request with the 2025 URL shape; 2026-07-28 has no id in it.
    const { elicitationId: _ignored, ...params } = request.params as typeof request.params & { elicitationId?: string };
    return { method: 'elicitation/create', params } as InputRequest;
  };
  const one = async <T>(kind: string, request: InputRequest, options: { key?: string; timeoutMs?: number } | undefined): Promise<T> => {
    if (round) return round.answer(options?.key ?? round.nextKey(kind), toRound(request)) as T;
    return ask<T>(CAPABILITY[request.method], toSession(request), options?.timeoutMs);
  };
  return {
    sample: (params, options) => one<CreateMessageResult>('sample', { method: 'sampling/createMessage', params }, options),
    elicit: (params, options) =>
      one<ElicitResult>('elicit', { method: 'elicitation/create', params: params.mode === 'url' ? params : { ...params, mode: 'form' } } as InputRequest, options),
    roots: (options) => one<ListRootsResult>('roots', { method: 'roots/list' }, options),
    input: async <K extends string>(requests: Record<K, InputRequest>, options?: { timeoutMs?: number }) => {
      if (round) {
        const embedded = Object.fromEntries(Object.entries<InputRequest>(requests).map(([key, request]) => [key, toRound(request)])) as Record<K, InputRequest>;
        return round.answers(embedded);
      }
      const answers = await Promise.all(
        Object.entries<InputRequest>(requests).map(async ([key, request]) => [key, await ask<InputResponse>(CAPABILITY[request.method], toSession(request), options?.timeoutMs)] as const),
      );
      return Object.fromEntries(answers) as Record<K, InputResponse>;
    },
  };
}

/** Runs a handler: in its input round on a 2026-07-28 request (see `InputRound.run`), as is otherwise. */
export async function runInRound<R>(round: InputRound | undefined, handler: () => R | Promise<R>): Promise<R | InputRequiredResult> {
  return round ? round.run(handler) : handler();
}
