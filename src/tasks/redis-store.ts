import { createClient } from 'redis';
import {
  TaskLimitError,
  orphanedError,
  type AnswerOutcome,
  type JsonObject,
  type NewTask,
  type TaskRecord,
  type TaskStatus,
  type TaskStore,
  type TaskTransition,
} from './store.js';

/** Options of a {@link RedisTaskStore}. */
export interface RedisTaskStoreOptions {
  /** `redis://host:port` (or `rediss://`). */
  url: string;
  /** Prefix of every key (default `httmcp:`); several deployments can share one Redis. */
  prefix?: string;
  /** Called with connection errors (node-redis reconnects by itself); default: ignored. */
  onError?: (error: Error) => void;
}

// Layout, per task (one hash slot thanks to the {id} tag):
//   {prefix}task:{id}         hash  p principal, s status, m statusMessage, c createdAt, u lastUpdatedAt,
//                                   t ttlMs, i pollIntervalMs, x expiresAt (epoch ms), o owner,
//                                   q request JSON, rs requestState, r result JSON, e error JSON
//   {prefix}task:{id}:in      hash  outstanding input requests, key -> JSON
//   {prefix}task:{id}:ans     hash  input responses received, key -> JSON
//   {prefix}tasks-of:{principal}  zset  task id scored by expiresAt (the per-principal bound)
//   {prefix}task-owner:{owner}    string with PX = the lease: the owner process is alive
// Every key of a task expires at createdAt + ttlMs (PEXPIREAT), so Redis forgets it by itself.
// Values inside (results, requests) are opaque JSON strings to the scripts: Lua's cjson would turn
// an empty array into an object.

const CREATE = `
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'p', ARGV[4], 's', 'working', 'c', ARGV[5], 'u', ARGV[5], 't', ARGV[6], 'i', ARGV[7], 'o', ARGV[8], 'q', ARGV[9], 'x', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[10])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[2], last[2])
return 1`;

/** Reads a task for its principal; a `working` task whose owner lost its lease becomes `failed` first. */
const GET = `
if redis.call('HGET', KEYS[1], 'p') ~= ARGV[1] then return false end
if redis.call('HGET', KEYS[1], 's') == 'working' then
  local owner = redis.call('HGET', KEYS[1], 'o')
  if owner and redis.call('EXISTS', ARGV[2] .. owner) == 0 then
    redis.call('HSET', KEYS[1], 's', 'failed', 'u', ARGV[3], 'm', ARGV[4], 'e', (string.gsub(ARGV[5], '@@OWNER@@', owner)))
    redis.call('HDEL', KEYS[1], 'o', 'q', 'rs')
    redis.call('DEL', KEYS[2], KEYS[3])
  end
end
return { redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[3]) }`;

const TRANSITION = `
local s = redis.call('HGET', KEYS[1], 's')
if not s or s == 'completed' or s == 'failed' or s == 'cancelled' then return 0 end
redis.call('HSET', KEYS[1], 's', ARGV[1], 'u', ARGV[2])
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], 'm') else redis.call('HSET', KEYS[1], 'm', ARGV[3]) end
redis.call('HDEL', KEYS[1], 'o')
redis.call('DEL', KEYS[2])
if ARGV[1] == 'working' then
  redis.call('HSET', KEYS[1], 'o', ARGV[4])
elseif ARGV[1] == 'input_required' then
  for i = 7, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
  redis.call('PEXPIREAT', KEYS[2], redis.call('HGET', KEYS[1], 'x'))
  if ARGV[5] == '' then redis.call('HDEL', KEYS[1], 'rs') else redis.call('HSET', KEYS[1], 'rs', ARGV[5]) end
else
  redis.call('HSET', KEYS[1], ARGV[1] == 'completed' and 'r' or 'e', ARGV[6])
  redis.call('HDEL', KEYS[1], 'q', 'rs')
  redis.call('DEL', KEYS[3])
end
return 1`;

