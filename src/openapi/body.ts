import { FormData } from 'undici';
import { ArgumentError, isRecord, type BodySpec } from './model.js';
import { queryPairs } from './parameters.js';

/** A request body ready for undici, and its `content-type` (multipart sets its own, with the boundary). */
export interface EncodedBody {
  body: string | Buffer | FormData;
  contentType?: string;
}

/** A file argument as tools receive it (see `FILE_SCHEMA`). */
export interface FileArgument {
  base64: string;
  filename?: string;
  contentType?: string;
}

/**
 * Encodes the request body as the operation's media type says: JSON, form-urlencoded (with the
 * Encoding Object's style/explode), multipart/form-data (files from base64), text, or bytes.
 * `files` names the multipart properties that carry files (`one`) or lists of files (`many`).
 */
export function encodeBody(spec: BodySpec, value: unknown, files: ReadonlyMap<string, 'one' | 'many'> = new Map()): EncodedBody {
  switch (spec.kind) {
    case 'json':
      return { body: JSON.stringify(value), contentType: /\*/.test(spec.mediaType) ? 'application/json' : spec.mediaType };
    case 'form': {
      if (typeof value === 'string') return { body: value, contentType: 'application/x-www-form-urlencoded' };
      if (!isRecord(value)) throw new ArgumentError('the form body must be an object');
      const pairs: string[] = [];
      for (const [name, v] of Object.entries(value)) {
        const encoding = spec.encoding[name] ?? {};
        pairs.push(...queryPairs(name, v, encoding.style ?? 'form', encoding.explode ?? (encoding.style ?? 'form') === 'form', encoding.allowReserved ?? false));
      }
      return { body: pairs.join('&'), contentType: 'application/x-www-form-urlencoded' };
    }
    case 'multipart': {
      if (!isRecord(value)) throw new ArgumentError('the multipart body must be an object');
      const form = new FormData();
      for (const [name, v] of Object.entries(value)) {
        if (v === undefined) continue;
        const file = files.get(name);
        if (file === 'one') appendFile(form, name, v);
        else if (file === 'many') {
          if (!Array.isArray(v)) throw new ArgumentError(`${name}: expected a list of files`);
          for (const item of v) appendFile(form, name, item);
        } else {
          const contentType = spec.encoding[name]?.contentType;
          if (Array.isArray(v) && v.every((item) => !isRecord(item) && !Array.isArray(item)) && contentType === undefined) {
            for (const item of v) form.append(name, text(item));
          } else if (isRecord(v) || Array.isArray(v)) {
            form.append(name, new Blob([JSON.stringify(v)], { type: contentType ?? 'application/json' }));
          } else if (contentType !== undefined && !/^text\/plain/i.test(contentType)) {
            form.append(name, new Blob([text(v)], { type: contentType }));
          } else {
            form.append(name, text(v));
          }
        }
      }
      return { body: form };
    }
    case 'text': {
      const body = typeof value === 'string' ? value : JSON.stringify(value);
      const contentType = /^text\//i.test(spec.mediaType) && !/charset=/i.test(spec.mediaType) ? `${spec.mediaType}; charset=utf-8` : spec.mediaType;
      return { body, contentType };
    }
    case 'binary': {
      const file = asFile(value, 'body');
      const concrete = !/\*/.test(spec.mediaType);
      return { body: file.bytes, contentType: file.contentType ?? (concrete ? spec.mediaType : 'application/octet-stream') };
    }
  }
}

function appendFile(form: FormData, name: string, value: unknown): void {
  const file = asFile(value, name);
  form.append(name, new Blob([file.bytes], { type: file.contentType ?? 'application/octet-stream' }), file.filename ?? name);
}

function asFile(value: unknown, name: string): { bytes: Buffer; filename?: string; contentType?: string } {
  if (typeof value === 'string') return { bytes: decodeBase64(value, name) };
  if (!isRecord(value) || typeof value.base64 !== 'string') throw new ArgumentError(`${name}: expected a file as {"base64": "...", "filename"?: "...", "contentType"?: "..."}`);
  const file = value as unknown as FileArgument;
  return {
    bytes: decodeBase64(file.base64, name),
    ...(typeof file.filename === 'string' ? { filename: file.filename } : {}),
    ...(typeof file.contentType === 'string' ? { contentType: file.contentType } : {}),
  };
}

/** Strict base64 (standard or URL-safe alphabet, whitespace ignored). */
export function decodeBase64(text: string, name: string): Buffer {
  const compact = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(compact) || compact.replace(/=+$/, '').length % 4 === 1) {
    throw new ArgumentError(`${name}: the file content is not valid base64`);
  }
  return Buffer.from(compact.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

function text(value: unknown): string {
  if (value === null) return '';
  return typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
}
