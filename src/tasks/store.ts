/**
 * The durable half of the Tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663): what a
 * task is once created, and the store that keeps it. The protocol half is in `extension.ts`.
 */

/** A task's status, as the spec names them. */
export type TaskStatus = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';

/** Statuses a task never leaves. */
export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'cancelled']);

/** A JSON object, as results, errors and requests are kept. */
export type JsonObject = { [key: string]: unknown };

/** A JSON-RPC error, as a failed task carries it. */
export interface TaskError {
  code: number;
  message: string;
  data?: unknown;
}

/** Everything the store keeps about one task. */
export interface TaskRecord {
  /** Unguessable (128 random bits): it is the only handle a client has. */
  taskId: string;
  /** Who created it (a digest, never a credential); only this principal can see it. */
  principal: string;
  status: TaskStatus;
  statusMessage?: string;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601. */
  lastUpdatedAt: string;
  /** Retention from creation; the store forgets the task after it. */
  ttlMs: number;
  pollIntervalMs: number;
  /**
   * The backend process running the work while `working` (its lease id). A `working` task whose
   * owner's lease lapsed reads as `failed`: the process died with the work.
   */
  owner?: string;
  /** The request the task stands for (`tools/call` params), to run it again with input. */
  request?: JsonObject;
  /** Outstanding input requests while `input_required`, by key. */
  inputRequests?: Record<string, JsonObject>;
  /** The `requestState` the last input round returned, echoed on the next round. */
  requestState?: string;
  /** Every input response received so far, by key (a rerun gets all of them). */
  inputResponses?: Record<string, unknown>;
  /** The result, when `completed`. */
  result?: JsonObject;
  /** The JSON-RPC error, when `failed`. */
  error?: TaskError;
}

/** What creating a task needs; the store fills in the rest. */
export interface NewTask {
  taskId: string;
  principal: string;
  ttlMs: number;
  pollIntervalMs: number;
  owner: string;
  request: JsonObject;
  /** Stored tasks one principal may have at a time (expired ones do not count). */
  maxPerPrincipal: number;
}

/** A change to a task that is not yet terminal. */
export type TaskTransition =
  | { status: 'working'; owner: string; statusMessage?: string }
  | { status: 'input_required'; inputRequests: Record<string, JsonObject>; requestState?: string; statusMessage?: string }
  | { status: 'completed'; result: JsonObject; statusMessage?: string }
  | { status: 'failed'; error: TaskError; statusMessage?: string };

/** What `answer` did with a client's input responses. */
export interface AnswerOutcome {
  record: TaskRecord;
  /**
   * True when these responses answered the last outstanding request: the task went back to
   * `working`, owned by the caller, which must run it again. Exactly one caller sees this.
   */
  resume: boolean;
}

/** Thrown by `create` when the principal already has `maxPerPrincipal` tasks stored. */
export class TaskLimitError extends Error {
  constructor(readonly limit: number) {
    super(`too many tasks stored for this principal (at most ${limit})`);
    this.name = 'TaskLimitError';
  }
}

/**
 * Where tasks live. {@link MemoryTaskStore} keeps them in this process; {@link RedisTaskStore}
 * in Redis, where every backend sees them and they outlive a backend restart.
 *
 * Every read takes the caller's principal: a task of another principal is "not found"
 * (`undefined`), never "forbidden", so task ids cannot be probed. Transitions of terminal tasks
 * are refused (`undefined`): the first terminal status wins.
 */
export interface TaskStore {
  /** Stores a new `working` task; resolves once any backend's `get` finds it. */
  create(task: NewTask): Promise<TaskRecord>;
  /** The task, if it exists, has not expired and belongs to `principal`. */
  get(taskId: string, principal: string): Promise<TaskRecord | undefined>;
  /** Applies a transition unless the task is terminal or gone (then false). */
  transition(taskId: string, change: TaskTransition): Promise<boolean>;
  /**
   * Records input responses for outstanding keys of an `input_required` task (other keys are
   * ignored, as the spec says). `undefined` when the task is not found for `principal`.
   */
  answer(taskId: string, principal: string, responses: Record<string, unknown>, owner: string): Promise<AnswerOutcome | undefined>;
  /** Marks the task `cancelled` unless terminal. `undefined` when not found for `principal`. */
  cancel(taskId: string, principal: string): Promise<TaskRecord | undefined>;
  /** Statuses of tasks by id (missing ones left out), for a backend checking its running work. */
  statuses(taskIds: readonly string[]): Promise<Map<string, TaskStatus>>;
  /** Keeps this owner's lease alive for `leaseMs` more. */
  heartbeat(owner: string, leaseMs: number): Promise<void>;
  /** Ends this owner's lease at once (a clean shutdown): its `working` tasks read as failed. */
  release(owner: string): Promise<void>;
  close(): Promise<void>;
}

/** The error a `working` task reads with once the process running it is gone. */
export function orphanedError(owner: string): TaskError {
  return {
    code: -32603,
    message: 'The backend process running this task stopped before the task finished (its lease expired); the work was lost and is not retried.',
    data: { reason: 'owner_lost', owner },
  };
}
