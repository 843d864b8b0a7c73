import type { Hex } from "../protocol/index.js";
import { ExpiringMap } from "../service/expiring-map.js";

export { ExpiringMap };

/**
 * What keeps hostile or broken devices from costing honest ones: a bounded cache of "no" answers with
 * an expiry (an unknown key, a device that is not a member, is asked about at most once per expiry,
 * not once per message), per-device token buckets (a device that floods is refused beyond its rate,
 * not queued ahead of the others), and a fair queue (submission batches take devices in turn, so one
 * device's backlog never delays another's readings).
 */

/** A device's allowance: `perSecond` messages on average, up to `burst` at once. */
export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
}

/**
 * One token bucket per device, created on the device's first message and dropped (full again) once
 * idle long enough to have refilled: memory follows the devices active in the last burst/perSecond
 * seconds, bounded by `limit` (beyond it the least recently seen device's bucket is dropped, which
 * only ever gives that device a full bucket back).
 */
export class DeviceRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly rate: RateLimit;
  private readonly limit: number;
  private readonly now: () => number;

  constructor(rate: RateLimit, limit = 1_000_000, now: () => number = Date.now) {
    if (!(rate.perSecond > 0) || !(rate.burst >= 1)) {
      throw new RangeError("a rate limit needs perSecond > 0 and burst >= 1");
    }
    this.rate = rate;
    this.limit = limit;
    this.now = now;
  }

  /** Takes one token of the device's bucket; false when it is empty (the message is refused). */
  take(device: string): boolean {
    const now = this.now();
    const b = this.buckets.get(device);
    let tokens = this.rate.burst;
    if (b !== undefined) {
      tokens = Math.min(this.rate.burst, b.tokens + ((now - b.at) / 1000) * this.rate.perSecond);
      this.buckets.delete(device);
    } else if (this.buckets.size >= this.limit) {
      const oldest = this.buckets.keys().next();
      if (oldest.done !== true) this.buckets.delete(oldest.value);
    }
    if (tokens < 1) {
      this.buckets.set(device, { tokens, at: now });
      return false;
    }
    this.buckets.set(device, { tokens: tokens - 1, at: now });
    return true;
  }

  get devices(): number {
    return this.buckets.size;
  }
}

/** What the fair queue holds: each item belongs to one device and arrived at `receivedAt`. */
export interface FairItem {
  readonly id: number;
  readonly receivedAt: number;
}

/**
 * A queue per device, served in turn. `peek(n)` picks up to n items taking one from each device in
 * ring order, then a second from each, and so on, always in each device's arrival order (a device's
 * sequences stay in order); `remove` takes exactly what the last peek gave (after it was submitted)
 * and moves the devices it served to the back of the ring. `oldest` is the arrival time of the
 * oldest item still queued (what decides that a partial batch is due).
 */
export class FairQueue<T extends FairItem> {
  private readonly byDevice = new Map<string, T[]>();
  private readonly deviceOf: (item: T) => string;
  private count = 0;
  /** Arrival order, for `oldest`: ids removed out of order are skipped lazily. */
  private arrivals: { readonly id: number; readonly at: number }[] = [];
  private head = 0;
  private readonly removed = new Set<number>();

  constructor(deviceOf: (item: T) => string) {
    this.deviceOf = deviceOf;
  }

  get length(): number {
    return this.count;
  }

  /** Devices with at least one queued item. */
  get devices(): number {
    return this.byDevice.size;
  }

  push(item: T): void {
    const device = this.deviceOf(item);
    let q = this.byDevice.get(device);
    if (q === undefined) this.byDevice.set(device, (q = []));
    q.push(item);
    this.count++;
    this.arrivals.push({ id: item.id, at: item.receivedAt });
  }

  /** When the oldest queued item arrived (undefined when empty). */
  oldest(): number | undefined {
    while (this.head < this.arrivals.length) {
      const a = this.arrivals[this.head];
      if (a === undefined || !this.removed.has(a.id)) break;
      this.removed.delete(a.id);
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.arrivals.length) {
      this.arrivals = this.arrivals.slice(this.head);
      this.head = 0;
    }
    return this.arrivals[this.head]?.at;
  }

  /** Up to `n` items, devices in turn, each device's in arrival order. Nothing is removed. */
  peek(n: number): T[] {
    const out: T[] = [];
    const queues = [...this.byDevice.values()];
    for (let depth = 0; out.length < n; depth++) {
      let took = false;
      for (const q of queues) {
        const item = q[depth];
        if (item === undefined) continue;
        out.push(item);
        took = true;
        if (out.length >= n) break;
      }
      if (!took) break;
    }
    return out;
  }

  /**
   * Removes `items`, which must be what `peek` returned (each device's first items). The devices
   * served go to the back of the ring.
   */
  remove(items: readonly T[]): void {
    const served = new Map<string, number>();
    for (const item of items) {
      const device = this.deviceOf(item);
      served.set(device, (served.get(device) ?? 0) + 1);
      this.removed.add(item.id);
    }
    for (const [device, n] of served) {
      const q = this.byDevice.get(device);
      if (q === undefined) continue;
      q.splice(0, n);
      this.count -= n;
      this.byDevice.delete(device);
      if (q.length > 0) this.byDevice.set(device, q);
    }
  }

  /** Forgets every item (a stopping gateway leaves their rows pending in its store). */
  clear(): void {
    this.byDevice.clear();
    this.count = 0;
    this.arrivals = [];
    this.head = 0;
    this.removed.clear();
  }

  /** Every queued item (for tests and shutdown reports), devices in ring order. */
  items(): T[] {
    return [...this.byDevice.values()].flat();
  }
}

/** A reading's device, as the fair queue keys it. */
export function deviceKeyOf(deviceId: Hex): string {
  return deviceId.toLowerCase();
}
