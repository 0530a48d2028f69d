import { classifyInboundRequest } from '@modelcontextprotocol/server';
import { ModernClassifier } from '../../src/http/modern-classify.js';
import { envelope, MODERN } from '../helpers/era-2026.js';

type Case = [what: string, version: string | undefined, method: string | undefined, body: unknown];

const call = (meta: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name: 'add', arguments: { a: 1, b: 2 }, _meta: meta },
  ...extra,
});

/** Requests that share one envelope, so that every case after the first can meet a memoized verdict. */
const cases: Case[] = [
  ['a plain call', MODERN, 'tools/call', call(envelope())],
  ['the same call again', MODERN, 'tools/call', call(envelope())],
  ['a string id', MODERN, 'tools/call', { ...call(envelope()), id: 'x' }],
  ['a fractional id', MODERN, 'tools/call', { ...call(envelope()), id: 1.5 }],
  ['a null id', MODERN, 'tools/call', { ...call(envelope()), id: null }],
  ['no id (a notification)', MODERN, 'tools/call', (({ id: _id, ...rest }) => rest)(call(envelope()))],
  ['an extra top-level key', MODERN, 'tools/call', call(envelope(), { result: {} })],
  ['another Mcp-Method', MODERN, 'tools/list', call(envelope())],
  ['no Mcp-Method', MODERN, undefined, call(envelope())],
  ['another MCP-Protocol-Version', '2025-11-25', 'tools/call', call(envelope())],
  ['no MCP-Protocol-Version', undefined, 'tools/call', call(envelope())],
  ['an unknown envelope version', '2099-01-01', 'tools/call', call({ ...envelope(), 'io.modelcontextprotocol/protocolVersion': '2099-01-01' })],
  ['a malformed clientInfo', MODERN, 'tools/call', call({ ...envelope(), 'io.modelcontextprotocol/clientInfo': 'me' })],
  ['a malformed clientCapabilities', MODERN, 'tools/call', call({ ...envelope(), 'io.modelcontextprotocol/clientCapabilities': [] })],
  ['a progress token', MODERN, 'tools/call', call({ ...envelope(), progressToken: 3 })],
  ['a malformed progress token', MODERN, 'tools/call', call({ ...envelope(), progressToken: { a: 1 } })],
  ['a plain call after the refusals', MODERN, 'tools/call', call(envelope())],
  ['the envelope in another key order', MODERN, 'tools/call', call(Object.fromEntries(Object.entries(envelope()).reverse()))],
  ['capabilities that differ deep inside', MODERN, 'tools/call', call({ ...envelope(), 'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } } })],
  ['malformed capabilities deep inside', MODERN, 'tools/call', call({ ...envelope(), 'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: 'yes' } } })],
  ['an array where an object was', MODERN, 'tools/call', call({ ...envelope(), 'io.modelcontextprotocol/clientInfo': ['raw', '1.0.0'] })],
  ['an extra key in clientInfo', MODERN, 'tools/call', call({ ...envelope(), 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1.0.0', title: 'Raw' } })],
  ['a missing key in clientInfo', MODERN, 'tools/call', call({ ...envelope(), 'io.modelcontextprotocol/clientInfo': { name: 'raw' } })],
  ['an enveloped initialize', MODERN, 'initialize', { jsonrpc: '2.0', id: 1, method: 'initialize', params: { _meta: envelope() } }],
  ['a 2025 initialize', undefined, undefined, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } } }],
  ['a 2025 call', '2025-11-25', undefined, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'add' } }],
  ['a response', MODERN, undefined, { jsonrpc: '2.0', id: 2, result: {} }],
  ['no params', MODERN, 'tools/list', { jsonrpc: '2.0', id: 2, method: 'tools/list' }],
  ['params without an envelope', MODERN, 'tools/list', { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }],
];

describe('ModernClassifier: the SDK classifier, its verdicts memoized for plain 2026 requests', () => {
  test.each(cases)('%s: the same verdict as classifyInboundRequest, also after the memo has verdicts', (_what, version, method, body) => {
    const classifier = new ModernClassifier();
    const expected = classifyInboundRequest({ httpMethod: 'POST', protocolVersionHeader: version, mcpMethodHeader: method, mcpNameHeader: 'add', body });
    // A fresh memo, then one that has seen every case (in order) twice.
    expect(classifier.classify(version, method, 'add', body)).toEqual(expected);
    for (let round = 0; round < 2; round++) {
      for (const [, v, m, b] of cases) classifier.classify(v, m, 'add', b);
    }
    expect(classifier.classify(version, method, 'add', body)).toEqual(expected);
  });

  test('a memoized verdict carries the request it was asked about', () => {
    const classifier = new ModernClassifier();
    classifier.classify(MODERN, 'tools/call', 'add', call(envelope()));
    const second = call(envelope(), { id: 8 });
    const route = classifier.classify(MODERN, 'tools/call', 'add', second);
    expect(route.kind).toBe('modern');
    expect(route.kind === 'modern' && route.message).toBe(second);
  });

  test('a verdict met again by value is the memoized one, whatever the request that first got it became', () => {
    const classifier = new ModernClassifier();
    const first = call(envelope());
    classifier.classify(MODERN, 'tools/call', 'add', first);
    // The SDK may change a request's _meta after classification: the memo keeps its own copy.
    ((first['params'] as { _meta: Record<string, unknown> })._meta)['io.modelcontextprotocol/protocolVersion'] = '2099-01-01';
    const odd = call({ ...envelope(), 'io.modelcontextprotocol/protocolVersion': '2099-01-01' });
    const expected = classifyInboundRequest({ httpMethod: 'POST', protocolVersionHeader: MODERN, mcpMethodHeader: 'tools/call', mcpNameHeader: 'add', body: odd });
    expect(classifier.classify(MODERN, 'tools/call', 'add', odd)).toEqual(expected);
    expect(classifier.classify(MODERN, 'tools/call', 'add', call(envelope()))).toEqual(classifyInboundRequest({ httpMethod: 'POST', protocolVersionHeader: MODERN, mcpMethodHeader: 'tools/call', mcpNameHeader: 'add', body: call(envelope()) }));
  });

  test('the memo stays bounded under ever new envelopes', () => {
    const classifier = new ModernClassifier();
    const verdicts = (classifier as unknown as { verdicts: Map<string, unknown> }).verdicts;
    for (let i = 0; i < 5000; i++) classifier.classify(MODERN, 'tools/call', 'add', call(envelope(`client-${i}`)));
    expect(verdicts.size).toBeLessThanOrEqual(512);
  });
});
