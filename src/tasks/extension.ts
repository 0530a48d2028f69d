import { randomBytes } from 'node:crypto';
import {
  CLIENT_CAPABILITIES_META_KEY,
  MissingRequiredClientCapabilityError,
  ProtocolError,
  ProtocolErrorCode,
  SERVER_INFO_META_KEY,
  type AuthInfo,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type MessageExtraInfo,
  type McpServer,
  type RequestId,
  type Transport,
  type TransportSendOptions,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { LIMIT_EXCEEDED } from '../session/limits.js';
import { TaskLimitError, type JsonObject, type TaskError, type TaskRecord, type TaskStore, type TaskTransition } from './store.js';
import { TASK_SETTINGS, type TaskSettings } from './settings.js';

/** The extension's identifier (capabilities, `_meta`). */
export const TASKS_EXTENSION_ID = 'io.modelcontextprotocol/tasks';

/**
 * How a tool takes part in tasks. `optional`: a client that declares the extension gets a task
 * (`resultType: "task"`) and others a plain result; `required`: only clients that declare it can
 * call the tool (others get -32021).
 */
export type TaskSupport = 'optional' | 'required';

/** What a backend knows about the request a task round stands for (principal at least). */
export interface TaskRequestFacts {
  /** Who sent it ('' for anonymous clients); tasks are bound to it. */
  readonly principal: string;
  /**
   * The edge's verdict on it in the SDK's shape, when authentication is on: a task round is
   * delivered with it, so the transport middleware above checks the tool's scopes again.
   */
  readonly authInfo?: AuthInfo | undefined;
}

/** Options of {@link Tasks}. */
export interface TasksOptions<F extends TaskRequestFacts> {
  store: TaskStore;
  settings: TaskSettings;
  /** Whether, and how, the tool named `name` runs as a task (undefined: never). */
  taskSupport(name: string): TaskSupport | undefined;
  /**
   * The facts of a request the transport below delivers, by the id it delivers it with
   * (principal, headers...). Undefined: an anonymous request with nothing known.
   */
  factsOf(id: RequestId): F | undefined;
  /**
   * Takes a running-request slot of the round's principal (`facts`) before a task round runs
   * here: a round is a running request of the principal that created the task, and counts
   * against its bounds. Returns the slot's release, or the JSON-RPC error refusing it: a
   * `tasks/update` is then answered with it (the task keeps waiting), any other round does not
   * run and its task fails with it. Undefined: rounds are not counted.
   */
  admit?(facts: F | undefined): (() => void) | TaskError | undefined;
  /**
   * The JSON-RPC error refusing a task tool's call to its principal before any task is made (the
   * tool's scopes), or undefined when the call may become a task.
   */
  authorize?(request: JSONRPCRequest, facts: F | undefined): TaskError | undefined;
  /** Stamped on the `CreateTaskResult`s this answers itself, as the SDK stamps its results. */
  serverInfo?: { name: string; version: string };
  /** Store failures while settling a task (the client then reads the task as it was). */
  onError?: (error: unknown) => void;
}

/** A running-request slot a round holds ({@link TasksOptions.admit}); no `release`: not counted. */
interface Slot {
  taken: true;
  release?: () => void;
}

/** A task round running in this process. */
interface Run<F> {
  taskId: string;
  facts: F | undefined;
  /** Ends the run when the task's ttl is over: nobody can read its result any more. */
  expiry: NodeJS.Timeout;
  /** A protocol error the handler threw (see {@link Tasks.protocolError}). */
  failure?: TaskError;
  /** Gives back the principal's running-request slot ({@link TasksOptions.admit}). */
  release?: () => void;
}

const TaskIdParams = z.object({ taskId: z.string().min(1).max(128) }).passthrough();
// The SDK lifts `inputResponses` out of the params (into ctx.mcpReq.inputResponses) before this
// schema sees them, as for any multi-round-trip request.
const UpdateParams = z.object({ taskId: z.string().min(1).max(128), inputResponses: z.record(z.string(), z.unknown()).optional() }).passthrough();

/** Ids of task rounds: never a number, so never one the transport below handed out. */
const ROUND_PREFIX = 'httmcp-task:';

/**
 * The Tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663) for one server's 2026-era SDK
 * instance, on public seams only (`@modelcontextprotocol/server` 2.4 ships no tasks support):
 *
 * - {@link Tasks.install} declares the capability and serves `tasks/get`, `tasks/update` and
 *   `tasks/cancel` (`setRequestHandler` with schemas). They answer -32021 to requests that do not
 *   declare the extension, and "not found" (-32602) for tasks of another principal.
 * - {@link Tasks.wrap} sits between the instance and its transport. A `tools/call` of a task
 *   tool from a client that declares the extension is stored as a task and answered at once
 *   with `resultType: "task"`; the call itself is then delivered to the instance under an id of
 *   this module's own, and its reply is stored instead of sent. So a task runs the tool exactly
 *   as a plain call would (validation, output schema, `inputRequired`), detached from the client.
 * - A round that answers `input_required` parks the task with its `inputRequests`; when
 *   `tasks/update` has answered all of them, the call runs again with every response so far
 *   (and the `requestState` it returned), on whichever backend received the last answer.
 * - `tasks/cancel` marks the task cancelled and aborts the handler's signal where it runs: at
 *   once in this process, within a heartbeat on another backend.
 *
 * Each process holds a lease in the store ({@link TaskSettings.leaseMs}); a `working` task whose
 * process died reads as `failed` once the lease lapses.
 */
export class Tasks<F extends TaskRequestFacts = TaskRequestFacts> {
  /** This process's lease id in the store. */
  readonly owner = randomBytes(12).toString('hex');
  private readonly store: TaskStore;
  private readonly settings: TaskSettings;
  private readonly options: TasksOptions<F>;
  /** Task rounds running here, by the id they run under (a detached call keeps its own). */
  private readonly runs = new Map<RequestId, Run<F>>();
  /**
   * Requests the instance is serving now, by id: their facts (tasks/* handlers read them) and,
   * for `tools/call`, their params (a call that detaches becomes a task of them).
   */
  private readonly inflight = new Map<RequestId, { facts: F | undefined; params?: JsonObject }>();
  private lower: Transport | undefined;
  private installed: McpServer | undefined;
  private nextRound = 1;
  private deliver: ((message: JSONRPCMessage, extra?: MessageExtraInfo) => void) | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  private leased: Promise<void>;
  private closed = false;

  constructor(options: TasksOptions<F>) {
    this.options = options;
    this.store = options.store;
    this.settings = options.settings;
    this.leased = this.renewLease();
    this.heartbeat = setInterval(() => void this.tick(), Math.max(50, Math.floor(this.settings.leaseMs / 3)));
    this.heartbeat.unref();
  }

  /** Task rounds running in this process now. */
  get running(): number {
    return this.runs.size;
  }

  /** Requests of the instance this keeps facts of now (for tests: nothing outlives its request). */
  get tracked(): number {
    return this.inflight.size;
  }

  /** The facts of a request the instance serves, task rounds included (httmcp's `Context`). */
  requestFacts(id: RequestId, server?: McpServer): F | undefined {
    // Ids are the transport's own: one from another instance (the 2025 one) means nothing here.
    if (server !== undefined && server !== this.installed) return undefined;
    const run = this.runs.get(id);
    return run ? run.facts : this.inflight.get(id)?.facts;
  }

  /**
   * Turns the `tools/call` running under `id` into a task, from inside its handler: the client
   * gets `resultType: "task"` now, and what the handler returns later becomes the task's result.
   * For tools that first ask for input synchronously (multi round-trip) and then go on in the
   * background. False when it cannot (the request did not declare the extension, is not a
   * `tools/call`, or the principal's task bound is reached): the call goes on as a plain one.
   */
  async detach(id: RequestId, server?: McpServer): Promise<boolean> {
    // Ids are the transport's own: one from another instance (the 2025 one) means nothing here.
    if (server !== undefined && server !== this.installed) return false;
    if (this.runs.has(id)) return true;
    const pending = this.inflight.get(id);
    const lower = this.lower;
    if (!pending?.params || !lower || !declaresExtension(pending.params) || this.closed) return false;
    // The call's own slot goes with its reply (the CreateTaskResult): the task's round takes one
    // first, and without one the call goes on as a plain one.
    const slot = this.admit(pending.facts);
    if (!('taken' in slot)) return false;
    const release = slot.release;
    await this.leased;
    let record: TaskRecord;
    try {
      record = await this.store.create(this.newTask(pending.params, pending.facts));
    } catch (error) {
      release?.();
      if (error instanceof TaskLimitError) return false;
      throw error;
    }
    if (!this.inflight.delete(id)) {
      // The call was answered meanwhile (its handler did not wait for this): no task after all.
      release?.();
      await this.store.cancel(record.taskId, record.principal);
      return false;
    }
    this.track(id, record, pending.facts, release);
    await lower.send({ jsonrpc: '2.0', id, result: this.createTaskResult(record) });
    return true;
  }

  /**
   * Fails the task whose round `id` is with this JSON-RPC error, instead of the tool error
   * (`isError`) the SDK makes of any exception a tool throws. For tool wrappers: a handler that
   * throws a protocol error fails its task (`status: "failed"`, the spec's protocol-level
   * failure); other exceptions complete it with `isError`. Does nothing outside task rounds.
   */
  protocolError(id: RequestId, error: { code: number; message: string; data?: unknown }): void {
    const run = this.runs.get(id);
    if (run) run.failure = { code: error.code, message: error.message, ...(error.data === undefined ? {} : { data: error.data }) };
  }

  /** Declares the extension and serves its methods on `server` (before it is connected). */
  install(server: McpServer): void {
    this.installed = server;
    server.server.registerCapabilities({ extensions: { [TASKS_EXTENSION_ID]: {} } });
    server.server.setRequestHandler('tasks/get', { params: TaskIdParams }, async (params, ctx) => {
      const principal = this.gate(ctx);
      const record = await this.store.get(params.taskId, principal);
      if (!record) throw notFound();
      return detailed(record);
    });
    server.server.setRequestHandler('tasks/update', { params: UpdateParams }, async (params, ctx) => {
      const principal = this.gate(ctx);
      await this.leased;
      const responses = ctx.mcpReq.inputResponses ?? params.inputResponses ?? {};
      const facts = this.inflight.get(ctx.mcpReq.id)?.facts;
      // The round this answer may start takes its slot first: past the principal's bound the
      // answer is refused (-32029) and the task keeps waiting for it, rather than failing.
      const slot = this.admit(facts);
      if (!('taken' in slot)) throw new ProtocolError(slot.code, slot.message, slot.data);
      let outcome;
      try {
        outcome = await this.store.answer(params.taskId, principal, responses, this.owner);
      } catch (error) {
        slot.release?.();
        throw error;
      }
      if (!outcome) {
        slot.release?.();
        throw notFound();
      }
      if (outcome.resume) this.run(outcome.record, facts, slot);
      else slot.release?.();
      return {};
    });
    server.server.setRequestHandler('tasks/cancel', { params: TaskIdParams }, async (params, ctx) => {
      const principal = this.gate(ctx);
      const record = await this.store.cancel(params.taskId, principal);
      if (!record) throw notFound();
      for (const [id, run] of this.runs) if (run.taskId === params.taskId) this.abort(id, 'task cancelled');
      return {};
    });
  }

  /** The transport to serve the instance on, in place of `lower`. */
  wrap(lower: Transport): Transport {
    this.lower = lower;
    const wrapper: Transport = {
      start: () => lower.start(),
      close: () => lower.close(),
      send: (message, options) => this.outbound(lower, message, options),
    };
    this.deliver = (message, extra) => wrapper.onmessage?.(message, extra);
    lower.onclose = () => wrapper.onclose?.();
    lower.onerror = (error) => wrapper.onerror?.(error);
    // `extra` (the request's authInfo) goes on: the scopes middleware above reads it.
    lower.onmessage = (message, extra) => {
      if (!('method' in message) || !('id' in message)) {
        // A cancelled request gets no reply from the SDK: forget it here too.
        if ('method' in message && message.method === 'notifications/cancelled') {
          const id = (message.params as { requestId?: RequestId } | undefined)?.requestId;
          if (id !== undefined) this.inflight.delete(id);
        }
        wrapper.onmessage?.(message, extra);
        return;
      }
      const facts = this.options.factsOf(message.id);
      const support = message.method === 'tools/call' ? this.supportOf(message) : undefined;
      if (support === undefined) {
        this.inflight.set(message.id, message.method === 'tools/call' ? { facts, params: (message.params ?? {}) as JsonObject } : { facts });
        wrapper.onmessage?.(message, extra);
        return;
      }
      void this.intake(lower, message, support, facts, extra).catch((error: unknown) => {
        this.options.onError?.(error);
        void lower.send({ jsonrpc: '2.0', id: message.id, error: { code: ProtocolErrorCode.InternalError, message: 'The task store is unavailable' } });
      });
    };
    return wrapper;
  }

  /** Stops heartbeats and ends this process's lease: tasks still running here read as failed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const id of [...this.runs.keys()]) this.abort(id, 'server closing');
    await this.store.release(this.owner).catch(() => {});
  }

  /** A task tool's `tools/call`: a task for clients that declare the extension. */
  private async intake(lower: Transport, request: JSONRPCRequest, support: TaskSupport, facts: F | undefined, extra: MessageExtraInfo | undefined): Promise<void> {
    const params = (request.params ?? {}) as JsonObject;
    if (!declaresExtension(params)) {
      if (support === 'required') {
        const error = new MissingRequiredClientCapabilityError(
          { requiredCapabilities: { extensions: { [TASKS_EXTENSION_ID]: {} } } },
          `Tool ${String(params['name'])} runs only as a task: declare the ${TASKS_EXTENSION_ID} extension in the request's client capabilities`,
        );
        await lower.send({ jsonrpc: '2.0', id: request.id, error: { code: error.code, message: error.message, data: error.data } });
        return;
      }
      this.inflight.set(request.id, { facts, params });
      this.deliver?.(request, extra);
      return;
    }
    const refusal = this.options.authorize?.(request, facts);
    if (refusal) {
      await lower.send({ jsonrpc: '2.0', id: request.id, error: refusal });
      return;
    }
    await this.leased;
    let record: TaskRecord;
    try {
      record = await this.store.create(this.newTask(params, facts));
    } catch (error) {
      if (!(error instanceof TaskLimitError)) throw error;
      if (support === 'optional') {
        // A plain call still serves the client; the bound is on what the store keeps.
        this.inflight.set(request.id, { facts, params });
        this.deliver?.(request, extra);
        return;
      }
      const message = `Limit reached: too many tasks stored for this principal (at most ${error.limit}; setting ${TASK_SETTINGS.maxPerPrincipal})`;
      await lower.send({ jsonrpc: '2.0', id: request.id, error: { code: LIMIT_EXCEEDED, message, data: { limit: TASK_SETTINGS.maxPerPrincipal, value: error.limit } } });
      return;
    }
    // Durably created before the client hears of it (the spec's strong-consistency rule).
    await lower.send({ jsonrpc: '2.0', id: request.id, result: this.createTaskResult(record) });
    this.run(record, facts);
  }

  private newTask(params: JsonObject, facts: F | undefined) {
    return {
      taskId: randomBytes(16).toString('base64url'),
      principal: facts?.principal ?? '',
      ttlMs: this.settings.ttlMs,
      pollIntervalMs: this.settings.pollIntervalMs,
      owner: this.owner,
      request: withoutProgressToken(params),
      maxPerPrincipal: this.settings.maxPerPrincipal,
    };
  }

  /** Notes that the instance's reply to `id` belongs to the task (and when to give up on it). */
  private track(id: RequestId, record: TaskRecord, facts: F | undefined, release: (() => void) | undefined): void {
    const remaining = Date.parse(record.createdAt) + record.ttlMs - Date.now();
    const expiry = setTimeout(() => this.abort(id, 'task expired'), Math.max(0, remaining));
    expiry.unref();
    this.runs.set(id, { taskId: record.taskId, facts, expiry, ...(release ? { release } : {}) });
  }

  /** Ends the bookkeeping of round `id` (its reply came, or it was aborted). */
  private untrack(id: RequestId, run: Run<F>): void {
    this.runs.delete(id);
    clearTimeout(run.expiry);
    run.release?.();
  }

  /** A running-request slot of `facts`' principal for a round, with its release (none: not counted), or the error refusing it. */
  private admit(facts: F | undefined): Slot | TaskError {
    const admitted = this.options.admit?.(facts);
    if (typeof admitted === 'object') return admitted;
    return admitted ? { taken: true, release: admitted } : { taken: true };
  }

  /** Runs a round of the task's call in this process. */
  private run(record: TaskRecord, facts: F | undefined, taken?: Slot): void {
    if (!record.request || this.closed) {
      taken?.release?.();
      return;
    }
    const slot = taken ?? this.admit(facts);
    if (!('taken' in slot)) {
      void this.store.transition(record.taskId, { status: 'failed', error: slot, statusMessage: slot.message }).catch((error: unknown) => this.options.onError?.(error));
      return;
    }
    const id = `${ROUND_PREFIX}${record.taskId}:${this.nextRound++}`;
    this.track(id, record, facts, slot.release);
    const params: JsonObject = { ...record.request };
    // Answers the call carried when it became a task, then every one given through tasks/update.
    const carried = record.request['inputResponses'] as Record<string, unknown> | undefined;
    if (record.inputResponses) params['inputResponses'] = { ...carried, ...record.inputResponses };
    if (record.requestState !== undefined) params['requestState'] = record.requestState;
    // With the principal's authInfo, so the tool's scopes are checked again for this round.
    this.deliver?.({ jsonrpc: '2.0', id, method: 'tools/call', params }, facts?.authInfo ? { authInfo: facts.authInfo } : undefined);
  }

  /** What the instance sends: a task round's reply is stored, everything else goes on. */
  private async outbound(lower: Transport, message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if ('method' in message) {
      // Progress and log messages of a task round have nobody to go to (the spec has none for tasks).
      const related = options?.relatedRequestId;
      if (related !== undefined && (this.runs.has(related) || (typeof related === 'string' && related.startsWith(ROUND_PREFIX)))) return;
      return lower.send(message, options);
    }
    const id = message.id;
    const run = id === null || id === undefined ? undefined : this.runs.get(id);
    if (run || (typeof id === 'string' && id.startsWith(ROUND_PREFIX))) {
      if (!run) return; // cancelled or expired: the store already says so
      this.untrack(id!, run);
      await this.settle(run, message).catch((error: unknown) => this.options.onError?.(error));
      return;
    }
    if (id !== null && id !== undefined) this.inflight.delete(id);
    return lower.send(message, options);
  }

  /** Stores what a round of the task's call answered. */
  private async settle(run: Run<F>, reply: JSONRPCMessage): Promise<void> {
    let change: TaskTransition;
    if (run.failure) {
      change = { status: 'failed', error: run.failure, statusMessage: run.failure.message };
    } else if ('error' in reply) {
      const { code, message, data } = reply.error;
      change = { status: 'failed', error: { code, message, ...(data === undefined ? {} : { data }) }, statusMessage: message };
    } else if ('result' in reply) {
      const result = reply.result as JsonObject;
      if (result['resultType'] === 'input_required') {
        const inputRequests = (result['inputRequests'] ?? {}) as Record<string, JsonObject>;
        const requestState = typeof result['requestState'] === 'string' ? result['requestState'] : undefined;
        change = { status: 'input_required', inputRequests, ...(requestState === undefined ? {} : { requestState }) };
        if (Object.keys(inputRequests).length === 0) {
          // Only state to carry: run again at once with it, nothing to ask the client.
          const record = await this.store.get(run.taskId, run.facts?.principal ?? '');
          if (record?.status === 'working') this.run({ ...record, ...(requestState === undefined ? {} : { requestState }) }, run.facts);
          return;
        }
      } else {
        const plain = toolResultOf(result);
        const bytes = Buffer.byteLength(JSON.stringify(plain));
        change =
          bytes > this.settings.maxResultBytes
            ? {
                status: 'failed',
                error: {
                  code: LIMIT_EXCEEDED,
                  message: `Limit reached: the task's result is ${bytes} bytes (at most ${this.settings.maxResultBytes}; setting ${TASK_SETTINGS.maxResultBytes})`,
                  data: { limit: TASK_SETTINGS.maxResultBytes, value: this.settings.maxResultBytes },
                },
              }
            : { status: 'completed', result: plain };
      }
    } else {
      return;
    }
    await this.store.transition(run.taskId, change);
  }

  /** Ends a round running here: its handler's signal aborts and its reply will be dropped. */
  private abort(id: RequestId, reason: string): void {
    const run = this.runs.get(id);
    if (!run) return;
    this.untrack(id, run);
    this.deliver?.({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason } });
  }

  /** Keeps the lease; aborts rounds whose task was cancelled (or lost) meanwhile elsewhere. */
  private async tick(): Promise<void> {
    if (this.closed) return;
    this.leased = this.renewLease();
    await this.leased;
    if (this.runs.size === 0) return;
    const ids = [...new Set([...this.runs.values()].map((run) => run.taskId))];
    const statuses = await this.store.statuses(ids).catch(() => undefined);
    if (!statuses) return;
    for (const [id, run] of this.runs) {
      const status = statuses.get(run.taskId);
      if (status !== 'working') this.abort(id, status === undefined ? 'task expired' : `task ${status}`);
    }
  }

  private renewLease(): Promise<void> {
    return this.store.heartbeat(this.owner, this.settings.leaseMs).catch((error: unknown) => this.options.onError?.(error));
  }

  /** The caller's principal, once it declared the extension on this request (-32021 if not). */
  private gate(ctx: { mcpReq: { id: RequestId; envelope?: Record<string, unknown> } }): string {
    const capabilities = ctx.mcpReq.envelope?.[CLIENT_CAPABILITIES_META_KEY] as { extensions?: Record<string, unknown> } | undefined;
    if (capabilities?.extensions?.[TASKS_EXTENSION_ID] === undefined) {
      throw new MissingRequiredClientCapabilityError(
        { requiredCapabilities: { extensions: { [TASKS_EXTENSION_ID]: {} } } },
        `Missing required client capability: declare the ${TASKS_EXTENSION_ID} extension to use tasks`,
      );
    }
    return this.inflight.get(ctx.mcpReq.id)?.facts?.principal ?? '';
  }

  private supportOf(request: JSONRPCRequest): TaskSupport | undefined {
    const name = (request.params as { name?: unknown } | undefined)?.name;
    return typeof name === 'string' ? this.options.taskSupport(name) : undefined;
  }

  private createTaskResult(record: TaskRecord): JsonObject {
    return {
      resultType: 'task',
      ...taskFields(record),
      ...(this.options.serverInfo ? { _meta: { [SERVER_INFO_META_KEY]: this.options.serverInfo } } : {}),
    };
  }
}

