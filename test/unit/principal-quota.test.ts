import { PrincipalQuota } from '../../src/auth/principal-quota.js';

describe('PrincipalQuota', () => {
  test('a tool call rate with a burst, per principal, server and tool, refilling with time', () => {
    let now = 1_000_000;
    const quota = new PrincipalQuota({ toolRatePerSecond: 2, toolBurst: 1 }, () => now);
    const add = { kind: 'tool', name: 'add' };
    expect(quota.takeCall('p', 'demo', add)).toBeUndefined();
    expect(quota.takeCall('p', 'demo', add)).toBeUndefined();
    expect(quota.takeCall('p', 'demo', add)).toMatchObject({ limit: 'rate', retryAfterSeconds: 1 });
    // Others are counted apart: another tool, server or principal.
    expect(quota.takeCall('p', 'demo', { kind: 'tool', name: 'divide' })).toBeUndefined();
    expect(quota.takeCall('p', 'notes', add)).toBeUndefined();
    expect(quota.takeCall('q', 'demo', add)).toBeUndefined();
    now += 500; // one more call's worth at 2 a second
    expect(quota.takeCall('p', 'demo', add)).toBeUndefined();
    expect(quota.takeCall('p', 'demo', add)).toBeDefined();
  });

  test('a remembered call key counts in the one bucket of its principal, server and tool', () => {
    const quota = new PrincipalQuota({ toolRatePerSecond: 1, toolBurst: 2 }, () => 1_000_000);
    // Two sessions of one principal, each with its own memo, share the principal's bucket.
    const [first, second] = [{}, {}];
    expect(quota.takeCall('p', 'demo', { kind: 'tool', name: 'add' }, first)).toBeUndefined();
    expect(quota.takeCall('p', 'demo', { kind: 'tool', name: 'add' }, second)).toBeUndefined();
    expect(quota.takeCall('p', 'demo', { kind: 'tool', name: 'add' })).toBeUndefined();
    expect(quota.takeCall('p', 'demo', { kind: 'tool', name: 'add' }, first)).toMatchObject({ limit: 'rate' });
    // A memo whose last call named something else (another tool, kind, principal or server)
    // is not reused for this one.
    expect(quota.takeCall('p', 'demo', { kind: 'prompt', name: 'add' }, first)).toBeUndefined();
    expect(quota.takeCall('p', 'demo', { kind: 'tool', name: 'divide' }, first)).toBeUndefined();
    expect(quota.takeCall('q', 'demo', { kind: 'tool', name: 'divide' }, first)).toBeUndefined();
    expect(quota.takeCall('q', 'notes', { kind: 'tool', name: 'divide' }, first)).toBeUndefined();
    expect(quota.takeCall('p', 'demo', { kind: 'tool', name: 'add' }, first)).toMatchObject({ limit: 'rate' });
    expect(quota.takeCall('p', 'demo', { kind: 'tool', name: 'add' }, second)).toMatchObject({ limit: 'rate' });
  });

  test('open WebSockets per principal and server; a closed one frees its slot; unknown closes are ignored', () => {
    const quota = new PrincipalQuota({ webSockets: 2 });
    expect(quota.openWebSocket('p', 'demo', 's1')).toBeUndefined();
    expect(quota.openWebSocket('p', 'demo', 's2')).toBeUndefined();
    expect(quota.openWebSocket('p', 'demo', 's3')).toMatchObject({ limit: 'connections', retryAfterSeconds: 5 });
    expect(quota.openWebSocket('p', 'notes', 's4')).toBeUndefined();
    quota.webSocketClosed('nope');
    quota.webSocketClosed('s1');
    expect(quota.openWebSocket('p', 'demo', 's3')).toBeUndefined();
    expect(quota.openWebSocketCount).toBe(3);
  });

  test('stale candidates: the oldest WebSockets of a principal, once old enough to check', () => {
    let now = 0;
    const quota = new PrincipalQuota({ webSockets: 5, staleCheckAfterMs: 1000 }, () => now);
    quota.openWebSocket('p', 'demo', 'a');
    now = 500;
    quota.openWebSocket('p', 'demo', 'b');
    expect(quota.staleCandidates('p', 'demo', 2)).toEqual([]);
    now = 1200;
    expect(quota.staleCandidates('p', 'demo', 2)).toEqual(['a']);
    now = 2000;
    expect(quota.staleCandidates('p', 'demo', 2)).toEqual(['a', 'b']);
    expect(quota.staleCandidates('q', 'demo', 2)).toEqual([]);
  });

  test('settings are checked', () => {
    expect(() => new PrincipalQuota({ webSockets: 0 })).toThrow(/webSockets/);
    expect(() => new PrincipalQuota({ toolBurst: -1 })).toThrow(/toolBurst/);
  });
});
