import { LruCache } from "./lru.js";

/**
 * Public keys by id (a secp256k1 device's address), at most `capacity` of them, least recently used
 * dropped first. The keys live side by side in one growing byte slab (no object per key) and the LRU
 * maps an id to its slot: ~140 bytes per device, 64 of them the key (the bench's
 * bytes.verify.secp256k1.keyCache.100000devices).
 */
export class PublicKeyCache {
  readonly capacity: number;
  /** Bytes per key. */
  readonly width: number;
  private readonly _slots: LruCache<string, number>;
  private _slab: Buffer;
  /** Slots handed out so far; evicted slots are reused, so this never exceeds capacity. */
  private _used = 0;

  constructor(capacity: number, width = 64) {
    this._slots = new LruCache(capacity);
    this.capacity = capacity;
    this.width = width;
    this._slab = Buffer.alloc(Math.min(capacity, 1024) * width);
  }

  get size(): number {
    return this._slots.size;
  }

  /**
   * Whether the key cached for `id` equals `candidate[offset, offset + width)`; undefined when no key
   * is cached for `id`. A hit makes `id` the most recently used.
   */
  matches(id: string, candidate: Uint8Array, offset: number): boolean | undefined {
    const slot = this._slots.get(id);
    if (slot === undefined) return undefined;
    const start = slot * this.width;
    return (
      this._slab.compare(candidate, offset, offset + this.width, start, start + this.width) === 0
    );
  }

  /** Caches `key[offset, offset + width)` for `id`, evicting the least recently used id when full. */
  set(id: string, key: Uint8Array, offset: number): void {
    let slot = this._slots.get(id);
    if (slot === undefined) {
      if (this._used < this.capacity) {
        slot = this._used++;
        this._grow(this._used);
        this._slots.set(id, slot);
      } else {
        // Full: the least recently used id gives up its slot.
        const evicted = this._slots.set(id, -1);
        slot = evicted?.value ?? 0;
        this._slots.set(id, slot);
      }
    }
    this._slab.set(key.subarray(offset, offset + this.width), slot * this.width);
  }

  has(id: string): boolean {
    return this._slots.has(id);
  }

  clear(): void {
    this._slots.clear();
    this._used = 0;
  }

  private _grow(slots: number): void {
    if (slots * this.width <= this._slab.length) return;
    const bigger = Buffer.alloc(
      Math.min(this.capacity, 2 * (this._slab.length / this.width)) * this.width,
    );
    this._slab.copy(bigger);
    this._slab = bigger;
  }
}
