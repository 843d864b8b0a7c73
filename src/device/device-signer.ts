import {
  InvalidInputError,
  KeyType,
  deviceIdOf,
  digest,
  keyHash,
  readingBatchRoot,
  structHash,
  type AttestationMessage,
  type DeviceKey,
  type Domain,
  type Hex,
  type MessageKind,
  type MessageTypes,
  type ReadingBatchMessage,
  type ReadingMessage,
} from "../protocol/index.js";
import type { KeyStore } from "./key-store.js";
import { SigningRecord, type BatchLeaf, type SigningRequest } from "./signing-record.js";
import { SigningRecordMismatchError } from "./signing-record-errors.js";

export interface Signed<K extends MessageKind> {
  readonly kind: K;
  readonly message: MessageTypes[K];
  readonly digest: Hex;
  readonly signature: Hex;
  /** The key that signed: what the contracts take beside the signature. */
  readonly key: DeviceKey;
}

/**
 * Signs every message a device produces, under the deployment's EIP-712 domain, with the device's key
 * store. `deviceId` is the id the device was registered under (its first key's hash): after a rotation
 * the key store holds a newer key but the id stays.
 *
 * Slashing protection: before its key store signs a Reading, a ReadingBatch or an Attestation, the
 * signer has its SigningRecord (signing-record.ts) check the message against everything the device
 * signed and commit it durably; a message that would be provable equivocation is refused with a
 * SigningRefusedError and never reaches the key store. This holds for every key store (software,
 * PKCS#11). Give `record` (SigningRecord.open on a file) for protection that survives restarts; without
 * one the signer keeps an in-memory record, which protects for the life of the process only. A second
 * signer over the same key with its own record is a clone: the record cannot see what the other signs.
 * Sequences come from the record (`nextSequence`), never from the chain.
 */
export class DeviceSigner {
  readonly keyStore: KeyStore;
  readonly domain: Domain;
  readonly deviceId: Hex;
  #record: SigningRecord | undefined;

  constructor(keyStore: KeyStore, domain: Domain, deviceId?: Hex, record?: SigningRecord) {
    this.keyStore = keyStore;
    this.domain = domain;
    this.deviceId = deviceId ?? deviceIdOf(keyStore.deviceKey);
    if (record !== undefined) {
      checkRecord(record, domain, this.deviceId);
      this.#record = record;
    }
  }

  get key(): DeviceKey {
    return this.keyStore.deviceKey;
  }

  /** The signing record this signer consults (created in memory on first use when none was given). */
  get record(): SigningRecord {
    this.#record ??= SigningRecord.inMemory({ domain: this.domain, deviceId: this.deviceId });
    return this.#record;
  }

  /** The sequence of this device's next reading for `feedId`: the highest it signed + 1 (1 at first). */
  nextSequence(feedId: Hex): bigint {
    return this.record.nextSequence(feedId);
  }

  /**
   * Signs `message`. A Reading, ReadingBatch or Attestation is first authorized by the signing record
   * (checked, then committed durably), so a signature never exists without its record; a refused one
   * throws a SigningRefusedError. A batch signed here carries no leaves: sign batches with
   * signReadingBatch and their leaves, so the record can tell a batch leaf from a conflicting reading.
   */
  async sign<K extends MessageKind>(kind: K, message: MessageTypes[K]): Promise<Signed<K>> {
    return this.#sign(kind, message, undefined);
  }