/** -1 not found, 0 nothing answered, 1 answered some, 2 answered the last one (now working, ours). */
const ANSWER = `
if redis.call('HGET', KEYS[1], 'p') ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[1], 's') ~= 'input_required' then return 0 end
local n = 0
for i = 4, #ARGV, 2 do
  if redis.call('HDEL', KEYS[2], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
    n = n + 1
  end
end
if n == 0 then return 0 end
redis.call('PEXPIREAT', KEYS[3], redis.call('HGET', KEYS[1], 'x'))
redis.call('HSET', KEYS[1], 'u', ARGV[3])
if redis.call('HLEN', KEYS[2]) > 0 then return 1 end
redis.call('HSET', KEYS[1], 's', 'working', 'o', ARGV[2])
redis.call('HDEL', KEYS[1], 'm')
return 2`;

const CANCEL = `
if redis.call('HGET', KEYS[1], 'p') ~= ARGV[1] then return 0 end
local s = redis.call('HGET', KEYS[1], 's')
if s ~= 'completed' and s ~= 'failed' and s ~= 'cancelled' then
  redis.call('HSET', KEYS[1], 's', 'cancelled', 'u', ARGV[2])
  redis.call('HDEL', KEYS[1], 'o', 'q', 'rs', 'm')
  redis.call('DEL', KEYS[2], KEYS[3])
end
return 1`;

/** The client as this module creates it (its type depends on the options). */
function newClient(url: string) {
  return createClient({ url });
}
type Client = ReturnType<typeof newClient>;

/**
 * Tasks kept in Redis: every backend on the same Redis sees every task, and a task's status and
 * result outlive the backend that ran it. A backend holds a lease (a key with a short expiry it
 * keeps renewing); a `working` task whose owner's lease is gone reads as `failed` with a message
 * saying so, so work lost with a dead process is never silently `working` forever.
 */
export class RedisTaskStore implements TaskStore {
  private readonly client: Client;
  private readonly prefix: string;
  private constructor(client: Client, prefix: string) {
    this.client = client;
    this.prefix = prefix;
  }

  /** Connects to Redis; resolves once connected. */
  static async connect(options: RedisTaskStoreOptions): Promise<RedisTaskStore> {
    const client = newClient(options.url);
    client.on('error', (error: Error) => options.onError?.(error));
    await client.connect();
    return new RedisTaskStore(client, options.prefix ?? 'httmcp:');
  }

  /**
   * A store whose connection is being made: commands wait for it (node-redis queues them), so a
   * server can be built synchronously. A failed first connection is reported to `onError` and
   * retried by node-redis.
   */
  static open(options: RedisTaskStoreOptions): RedisTaskStore {
    const client = newClient(options.url);
    client.on('error', (error: Error) => options.onError?.(error));
    client.connect().catch((error: unknown) => options.onError?.(error instanceof Error ? error : new Error(String(error))));
    return new RedisTaskStore(client, options.prefix ?? 'httmcp:');
  }

  async create(task: NewTask): Promise<TaskRecord> {
    const now = Date.now();
    const created = new Date(now).toISOString();
    const ok = await this.eval(CREATE, [this.taskKey(task.taskId), this.principalKey(task.principal)], [
      String(now),
      String(now + task.ttlMs),
      String(task.maxPerPrincipal),
      task.principal,
      created,
      String(task.ttlMs),
      String(task.pollIntervalMs),
      task.owner,
      JSON.stringify(task.request),
      task.taskId,
    ]);
    if (ok !== 1) throw new TaskLimitError(task.maxPerPrincipal);
    return {
      taskId: task.taskId,
      principal: task.principal,
      status: 'working',
      createdAt: created,
      lastUpdatedAt: created,
      ttlMs: task.ttlMs,
      pollIntervalMs: task.pollIntervalMs,
      owner: task.owner,
      request: task.request,
    };
  }

  async get(taskId: string, principal: string): Promise<TaskRecord | undefined> {
    const orphan = orphanedError('@@OWNER@@');
    const reply = await this.eval(GET, this.keys(taskId), [
      principal,
      `${this.prefix}task-owner:`,
      new Date().toISOString(),
      'The backend running this task stopped before it finished.',
      JSON.stringify(orphan),
    ]);
    if (!Array.isArray(reply)) return undefined;
    const [task, inputs, answers] = reply as [string[], string[], string[]];
    return task.length === 0 ? undefined : toRecord(taskId, pairs(task), pairs(inputs), pairs(answers));
  }

