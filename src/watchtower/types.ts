import {
  DeviceTrustError,
  type DeviceKey,
  type Hex,
  type ReadingBatchMessage,
  type ReadingMessage,
} from "../protocol/index.js";

/**
 * The watchtower's contracts with the world around it: what it reads (a stream of signed readings),
 * what it asks the chain (whose key is this, what model is this device, what range does that model's
 * sensor have), and what it sends (fraud proofs). Each is an interface so tests fake them and the MQTT
 * gateway of a later issue plugs in as a source.
 */

/**
 * One signed reading as a device produced it: exactly IFraudProofs.SignedReading. A DeviceSigner's
 * `Signed<"Reading">` fits (`{ reading: s.message, key: s.key, signature: s.signature }`).
 */
export interface SignedReading {
  readonly reading: ReadingMessage;
  /**
   * The key that signed: the device's first key, or any key it rotated to later. A key rotated out
   * counts only for readings dated before its retirement (DeviceDirectory.keyRetiredAt).
   */
  readonly key: DeviceKey;
  /** Over the reading's EIP-712 digest (secp256k1 65 bytes r‖s‖v, P-256 64 bytes r‖s). */
  readonly signature: Hex;
}

/**
 * What a source yields. `origin` (optional) says where it came from (an MQTT topic, a file and line):
 * it appears in logs only.
 */
export interface WatchedMessage extends SignedReading {
  readonly origin?: string;
}

/** A device-signed ReadingBatch: its root is the SimpleMerkleTree root of its readings' struct hashes. */
export interface SignedBatch {
  readonly batch: ReadingBatchMessage;
  readonly key: DeviceKey;
  /** Over the batch's EIP-712 digest. */
  readonly signature: Hex;
}

/**
 * One leaf of a signed batch as evidence: exactly IFraudProofs.BatchedReading (the signed batch, the
 * reading, and its Merkle proof against the batch root).
 */
export interface BatchedReading extends SignedBatch {
  readonly reading: ReadingMessage;
  readonly proof: readonly Hex[];
}

/**
 * A batch message as a source yields it (the gateway's WatchedBatch fits): the signed batch, and its
 * readings expanded on demand, in sequence order. `origin` appears in logs only.
 */
export interface WatchedBatch {
  readonly signed: SignedBatch;
  readings(): readonly ReadingMessage[];
  readonly origin?: string;
}

/** What a source yields: a single signed reading or a signed batch of readings. */
export type WatchedInput = WatchedMessage | WatchedBatch;

export function isWatchedBatch(m: WatchedInput): m is WatchedBatch {
  return "signed" in m && typeof (m as Partial<WatchedBatch>).readings === "function";
}

/** A proof's evidence: a signed reading or a batch leaf. */
export type Evidence = SignedReading | BatchedReading;

export function isBatchedReading(e: Evidence): e is BatchedReading {
  return "batch" in e;
}

/**
 * Any async-iterable stream of messages (single readings and batches, in arrival order): an array
 * wrapped in an async generator, an MQTT gateway.
 */
export type MessageSource = AsyncIterable<WatchedInput>;

/** The inclusive physical range a maker declared for a model's sensor. */
export interface SensorRange {
  readonly min: bigint;
  readonly max: bigint;
}

/** A KeyRotated event of the registry: the device's key is now the one with this hash. */
export type KeyRotationListener = (deviceId: Hex, newKeyHash: Hex) => void;

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
