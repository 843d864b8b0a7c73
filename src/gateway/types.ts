import {
  DeviceTrustError,
  type Hex,
  type KeyRotationListener,
  type SignedBatch,
  type SignedReading,
  type WatchedBatch,
  type WatchedMessage,
} from "../protocol/index.js";

/**
 * The gateway's contracts with the world around it: who owns a key (the registry), where verified
 * readings go (the feeds and the batch anchor), and where every message is mirrored (a watchtower).
 * Each is an interface so tests fake them and the chain-backed versions plug in later.
 */

/** The registry lookups the gateway needs (a subset of the watchtower's DeviceDirectory). */
export interface KeyDirectory {
  /** The device that holds or held the key with this hash; the zero hash if none ever did. */
  keyOwner(keyHash: Hex): Promise<Hex>;
  /**
   * The hash of the device's current key (the registry's deviceInfo keyHash): the only key whose
   * signatures the feeds and the anchor accept. The zero hash for a device the registry does not know.
   */
  currentKeyHash(deviceId: Hex): Promise<Hex>;
  /**
   * Calls `listener` for each KeyRotated event the registry emits from now on; resolves once
   * subscribed with a function that unsubscribes. Optional: without it the gateway learns of a
   * rotation when the new key first signs or when its cached answer expires (keyCacheTtlMs).
   */
  watchKeyRotations?(listener: KeyRotationListener): Promise<() => Promise<void>>;
  /**
   * The member devices of a feed (DeviceFeed.members), or an empty list for a feed id that is no
   * deployed feed. Optional: without it the gateway does not check membership (the feed still does).
   */
  feedMembers?(feedId: Hex): Promise<readonly Hex[]>;
  /** Whether the registry says the device is Active. Optional: without it, every device counts as active. */
  isActive?(deviceId: Hex): Promise<boolean>;
  /**
   * Calls `listener` for each DeviceRegistered event from now on (the gateway forgets that the
   * device was unknown). Optional: without it an unknown device is asked about again after
   * negativeCacheTtlMs.
   */
  watchRegistrations?(listener: (deviceId: Hex) => void): Promise<() => Promise<void>>;
  /** Resolves when the chain answers (for /health); rejects when it does not. */
  ping(): Promise<void>;
}

/** What a successful submission yields. */
export interface SubmittedTx {
  readonly txHash: Hex;
}

/**
 * What became of one reading of a submitReadings call, as its feed's event says: accepted only on
 * ReadingAccepted; refused with the event's reason otherwise (ReadingRejected's Rejection name,
 * `MemberQuarantined:<anomaly>`, or the custom error of a chunk the feed refused as a whole).
 */
export type ReadingOutcome = (
  { readonly accepted: true } | { readonly accepted: false; readonly reason: string }
) & {
  /** The transaction that carried it, when a call sends several (default: the call's txHash). */
  readonly txHash?: Hex;
};

/** What submitReadings did: one outcome per reading given, in the same order. */
export interface SubmittedReadings extends SubmittedTx {
  readonly outcomes: readonly ReadingOutcome[];
}

/** What became of one batch of an anchorBatches call: anchored, or refused for good and why. */
export type BatchOutcome =
  { readonly anchored: true } | { readonly anchored: false; readonly reason: string };

/** What anchorBatches did: one outcome per batch given, in the same order. */
export interface AnchoredBatches extends SubmittedTx {
  readonly outcomes: readonly BatchOutcome[];
}

/**
 * Sends verified readings to the feeds and device-signed batch roots to the anchor. One call at a
 * time (the gateway serialises them, so the implementation may manage its transaction nonces by
 * counting). Throw SubmissionRejectedError for a final refusal (never retried); any other error is
 * transient and retried with backoff. `submitReadings` reports each reading accepted or refused
 * from the feed's events (a successful transaction may still skip readings): the gateway marks a
 * reading submitted only when its outcome says accepted.
 *
 * Batches: `anchorBatches` anchors several in one transaction (ReadingAnchor.anchorMany), in the
 * order given (a device's batches for a feed come in sequence order), and reports each one anchored
 * or refused (final: a refused batch is never sent again); SubmissionRejectedError refuses the whole
 * group. A submitter without it anchors one batch per call with `anchorBatch` (the gateway then sends
 * groups of one).
 */
export interface ReadingSubmitter {
  submitReadings(readings: readonly SignedReading[]): Promise<SubmittedReadings>;
  anchorBatch(batch: SignedBatch): Promise<SubmittedTx>;
  anchorBatches?(batches: readonly SignedBatch[]): Promise<AnchoredBatches>;
}

/** Where every well-formed message is mirrored before it is acknowledged (e.g. a watchtower). */
export type MessageSink = (message: WatchedMessage) => Promise<void>;

/** Where every well-formed batch message is mirrored before it is acknowledged. */
export type BatchSink = (batch: WatchedBatch) => Promise<void>;

/** The chain refused a submission for good (e.g. a custom error): it is marked rejected, not retried. */
export class SubmissionRejectedError extends DeviceTrustError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "SubmissionRejectedError";
  }
}

/** The gateway cannot start or run as configured (a bad option, a store or broker it cannot open). */
export class GatewayError extends DeviceTrustError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "GatewayError";
  }
}
