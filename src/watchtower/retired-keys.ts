import {
  keyHash,
  type DeviceKey,
  type Hex,
  isBatchedReading,
  type Evidence,
} from "../protocol/index.js";
import { type DeviceDirectory } from "./types.js";

/**
 * FraudProofs' rule for rotated-out keys, off chain: a key a rotation retired counts only for evidence
 * dated before its retirement (IDeviceRegistry.keyRetiredAt), since after it the key may be in anyone's
 * hands (rotating it out is how an operator answers a leak). A message that breaks the rule proves
 * nothing about the device, only that someone still signs with its old key.
 */

/** A key that was rotated out at or before the time its evidence claims it signed. */
export interface RetiredKey {
  readonly keyHash: Hex;
  /** When the rotation retired it (unix seconds). */
  readonly retiredAt: bigint;
  /** When the evidence says it signed (unix seconds). */
  readonly signedAt: bigint;
}

/**
 * The time a piece of evidence says its key signed it, as FraudProofs reads it: a reading's timestamp;
 * for a batch leaf, the later of the batch's toTimestamp and the leaf's own timestamp.
 */
export function evidenceSignedAt(e: Evidence): bigint {
  if (!isBatchedReading(e)) return e.reading.timestamp;
  const to = e.batch.toTimestamp;
  return e.reading.timestamp > to ? e.reading.timestamp : to;
}

const CACHE_LIMIT = 100_000;

/**
 * The registry's key retirements, cached: a retirement time never changes once set, so it is kept; an
 * answer that a key is not retired is trusted for `ttlMs`, or until a KeyRotated event names its device
 * (`onRotation`).
 */
export class KeyRetirements {
  private readonly directory: Pick<DeviceDirectory, "keyRetiredAt">;
  private readonly ttlMs: number;
  private readonly retired = new Map<Hex, bigint>();
  private readonly current = new Map<Hex, { readonly deviceId: Hex; readonly at: number }>();

  constructor(directory: Pick<DeviceDirectory, "keyRetiredAt">, ttlMs: number) {
    this.directory = directory;
    this.ttlMs = ttlMs;
  }

  /**
   * The retirement that rules out `key`'s evidence of `deviceId` dated `signedAt`, or undefined when
   * the key counts for it. `fresh` asks the registry again unless the key is known to be retired (for
   * the last check before a proof is sent). Throws when the registry does not answer.
   */
  async refusing(
    deviceId: Hex,
    key: DeviceKey,
    signedAt: bigint,
    fresh = false,
  ): Promise<RetiredKey | undefined> {
    const kh = keyHash(key).toLowerCase() as Hex;
    const retiredAt = await this.retiredAt(deviceId.toLowerCase() as Hex, kh, fresh);
    if (retiredAt === 0n || signedAt < retiredAt) return undefined;
    return { keyHash: kh, retiredAt, signedAt };
  }

  /** The first piece of `evidence` whose key was retired by its date, with that retirement. */
  async refusingEvidence(
    evidence: readonly Evidence[],
  ): Promise<{ readonly piece: Evidence; readonly retired: RetiredKey } | undefined> {
    for (const piece of evidence) {
      const retired = await this.refusing(
        piece.reading.deviceId,
        piece.key,
        evidenceSignedAt(piece),
        true,
      );
      if (retired !== undefined) return { piece, retired };
    }
    return undefined;
  }

  /** A KeyRotated event of `deviceId`: what was said of its keys being current is stale. */
  onRotation(deviceId: Hex): void {
    const device = deviceId.toLowerCase();
    for (const [kh, entry] of this.current) if (entry.deviceId === device) this.current.delete(kh);
  }

  private async retiredAt(deviceId: Hex, kh: Hex, fresh: boolean): Promise<bigint> {
    const known = this.retired.get(kh);
    if (known !== undefined) return known;
    const cached = this.current.get(kh);
    if (!fresh && cached !== undefined && Date.now() - cached.at < this.ttlMs) return 0n;
    const retiredAt = await this.directory.keyRetiredAt(kh);
    if (retiredAt > 0n) {
      if (this.retired.size >= CACHE_LIMIT) this.retired.clear();
      this.retired.set(kh, retiredAt);
      this.current.delete(kh);
    } else {
      if (this.current.size >= CACHE_LIMIT) this.current.clear();
      this.current.set(kh, { deviceId, at: Date.now() });
    }
    return retiredAt;
  }
}
