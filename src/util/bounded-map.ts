/** Optional byte budget of a {@link BoundedMap}. */
export interface BoundedMapWeight<V> {
  /** Most total weight kept; the oldest entries are forgotten past it. */
  max: number;
  /** The weight of a value (for example its size in bytes). */
  of: (value: V) => number;
}

/**
 * A Map that forgets its oldest entries beyond `capacity` (and, when given a weight, beyond a
 * total weight), so per-session state cannot grow without bound however many sessions come and
 * go. Setting a key makes it the newest.
 */
export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();
  private weightHeld = 0;

  constructor(
    private readonly capacity: number,
    private readonly weight?: BoundedMapWeight<V>,
  ) {
    if (!(capacity > 0)) throw new RangeError('capacity must be positive');
  }

  get size(): number {
    return this.map.size;
  }

  /** The total weight of the values kept (0 without a weight). */
  get totalWeight(): number {
    return this.weightHeld;
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  set(key: K, value: V): this {
    this.delete(key);
    this.map.set(key, value);
    if (this.weight) this.weightHeld += this.weight.of(value);
    while (this.map.size > this.capacity || (this.weight !== undefined && this.weightHeld > this.weight.max && this.map.size > 1)) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
    return this;
  }

  /** Oldest first. */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  delete(key: K): boolean {
    if (this.weight) {
      const value = this.map.get(key);
      if (value === undefined && !this.map.has(key)) return false;
      this.weightHeld -= this.weight.of(value as V);
    }
    return this.map.delete(key);
  }
}
