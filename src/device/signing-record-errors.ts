import { DeviceTrustError, type Hex, type MessageKind } from "../protocol/index.js";

/**
 * The errors of a device's signing record (signing-record.ts). A refusal (SigningRefusedError and its
 * subclasses) means the device was asked to sign something that, beside what it already signed, would be
 * provable equivocation or cannot be shown not to be: nothing was signed and nothing was recorded.
 */

/** The device refused to sign: see the subclass for the rule. Catch this to catch every refusal. */
export class SigningRefusedError extends DeviceTrustError {
  /** The kind of message that was refused. */
  readonly kind: MessageKind;

  constructor(code: string, kind: MessageKind, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "SigningRefusedError";
    this.kind = kind;
  }
}

/**
 * A reading for a (feed, sequence) the device already signed with other content (alone or as a batch
 * leaf), or a sequence inside a signed batch's range that is not that batch's leaf: the two signatures
 * would prove equivocation (FraudProofs.proveEquivocation / proveBatchEquivocation).
 */
export class ReadingConflictError extends SigningRefusedError {
  readonly feedId: Hex;
  readonly sequence: bigint;
  /** The digest already signed at this sequence, or undefined when a batch covers it without such a leaf. */
  readonly signedDigest: Hex | undefined;
  readonly requestedDigest: Hex;

  constructor(feedId: Hex, sequence: bigint, signedDigest: Hex | undefined, requestedDigest: Hex) {
    const what =
      signedDigest === undefined
        ? "lies inside a batch it signed, of which this reading is not a leaf"
        : `was signed with other content (digest ${signedDigest})`;
    super(
      "SIGNING_READING_CONFLICT",
      "Reading",
      `refused to sign reading ${String(sequence)} of feed ${feedId}: that sequence ${what}; ` +
        `signing it again with other content is slashable equivocation. Take the next sequence ` +
        `(DeviceSigner.nextSequence), or resend the reading already signed`,
    );
    this.name = "ReadingConflictError";
    this.feedId = feedId;
    this.sequence = sequence;
    this.signedDigest = signedDigest;
    this.requestedDigest = requestedDigest;
  }
}

/**
 * A batch whose sequence range overlaps a batch signed with another digest, or covers a reading signed
 * with content that is not the new batch's leaf at that sequence (or covers a signed reading while its
 * leaves are not given): FraudProofs.proveBatchEquivocation / proveBatchPairEquivocation.
 */
export class BatchConflictError extends SigningRefusedError {
  readonly feedId: Hex;
  readonly firstSequence: bigint;
  readonly lastSequence: bigint;
  /** The sequence where the batch conflicts with what was signed. */
  readonly conflictAt: bigint;

  constructor(
    feedId: Hex,
    firstSequence: bigint,
    lastSequence: bigint,
    conflictAt: bigint,
    detail: string,
  ) {
    super(
      "SIGNING_BATCH_CONFLICT",
      "ReadingBatch",
      `refused to sign the batch of sequences ${String(firstSequence)}..${String(lastSequence)} of feed ` +
        `${feedId}: ${detail} at sequence ${String(conflictAt)}; signing it is slashable equivocation. ` +
        `Batch the readings from DeviceSigner.nextSequence on, or resend the batch already signed`,
    );
    this.name = "BatchConflictError";
    this.feedId = feedId;
    this.firstSequence = firstSequence;
    this.lastSequence = lastSequence;
    this.conflictAt = conflictAt;
  }
}

/**
 * A reading or batch below the feed's low-water mark: the record no longer remembers what was signed
 * there (it keeps a bounded window below the highest sequence), so it cannot tell a resend from a
 * conflict, and refuses.
 */
export class BelowLowWaterError extends SigningRefusedError {
  readonly feedId: Hex;
  readonly sequence: bigint;
  readonly lowWater: bigint;

