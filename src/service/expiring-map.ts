/**
 * A bounded map whose entries expire: `get` answers only while an entry is younger than `ttlMs`.
 * When full, the oldest entry goes (insertion order), so memory stays bounded under any key churn.
 */
export class ExpiringMap<K, V> {
  private readonly entries = new Map<K, { readonly value: V; readonly until: number }>();
  private readonly ttlMs: number;
  private readonly limit: number;
  private readonly now: () => number;

  constructor(ttlMs: number, limit: number, now: () => number = Date.now) {
    this.ttlMs = ttlMs;
    this.limit = limit;
    this.now = now;
  }

  get(key: K): V | undefined {
    const e = this.entries.get(key);
    if (e === undefined) return undefined;
    if (e.until <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    if (this.entries.size >= this.limit) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, until: this.now() + this.ttlMs });
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Keeps a map or set under `limit` entries before one more is added: the oldest insertion goes (a
 * cache that is cleared wholesale instead sends every lookup back to its source at once).
 */
export function evictOldest<K, V>(entries: Set<K> | Map<K, V>, limit: number): void {
  if (entries.size < limit) return;
  const oldest = entries.keys().next();
  if (oldest.done !== true) entries.delete(oldest.value);
}
