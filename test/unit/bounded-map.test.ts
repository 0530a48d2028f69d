import { BoundedMap } from '../../src/util/bounded-map.js';

describe('BoundedMap', () => {
  test('behaves like a Map below its capacity', () => {
    const map = new BoundedMap<string, number>(3);
    expect(map.size).toBe(0);
    expect(map.get('a')).toBeUndefined();
    expect(map.set('a', 1)).toBe(map);
    map.set('b', 2);
    expect(map.size).toBe(2);
    expect(map.get('a')).toBe(1);
    expect(map.get('b')).toBe(2);
    map.set('a', 10);
    expect(map.size).toBe(2);
    expect(map.get('a')).toBe(10);
  });

  test('forgets the oldest entry beyond its capacity', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1).set('b', 2).set('c', 3);
    expect(map.size).toBe(2);
    expect(map.get('a')).toBeUndefined();
    expect(map.get('b')).toBe(2);
    expect(map.get('c')).toBe(3);
  });

  test('setting an existing key makes it the newest', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1).set('b', 2);
    map.set('a', 11); // refresh a: b is now the oldest
    map.set('c', 3);
    expect(map.get('b')).toBeUndefined();
    expect(map.get('a')).toBe(11);
    expect(map.get('c')).toBe(3);
    expect(map.size).toBe(2);
  });

  test('get does not refresh an entry', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1).set('b', 2);
    expect(map.get('a')).toBe(1);
    map.set('c', 3);
    expect(map.get('a')).toBeUndefined();
    expect(map.get('b')).toBe(2);
  });

  test('delete removes an entry and frees its room', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1).set('b', 2);
    expect(map.delete('a')).toBe(true);
    expect(map.delete('a')).toBe(false);
    expect(map.size).toBe(1);
    map.set('c', 3);
    expect(map.get('b')).toBe(2);
    expect(map.get('c')).toBe(3);
  });

  test('a capacity of one keeps only the last entry', () => {
    const map = new BoundedMap<number, string>(1);
    for (let i = 0; i < 100; i++) map.set(i, `v${i}`);
    expect(map.size).toBe(1);
    expect(map.get(99)).toBe('v99');
    expect(map.get(98)).toBeUndefined();
  });

  test('never grows past its capacity under many distinct keys', () => {
    const map = new BoundedMap<number, number>(50);
    for (let i = 0; i < 10_000; i++) {
      map.set(i, i);
      expect(map.size).toBeLessThanOrEqual(50);
    }
    expect(map.size).toBe(50);
    expect(map.get(9_950)).toBe(9_950);
    expect(map.get(9_949)).toBeUndefined();
  });

  test.each([0, -1, Number.NaN])('rejects capacity %p', (capacity) => {
    expect(() => new BoundedMap(capacity)).toThrow(RangeError);
  });
});
