import type { OperationSpec, SecuritySchemeSpec } from '../../src/openapi/model.js';
import { operationScopes } from '../../src/openapi/scopes.js';
import { Scopes } from '../../src/server/scopes.js';

describe('Scopes', () => {
  const scopes = new Scopes();
  scopes.tools.set('purge', ['admin']);
  scopes.prompts.set('audit', ['admin']);
  scopes.setResource('secret://plans', ['admin']);
  scopes.setResource('reports://{id}', ['reports']);

  test('what a request uses, for the methods that use one thing', () => {
    expect(Scopes.targetOf('tools/call', { name: 'purge' })).toEqual({ kind: 'tool', name: 'purge' });
    expect(Scopes.targetOf('prompts/get', { name: 'audit' })).toEqual({ kind: 'prompt', name: 'audit' });
    expect(Scopes.targetOf('resources/subscribe', { uri: 'reports://7' })).toEqual({ kind: 'resource', name: 'reports://7' });
    expect(Scopes.targetOf('completion/complete', { ref: { type: 'ref/resource', uri: 'reports://{id}' } })).toEqual({ kind: 'resource', name: 'reports://{id}' });
    expect(Scopes.targetOf('tools/call', { name: 7 })).toBeUndefined();
    expect(Scopes.targetOf('tools/list', {})).toBeUndefined();
    expect(Scopes.targetOf('toString', undefined)).toBeUndefined();
  });

  test("a template's scopes cover every URI it matches, and only those", () => {
    expect(scopes.of({ kind: 'resource', name: 'reports://7' })).toEqual(['reports']);
    expect(scopes.of({ kind: 'resource', name: 'secret://plans' })).toEqual(['admin']);
    expect(scopes.of({ kind: 'resource', name: 'docs://readme' })).toBeUndefined();
    expect(scopes.ofTemplate('reports://{id}')).toEqual(['reports']);
    expect(scopes.size).toBe(4);
  });
});

describe('operationScopes', () => {
  const schemes = new Map<string, SecuritySchemeSpec>([
    ['oauth', { type: 'oauth2', scopes: ['read', 'write'] }],
    ['oidc', { type: 'openIdConnect' }],
    ['key', { type: 'apiKey', name: 'X-Key', in: 'header' }],
  ]);
  const op = (security: OperationSpec['security']) => ({ key: 'GET /x', security }) as OperationSpec;

  test('OAuth and OpenID Connect scopes count; other schemes list roles, not scopes', () => {
    expect(operationScopes(op([{ oauth: ['read'] }]), schemes)).toEqual({ scopes: ['read'], merged: false });
    expect(operationScopes(op([{ oauth: ['read'], oidc: ['profile'], key: ['role'] }]), schemes)).toEqual({ scopes: ['profile', 'read'], merged: false });
    expect(operationScopes(op([]), schemes)).toEqual({ scopes: [], merged: false });
    expect(operationScopes(op([{ key: [] }]), schemes)).toEqual({ scopes: [], merged: false });
  });

  test('alternatives naming different scopes are merged (stricter), and say so', () => {
    expect(operationScopes(op([{ oauth: ['write'] }, { key: [] }]), schemes)).toEqual({ scopes: ['write'], merged: true });
    expect(operationScopes(op([{ oauth: ['read'] }, { oauth: ['read'] }]), schemes)).toEqual({ scopes: ['read'], merged: false });
  });
});
