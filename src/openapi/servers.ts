import { SpecError, type ServerSpec } from './model.js';

/** Which server the tools call. */
export interface ServerOptions {
  /** A base URL that replaces every server of the spec (`https://api.example.com/v2`). */
  baseUrl?: string;
  /** Which of the spec's servers to use (default: the first). */
  serverIndex?: number;
  /** Values for the chosen server's `{variables}` (default: each variable's `default`). */
  serverVariables?: Record<string, string>;
}

/**
 * The base URL of an operation: `baseUrl` when configured, else the chosen server of the spec
 * with its variables filled in. Relative server URLs are resolved against the spec's own URL.
 * Always `http(s)`, without query or fragment, and without a trailing slash.
 */
export function resolveServer(servers: readonly ServerSpec[], options: ServerOptions, specSource?: string): URL {
  let text: string;
  if (options.baseUrl !== undefined) {
    text = options.baseUrl;
  } else {
    const index = options.serverIndex ?? 0;
    const server = servers[index] ?? (options.serverIndex === undefined ? undefined : servers[0]);
    if (server === undefined) throw new SpecError('the spec names no server: configure a base URL');
    text = server.url.replace(/\{([^{}]+)\}/g, (_whole, name: string) => {
      const variable = server.variables[name];
      const value = options.serverVariables?.[name] ?? variable?.default;
      if (value === undefined) throw new SpecError(`server variable {${name}} has no value: configure it`);
      if (variable?.enum && variable.enum.length > 0 && !variable.enum.includes(value)) {
        throw new SpecError(`server variable {${name}} must be one of ${variable.enum.map((v) => JSON.stringify(v)).join(', ')}, not ${JSON.stringify(value)}`);
      }
      return value;
    });
    if (!/^[a-z][a-z0-9+.-]*:/i.test(text)) {
      if (text.startsWith('//') && specSource && /^https?:/.test(specSource)) text = new URL(text, specSource).href;
      else if (specSource && /^https?:/.test(specSource)) text = new URL(text, specSource).href;
      else throw new SpecError(`the server URL ${JSON.stringify(server.url)} is relative and the spec was not loaded from a URL: configure a base URL`);
    }
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SpecError(`${JSON.stringify(text)} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SpecError(`the server URL ${url.href} is not http or https`);
  if (url.username !== '' || url.password !== '') throw new SpecError('the server URL must not carry credentials: configure auth instead');
  url.search = '';
  url.hash = '';
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}
