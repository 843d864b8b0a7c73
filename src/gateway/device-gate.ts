import { ZeroHash } from "ethers";
import type { Logger } from "pino";
import { errorMessage, keyHash, type DeviceKey, type Hex } from "../protocol/index.js";
import { evictOldest } from "../service/expiring-map.js";
import { DeviceRateLimiter, ExpiringMap, type RateLimit } from "./admission.js";
import type { GatewayMetrics, RejectReason } from "./metrics.js";
import { GatewayError, type KeyDirectory } from "./types.js";

/**
 * Whose key signed a message, as the registry says: the device's current key (the only one the feeds
 * and the anchor accept), a key it held before a rotation (old_key), a key another device holds or
 * held (wrong_device), or a key no registered device ever held (unknown_key).
 */
export type KeyRole = "current" | "old_key" | "wrong_device" | "unknown_key";

/** A device's current key hash as last learned, with when (for the TTL) and in which order. */
interface CurrentKey {
  readonly hash: Hex;
  readonly at: number;
  readonly version: number;
}

const KEY_CACHE_LIMIT = 1_000_000;

export interface DeviceGateOptions {
  readonly directory: KeyDirectory;
  /** How long a device's current key is trusted without asking again, in ms. */
  readonly keyCacheTtlMs: number;
  /** How long a "no" of the registry is believed, in ms. */
  readonly negativeCacheTtlMs: number;
  /** Each device's allowance of new messages, or false for none. */
  readonly deviceRate: RateLimit | false;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
}

/**
 * What the gateway knows of the registry, cached: whose key signed a message (keyRole), whether its
 * device is Active and a member of the feed, and each device's allowance (admit). Lookups of one key,
 * device or feed that overlap share one request; a "no" is believed for negativeCacheTtlMs, a device's
 * current key for keyCacheTtlMs (a KeyRotated event replaces it at once: onKeyRotated). Every cache is
 * bounded. A registry that does not answer throws GATEWAY_DIRECTORY: the message is then not
 * acknowledged, and the broker redelivers it later.
 */
export class DeviceGate {
  private readonly options: DeviceGateOptions;
  private readonly keyOwners = new Map<Hex, Hex>();
  private readonly keyHashes = new Map<string, Hex>();
  private readonly currentKeys = new Map<Hex, CurrentKey>();
  private readonly currentKeyLookups = new Map<Hex, Promise<Hex>>();
  /** Key hash → the device that held it before a rotation (a rotated-out key never comes back). */
  private readonly formerKeys = new Map<Hex, Hex>();
  private keyVersion = 0;
  private readonly keyCacheTtlMs: number;
  /** Devices the registry does not know (no current key), keys nobody holds: "no" for a while. */
  private readonly unknown: ExpiringMap<Hex, true>;
  /** Feed id -> its members (lower case), refreshed after negativeCacheTtlMs. */
  private readonly members: ExpiringMap<Hex, ReadonlySet<Hex>>;
  private readonly memberLookups = new Map<Hex, Promise<ReadonlySet<Hex>>>();
  private readonly activeLookups = new Map<Hex, Promise<boolean>>();
  /** Device id -> Active (true, for keyCacheTtlMs) or not (false, for negativeCacheTtlMs). */
  private readonly activity: ExpiringMap<Hex, true>;
  private readonly inactive: ExpiringMap<Hex, true>;
  /** Device:feed -> the highest sequence accepted (single readings) or batch end (batches). */
  private readonly highest = new Map<string, bigint>();
  private readonly limiter: DeviceRateLimiter | null;

  constructor(options: DeviceGateOptions) {
    this.options = options;
    this.keyCacheTtlMs = options.keyCacheTtlMs;
    this.unknown = new ExpiringMap(options.negativeCacheTtlMs, KEY_CACHE_LIMIT);
    this.members = new ExpiringMap(options.negativeCacheTtlMs, 10_000);
    this.activity = new ExpiringMap(options.keyCacheTtlMs, KEY_CACHE_LIMIT);
    this.inactive = new ExpiringMap(options.negativeCacheTtlMs, KEY_CACHE_LIMIT);
    this.limiter = options.deviceRate === false ? null : new DeviceRateLimiter(options.deviceRate);
  }

