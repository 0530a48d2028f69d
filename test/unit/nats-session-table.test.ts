import { SessionTable } from '../../src/transports/nats/session-table.js';

class Fake {
  busy = false;
  closed = 0;
  close(): void {
    this.closed++;
  }
}

function table(capacity = 3, idleMs = 1000) {
  let now = 0;
  const t = new SessionTable<Fake>({ capacity, idleMs, now: () => now });
  return { t, advance: (ms: number) => (now += ms) };
}

test('idle sessions expire; busy ones and recently used ones stay', () => {
  const { t, advance } = table();
  const [a, b, c] = [new Fake(), new Fake(), new Fake()];
  t.add('a', a);
  t.add('b', b);
  t.add('c', c);
  b.busy = true;
  advance(600);
  expect(t.use('c')).toBe(c);
  advance(600);
  expect(t.sweep()).toBe(1);
  expect([a.closed, b.closed, c.closed]).toEqual([1, 0, 0]);
  expect(t.peek('a')).toBeUndefined();
  expect(t.size).toBe(2);
});

test('beyond capacity the least recently used idle session is closed first', () => {
  const { t } = table(2);
  const [a, b, c] = [new Fake(), new Fake(), new Fake()];
  t.add('a', a);
  t.add('b', b);
  a.busy = true;
  t.add('c', c);
  expect([a.closed, b.closed, c.closed]).toEqual([0, 1, 0]);
  const d = new Fake();
  c.busy = true;
  t.add('d', d); // everyone else busy: the least recently used goes anyway
  expect(a.closed).toBe(1);
  expect(t.values()).toEqual([c, d]);
});

test('remove and clear close what they drop; replacing a key closes the old session', () => {
  const { t } = table();
  const [a, a2, b] = [new Fake(), new Fake(), new Fake()];
  t.add('a', a);
  t.add('a', a2);
  expect(a.closed).toBe(1);
  t.add('b', b);
  expect(t.remove('b')).toBe(true);
  expect(t.remove('b')).toBe(false);
  t.clear();
  expect([a2.closed, b.closed, t.size]).toEqual([1, 1, 0]);
});