  async transition(taskId: string, change: TaskTransition): Promise<boolean> {
    const args = [change.status, new Date().toISOString(), change.statusMessage ?? '', '', '', ''];
    switch (change.status) {
      case 'working':
        args[3] = change.owner;
        break;
      case 'input_required':
        args[4] = change.requestState ?? '';
        for (const [key, value] of Object.entries(change.inputRequests)) args.push(key, JSON.stringify(value));
        break;
      case 'completed':
        args[5] = JSON.stringify(change.result);
        break;
      case 'failed':
        args[5] = JSON.stringify(change.error);
        break;
    }
    return (await this.eval(TRANSITION, this.keys(taskId), args)) === 1;
  }

  async answer(taskId: string, principal: string, responses: Record<string, unknown>, owner: string): Promise<AnswerOutcome | undefined> {
    const args = [principal, owner, new Date().toISOString()];
    for (const [key, value] of Object.entries(responses)) args.push(key, JSON.stringify(value ?? null));
    const outcome = await this.eval(ANSWER, this.keys(taskId), args);
    if (outcome === -1) return undefined;
    const record = await this.get(taskId, principal);
    return record ? { record, resume: outcome === 2 } : undefined;
  }

  async cancel(taskId: string, principal: string): Promise<TaskRecord | undefined> {
    const found = await this.eval(CANCEL, this.keys(taskId), [principal, new Date().toISOString()]);
    return found === 1 ? this.get(taskId, principal) : undefined;
  }

  async statuses(taskIds: readonly string[]): Promise<Map<string, TaskStatus>> {
    const replies = await Promise.all(taskIds.map((id) => this.client.hGet(this.taskKey(id), 's')));
    const found = new Map<string, TaskStatus>();
    taskIds.forEach((id, i) => {
      const status = replies[i];
      if (typeof status === 'string') found.set(id, status as TaskStatus);
    });
    return found;
  }

  async heartbeat(owner: string, leaseMs: number): Promise<void> {
    await this.client.set(`${this.prefix}task-owner:${owner}`, '1', { PX: leaseMs });
  }

  async release(owner: string): Promise<void> {
    await this.client.del(`${this.prefix}task-owner:${owner}`);
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }

  private eval(script: string, keys: string[], args: string[]): Promise<unknown> {
    return this.client.eval(script, { keys, arguments: args }) as Promise<unknown>;
  }

  private taskKey(taskId: string): string {
    return `${this.prefix}task:{${taskId}}`;
  }

  private keys(taskId: string): string[] {
    const key = this.taskKey(taskId);
    return [key, `${key}:in`, `${key}:ans`];
  }

  private principalKey(principal: string): string {
    return `${this.prefix}tasks-of:${principal}`;
  }
}

/** A flat [field, value, ...] reply as a map. */
function pairs(flat: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i]!, flat[i + 1]!);
  return map;
}

function parseMap(map: Map<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of map) out[key] = JSON.parse(value);
  return out;
}

function toRecord(taskId: string, task: Map<string, string>, inputs: Map<string, string>, answers: Map<string, string>): TaskRecord {
  const record: TaskRecord = {
    taskId,
    principal: task.get('p') ?? '',
    status: (task.get('s') ?? 'failed') as TaskStatus,
    createdAt: task.get('c') ?? '',
    lastUpdatedAt: task.get('u') ?? '',
    ttlMs: Number(task.get('t')),
    pollIntervalMs: Number(task.get('i')),
  };
  const message = task.get('m');
  if (message !== undefined) record.statusMessage = message;
  const owner = task.get('o');
  if (owner !== undefined) record.owner = owner;
  const request = task.get('q');
  if (request !== undefined) record.request = JSON.parse(request) as JsonObject;
  const requestState = task.get('rs');
  if (requestState !== undefined) record.requestState = requestState;
  const result = task.get('r');
  if (result !== undefined) record.result = JSON.parse(result) as JsonObject;
  const error = task.get('e');
  if (error !== undefined) record.error = JSON.parse(error) as TaskRecord['error'];
  if (record.status === 'input_required') record.inputRequests = parseMap(inputs) as Record<string, JsonObject>;
  if (answers.size > 0) record.inputResponses = parseMap(answers);
  return record;
}
