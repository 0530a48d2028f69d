import { readFile } from 'node:fs/promises';
import { resolve as resolvePath } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { OpenAPI } from 'openapi-types';
import { fetch } from 'undici';
import { parse as parseYaml } from 'yaml';
import { isRecord, type SpecVersion } from './model.js';
import { someRef } from './refs.js';

/**
 * An API description: a parsed object, JSON or YAML text, a file path, or an `http(s)` URL.
 * Objects are cloned first, so the caller's object is never changed.
 */
export type SpecInput = string | URL | object;

/** How strictly the document is checked against the OpenAPI/Swagger schema and rules. */
export type ValidationMode = 'strict' | 'warn' | 'off';

/** Loading steps, reported while a (large) spec loads. */
export type LoadProgress =
  | { phase: 'read'; source: string; bytes?: number; ms: number }
  | { phase: 'parsed'; version: SpecVersion; paths: number; ms: number }
  | { phase: 'bundled'; ms: number }
  | { phase: 'validated'; ms: number; problems: boolean }
  | { phase: 'building'; done: number; total: number }
  /** `bytes`: the whole tool list as JSON (served in pages, see `pageBytes`). */
  | { phase: 'built'; tools: number; skipped: number; ms: number; bytes: number };

export interface LoadOptions {
  /**
   * `warn` (default): swagger-parser validates the document in a worker thread while the
   * server already serves; problems become warnings (real-world specs are often slightly
   * invalid yet usable). `strict`: loading waits for it and problems are fatal. `off`: skip it.
   */
  validate?: ValidationMode;
  onProgress?: (event: LoadProgress) => void;
  onWarning?: (message: string) => void;
  /** Timeout for fetching a spec (and its external references) over HTTP; default 30 s. */
  fetchTimeoutMs?: number;
}

/** A parsed document, external references folded in, ready for `operations.ts`. */
export interface LoadedSpec {
  /** Our own copy: nothing else holds it and nothing changes it after loading. */
  document: OpenAPI.Document;
  version: SpecVersion;
  /** The file path or URL it came from, for relative server URLs and messages. */
  source?: string;
  /** Validation problems (validate: 'warn'), as they become known. */
  warnings: string[];
  /**
   * With `validate: 'warn'`: settles when the background validation is done, with its problem
   * (also pushed to `warnings` and `onWarning`), or `undefined` when the document is valid.
   */
  validation?: Promise<string | undefined>;
}

/** The document could not be read, parsed or accepted; the message says why. */
export class SpecLoadError extends Error {
  override readonly name = 'SpecLoadError';
}

/** Reads, parses, bundles and validates an API description. */
export async function loadSpec(input: SpecInput, options: LoadOptions = {}): Promise<LoadedSpec> {
  const progress = options.onProgress ?? (() => {});
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    options.onWarning?.(message);
  };
  let started = performance.now();
  const raw = await read(input, options.fetchTimeoutMs ?? 30_000);
  const { source, text } = raw;
  let document = raw.document;
  progress({ phase: 'read', source: source ?? describe(input), ...(text === undefined ? {} : { bytes: Buffer.byteLength(text) }), ms: since(started) });

  const version = versionOf(document);
  progress({ phase: 'parsed', version, paths: isRecord(document.paths) ? Object.keys(document.paths).length : 0, ms: since(started) });

  let hasBundled = false;
  if (text === undefined ? hasExternalRefs(document) : mayHaveExternalRefs(text) && hasExternalRefs(document)) {
    hasBundled = true;
    started = performance.now();
    const base = source ?? pathToFileURL(resolvePath('spec.json')).href;
    const bundled = await inWorker<{ document?: Record<string, unknown>; problem?: string }>({
      op: 'bundle',
      base,
      document,
      timeoutMs: options.fetchTimeoutMs ?? 30_000,
    });
    if (bundled.problem !== undefined || bundled.document === undefined) {
      throw new SpecLoadError(`cannot resolve the external references of ${source ?? 'the spec'}: ${bundled.problem ?? 'no result'}`);
    }
    document = bundled.document;
    progress({ phase: 'bundled', ms: since(started) });
  }

  const mode = options.validate ?? 'warn';
  let validation: Promise<string | undefined> | undefined;
  if (mode !== 'off') {
    started = performance.now();
    // A document we bundled is passed as such; otherwise the worker parses the text itself.
    const running = validateInWorker(text === undefined || hasBundled ? { document } : { text }).then((problem) => {
      progress({ phase: 'validated', ms: since(started), problems: problem !== undefined });
      return problem;
    });
    if (mode === 'strict') {
      const problem = await running;
      if (problem !== undefined) throw new SpecLoadError(`${source ?? 'the spec'} is not a valid ${label(version)} document: ${problem}`);
    } else {
      validation = running.then((problem) => {
        if (problem === undefined) return undefined;
        const message = `the spec does not validate (continuing; broken operations are skipped): ${problem.slice(0, 2000)}`;
        warn(message);
        return message;
      });
    }
  }
  return {
    document: document as OpenAPI.Document,
    version,
    ...(source === undefined ? {} : { source }),
    warnings,
    ...(validation === undefined ? {} : { validation }),
  };
}

/**
 * Runs swagger-parser's validation (JSON Schema of the OpenAPI version, plus its spec rules) in a
 * worker thread, so a large spec does not hold up the event loop: in `warn` mode the server
 * serves while it runs. Resolves with the problem, or `undefined` when the document is valid.
 */
async function validateInWorker(input: { document: unknown } | { text: string }): Promise<string | undefined> {
  return (await inWorker<{ problem?: string }>({ op: 'validate', ...input })).problem;
}

