/** The status hold's bounds (src/http/status-hold.ts) and its settings (`HTTMCP_STATUS_HOLD_*`). */
import { Gateway } from '../../src/index.js';
import { MAX_STATUS_HOLD_MS, StatusHold } from '../../src/http/status-hold.js';

test('a slot per request past the inline budget, at most maxHeld at once; off when the hold is not longer than the budget', () => {
  const hold = new StatusHold({ holdMs: 1000, maxHeld: 2 });
  expect([hold.take(50), hold.take(50), hold.take(50)]).toEqual([true, true, false]);
  expect(hold.held).toBe(2);
  hold.give();
  expect(hold.take(50)).toBe(true);
  expect(new StatusHold({ holdMs: 50 }).take(50)).toBe(false);
  expect(new StatusHold({ holdMs: 0 }).take(0)).toBe(false);
  expect(new StatusHold().holdMs).toBe(1000);
  expect(new StatusHold().maxHeld).toBe(256);
});

test('settings out of range are refused with the setting named', () => {
  expect(() => new StatusHold({ holdMs: MAX_STATUS_HOLD_MS + 1 })).toThrow(/HTTMCP_STATUS_HOLD_MS/);
  expect(() => new StatusHold({ maxHeld: 1.5 })).toThrow(/HTTMCP_STATUS_HOLD_MAX/);
  const env = { HTTMCP_PUBLISH_URL: 'unix:/nonexistent.sock', HTTMCP_SESSION_SECRET: 'x'.repeat(32) };
  expect(() => Gateway.fromEnv({ ...env, HTTMCP_STATUS_HOLD_MS: '60000' })).toThrow(/HTTMCP_STATUS_HOLD_MS\) must be 0 to 30000 ms/);
  expect(() => Gateway.fromEnv({ ...env, HTTMCP_STATUS_HOLD_MAX: '-1' })).toThrow(/HTTMCP_STATUS_HOLD_MAX/);
});
