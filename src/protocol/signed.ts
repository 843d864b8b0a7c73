import type { DeviceKey } from "./keys.js";
import type { Hex } from "./hex.js";
import type { ReadingBatchMessage, ReadingMessage } from "./messages.js";

/**
 * Signed messages as they travel between the devices, the gateway and the watchtower: the types both
 * services share (and the contracts take as evidence), so neither service depends on the other.
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
  /**
   * Set only by a gateway in the same process, which checked the signature over the same domain
   * just before (gateway start --watchtower): the watchtower does not check it again. Never taken
   * from the wire: sources decode messages field by field.
   */
  readonly verified?: true;
  /**
   * Set only by a gateway in the same process: called once the watchtower has handled this message and
   * committed it (and every message before it) to its store. The gateway waits on it before it
   * acknowledges a conflict, whose second reading exists nowhere else.
   */
  readonly durable?: () => void;
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
export type MessageSource = AsyncIterable<WatchedInput> & {
  /**
   * True when the source acknowledges each message to its sender once the consumer asks for the next
   * (an MQTT session): the consumer must then have made the message durable before it asks.
   */
  readonly acknowledges?: boolean;
};

/** A KeyRotated event of the registry: the device's key is now the one with this hash. */
export type KeyRotationListener = (deviceId: Hex, newKeyHash: Hex) => void;

/** One leaf of a batch as its signer records it: the reading's sequence and EIP-712 struct hash. */
export interface BatchLeaf {
  readonly sequence: bigint;
  readonly structHash: Hex;
}
