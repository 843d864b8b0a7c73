import { InvalidInputError } from "../protocol/index.js";

/**
 * A map that holds at most `capacity` entries and drops the least recently used one to make room.
 * A Map iterates in insertion order, so re-inserting an entry on every hit keeps the oldest first:
 * a hit costs a delete and a set, an eviction reads the first key.
 */
export class LruCache<K, V> {
  readonly capacity: number;
  private readonly _entries = new Map<K, V>();

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new InvalidInputError(
        `a cache needs a capacity of at least 1 entry, got ${String(capacity)}`,
      );
    }
    this.capacity = capacity;
  }

  get size(): number {
    return this._entries.size;
  }

  /** The value, now the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    const value = this._entries.get(key);
    if (value === undefined) return undefined;
    this._entries.delete(key);
    this._entries.set(key, value);
    return value;
  }

  has(key: K): boolean {
    return this._entries.has(key);
  }

  /**
   * Stores `value` as the most recently used entry. Returns the entry evicted to make room (the least
   * recently used), so a caller that keeps storage per entry can reuse it.
   */
  set(key: K, value: V): { readonly key: K; readonly value: V } | undefined {
    if (this._entries.delete(key) || this._entries.size < this.capacity) {
      this._entries.set(key, value);
      return undefined;
    }
    let evicted: { key: K; value: V } | undefined;
    for (const [oldKey, oldValue] of this._entries) {
      evicted = { key: oldKey, value: oldValue };
      break;
    }
    if (evicted !== undefined) this._entries.delete(evicted.key);
    this._entries.set(key, value);
    return evicted;
  }

  delete(key: K): boolean {
    return this._entries.delete(key);
  }

  clear(): void {
    this._entries.clear();
  }

  /** Keys from least to most recently used. */
  keys(): IterableIterator<K> {
    return this._entries.keys();
  }
}
