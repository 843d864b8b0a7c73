import {
  DeviceTrustError,
  type DeviceKey,
  type Hex,
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
  /** The key that signed: the device's first key, or any key it rotated to later. */
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

/** Any async-iterable stream of messages: an array wrapped in an async generator, an MQTT gateway. */
export type MessageSource = AsyncIterable<WatchedMessage>;

/** The inclusive physical range a maker declared for a model's sensor. */
export interface SensorRange {
  readonly min: bigint;
  readonly max: bigint;
}

/** The registry and proofs-contract facts the watchtower needs (cached by the watchtower). */
export interface DeviceDirectory {
  /** The device that holds or held the key with this hash; the zero hash if none ever did. */
  keyOwner(keyHash: Hex): Promise<Hex>;
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
