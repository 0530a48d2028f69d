import { STATUS_CODES } from 'node:http';
import type { CallToolResult, ReadResourceResult } from '@modelcontextprotocol/server';
import { isRecord } from './model.js';
import { baseType } from './operations.js';
import type { HttpResponse } from './request.js';

/** How a response becomes a tool result. */
export interface ResultOptions {
  /** The tool has an `outputSchema`: a JSON object reply becomes `structuredContent`. */
  structured: boolean;
  /** Checks a JSON object reply against the output schema; returns the problems, if any. */
  checkOutput?: (value: Record<string, unknown>) => string | undefined;
  /** The request's URL with secrets redacted (names binary replies given as resources). */
  url: string;
  /** Characters of an error body kept in the message (default 2000). */
  maxErrorChars?: number;
  /** Added to 401/403 errors: which credentials were missing. */
  authHint?: string;
}

type Content = CallToolResult['content'][number];

/**
 * The MCP result of an API response:
 * - 2xx JSON: the JSON as text, plus `structuredContent` when the tool has an output schema;
 * - text stays text; images and audio become image/audio content; other bytes an embedded
 *   resource (base64 blob) with a one-line summary;
 * - an empty reply (204...) says so explicitly;
 * - any other status is `isError` with the status and the body, cut to `maxErrorChars`;
 * - a body longer than the size cap is cut, and the result says so.
 * A tool with an output schema whose reply does not fit it (not a JSON object, not matching,
 * cut) gets `isError` with the reason and the body: MCP clients reject structured results that
 * do not match, which would hide the reply from the model altogether.
 */
