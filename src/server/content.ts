import { isInputRequiredResult, type CallToolResult, type GetPromptResult, type PromptMessage, type ReadResourceResult } from '@modelcontextprotocol/server';
import type { PromptReturn, ResourceReturn } from './types.js';

/** Turns whatever a tool handler returned into a `CallToolResult`. */
export function toToolResult(value: unknown, structured: boolean): CallToolResult {
  if (isCallToolResult(value)) return value;
  // `inputRequired(...)` (2026-07-28 multi round-trip): the SDK answers it as it is.
  if (isInputRequiredResult(value)) return value as unknown as CallToolResult;
  if (structured) {
    return { content: [{ type: 'text', text: JSON.stringify(value) }], structuredContent: value as Record<string, unknown> };
  }
  if (value === undefined || value === null) return { content: [] };
  if (typeof value === 'string') return { content: [{ type: 'text', text: value }] };
  if (typeof value === 'object') return { content: [{ type: 'text', text: JSON.stringify(value) }] };
  return { content: [{ type: 'text', text: String(value) }] };
}

/** Turns whatever a resource handler returned into a `ReadResourceResult` for `uri`. */
export function toResourceResult(value: ResourceReturn, uri: URL, mimeType: string | undefined): ReadResourceResult {
  const href = uri.href;
  if (typeof value === 'string') {
    return { contents: [{ uri: href, mimeType: mimeType ?? 'text/plain', text: value }] };
  }
  if (value instanceof Uint8Array) {
    return {
      contents: [{ uri: href, mimeType: mimeType ?? 'application/octet-stream', blob: Buffer.from(value).toString('base64') }],
    };
  }
  if (isReadResourceResult(value)) return value;
  return { contents: [{ uri: href, mimeType: mimeType ?? 'application/json', text: JSON.stringify(value) }] };
}

/** Turns whatever a prompt handler returned into a `GetPromptResult`. */
export function toPromptResult(value: PromptReturn, description: string | undefined): GetPromptResult {
  const result = (messages: PromptMessage[]): GetPromptResult =>
    description === undefined ? { messages } : { description, messages };
  if (typeof value === 'string') return result([{ role: 'user', content: { type: 'text', text: value } }]);
  if (Array.isArray(value)) return result(value);
  if ('messages' in value) return value;
  return result([value]);
}

function isCallToolResult(value: unknown): value is CallToolResult {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as { content?: unknown }).content) &&
    (value as { content: unknown[] }).content.every((item) => typeof (item as { type?: unknown })?.type === 'string')
  );
}

function isReadResourceResult(value: object): value is ReadResourceResult {
  return Array.isArray((value as { contents?: unknown }).contents);
}
