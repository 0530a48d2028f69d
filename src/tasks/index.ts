export { Tasks, TASKS_EXTENSION_ID, type TaskRequestFacts, type TaskSupport, type TasksOptions } from './extension.js';
export { MemoryTaskStore } from './memory-store.js';
export { RedisTaskStore, type RedisTaskStoreOptions } from './redis-store.js';
export {
  DEFAULT_TASK_SETTINGS,
  TASK_SETTINGS,
  TASK_STORE_SETTING,
  resolveTaskSettings,
  taskSettingsFromEnv,
  openTaskStore,
  type TaskSettings,
} from './settings.js';
export {
  TERMINAL_STATUSES,
  TaskLimitError,
  type AnswerOutcome,
  type JsonObject,
  type NewTask,
  type TaskError,
  type TaskRecord,
  type TaskStatus,
  type TaskStore,
  type TaskTransition,
} from './store.js';