  constructor(kind: "Reading" | "ReadingBatch", feedId: Hex, sequence: bigint, lowWater: bigint) {
    super(
      "SIGNING_BELOW_LOW_WATER",
      kind,
      `refused to sign sequence ${String(sequence)} of feed ${feedId}: the signing record forgot what it ` +
        `signed below sequence ${String(lowWater)} (its low-water mark), so it cannot tell a resend from ` +
        `equivocation. Take the next sequence (DeviceSigner.nextSequence)`,
    );
    this.name = "BelowLowWaterError";
    this.feedId = feedId;
    this.sequence = sequence;
    this.lowWater = lowWater;
  }
}

/**
 * Attestation evidence naming another measurement for a boot counter the device already attested
 * (one boot measures one firmware chain), or a boot counter below the highest one it attested (a
 * rolled-back counter).
 */
export class AttestationConflictError extends SigningRefusedError {
  readonly bootCount: bigint;
  /** The highest boot counter attested so far and the measurement attested under it. */
  readonly signedBootCount: bigint;
  readonly signedMeasurement: Hex;

  constructor(bootCount: bigint, signedBootCount: bigint, signedMeasurement: Hex) {
    super(
      "SIGNING_ATTESTATION_CONFLICT",
      "Attestation",
      bootCount === signedBootCount
        ? `refused to attest boot ${String(bootCount)} with another measurement: this boot was attested ` +
            `with measurement ${signedMeasurement}. Reboot (which increments the boot counter) to attest new firmware`
        : `refused to attest boot ${String(bootCount)}: boot ${String(signedBootCount)} was already attested, ` +
            `so the boot counter went back. Restore the device's boot state instead of resetting it`,
    );
    this.name = "AttestationConflictError";
    this.bootCount = bootCount;
    this.signedBootCount = signedBootCount;
    this.signedMeasurement = signedMeasurement;
  }
}

/** The record belongs to another device or another deployment (EIP-712 domain) than its user's. */
export class SigningRecordMismatchError extends DeviceTrustError {
  constructor(where: string, field: string, recorded: string, expected: string) {
    super(
      "SIGNING_RECORD_MISMATCH",
      `${where} is the signing record of ${field} ${recorded}, not ${expected}: give each device, on each ` +
        `deployment, its own record (and import a record only into the same device's)`,
    );
    this.name = "SigningRecordMismatchError";
  }
}

/** The record cannot be opened, is damaged, or an interchange file is not a valid one. */
export class SigningRecordError extends DeviceTrustError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("SIGNING_RECORD", message, options);
    this.name = "SigningRecordError";
  }
}

/** An import that conflicts with what the record holds: nothing of it was merged. */
export class SigningRecordImportConflictError extends DeviceTrustError {
  constructor(where: string, cause: SigningRefusedError) {
    super(
      "SIGNING_RECORD_IMPORT_CONFLICT",
      `cannot import into ${where}: the two records disagree, so this key has signed conflicting ` +
        `messages, or they come from two devices (${cause.message}). Nothing was imported: find out ` +
        `which device signed what before it signs again`,
      { cause },
    );
    this.name = "SigningRecordImportConflictError";
  }
}

/**
 * The chain has seen a sequence of this device the signing record does not know: the record is not this
 * device's, or it is out of date (the device moved without its record). Signing from the record's next
 * sequence could sign conflicting readings at sequences the device already used.
 */
export class SigningRecordBehindError extends DeviceTrustError {
  readonly deviceId: Hex;
  readonly feedId: Hex;
  readonly onChain: bigint;
  readonly recorded: bigint;

  constructor(where: string, deviceId: Hex, feedId: Hex, onChain: bigint, recorded: bigint) {
    super(
      "SIGNING_RECORD_BEHIND",
      `the feed ${feedId} holds sequence ${String(onChain)} of device ${deviceId}, but its signing record ` +
        `${where} knows sequences up to ${String(recorded)} only: it is out of date or not this device's. ` +
        `Import the device's record (npx hardhat device protection import) before it signs again`,
    );
    this.name = "SigningRecordBehindError";
    this.deviceId = deviceId;
    this.feedId = feedId;
    this.onChain = onChain;
    this.recorded = recorded;
  }
}