function notFound(): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, 'Failed to retrieve task: Task not found');
}

/** Whether the request's envelope declares the extension (per request: 2026 has no session). */
function declaresExtension(params: JsonObject): boolean {
  const meta = params['_meta'] as Record<string, unknown> | undefined;
  const capabilities = meta?.[CLIENT_CAPABILITIES_META_KEY] as { extensions?: Record<string, unknown> } | undefined;
  return capabilities?.extensions?.[TASKS_EXTENSION_ID] !== undefined;
}

/** A task never reports progress (the spec has none for tasks): its token is not kept. */
function withoutProgressToken(params: JsonObject): JsonObject {
  const meta = params['_meta'] as Record<string, unknown> | undefined;
  if (!meta || !('progressToken' in meta)) return params;
  const { progressToken: _dropped, ...rest } = meta;
  return { ...params, _meta: rest };
}

/** The `Task` fields of a record, as `CreateTaskResult` and `tasks/get` carry them. */
function taskFields(record: TaskRecord): JsonObject {
  return {
    taskId: record.taskId,
    status: record.status,
    ...(record.statusMessage === undefined ? {} : { statusMessage: record.statusMessage }),
    createdAt: record.createdAt,
    lastUpdatedAt: record.lastUpdatedAt,
    ttlMs: record.ttlMs,
    pollIntervalMs: record.pollIntervalMs,
  };
}

/** The spec's `DetailedTask`: the task plus what its status carries. */
function detailed(record: TaskRecord): JsonObject {
  const task = taskFields(record);
  switch (record.status) {
    case 'input_required':
      return { ...task, inputRequests: record.inputRequests ?? {} };
    case 'completed':
      return { ...task, result: record.result ?? { content: [] } };
    case 'failed':
      return { ...task, error: record.error ?? { code: ProtocolErrorCode.InternalError, message: 'Task failed' } };
    default:
      return task;
  }
}

/** The tool result as the task inlines it: without the wire's discriminator and identity stamp. */
function toolResultOf(result: JsonObject): JsonObject {
  const { resultType: _type, ...rest } = result;
  const meta = rest['_meta'] as Record<string, unknown> | undefined;
  if (meta && SERVER_INFO_META_KEY in meta) {
    const { [SERVER_INFO_META_KEY]: _info, ...others } = meta;
    if (Object.keys(others).length === 0) delete rest['_meta'];
    else rest['_meta'] = others;
  }
  return rest;
}