  /**
   * Whose key `key` is (KeyRole), for a message of `device`. The common case costs two map lookups:
   * the key is the device's cached current key. Otherwise the key's owner is looked up (a first key
   * hashes to its device id; other owners come from the registry and never change), and a key of the
   * device that is not its cached current key is checked against the registry once more before it is
   * called old: the device may have rotated to it since the cache was filled.
   * Throws GATEWAY_DIRECTORY when the registry does not answer: the message is then not
   * acknowledged, so the broker redelivers it later.
   */
  async keyRole(device: Hex, key: DeviceKey): Promise<KeyRole> {
    const deviceId = device.toLowerCase() as Hex;
    const kh = this.hashOfKey(key);
    const cached = this.currentKeys.get(deviceId);
    if (cached?.hash === kh && Date.now() - cached.at < this.keyCacheTtlMs) return "current";
    if (this.formerKeys.get(kh) === deviceId) return "old_key";
    // A "no" of the registry holds for negativeCacheTtlMs: a flood of unknown keys costs no chain call.
    if (this.unknown.get(kh) === true || this.unknown.get(deviceId) === true) return "unknown_key";
    // A device's first key hashes to its id: no need to ask who owns it.
    const owner = kh === deviceId ? deviceId : await this.ownerOf(kh);
    if (owner === ZeroHash) {
      this.unknown.set(kh, true);
      return "unknown_key";
    }
    if (owner !== deviceId) return "wrong_device";
    const current = await this.refreshCurrentKey(deviceId);
    if (current === kh) return "current";
    // The device is not registered (its first key, before registration or never): nothing accepts it.
    if (current === ZeroHash) {
      this.unknown.set(deviceId, true);
      return "unknown_key";
    }
    this.rememberFormerKey(kh, deviceId);
    return "old_key";
  }

  /**
   * The checks after the key: the device is active, a member of the feed (single readings: the feed
   * refuses others), and within its rate. Only a sequence above the highest the device had accepted
   * for the feed spends its allowance, so replays of its own messages cannot use it up. Null: admitted.
   */
  async admit(
    device: Hex,
    feed: Hex,
    first: bigint,
    last: bigint,
    member: boolean,
  ): Promise<RejectReason | null> {
    const deviceId = device.toLowerCase() as Hex;
    const feedId = feed.toLowerCase() as Hex;
    if (!(await this.isActive(deviceId))) return "inactive_device";
    if (member && !(await this.isMember(feedId, deviceId))) return "not_member";
    if (this.limiter === null) return null;
    const slot = `${deviceId}:${feedId}`;
    const top = this.highest.get(slot);
    if (top !== undefined && first <= top) return null;
    if (!this.limiter.take(deviceId)) return "rate_limited";
    evictOldest(this.highest, KEY_CACHE_LIMIT);
    this.highest.set(slot, last);
    return null;
  }

  /** Whether the registry says the device is Active (cached; a "no" for negativeCacheTtlMs). */
  private async isActive(deviceId: Hex): Promise<boolean> {
    const directory = this.options.directory;
    if (directory.isActive === undefined) return true;
    if (this.inactive.get(deviceId) === true) return false;
    if (this.activity.get(deviceId) === true) return true;
    const active = await this.ask("whether a device is active", () =>
      shared(this.activeLookups, deviceId, () =>
        directory.isActive === undefined ? Promise.resolve(true) : directory.isActive(deviceId),
      ),
    );
    if (active) this.activity.set(deviceId, true);
    else this.inactive.set(deviceId, true);
    return active;
  }

  /** Whether the device is a member of the feed (the member list is cached negativeCacheTtlMs). */
  private async isMember(feedId: Hex, deviceId: Hex): Promise<boolean> {
    const directory = this.options.directory;
    if (directory.feedMembers === undefined) return true;
    let set = this.members.get(feedId);
    if (set === undefined) {
      set = await this.ask("for a feed's members", () =>
        shared(this.memberLookups, feedId, async () => {
          const list = (await directory.feedMembers?.(feedId)) ?? [];
          return new Set(list.map((d) => d.toLowerCase() as Hex));
        }),
      );
      this.members.set(feedId, set);
    }
    return set.has(deviceId);
  }

