/**
 * Settings that are all positive integers, each with the environment variable that sets it
 * (`names`): the backend's limits (src/session/limits.ts) and the Tasks extension's
 * (src/tasks/settings.ts) are read and checked the same way.
 */
export type SettingNames<T> = { readonly [K in keyof T]: string };

/** `partial` over `defaults`; every value must be a positive integer (named by its variable). */
export function resolveIntegerSettings<T extends { [K in keyof T]: number }>(defaults: T, partial: Partial<T>, names: SettingNames<T>): T {
  const settings = { ...defaults, ...partial };
  for (const [key, value] of Object.entries(settings) as Array<[string, number]>) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`${names[key as keyof T]} must be a positive integer, got ${String(value)}`);
    }
  }
  return settings;
}

/** The settings set in `env`; unset (or empty) ones are left out. */
export function integerSettingsFromEnv<T extends { [K in keyof T]: number }>(env: NodeJS.ProcessEnv, names: SettingNames<T>): Partial<T> {
  const settings: Partial<T> = {};
  for (const [key, name] of Object.entries(names) as Array<[keyof T, string]>) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
    settings[key] = value as T[keyof T];
  }
  return settings;
}