export function toToolResult(response: HttpResponse, options: ResultOptions): CallToolResult {
  const { status } = response;
  const statusLine = `HTTP ${status} ${STATUS_CODES[status] ?? ''}`.trim();
  const type = header(response, 'content-type') ?? '';
  const base = baseType(type);
  const maxErrorChars = options.maxErrorChars ?? 2000;

  if (status < 200 || status >= 300) {
    let text = statusLine;
    if (status >= 300 && status < 400 && header(response, 'location')) text += ` (redirect to ${header(response, 'location')}, not followed)`;
    const body = describeBody(response, base, type);
    if (body !== '') text += `\n${truncate(body, maxErrorChars)}`;
    if ((status === 401 || status === 403) && options.authHint) text += `\n${options.authHint}`;
    return { content: [{ type: 'text', text }], isError: true };
  }

  const extras = headerNotes(response);
  const cut = response.truncated ? `\n[response cut at ${response.body.length} bytes: the size limit]` : '';
  if (response.body.length === 0) {
    const text = `${statusLine}: the request succeeded; the response has no body.`;
    if (options.structured) return mismatch(text, 'the reply has no body although the API describes a JSON object');
    return { content: [{ type: 'text', text }, ...extras] };
  }

  if (isJsonType(base) || (base === '' && /^\s*[[{]/.test(response.body.subarray(0, 64).toString('utf8')))) {
    const text = decode(response.body, type);
    let value: unknown;
    let parsed = false;
    if (!response.truncated) {
      try {
        value = JSON.parse(text);
        parsed = true;
      } catch {
        parsed = false;
      }
    }
    if (!parsed) {
      if (options.structured) return mismatch(text + cut, response.truncated ? 'the reply was cut at the size limit' : 'the reply is not valid JSON');
      return { content: [{ type: 'text', text: text + cut }, ...extras] };
    }
    const compact = JSON.stringify(value);
    if (!options.structured) return { content: [{ type: 'text', text: compact }, ...extras] };
    if (!isRecord(value)) return mismatch(compact, 'the reply is not a JSON object');
    const problem = options.checkOutput?.(value);
    if (problem !== undefined) return mismatch(compact, `the reply does not match the response schema of the API description (${problem})`);
    return { content: [{ type: 'text', text: compact }, ...extras], structuredContent: value };
  }

  let result: CallToolResult;
  if (isTextType(base)) {
    result = { content: [{ type: 'text', text: decode(response.body, type) + cut }, ...extras] };
  } else if (response.truncated) {
    result = { content: [{ type: 'text', text: `${statusLine}: ${type || 'binary'} reply larger than the size limit (${response.body.length} bytes); not returned.` }, ...extras] };
  } else if (base.startsWith('image/')) {
    result = { content: [{ type: 'image', data: response.body.toString('base64'), mimeType: base }, ...extras] };
  } else if (base.startsWith('audio/')) {
    result = { content: [{ type: 'audio', data: response.body.toString('base64'), mimeType: base }, ...extras] };
  } else {
    const mimeType = base || 'application/octet-stream';
    result = {
      content: [
        { type: 'text', text: `${statusLine}: ${response.body.length} bytes of ${mimeType}, attached as a resource.` },
        { type: 'resource', resource: { uri: options.url, mimeType, blob: response.body.toString('base64') } },
        ...extras,
      ],
    };
  }
  if (options.structured) return mismatch(summaryOf(result), `the reply is ${base || 'not JSON'}, not a JSON object`);
  return result;
}

/** The contents of a resource read: JSON and text as text, anything else as a blob. */
export function toResourceContents(response: HttpResponse, uri: string): ReadResourceResult {
  const { status } = response;
  const type = header(response, 'content-type') ?? '';
  const base = baseType(type);
  if (status < 200 || status >= 300) {
    throw new Error(`HTTP ${status} ${STATUS_CODES[status] ?? ''}: ${truncate(describeBody(response, base, type), 500)}`.trim());
  }
  if (response.truncated) throw new Error(`the reply is larger than the size limit (${response.body.length} bytes)`);
  if (isJsonType(base) || isTextType(base) || response.body.length === 0) {
    return { contents: [{ uri, mimeType: base || 'text/plain', text: decode(response.body, type) }] };
  }
  return { contents: [{ uri, mimeType: base || 'application/octet-stream', blob: response.body.toString('base64') }] };
}

function mismatch(body: string, reason: string): CallToolResult {
  return {
    content: [{ type: 'text', text: `The request succeeded, but ${reason}. The reply:\n${body}` }],
    isError: true,
  };
}

function summaryOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join('\n');
}

/** `Location` and `Link` (pagination) of a successful reply, which a model may need next. */
function headerNotes(response: HttpResponse): Content[] {
  const notes = ['location', 'link']
    .map((name) => [name, header(response, name)] as const)
    .filter((entry): entry is readonly [string, string] => entry[1] !== undefined);
  return notes.length === 0 ? [] : [{ type: 'text', text: notes.map(([name, value]) => `${name}: ${value}`).join('\n') }];
}

function describeBody(response: HttpResponse, base: string, type: string): string {
  if (response.body.length === 0) return '';
  if (isJsonType(base) || isTextType(base) || base === '') {
    const text = decode(response.body, type);
    if (isJsonType(base) && !response.truncated) {
      try {
        return JSON.stringify(JSON.parse(text));
      } catch {
        return text;
      }
    }
    return text;
  }
  return `(${response.body.length} bytes of ${base})`;
}

function isJsonType(base: string): boolean {
  return base === 'application/json' || base.endsWith('+json') || base === 'text/json';
}

function isTextType(base: string): boolean {
  return (
    base.startsWith('text/') ||
    base.endsWith('+xml') ||
    base === 'image/svg+xml' ||
    ['application/xml', 'application/javascript', 'application/yaml', 'application/x-yaml', 'application/x-www-form-urlencoded', 'application/csv'].includes(base)
  );
}

function decode(body: Buffer, contentType: string): string {
  const charset = /charset="?([^";\s]+)"?/i.exec(contentType)?.[1] ?? 'utf-8';
  try {
    return new TextDecoder(charset).decode(body);
  } catch {
    return new TextDecoder('utf-8').decode(body);
  }
}

function header(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… [${text.length - max} more characters]`;
}