  async #sign<K extends MessageKind>(
    kind: K,
    message: MessageTypes[K],
    leaves: readonly BatchLeaf[] | undefined,
  ): Promise<Signed<K>> {
    const d = digest(this.domain, kind, message);
    const request = protectedRequest(kind, message, d, leaves);
    // Persist before the key signs: the record must never lag a signature that exists.
    if (request !== undefined) this.record.authorize(request);
    return {
      kind,
      message,
      digest: d,
      signature: await this.keyStore.signDigest(d),
      key: this.key,
    };
  }

  /** Proof of possession: this device binds itself to `operator` (nonce 0 at first registration). */
  signRegister(operator: Hex, deadline: bigint, nonce = 0n): Promise<Signed<"Register">> {
    return this.sign("Register", { deviceId: this.deviceId, operator, nonce, deadline });
  }

  /** Signs a rotation to `newKey`. Both the current key and the new key sign this same message. */
  signRotateKey(newKey: DeviceKey, nonce: bigint, deadline: bigint): Promise<Signed<"RotateKey">> {
    return this.sign("RotateKey", {
      deviceId: this.deviceId,
      newKeyHash: keyHash(newKey),
      nonce,
      deadline,
    });
  }

  /**
   * Commits the device, once, to a post-quantum key: `commitment` = pqKeyCommitment(scheme, public key)
   * (PqKeyRecovery.commitPqKey checks this signature by the device's current key).
   */
  signCommitPqKey(
    scheme: number,
    commitment: Hex,
    deadline: bigint,
  ): Promise<Signed<"CommitPqKey">> {
    return this.sign("CommitPqKey", { deviceId: this.deviceId, scheme, commitment, deadline });
  }

  /** Signs attestation evidence; refused for another measurement of an attested boot (see SigningRecord). */
  signAttestation(evidence: Omit<AttestationMessage, "deviceId">): Promise<Signed<"Attestation">> {
    return this.sign("Attestation", { deviceId: this.deviceId, ...evidence });
  }

  /** Signs a reading; refused for a (feed, sequence) already signed with other content. */
  signReading(reading: Omit<ReadingMessage, "deviceId">): Promise<Signed<"Reading">> {
    return this.sign("Reading", { deviceId: this.deviceId, ...reading });
  }

  /**
   * Signs a batch header. With `leaves` (the batch's readings, or their sequences and struct hashes, in
   * sequence order) the signer first checks that they are the batch's (range, count and Merkle root),
   * and the record remembers each leaf like a reading; without them the record treats the batch's range
   * as opaque (no reading signed into it, before or after).
   */
  async signReadingBatch(
    batch: Omit<ReadingBatchMessage, "deviceId">,
    leaves?: readonly (BatchLeaf | Omit<ReadingMessage, "deviceId">)[],
  ): Promise<Signed<"ReadingBatch">> {
    const message = { deviceId: this.deviceId, ...batch };
    if (leaves === undefined) return this.#sign("ReadingBatch", message, undefined);
    const hashed = leaves.map((l): BatchLeaf => {
      if ("structHash" in l) return l;
      if (l.feedId.toLowerCase() !== batch.feedId.toLowerCase()) {
        throw new InvalidInputError("every leaf of a batch must be a reading of the batch's feed");
      }
      return {
        sequence: l.sequence,
        structHash: structHash("Reading", { ...l, deviceId: this.deviceId }),
      };
    });
    const root = readingBatchRoot(hashed.map((l) => l.structHash));
    if (root.toLowerCase() !== batch.root.toLowerCase()) {
      throw new InvalidInputError(
        `the batch's root ${batch.root} is not the Merkle root of the leaves given (${root}): sign the batch of its own readings`,
      );
    }
    return this.#sign("ReadingBatch", message, hashed);
  }
}

/**
 * The record's request for the kinds it protects; undefined for Register, RotateKey and CommitPqKey; throws
 * for the kinds no device key signs.
 */
function protectedRequest<K extends MessageKind>(
  kind: K,
  message: MessageTypes[K],
  d: Hex,
  leaves: readonly BatchLeaf[] | undefined,
): SigningRequest | undefined {
  // The casts only restate `kind`: MessageTypes[K] does not narrow with it.
  switch (kind) {
    case "Reading":
      return { kind: "Reading", message: message as ReadingMessage, digest: d };
    case "ReadingBatch":
      return { kind: "ReadingBatch", message: message as ReadingBatchMessage, digest: d, leaves };
    case "Attestation":
      return { kind: "Attestation", message: message as AttestationMessage, digest: d };
    // Signing these twice proves nothing against the device (and Endorse is a maker's message).
    case "Register":
    case "RotateKey":
    case "CommitPqKey":
    case "Endorse":
      return undefined;
    // The committed post-quantum key signs these (and the maker's LMS key a release): a device key's
    // signature of one is worth nothing on chain, so it is never made.
    case "RecoverKey":
    case "ReplacePqKey":
    case "FirmwareRelease":
      throw new InvalidInputError(
        `${kind} is signed by a post-quantum key (an LMS key through LmsStatefulSigner, or ML-DSA-44), not by the device's key: sign its digest with that key (src/client/pq-recovery.ts)`,
      );
    // A voucher under the registry's domain would be worthless, and one without the payments record could
    // pay less than one signed before it: only VoucherSigner signs them.
    case "Voucher":
      throw new InvalidInputError(
        "vouchers are signed by VoucherSigner (src/payments), under the payment channel contract's domain and with its record of the highest amount signed per channel: use it instead of DeviceSigner",
      );
  }
}

function checkRecord(record: SigningRecord, domain: Domain, deviceId: Hex): void {
  if (record.deviceId !== deviceId.toLowerCase()) {
    throw new SigningRecordMismatchError(record.path, "device", record.deviceId, deviceId);
  }
  if (
    record.domain.chainId !== domain.chainId ||
    record.domain.verifyingContract !== domain.verifyingContract.toLowerCase()
  ) {
    throw new SigningRecordMismatchError(
      record.path,
      "deployment",
      `${record.domain.chainId.toString()}/${record.domain.verifyingContract}`,
      `${domain.chainId.toString()}/${domain.verifyingContract.toLowerCase()}`,
    );
  }
}

/** A maker's endorsement of one device: an Ethereum-account signature over Endorse{deviceId, model}. */
export interface MakerSigner {
  readonly address: Hex;
  signDigest(digest: Hex): Promise<Hex>;
}

export async function signEndorsement(
  maker: MakerSigner,
  domain: Domain,
  deviceId: Hex,
  model: number,
): Promise<Signed<"Endorse"> & { readonly maker: Hex }> {
  const message = { deviceId, model };
  const d = digest(domain, "Endorse", message);
  const signature = await maker.signDigest(d);
  return {
    kind: "Endorse",
    message,
    digest: d,
    signature,
    key: { keyType: KeyType.Secp256k1, key: maker.address },
    maker: maker.address,
  };
}
