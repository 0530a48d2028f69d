import { headers } from 'nats';
import {
  NATS_HEADERS,
  clientSubject,
  serviceSubject,
  workerSubject,
} from '../../src/transports/index.js';
import { clientHeaders, decodeMessage, encodeMessage, headerRecord, isPublishableSubject, kindOf, readHello } from '../../src/transports/nats/protocol.js';

test('default subjects', () => {
  expect(serviceSubject('demo')).toBe('mcp.service.demo.request');
  expect(workerSubject('demo', 'ID1')).toBe('mcp.worker.demo.ID1');
  expect(clientSubject('C1')).toBe('mcp.response.C1');
  expect(serviceSubject('demo', 'acme.mcp')).toBe('acme.mcp.service.demo.request');
});

test('only plain subjects are publishable', () => {
  expect(isPublishableSubject('mcp.response.abc')).toBe(true);
  expect(isPublishableSubject('_INBOX.x.y')).toBe(true);
  for (const bad of ['', 'a.*', 'a.>', 'a b', 'a..b', '.a', 'a.', 'x'.repeat(600)]) expect(isPublishableSubject(bad)).toBe(false);
});

test('the client hello survives the headers, unicode included', () => {
  const hello = {
    protocolVersion: '2025-06-18',
    clientInfo: { name: 'Zoë’s client ✓', version: '1.0.0' },
    capabilities: { sampling: {}, elicitation: { form: {} } },
    logLevel: 'warning' as const,
  };
  const h = clientHeaders('c1', 'mcp.response.c1', hello);
  expect(h.get(NATS_HEADERS.clientId)).toBe('c1');
  expect(h.get(NATS_HEADERS.replyTo)).toBe('mcp.response.c1');
  expect(readHello(h)).toEqual(hello);
  expect(headerRecord(h)).toMatchObject({ 'mcp-client-id': 'c1', 'mcp-log-level': 'warning' });
});

test('a malformed hello field is left out, not fatal', () => {
  const h = headers();
  h.set(NATS_HEADERS.clientInfo, '{not json');
  h.set(NATS_HEADERS.clientCapabilities, '"a string"');
  h.set(NATS_HEADERS.logLevel, 'loud');
  h.set(NATS_HEADERS.protocolVersion, '2025-03-26');
  expect(readHello(h)).toEqual({ protocolVersion: '2025-03-26' });
  expect(readHello(undefined)).toEqual({});
});

test('messages are validated JSON-RPC, kept as sent', () => {
  const request = { jsonrpc: '2.0' as const, id: 1, method: 'tools/call', params: { name: 'x', arguments: { deep: { extra: true } } } };
  expect(decodeMessage(encodeMessage(request))).toEqual(request);
  expect(kindOf(request)).toBe('request');
  expect(kindOf({ jsonrpc: '2.0', method: 'notifications/initialized' })).toBe('notification');
  expect(kindOf({ jsonrpc: '2.0', id: 1, result: {} })).toBe('response');
  expect(() => decodeMessage(new TextEncoder().encode('{"id":1}'))).toThrow(/not a JSON-RPC 2.0 message/);
  expect(() => decodeMessage(new TextEncoder().encode('nope'))).toThrow();
});
