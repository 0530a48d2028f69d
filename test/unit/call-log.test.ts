import { CallLog } from '../../src/console/call-log.js';
import { consoleAccess, consoleAllowFromEnv } from '../../src/stack/nginx-config.js';

describe('CallLog', () => {
  test('keeps the last calls newest first, bounded, and counts every call per tool', () => {
    const log = new CallLog(3);
    for (let i = 0; i < 5; i++) log.record('demo', 'add', i);
    log.record('demo', 'fail', 7, new Error('boom'));
    const { recent, tools, perSecond } = log.snapshot();
    expect(recent.map((c) => c.durationMs)).toEqual([7, 4, 3]);
    expect(recent[0]).toMatchObject({ server: 'demo', tool: 'fail', outcome: 'error', error: 'boom' });
    expect(tools).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ tool: 'add', calls: 5, errors: 0, p50: 2, p99: 4 }),
        expect.objectContaining({ tool: 'fail', calls: 1, errors: 1 }),
      ]),
    );
    expect(perSecond).toHaveLength(60);
    expect(perSecond.reduce((sum, b) => sum + b.calls, 0)).toBe(6);
    expect(perSecond.reduce((sum, b) => sum + b.errors, 0)).toBe(1);
  });

  test('percentiles come from the recent durations only', () => {
    const log = new CallLog();
    for (let i = 0; i < 1000; i++) log.record('s', 't', i < 500 ? 1000 : 1);
    expect(log.snapshot().tools[0]).toMatchObject({ calls: 1000, p50: 1, p99: 1 });
  });

  test('forgets seconds older than a minute', () => {
    const log = new CallLog();
    log.record('s', 't', 1);
    expect(log.snapshot(Date.now() + 61_000).perSecond.every((b) => b.calls === 0)).toBe(true);
  });
});

describe('console access rules', () => {
  test('loopback by default, `off` for nobody, addresses and ranges checked', () => {
    expect(consoleAccess()).toBe('allow 127.0.0.1; allow ::1; deny all;');
    expect(consoleAccess(consoleAllowFromEnv('off'))).toBe('deny all;');
    expect(consoleAccess(consoleAllowFromEnv('10.0.0.0/8, ::1'))).toBe('allow 10.0.0.0/8; allow ::1; deny all;');
    expect(consoleAccess(consoleAllowFromEnv(''))).toBe('allow 127.0.0.1; allow ::1; deny all;');
    expect(() => consoleAccess(['example.com'])).toThrow(/IP address/);
    expect(() => consoleAccess(['10.0.0.0/33'])).toThrow(/IP address/);
    expect(() => consoleAccess(['1.2.3.4; allow all'])).toThrow(/IP address/);
  });
});
