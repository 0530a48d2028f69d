import type { CallToolResult, GetPromptResult, PromptMessage, ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { CallToolResultSchema, GetPromptResultSchema, ReadResourceResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { toPromptResult, toResourceResult, toToolResult } from '../../src/server/content.js';
import type { PromptReturn } from '../../src/server/types.js';

describe('toToolResult', () => {
  test('a string is one text block', () => {
    expect(toToolResult('hello', false)).toEqual({ content: [{ type: 'text', text: 'hello' }] });
    expect(toToolResult('', false)).toEqual({ content: [{ type: 'text', text: '' }] });
  });

  test('numbers, booleans and bigints are their text', () => {
    expect(toToolResult(42, false)).toEqual({ content: [{ type: 'text', text: '42' }] });
    expect(toToolResult(-1.5, false)).toEqual({ content: [{ type: 'text', text: '-1.5' }] });
    expect(toToolResult(0, false)).toEqual({ content: [{ type: 'text', text: '0' }] });
    expect(toToolResult(true, false)).toEqual({ content: [{ type: 'text', text: 'true' }] });
    expect(toToolResult(false, false)).toEqual({ content: [{ type: 'text', text: 'false' }] });
    expect(toToolResult(10n, false)).toEqual({ content: [{ type: 'text', text: '10' }] });
  });

  test('null and undefined are no content', () => {
    expect(toToolResult(undefined, false)).toEqual({ content: [] });
    expect(toToolResult(null, false)).toEqual({ content: [] });
  });

  test('objects and arrays are JSON text', () => {
    const value = { a: 1, nested: { b: [1, 'two', null] } };
    const result = toToolResult(value, false);
    expect(result.content).toHaveLength(1);
    expect(result.content[0]!.type).toBe('text');
    expect(JSON.parse((result.content[0] as { text: string }).text)).toEqual(value);
    expect(result.structuredContent).toBeUndefined();
    expect(toToolResult([1, 2, 3], false)).toEqual({ content: [{ type: 'text', text: '[1,2,3]' }] });
    expect(toToolResult([], false)).toEqual({ content: [{ type: 'text', text: '[]' }] });
  });

  test('an object with a non-array content is data, not a result', () => {
    expect(toToolResult({ content: 'x' }, false)).toEqual({ content: [{ type: 'text', text: '{"content":"x"}' }] });
    expect(toToolResult({ content: [1, 2] }, false)).toEqual({ content: [{ type: 'text', text: '{"content":[1,2]}' }] });
    expect(toToolResult({ content: [null] }, false)).toEqual({ content: [{ type: 'text', text: '{"content":[null]}' }] });
  });

  test('a full CallToolResult passes through unchanged', () => {
    const full: CallToolResult = {
      content: [
        { type: 'text', text: 'a' },
        { type: 'image', data: 'AAAA', mimeType: 'image/png' },
      ],
      isError: true,
      _meta: { x: 1 },
    };
    expect(toToolResult(full, false)).toBe(full);
    expect(toToolResult(full, true)).toBe(full);
    const empty = { content: [] };
    expect(toToolResult(empty, false)).toBe(empty);
  });

  test('with an output schema: structuredContent plus the same JSON as text', () => {
    const value = { quotient: 3, remainder: 1 };
    const result = toToolResult(value, true);
    expect(result.structuredContent).toEqual(value);
    expect(result.content).toEqual([{ type: 'text', text: JSON.stringify(value) }]);
    expect(CallToolResultSchema.safeParse(result).success).toBe(true);
  });

  test('every converted value is a valid CallToolResult', () => {
    for (const value of ['s', 1, true, null, undefined, { a: 1 }, [1]]) {
      expect(CallToolResultSchema.safeParse(toToolResult(value, false)).success).toBe(true);
    }
  });
});

describe('toResourceResult', () => {
  const uri = new URL('docs://pages/intro');

  test('a string is text, text/plain unless a mime type is given', () => {
    expect(toResourceResult('hi', uri, undefined)).toEqual({ contents: [{ uri: 'docs://pages/intro', mimeType: 'text/plain', text: 'hi' }] });
    expect(toResourceResult('# hi', uri, 'text/markdown')).toEqual({
      contents: [{ uri: 'docs://pages/intro', mimeType: 'text/markdown', text: '# hi' }],
    });
  });

  test('bytes are a base64 blob, application/octet-stream unless a mime type is given', () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    expect(toResourceResult(bytes, uri, undefined)).toEqual({
      contents: [{ uri: 'docs://pages/intro', mimeType: 'application/octet-stream', blob: 'AAEC+v8=' }],
    });
    expect(toResourceResult(bytes, uri, 'image/png').contents[0]).toMatchObject({ mimeType: 'image/png', blob: 'AAEC+v8=' });
    // Standard base64 (not base64url), as MCP requires.
    expect(Buffer.from((toResourceResult(bytes, uri, undefined).contents[0] as { blob: string }).blob, 'base64')).toEqual(Buffer.from(bytes));
  });

  test('a Buffer and a view into a larger buffer encode only their own bytes', () => {
    expect((toResourceResult(Buffer.from('hello'), uri, undefined).contents[0] as { blob: string }).blob).toBe('aGVsbG8=');
    const backing = new Uint8Array([9, 9, 104, 105, 9]);
    const view = backing.subarray(2, 4);
    expect((toResourceResult(view, uri, undefined).contents[0] as { blob: string }).blob).toBe(Buffer.from('hi').toString('base64'));
  });

  test('other values are JSON, application/json unless a mime type is given', () => {
    expect(toResourceResult({ a: [1, 2] }, uri, undefined)).toEqual({
      contents: [{ uri: 'docs://pages/intro', mimeType: 'application/json', text: '{"a":[1,2]}' }],
    });
    expect(toResourceResult(['x', 'y'], uri, undefined).contents[0]).toMatchObject({ mimeType: 'application/json', text: '["x","y"]' });
    expect(toResourceResult({ a: 1 }, uri, 'application/vnd.x+json').contents[0]).toMatchObject({ mimeType: 'application/vnd.x+json' });
  });

  test('a full ReadResourceResult passes through unchanged', () => {
    const full: ReadResourceResult = {
      contents: [
        { uri: 'docs://a', text: 'A' },
        { uri: 'docs://b', blob: 'Qg==', mimeType: 'application/octet-stream' },
      ],
    };
    expect(toResourceResult(full, uri, 'text/plain')).toBe(full);
  });

  test('uses the URL as read, normalised by URL', () => {
    const read = new URL('users://42/profile?tab=a%20b');
    expect(toResourceResult('x', read, undefined).contents[0]!.uri).toBe(read.href);
  });

  test('results are valid ReadResourceResults', () => {
    for (const value of ['s', new Uint8Array([1]), { a: 1 }, [1]]) {
      expect(ReadResourceResultSchema.safeParse(toResourceResult(value, uri, undefined)).success).toBe(true);
    }
  });
});

describe('toPromptResult', () => {
  const message: PromptMessage = { role: 'assistant', content: { type: 'text', text: 'I can help.' } };

  test('a string is one user text message', () => {
    expect(toPromptResult('Review this', undefined)).toEqual({
      messages: [{ role: 'user', content: { type: 'text', text: 'Review this' } }],
    });
  });

  test('the prompt description is added when known', () => {
    expect(toPromptResult('x', 'A review prompt')).toEqual({
      description: 'A review prompt',
      messages: [{ role: 'user', content: { type: 'text', text: 'x' } }],
    });
  });

  test('one message is wrapped', () => {
    expect(toPromptResult(message, undefined)).toEqual({ messages: [message] });
    expect(toPromptResult(message, 'd')).toEqual({ description: 'd', messages: [message] });
  });

  test('an array of messages is the message list, in order', () => {
    const user: PromptMessage = { role: 'user', content: { type: 'text', text: 'Hi' } };
    expect(toPromptResult([user, message], undefined)).toEqual({ messages: [user, message] });
    expect(toPromptResult([], undefined)).toEqual({ messages: [] });
  });

  test('a full GetPromptResult passes through unchanged', () => {
    const full: GetPromptResult = { description: 'own', messages: [message] };
    expect(toPromptResult(full, 'ignored')).toBe(full);
  });

  test('results are valid GetPromptResults', () => {
    const values: PromptReturn[] = ['s', message, [message], { messages: [message] }];
    for (const value of values) {
      expect(GetPromptResultSchema.safeParse(toPromptResult(value, 'd')).success).toBe(true);
    }
  });
});
