import {
  DeviceTrustError,
  type BatchedReading,
  type Hex,
  type KeyRotationListener,
  type SignedReading,
} from "../protocol/index.js";

/**
 * The watchtower's contracts with the world around it: what it reads (a stream of signed readings),
 * what it asks the chain (whose key is this, what model is this device, what range does that model's
 * sensor have), and what it sends (fraud proofs). Each is an interface so tests fake them and the MQTT
 * gateway of a later issue plugs in as a source.
 */

/** The inclusive physical range a maker declared for a model's sensor. */
export interface SensorRange {
  readonly min: bigint;
  readonly max: bigint;
}

/**
 * The registry and proofs-contract facts the watchtower needs (cached by the watchtower); the gateway
 * uses the key part (its KeyDirectory).
 */
export interface DeviceDirectory {
  /** The device that holds or held the key with this hash; the zero hash if none ever did. */
  keyOwner(keyHash: Hex): Promise<Hex>;
  /**
   * The hash of the device's current key (the registry's deviceInfo keyHash): the only key whose
   * signatures the feeds and the anchor accept. The zero hash for a device the registry does not know.
   */
  currentKeyHash(deviceId: Hex): Promise<Hex>;
  /**
   * When the key with this hash stopped being its device's key (the registry's keyRetiredAt, unix
   * seconds): the block time of the rotation that replaced it; 0n for a current key or one nobody
   * held. FraudProofs counts a rotated-out key's signature only over evidence dated before it.
   */
  keyRetiredAt(keyHash: Hex): Promise<bigint>;
  /**
   * Calls `listener` for each KeyRotated event the registry emits from now on; resolves once
   * subscribed with a function that unsubscribes. Optional: a reader without it learns of a rotation
   * by asking currentKeyHash (or keyRetiredAt) again.
   */
  watchKeyRotations?(listener: KeyRotationListener): Promise<() => Promise<void>>;
  /**
   * Calls `listener` for each DeviceRegistered event from now on; resolves once subscribed with a
   * function that unsubscribes. Optional: a reader without it asks about an unknown device again
   * after its negative cache expires.
   */
  watchRegistrations?(listener: (deviceId: Hex) => void): Promise<() => Promise<void>>;
  /** The device's maker and model (maker 0 for an unknown device). */
  deviceModel(deviceId: Hex): Promise<{ readonly maker: number; readonly model: number }>;
  /** The range declared for (maker, model), or null when none was declared (then no bound is checked). */
  sensorRange(maker: number, model: number): Promise<SensorRange | null>;
  /** Resolves when the chain answers (for /health); rejects when it does not. */
  ping(): Promise<void>;
}

/** What a successful proof transaction yields. */
export interface SubmittedProof {
  /** The incident id the proofs contract recorded (its evidence hash). */
  readonly incident: Hex;
  readonly txHash: Hex;
}

/** Sends fraud proofs, with the watchtower's own beneficiary address as the bounty's recipient. */
export interface ProofSubmitter {
  proveEquivocation(a: SignedReading, b: SignedReading, beneficiary: Hex): Promise<SubmittedProof>;
  proveOutOfBounds(r: SignedReading, beneficiary: Hex): Promise<SubmittedProof>;
  /** A leaf of a signed batch outside the range declared for its device's model. */
  proveBatchOutOfBounds(r: BatchedReading, beneficiary: Hex): Promise<SubmittedProof>;
  /** A batch leaf against a single signed reading of the same device, feed and sequence. */
  proveBatchEquivocation(
    a: BatchedReading,
    b: SignedReading,
    beneficiary: Hex,
  ): Promise<SubmittedProof>;
  /** Two leaves of two signed batches of the same device, feed and sequence. */
  proveBatchPairEquivocation(
    a: BatchedReading,
    b: BatchedReading,
    beneficiary: Hex,
  ): Promise<SubmittedProof>;
}

/**
 * A proof the contract refused with a custom error (`code` is its name, e.g. "ProofsEvidenceUsed").
 * Such a refusal is final: the watchtower does not retry it. ProofsEvidenceUsed means someone (maybe
 * this watchtower before a crash) already proved it, and counts as done.
 */
export class ProofRejectedError extends DeviceTrustError {
  readonly args: readonly unknown[];

  constructor(code: string, args: readonly unknown[], options?: { cause?: unknown }) {
    super(
      code,
      `the proofs contract refused the proof with ${code}(${args.map(String).join(", ")}): the evidence is not retried; check it with proof submit --file if this is unexpected`,
      options,
    );
    this.name = "ProofRejectedError";
    this.args = args;
  }
}

/** The watchtower cannot start or run as configured (a bad option, a store it cannot open). */
export class WatchtowerError extends DeviceTrustError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "WatchtowerError";
  }
}

/** The error the contract raises when a piece of evidence was already used. */
export const EVIDENCE_USED = "ProofsEvidenceUsed";

/**
 * The error the contract raises when a rotated-out key signed evidence dated at or after its
 * retirement: ProofsKeyRetired(deviceId, keyHash, retiredAt, signedAt).
 */
export const KEY_RETIRED = "ProofsKeyRetired";
