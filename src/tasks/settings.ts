import { integerSettingsFromEnv, resolveIntegerSettings } from '../util/integer-settings.js';
import { MemoryTaskStore } from './memory-store.js';
import { RedisTaskStore } from './redis-store.js';
import type { TaskStore } from './store.js';

/**
 * How tasks behave and what one client can make the store keep. Each has a default
 * ({@link DEFAULT_TASK_SETTINGS}) and an environment variable ({@link TASK_SETTINGS}); the table
 * is in docs/operations.md, "Limits / Tasks".
 */
export interface TaskSettings {
  /** How long a task (its status and result) is kept after it was created, in ms. */
  ttlMs: number;
  /** The polling interval suggested to clients, in ms. */
  pollIntervalMs: number;
  /** Tasks one principal may have stored at a time (all anonymous clients share one principal). */
  maxPerPrincipal: number;
  /** Largest result a task keeps, in bytes of JSON; a larger one fails the task. */
  maxResultBytes: number;
  /**
   * A backend's lease in the store, in ms (renewed every third of it): a task still `working`
   * this long after its backend died reads as `failed`.
   */
  leaseMs: number;
}

export const DEFAULT_TASK_SETTINGS: Readonly<TaskSettings> = Object.freeze({
  ttlMs: 60 * 60 * 1000,
  pollIntervalMs: 1000,
  maxPerPrincipal: 100,
  maxResultBytes: 1024 * 1024,
  leaseMs: 15_000,
});

/** The environment variable of each setting. */
export const TASK_SETTINGS: Readonly<Record<keyof TaskSettings, string>> = Object.freeze({
  ttlMs: 'HTTMCP_TASK_TTL_MS',
  pollIntervalMs: 'HTTMCP_TASK_POLL_INTERVAL_MS',
  maxPerPrincipal: 'HTTMCP_MAX_TASKS_PER_PRINCIPAL',
  maxResultBytes: 'HTTMCP_MAX_TASK_RESULT_BYTES',
  leaseMs: 'HTTMCP_TASK_LEASE_MS',
});

/** Where tasks are stored: `HTTMCP_TASK_STORE` (a `redis://` URL; unset: in this process). */
export const TASK_STORE_SETTING = 'HTTMCP_TASK_STORE';

/** `partial` over the defaults; every value must be a positive integer. */
export function resolveTaskSettings(partial: Partial<TaskSettings> = {}): TaskSettings {
  return resolveIntegerSettings(DEFAULT_TASK_SETTINGS, partial, TASK_SETTINGS);
}

/** The task settings set in `env`; unset ones are left out. */
export function taskSettingsFromEnv(env: NodeJS.ProcessEnv): Partial<TaskSettings> {
  return integerSettingsFromEnv<TaskSettings>(env, TASK_SETTINGS);
}

/**
 * The store a setting names: Redis at a `redis://` URL (shared by every backend on it), else one
 * in this process. Built synchronously; the Redis connection is made in the background.
 */
export function openTaskStore(url: string | undefined, onError?: (error: Error) => void): TaskStore {
  if (url === undefined || url === '') return new MemoryTaskStore();
  if (!/^rediss?:\/\/\S+$/.test(url)) throw new Error(`${TASK_STORE_SETTING} must be a redis:// URL, got ${JSON.stringify(url)}`);
  return RedisTaskStore.open({ url, ...(onError ? { onError } : {}) });
}
