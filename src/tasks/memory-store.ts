import {
  TERMINAL_STATUSES,
  TaskLimitError,
  type AnswerOutcome,
  type NewTask,
  type TaskRecord,
  type TaskStatus,
  type TaskStore,
  type TaskTransition,
} from './store.js';

interface Entry {
  record: TaskRecord;
  expiresAt: number;
}

/**
 * Tasks kept in this process: for one backend. They die with the process (a restart loses them,
 * and with them whatever was running), so owners and leases mean nothing here.
 */
export class MemoryTaskStore implements TaskStore {
  private readonly tasks = new Map<string, Entry>();
  /** Task ids by principal, for the per-principal bound. */
  private readonly byPrincipal = new Map<string, Set<string>>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(sweepEveryMs = 1_000) {
    this.sweeper = setInterval(() => this.sweep(), sweepEveryMs);
    this.sweeper.unref();
  }

  async create(task: NewTask): Promise<TaskRecord> {
    const held = this.byPrincipal.get(task.principal);
    // Expired tasks still counted are dropped only when they could make the difference.
    if (held && held.size >= task.maxPerPrincipal) for (const id of [...held]) this.live(id);
    if ((this.byPrincipal.get(task.principal)?.size ?? 0) >= task.maxPerPrincipal) throw new TaskLimitError(task.maxPerPrincipal);
    const now = new Date().toISOString();
    const record: TaskRecord = {
      taskId: task.taskId,
      principal: task.principal,
      status: 'working',
      createdAt: now,
      lastUpdatedAt: now,
      ttlMs: task.ttlMs,
      pollIntervalMs: task.pollIntervalMs,
      owner: task.owner,
      request: task.request,
    };
    this.tasks.set(task.taskId, { record, expiresAt: Date.now() + task.ttlMs });
    let ids = this.byPrincipal.get(task.principal);
    if (!ids) this.byPrincipal.set(task.principal, (ids = new Set()));
    ids.add(task.taskId);
    return clone(record);
  }

  async get(taskId: string, principal: string): Promise<TaskRecord | undefined> {
    const entry = this.live(taskId);
    return entry && entry.record.principal === principal ? clone(entry.record) : undefined;
  }

  async transition(taskId: string, change: TaskTransition): Promise<boolean> {
    const entry = this.live(taskId);
    if (!entry || TERMINAL_STATUSES.has(entry.record.status)) return false;
    const record = entry.record;
    record.status = change.status;
    record.lastUpdatedAt = new Date().toISOString();
    if (change.statusMessage === undefined) delete record.statusMessage;
    else record.statusMessage = change.statusMessage;
    delete record.owner;
    delete record.inputRequests;
    switch (change.status) {
      case 'working':
        record.owner = change.owner;
        break;
      case 'input_required':
        record.inputRequests = change.inputRequests;
        if (change.requestState === undefined) delete record.requestState;
        else record.requestState = change.requestState;
        break;
      case 'completed':
        record.result = change.result;
        this.forgetRun(record);
        break;
      case 'failed':
        record.error = change.error;
        this.forgetRun(record);
        break;
    }
    return true;
  }

  async answer(taskId: string, principal: string, responses: Record<string, unknown>, owner: string): Promise<AnswerOutcome | undefined> {
    const entry = this.live(taskId);
    if (!entry || entry.record.principal !== principal) return undefined;
    const record = entry.record;
    if (record.status !== 'input_required' || !record.inputRequests) return { record: clone(record), resume: false };
    let answered = 0;
    for (const [key, value] of Object.entries(responses)) {
      if (!(key in record.inputRequests)) continue;
      delete record.inputRequests[key];
      (record.inputResponses ??= {})[key] = value;
      answered++;
    }
    if (answered === 0) return { record: clone(record), resume: false };
    record.lastUpdatedAt = new Date().toISOString();
    if (Object.keys(record.inputRequests).length > 0) return { record: clone(record), resume: false };
    record.status = 'working';
    record.owner = owner;
    delete record.inputRequests;
    return { record: clone(record), resume: true };
  }

  async cancel(taskId: string, principal: string): Promise<TaskRecord | undefined> {
    const entry = this.live(taskId);
    if (!entry || entry.record.principal !== principal) return undefined;
    const record = entry.record;
    if (!TERMINAL_STATUSES.has(record.status)) {
      record.status = 'cancelled';
      record.lastUpdatedAt = new Date().toISOString();
      delete record.owner;
      delete record.inputRequests;
      this.forgetRun(record);
    }
    return clone(record);
  }

  async statuses(taskIds: readonly string[]): Promise<Map<string, TaskStatus>> {
    const found = new Map<string, TaskStatus>();
    for (const id of taskIds) {
      const entry = this.live(id);
      if (entry) found.set(id, entry.record.status);
    }
    return found;
  }

  async heartbeat(): Promise<void> {}

  async release(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  /** Number of tasks stored (tests and metrics). */
  get size(): number {
    return this.tasks.size;
  }

  /** The entry if it has not expired; an expired one is dropped on the way. */
  private live(taskId: string): Entry | undefined {
    const entry = this.tasks.get(taskId);
    if (entry && entry.expiresAt <= Date.now()) {
      this.drop(taskId, entry);
      return undefined;
    }
    return entry;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, entry] of this.tasks) if (entry.expiresAt <= now) this.drop(id, entry);
  }

  private drop(taskId: string, entry: Entry): void {
    this.tasks.delete(taskId);
    const ids = this.byPrincipal.get(entry.record.principal);
    ids?.delete(taskId);
    if (ids?.size === 0) this.byPrincipal.delete(entry.record.principal);
  }

  /** A terminal task no longer needs what rerunning it would. */
  private forgetRun(record: TaskRecord): void {
    delete record.request;
    delete record.requestState;
    delete record.inputResponses;
  }
}

/** Callers get copies: a record they change must not change the store. */
function clone(record: TaskRecord): TaskRecord {
  return structuredClone(record);
}
