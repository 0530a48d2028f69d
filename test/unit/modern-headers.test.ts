import type { JSONRPCRequest } from '@modelcontextprotocol/server';
import { checkParamHeaders, checkStandardHeaders, decodeHeaderValue, paramDeclarations } from '../../src/http/modern-headers.js';

const MODERN = '2026-07-28';
const call = (params: Record<string, unknown>): JSONRPCRequest => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params });

describe('2026-07-28 standard headers against the body', () => {
  const headers = { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'add' };

  test('agreeing headers pass; a Base64 Mcp-Name is decoded first', () => {
    expect(checkStandardHeaders(headers, call({ name: 'add' }), MODERN)).toBeUndefined();
    const encoded = `=?base64?${Buffer.from('héllo wörld').toString('base64')}?=`;
    expect(checkStandardHeaders({ ...headers, 'mcp-name': encoded }, call({ name: 'héllo wörld' }), MODERN)).toBeUndefined();
  });

  test.each([
    ['no MCP-Protocol-Version', { 'mcp-protocol-version': undefined }, 'MCP-Protocol-Version'],
    ['another MCP-Protocol-Version', { 'mcp-protocol-version': '2025-11-25' }, 'MCP-Protocol-Version'],
    ['no Mcp-Method', { 'mcp-method': undefined }, 'Mcp-Method'],
    ['another Mcp-Method', { 'mcp-method': 'tools/list' }, 'Mcp-Method'],
    ['no Mcp-Name', { 'mcp-name': undefined }, 'Mcp-Name'],
    ['another Mcp-Name', { 'mcp-name': 'sub' }, 'Mcp-Name'],
    ['a broken Base64 Mcp-Name', { 'mcp-name': '=?base64?***?=' }, 'Mcp-Name'],
  ])('%s is a mismatch', (_what, override, named) => {
    const refusal = checkStandardHeaders({ ...headers, ...override }, call({ name: 'add' }), MODERN);
    expect(refusal?.message).toContain(named);
    expect(refusal?.data.mismatch).toEqual({ header: expect.any(String), body: expect.any(String) });
  });

  test('methods without a name need no Mcp-Name; resources/read mirrors the URI', () => {
    expect(checkStandardHeaders({ 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list' }, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, MODERN)).toBeUndefined();
    const read: JSONRPCRequest = { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'demo://readme' } };
    expect(checkStandardHeaders({ 'mcp-protocol-version': MODERN, 'mcp-method': 'resources/read', 'mcp-name': 'demo://readme' }, read, MODERN)).toBeUndefined();
    expect(checkStandardHeaders({ 'mcp-protocol-version': MODERN, 'mcp-method': 'resources/read', 'mcp-name': 'demo://other' }, read, MODERN)).toBeDefined();
  });

  test('decodeHeaderValue refuses non-canonical Base64 and invalid UTF-8', () => {
    expect(decodeHeaderValue('plain')).toBe('plain');
    expect(decodeHeaderValue('=?base64?YQ?=')).toBeUndefined(); // padding missing
    expect(decodeHeaderValue(`=?base64?${Buffer.from([0xff, 0xfe]).toString('base64')}?=`)).toBeUndefined();
  });
});

describe('Mcp-Param-* headers against x-mcp-header arguments', () => {
  const schema = {
    type: 'object',
    properties: {
      region: { type: 'string', 'x-mcp-header': 'Region' },
      count: { type: 'integer', 'x-mcp-header': 'Count' },
      nested: { type: 'object', properties: { flag: { type: 'boolean', 'x-mcp-header': 'Flag' } } },
      plain: { type: 'string' },
    },
  };
  const declared = paramDeclarations(schema);

  test('declarations are found through properties only', () => {
    expect(declared.map((d) => [d.header, d.path.join('.')])).toEqual([
      ['Region', 'region'],
      ['Count', 'count'],
      ['Flag', 'nested.flag'],
    ]);
  });

  test('mirrored values pass (numbers compare as numbers); absent or null arguments need no header', () => {
    expect(checkParamHeaders(declared, { region: 'eu', count: 7, nested: { flag: true } }, { 'mcp-param-region': 'eu', 'mcp-param-count': '7.0', 'mcp-param-flag': 'true' })).toBeUndefined();
    expect(checkParamHeaders(declared, { region: null }, { 'mcp-param-region': 'ignored' })).toBeUndefined();
  });

  test('a missing, different or badly encoded header is a mismatch', () => {
    expect(checkParamHeaders(declared, { region: 'eu' }, {})?.message).toContain('Mcp-Param-Region');
    expect(checkParamHeaders(declared, { count: 7 }, { 'mcp-param-count': '8' })?.message).toContain('Mcp-Param-Count');
    expect(checkParamHeaders(declared, { region: 'eu' }, { 'mcp-param-region': '=?base64?!?=' })).toBeDefined();
  });
});