/**
 * Runs swagger-parser in a worker thread: off the event loop, and loaded by Node itself (it is
 * CommonJS requiring an ES module, which Node 20.19+ allows but some loaders, Jest's, do not).
 */
function inWorker<T extends { problem?: string }>(job: Record<string, unknown>): Promise<T> {
  const require = createRequire(import.meta.url);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { ...job, parser: require.resolve('@apidevtools/swagger-parser'), yaml: require.resolve('yaml') },
  });
  worker.unref();
  return new Promise((resolve) => {
    worker.once('message', (message: T) => {
      resolve(message);
      void worker.terminate();
    });
    worker.once('error', (error) => resolve({ problem: `swagger-parser failed to run: ${error.message}` } as T));
  });
}

/**
 * The worker. `bundle`: fold external references into the document (internal refs only after).
 * `validate`: parse the text when given, then validate with circular refs left as refs.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const SwaggerParser = require(workerData.parser);
const fail = (error) => parentPort.postMessage({ problem: error && error.message ? String(error.message) : String(error) });
if (workerData.op === 'bundle') {
  SwaggerParser.bundle(workerData.base, workerData.document, { resolve: { http: { timeout: workerData.timeoutMs } } }).then(
    (document) => parentPort.postMessage({ document }),
    fail,
  );
} else {
  let document = workerData.document;
  if (document === undefined) {
    const text = workerData.text;
    try { document = JSON.parse(text); } catch { document = require(workerData.yaml).parse(text, { maxAliasCount: 1000 }); }
  }
  SwaggerParser.validate(document, { dereference: { circular: 'ignore' }, resolve: { external: false } }).then(() => parentPort.postMessage({}), fail);
}
`;

async function read(input: SpecInput, timeoutMs: number): Promise<{ document: Record<string, unknown>; source?: string; text?: string }> {
  if (input instanceof URL) return fetchSpec(input, timeoutMs);
  if (typeof input === 'object') {
    if (!isRecord(input)) throw new SpecLoadError('the spec must be an object, not an array or null');
    try {
      return { document: structuredClone(input) };
    } catch (error) {
      throw new SpecLoadError(`the spec object cannot be copied (${messageOf(error)}); pass plain JSON data`);
    }
  }
  if (typeof input !== 'string') throw new SpecLoadError(`unsupported spec input: ${typeof input}`);
  const trimmed = input.trimStart();
  if (/^https?:\/\//i.test(trimmed) && !/\s/.test(input.trim())) return fetchSpec(new URL(input.trim()), timeoutMs);
  if (trimmed.startsWith('{') || /^(openapi|swagger)\s*:/m.test(input) || input.includes('\n')) {
    return { document: parseText(input, 'the spec text'), text: input };
  }
  let text: string;
  const path = resolvePath(input);
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new SpecLoadError(`cannot read ${input}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : messageOf(error)}`);
  }
  return { document: parseText(text, input), source: path, text };
}

async function fetchSpec(url: URL, timeoutMs: number): Promise<{ document: Record<string, unknown>; source: string; text: string }> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SpecLoadError(`cannot fetch ${url.href}: only http and https URLs are supported`);
  let text: string;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json, application/yaml, text/yaml, */*' } });
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    text = await response.text();
  } catch (error) {
    throw new SpecLoadError(`cannot fetch ${url.href}: ${messageOf(error)}`);
  }
  return { document: parseText(text, url.href), source: url.href, text };
}

/** JSON first (fast), YAML otherwise (a superset of JSON, with line numbers in its errors). */
function parseText(text: string, where: string): Record<string, unknown> {
  let value: unknown;
  if (text.trimStart().startsWith('{')) {
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
  }
  if (value === undefined) {
    try {
      value = parseYaml(text, { maxAliasCount: 1000 });
    } catch (error) {
      throw new SpecLoadError(`${where} is neither JSON nor YAML: ${messageOf(error).split('\n')[0]}`);
    }
  }
  if (!isRecord(value)) throw new SpecLoadError(`${where} does not hold an object (is it an OpenAPI document?)`);
  return value;
}

function versionOf(document: Record<string, unknown>): SpecVersion {
  const { swagger, openapi } = document;
  if (swagger !== undefined) {
    if (String(swagger) !== '2.0') throw new SpecLoadError(`unsupported Swagger version ${JSON.stringify(swagger)} (2.0 is supported)`);
    return '2.0';
  }
  if (openapi === undefined) throw new SpecLoadError('not an OpenAPI or Swagger document: it has neither an "openapi" nor a "swagger" field');
  const version = String(openapi);
  if (/^3\.0(\.\d+)?$/.test(version)) return '3.0';
  if (/^3\.1(\.\d+)?$/.test(version)) return '3.1';
  throw new SpecLoadError(`unsupported OpenAPI version ${JSON.stringify(openapi)} (2.0, 3.0.x and 3.1.x are supported)`);
}

/** Cheap pre-check on the text: could any `$ref` point outside the document? */
function mayHaveExternalRefs(text: string): boolean {
  return /["']?\$ref["']?\s*:\s*["']?(?!#)[^\s"']/.test(text);
}

/** Whether any `$ref` of the document points outside it. */
function hasExternalRefs(document: unknown): boolean {
  return someRef(document, (ref) => !ref.startsWith('#'));
}

function label(version: SpecVersion): string {
  return version === '2.0' ? 'Swagger 2.0' : `OpenAPI ${version}`;
}

function describe(input: SpecInput): string {
  return typeof input === 'string' ? 'text' : input instanceof URL ? input.href : 'object';
}

function since(start: number): number {
  return Math.round(performance.now() - start);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