  /** A DeviceRegistered event: the device (and its first key) is no longer unknown. */
  onRegistered(device: Hex): void {
    const deviceId = device.toLowerCase() as Hex;
    this.unknown.delete(deviceId);
    this.inactive.delete(deviceId);
  }

  /** keccak256(keyType ‖ key), cached per key: hashing every key of every message is costly. */
  hashOfKey(key: DeviceKey): Hex {
    const cacheKey = `${String(key.keyType)}:${key.key.toLowerCase()}`;
    let kh = this.keyHashes.get(cacheKey);
    if (kh === undefined) {
      kh = keyHash(key).toLowerCase() as Hex;
      evictOldest(this.keyHashes, KEY_CACHE_LIMIT);
      this.keyHashes.set(cacheKey, kh);
    }
    return kh;
  }

  /** The device that holds or held the key (cached once known: a key's owner never changes). */
  private async ownerOf(kh: Hex): Promise<Hex> {
    const cached = this.keyOwners.get(kh);
    if (cached !== undefined) return cached;
    const owner = (
      await this.ask("who owns a key", () => this.options.directory.keyOwner(kh))
    ).toLowerCase() as Hex;
    // An unknown key may be registered later: only known owners are kept.
    if (owner !== ZeroHash) {
      evictOldest(this.keyOwners, KEY_CACHE_LIMIT);
      this.keyOwners.set(kh, owner);
    }
    return owner;
  }

  /**
   * Asks the registry for the device's current key hash and caches it. Concurrent messages of one
   * device share one request. An answer never replaces a newer one (a KeyRotated event that arrived
   * while the request was out).
   */
  private refreshCurrentKey(deviceId: Hex): Promise<Hex> {
    return shared(this.currentKeyLookups, deviceId, async () => {
      const version = ++this.keyVersion;
      const answer = await this.ask("for a device's current key", () =>
        this.options.directory.currentKeyHash(deviceId),
      );
      const hash = answer.toLowerCase() as Hex;
      const known = this.currentKeys.get(deviceId);
      if (known !== undefined && known.version > version) return known.hash;
      // An unregistered device may register later: only registered devices' keys are kept.
      if (hash !== ZeroHash) this.setCurrentKey(deviceId, hash, version);
      return hash;
    });
  }

  private setCurrentKey(deviceId: Hex, hash: Hex, version: number): void {
    const previous = this.currentKeys.get(deviceId);
    if (previous !== undefined && previous.hash !== hash) {
      this.rememberFormerKey(previous.hash, deviceId);
    }
    evictOldest(this.currentKeys, KEY_CACHE_LIMIT);
    this.currentKeys.set(deviceId, { hash, at: Date.now(), version });
  }

  private rememberFormerKey(kh: Hex, deviceId: Hex): void {
    evictOldest(this.formerKeys, KEY_CACHE_LIMIT);
    this.formerKeys.set(kh, deviceId);
  }

  /** A KeyRotated event: the device's cached key is replaced at once. */
  onKeyRotated(device: Hex, newKeyHash: Hex): void {
    const deviceId = device.toLowerCase() as Hex;
    this.unknown.delete(newKeyHash.toLowerCase() as Hex);
    this.setCurrentKey(deviceId, newKeyHash.toLowerCase() as Hex, ++this.keyVersion);
    this.options.metrics.keyRotations.inc();
    this.options.log.info(
      { event: "key_rotated", deviceId, keyHash: newKeyHash },
      "device key rotated",
    );
  }

  /** Runs a registry lookup; its failure becomes GATEWAY_DIRECTORY (the message is redelivered). */
  private async ask<T>(what: string, lookup: () => Promise<T>): Promise<T> {
    try {
      return await lookup();
    } catch (err: unknown) {
      throw new GatewayError(
        "GATEWAY_DIRECTORY",
        `cannot ask the registry ${what}: check the RPC endpoint (${errorMessage(err)})`,
        { cause: err },
      );
    }
  }
}

/** Runs `lookup` once for concurrent callers asking about the same key. */
function shared<K, V>(pending: Map<K, Promise<V>>, key: K, lookup: () => Promise<V>): Promise<V> {
  const running = pending.get(key);
  if (running !== undefined) return running;
  const p = lookup().finally(() => {
    pending.delete(key);
  });
  pending.set(key, p);
  return p;
}
