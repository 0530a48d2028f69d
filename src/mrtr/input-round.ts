import {
  CLIENT_CAPABILITIES_META_KEY,
  inputRequired,
  isSpecType,
  ProtocolError,
  ProtocolErrorCode,
  type InputRequest,
  type InputRequiredResult,
  type ClientCapabilities,
  type InputResponse,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { digest, type RequestStates } from './request-state.js';

/**
 * What httmcp's `requestState` carries from one round of a request to the next: the answers the
 * handler already got, by input key, each with a digest of the question it answers. The client
 * sends only the latest round's answers; the earlier ones come back from here when the handler
 * re-runs.
 */
export interface InputState {
  v: 1;
  answers: Record<string, [question: string, response: unknown]>;
}

/** Whether `response` is a well-formed answer to a request of `method`. */
const ANSWER_SHAPES: Record<InputRequest['method'], (response: unknown) => boolean> = {
  'elicitation/create': (response) => isSpecType.ElicitResult(response),
  'sampling/createMessage': (response) => isSpecType.CreateMessageResult(response) || isSpecType.CreateMessageResultWithTools(response),
  'roots/list': (response) => isSpecType.ListRootsResult(response),
};

/** The capability a client must declare for each kind of question (its top-level key). */
const CAPABILITY: Record<InputRequest['method'], keyof ClientCapabilities> = {
  'elicitation/create': 'elicitation',
  'sampling/createMessage': 'sampling',
  'roots/list': 'roots',
};

/**
 * Thrown by `ctx.elicit`, `ctx.sample`, `ctx.roots` and `ctx.input` on a 2026-era request whose
 * answer has not arrived yet. httmcp catches it around the handler and answers
 * `input_required`; the client asks the user (or its model) and sends the request again, and
 * the handler runs again from the start, this time getting the answer.
 *
 * Let it propagate: a handler that catches it still ends in `input_required` (what it returned
 * is dropped), so it can only waste work.
 */
export class InputRequiredSignal extends Error {
  constructor(readonly keys: readonly string[]) {
    super(`input required (${keys.join(', ')}): the handler runs again when the client retries with the answers`);
    this.name = 'InputRequiredSignal';
  }
}

/** No answers: shared by the rounds that have none (most), which only read it. */
const NONE: Readonly<Record<string, never>> = Object.freeze({});

/**
 * One run of a handler serving a 2026-era `tools/call`, `prompts/get` or `resources/read`: hands
 * out the answers this round has (the retry's `inputResponses`, and the earlier rounds' from the
 * verified `requestState`), collects the questions it lacks, and turns them into an
 * `input_required` result with a freshly signed state.
 *
 * Re-run semantics: each round runs the handler from the start, so a handler must do nothing
 * it cannot repeat before its last question (or make it idempotent).
 */
export class InputRound {
  private readonly given: Record<string, unknown>;
  private readonly carried: InputState['answers'];
  // The maps below are made on first use: most runs ask the client nothing.
  /** Answers handed out in this run, kept for the next round's state. */
  private answered: Map<string, [string, unknown]> | undefined;
  /** Questions asked in this run that have no answer yet. */
  private pending: Map<string, InputRequest> | undefined;
  /** The question asked under each key in this run (a key means one question per run). */
  private asked: Map<string, string> | undefined;
  private sequence = 0;

  constructor(
    private readonly ctx: ServerContext,
    private readonly states: RequestStates<InputState>,
    /** Largest JSON of the answers a state may carry (the `inputResponses` limit). */
    private readonly maxCarriedBytes: number,
  ) {
    this.given = ctx.mcpReq.inputResponses ?? NONE;
    const state = ctx.mcpReq.requestState<InputState>();
    this.carried = isInputState(state) ? state.answers : NONE;
  }

  /** A key for the next question of a handler that does not name its own: `elicit-1`, `sample-2`... */
  nextKey(kind: string): string {
    return `${kind}-${++this.sequence}`;
  }

  /**
   * The answer to `request` under `key`, or {@link InputRequiredSignal} after noting the question.
   * The retry's own answer wins; else one carried from an earlier round for the same question.
   * An answer of the wrong shape counts as missing (the question is asked again).
   */
  answer(key: string, request: InputRequest): InputResponse {
    const found = this.lookup(key, request);
    if (found === undefined) throw new InputRequiredSignal([key]);
    return found;
  }

  /**
   * The answers to every request of `requests`, or {@link InputRequiredSignal} after noting all
   * the questions that lack one (so the client gets them in one round).
   */
  answers<K extends string>(requests: Record<K, InputRequest>): Record<K, InputResponse> {
    const result = {} as Record<K, InputResponse>;
    const missing: string[] = [];
    for (const [key, request] of Object.entries(requests) as [K, InputRequest][]) {
      const found = this.lookup(key, request);
      if (found === undefined) missing.push(key);
      else result[key] = found;
    }
    if (missing.length > 0) throw new InputRequiredSignal(missing);
    return result;
  }

  /**
   * Runs the handler: its own result when it asked nothing it lacks an answer to, otherwise the
   * `input_required` result naming every unanswered question and carrying the answers so far.
   */
  async run<R>(handler: () => R | Promise<R>): Promise<R | InputRequiredResult> {
    try {
      const value = await handler();
      if (this.pending === undefined) return value;
    } catch (error) {
      if (this.pending === undefined) throw error;
    }
    const inputRequests = Object.fromEntries(this.pending ?? []);
    // A question whose capability the client did not declare at all is refused by the SDK
    // (-32021) whatever the state says. Without a state to sign (a thread-pool round trip) the
    // refusal leaves in the same turn, within the inline budget, so it keeps its HTTP 400 on a
    // loaded machine too (src/http/status-hold.ts says why that matters).
    if (this.undeclared(inputRequests)) return inputRequired({ inputRequests });
    const answers = Object.fromEntries(this.answered ?? []);
    const bytes = Buffer.byteLength(JSON.stringify(answers), 'utf8');
    if (bytes > this.maxCarriedBytes) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `the answers of this request add up to ${bytes} bytes of JSON, more than the ${this.maxCarriedBytes} this server carries between rounds (HTTMCP_MAX_INPUT_RESPONSES_BYTES)`,
      );
    }
    return inputRequired({
      inputRequests,
      requestState: await this.states.mint({ v: 1, answers }, this.ctx),
    });
  }

  /** Whether some question needs a capability the request's client declared nothing of. */
  private undeclared(requests: Record<string, InputRequest>): boolean {
    const declared = (this.ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined;
    return Object.values(requests).some((request) => declared?.[CAPABILITY[request.method]] === undefined);
  }

  private lookup(key: string, request: InputRequest): InputResponse | undefined {
    const question = digest(request);
    const asked = (this.asked ??= new Map());
    const earlier = asked.get(key);
    if (earlier !== undefined && earlier !== question) {
      throw new TypeError(`input key ${JSON.stringify(key)} was used for two different questions in one run: give each question its own key`);
    }
    asked.set(key, question);
    const valid = ANSWER_SHAPES[request.method];
    const fresh = this.given[key];
    const carried = this.carried[key];
    const response = fresh !== undefined && valid(fresh) ? fresh : carried && carried[0] === question && valid(carried[1]) ? carried[1] : undefined;
    if (response === undefined) {
      (this.pending ??= new Map()).set(key, request);
      return undefined;
    }
    (this.answered ??= new Map()).set(key, [question, response]);
    return response as InputResponse;
  }
}

function isInputState(value: unknown): value is InputState {
  if (value === null || typeof value !== 'object') return false;
  const { v, answers } = value as Partial<InputState>;
  return v === 1 && answers !== null && typeof answers === 'object' && !Array.isArray(answers);
}
