import { readFile, writeFile } from "node:fs/promises";
import type { ContractRunner } from "ethers";
import type { Signed } from "../device/device-signer.js";
import {
  DeviceTrustError,
  InvalidInputError,
  KeyType,
  asHex,
  type AttestationMessage,
  type DeviceKey,
  type Hex,
  type ReadingBatchMessage,
  type ReadingMessage,
} from "../protocol/index.js";
import {
  IDeviceStaking__factory,
  IInsurancePool__factory,
  IFraudProofs__factory,
  type IFraudProofs,
} from "../../types/ethers-contracts/index.js";
import { formatJson } from "./format.js";
import { send, type TxResult } from "./transaction.js";

export type { IFraudProofs };

/** The FraudProofs contract at `address`, sending transactions from (or reading through) `runner`. */
export function proofsAt(address: string, runner: ContractRunner): IFraudProofs {
  return IFraudProofs__factory.connect(asHex(address, "proofs address", 20), runner);
}

/** A signed reading as the contracts take it: the reading, the key that signed it, the signature. */
export interface SignedReadingEvidence {
  readonly reading: ReadingMessage;
  readonly key: DeviceKey;
  readonly signature: Hex;
}

/** A reading proven (by `proof`) to be a leaf of a device-signed batch. */
export interface BatchedReadingEvidence {
  readonly batch: ReadingBatchMessage;
  readonly key: DeviceKey;
  readonly signature: Hex;
  readonly reading: ReadingMessage;
  readonly proof: readonly Hex[];
}

/** One fraud proof, in memory (a proof file holds the same with bigints as decimal strings). */
export type Proof =
  | {
      readonly kind: "equivocation";
      readonly a: SignedReadingEvidence;
      readonly b: SignedReadingEvidence;
    }
  | { readonly kind: "outOfBounds"; readonly reading: SignedReadingEvidence }
  | {
      readonly kind: "batchOutOfBounds";
      /** The leaf outside the range, with its batch's signature and its Merkle proof. */
      readonly reading: BatchedReadingEvidence;
    }
  | {
      readonly kind: "batchEquivocation";
      readonly a: BatchedReadingEvidence;
      /** Another signed reading, or a leaf of another signed batch. */
      readonly b: SignedReadingEvidence | BatchedReadingEvidence;
    }
  | {
      readonly kind: "revokedFirmware";
      readonly evidence: AttestationMessage;
      readonly key: DeviceKey;
      readonly signature: Hex;
    };

export type ProofKind = Proof["kind"];

export const INCIDENT_KINDS = [
  "None",
  "Equivocation",
  "BatchEquivocation",
  "OutOfBounds",
  "RevokedFirmware",
] as const;

/** A device-signed reading (DeviceSigner.signReading) as evidence. */
export function signedReadingEvidence(signed: Signed<"Reading">): SignedReadingEvidence {
  return { reading: signed.message, key: signed.key, signature: signed.signature };
}

/** A leaf of a device-signed batch (DeviceSigner.signReadingBatch, buildReadingBatch) as evidence. */
export function batchedReadingEvidence(
  batch: Signed<"ReadingBatch">,
  reading: ReadingMessage,
  proof: readonly Hex[],
): BatchedReadingEvidence {
  return { batch: batch.message, key: batch.key, signature: batch.signature, reading, proof };
}

/** The equivocation proof of two readings the same device signed for one (feed, sequence). */
export function equivocationProof(a: Signed<"Reading">, b: Signed<"Reading">): Proof {
  return { kind: "equivocation", a: signedReadingEvidence(a), b: signedReadingEvidence(b) };
}

/** The out-of-bounds proof of one signed reading. */
export function outOfBoundsProof(r: Signed<"Reading">): Proof {
  return { kind: "outOfBounds", reading: signedReadingEvidence(r) };
}

/**
 * The out-of-bounds proof of one leaf of a signed batch (DeviceSigner.signReadingBatch over
 * buildReadingBatch's batch; `proof` is the leaf's, from buildReadingBatch's proofs). Its incident is
 * the one outOfBoundsProof gives the same reading signed alone: either proof of it is accepted once.
 */
export function batchOutOfBoundsProof(
  batch: Signed<"ReadingBatch">,
  reading: ReadingMessage,
  proof: readonly Hex[],
): Proof {
  return { kind: "batchOutOfBounds", reading: batchedReadingEvidence(batch, reading, proof) };
}

/** The revoked-firmware proof of one signed attestation. */
export function revokedFirmwareProof(evidence: Signed<"Attestation">): Proof {
  return {
    kind: "revokedFirmware",
    evidence: evidence.message,
    key: evidence.key,
    signature: evidence.signature,
  };
}

/** Writes `proof` as a proof file (JSON, bigints as decimal strings) for proof submit --file. */
export async function writeProofFile(path: string, proof: Proof): Promise<void> {
  await writeFile(path, `${formatJson(proof)}\n`);
}

// ------------------------------------------------------------------ parsing a proof file

type Json = Record<string, unknown>;

function obj(value: unknown, where: string): Json {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidInputError(`proof file: ${where} must be an object`);
  }
  return value as Json;
}

function hex(o: Json, field: string, where: string, bytes?: number): Hex {
  const v = o[field];
  if (typeof v !== "string") {
    throw new InvalidInputError(`proof file: ${where}.${field} must be a hex string`);
  }
  return asHex(v, `proof file ${where}.${field}`, bytes);
}

function big(o: Json, field: string, where: string): bigint {
  const v = o[field];
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === "string" && /^-?\d+$/.test(v)) return BigInt(v);
  throw new InvalidInputError(
    `proof file: ${where}.${field} must be an integer as a decimal string`,
  );
}

function parseKey(value: unknown, where: string): DeviceKey {
  const o = obj(value, where);
  const t = Number(o.keyType);
  const keyType = t === 1 ? KeyType.Secp256k1 : t === 2 ? KeyType.P256 : undefined;
  if (keyType === undefined) {
    throw new InvalidInputError(`proof file: ${where}.keyType must be 1 (secp256k1) or 2 (P-256)`);
  }
  return { keyType, key: hex(o, "key", where) };
}

function parseReading(value: unknown, where: string): ReadingMessage {
  const o = obj(value, where);
  return {
    deviceId: hex(o, "deviceId", where, 32),
    feedId: hex(o, "feedId", where, 32),
    sequence: big(o, "sequence", where),
    timestamp: big(o, "timestamp", where),
    value: big(o, "value", where),
  };
}

function parseSigned(value: unknown, where: string): SignedReadingEvidence {
  const o = obj(value, where);
  return {
    reading: parseReading(o.reading, `${where}.reading`),
    key: parseKey(o.key, `${where}.key`),
    signature: hex(o, "signature", where),
  };
}

function parseBatched(value: unknown, where: string): BatchedReadingEvidence {
  const o = obj(value, where);
  const b = obj(o.batch, `${where}.batch`);
  const w = `${where}.batch`;
  const proof = o.proof;
  if (!Array.isArray(proof)) {
    throw new InvalidInputError(`proof file: ${where}.proof must be a list of 32-byte hex nodes`);
  }
  return {
    batch: {
      deviceId: hex(b, "deviceId", w, 32),
      feedId: hex(b, "feedId", w, 32),
      firstSequence: big(b, "firstSequence", w),
      lastSequence: big(b, "lastSequence", w),
      count: big(b, "count", w),
      fromTimestamp: big(b, "fromTimestamp", w),
      toTimestamp: big(b, "toTimestamp", w),
      root: hex(b, "root", w, 32),
    },
    key: parseKey(o.key, `${where}.key`),
    signature: hex(o, "signature", where),
    reading: parseReading(o.reading, `${where}.reading`),
    proof: proof.map((p, i) => {
      if (typeof p !== "string") {
        throw new InvalidInputError(`proof file: ${where}.proof[${String(i)}] must be hex`);
      }
      return asHex(p, `proof file ${where}.proof[${String(i)}]`, 32);
    }),
  };
}

/** A proof file's JSON as a Proof; throws InvalidInputError naming the first bad field. */
export function parseProof(json: unknown): Proof {
  const o = obj(json, "the file");
  switch (o.kind) {
    case "equivocation":
      return { kind: "equivocation", a: parseSigned(o.a, "a"), b: parseSigned(o.b, "b") };
    case "outOfBounds":
      return { kind: "outOfBounds", reading: parseSigned(o.reading, "reading") };
    case "batchOutOfBounds":
      return { kind: "batchOutOfBounds", reading: parseBatched(o.reading, "reading") };
    case "batchEquivocation":
      return {
        kind: "batchEquivocation",
        a: parseBatched(o.a, "a"),
        b: "batch" in obj(o.b, "b") ? parseBatched(o.b, "b") : parseSigned(o.b, "b"),
      };
    case "revokedFirmware": {
      const e = obj(o.evidence, "evidence");
      return {
        kind: "revokedFirmware",
        evidence: {
          deviceId: hex(e, "deviceId", "evidence", 32),
          measurement: hex(e, "measurement", "evidence", 32),
          challenge: hex(e, "challenge", "evidence", 32),
          timestamp: big(e, "timestamp", "evidence"),
          bootCount: big(e, "bootCount", "evidence"),
        },
        key: parseKey(o.key, "key"),
        signature: hex(o, "signature", "the file"),
      };
    }
    default:
      throw new InvalidInputError(
        `proof file: kind must be equivocation, outOfBounds, batchEquivocation, batchOutOfBounds or revokedFirmware, not ${JSON.stringify(o.kind)}`,
      );
  }
}

/** Reads and parses a proof file. */
export async function readProofFile(path: string): Promise<Proof> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, "utf8")) as unknown;
  } catch (cause) {
    throw new InvalidInputError(
      `cannot read proof file ${path}: check the path and that it holds JSON`,
      { cause },
    );
  }
  return parseProof(json);
}

// ------------------------------------------------------------------ submitting

export interface ProofResult extends TxResult {
  readonly incident: Hex;
  readonly deviceId: Hex;
  readonly kind: string;
  readonly beneficiary: Hex;
  readonly slashed: bigint;
  /** From the staking contract's Slashed event in the same transaction. */
  readonly bounty: bigint;
  /** The unallocated rest of the stake, sent to the staking contract's loss recipient. */
  readonly loss: bigint;
  /** Each allocation's slice (net of the bounty) paid to its backer (BackerPaid; scope 0: the rest). */
  readonly backersPaid: readonly {
    readonly backer: Hex;
    readonly scope: Hex;
    readonly amount: bigint;
  }[];
  /**
   * What each insurance pool booked in this same transaction (LossBooked): the liability it reserved for
   * claims on the device, the recovery that arrived, and the part of it earned over the vesting period.
   */
  readonly lossesBooked: readonly {
    readonly pool: Hex;
    readonly scope: Hex;
    readonly liability: bigint;
    readonly recovery: bigint;
    readonly vested: bigint;
  }[];
}

const stakingInterface = IDeviceStaking__factory.createInterface();
const poolInterface = IInsurancePool__factory.createInterface();

function batched(e: BatchedReadingEvidence): IFraudProofs.BatchedReadingStruct {
  return {
    batch: e.batch,
    key: e.key,
    signature: e.signature,
    reading: e.reading,
    proof: [...e.proof],
  };
}

/** Submits `proof` to the FraudProofs contract; the bounty goes to `beneficiary`. */
export async function submitProof(
  proofs: IFraudProofs,
  proof: Proof,
  beneficiary: string,
): Promise<ProofResult> {
  const to = asHex(beneficiary, "beneficiary", 20);
  const tx = await send(() => {
    switch (proof.kind) {
      case "equivocation":
        return proofs.proveEquivocation(proof.a, proof.b, to);
      case "outOfBounds":
        return proofs.proveOutOfBounds(proof.reading, to);
      case "batchOutOfBounds":
        return proofs.proveBatchOutOfBounds(batched(proof.reading), to);
      case "batchEquivocation":
        return "batch" in proof.b
          ? proofs.proveBatchPairEquivocation(batched(proof.a), batched(proof.b), to)
          : proofs.proveBatchEquivocation(batched(proof.a), proof.b, to);
      case "revokedFirmware":
        return proofs.proveRevokedFirmware(proof.evidence, proof.key, proof.signature, to);
    }
  });
  let recorded;
  let slashed;
  const backersPaid: { backer: Hex; scope: Hex; amount: bigint }[] = [];
  const lossesBooked: {
    pool: Hex;
    scope: Hex;
    liability: bigint;
    recovery: bigint;
    vested: bigint;
  }[] = [];
  for (const log of tx.receipt.logs) {
    try {
      const p = proofs.interface.parseLog(log);
      if (p?.name === "IncidentRecorded") recorded = p;
    } catch {
      // not a FraudProofs log
    }
    try {
      const s = stakingInterface.parseLog(log);
      if (s?.name === "Slashed") slashed = s;
      if (s?.name === "BackerPaid") {
        backersPaid.push({
          backer: String(s.args.getValue("backer")).toLowerCase() as Hex,
          scope: String(s.args.getValue("scope")).toLowerCase() as Hex,
          amount: s.args.getValue("amount") as bigint,
        });
      }
    } catch {
      // not a DeviceStaking log
    }
    try {
      const b = poolInterface.parseLog(log);
      if (b?.name === "LossBooked") {
        lossesBooked.push({
          pool: log.address.toLowerCase() as Hex,
          scope: String(b.args.getValue("scope")).toLowerCase() as Hex,
          liability: b.args.getValue("liability") as bigint,
          recovery: b.args.getValue("recovery") as bigint,
          vested: b.args.getValue("vested") as bigint,
        });
      }
    } catch {
      // not an InsurancePool log
    }
  }
  if (recorded === undefined) {
    throw new DeviceTrustError(
      "NO_INCIDENT_EVENT",
      `transaction ${tx.txHash} recorded no incident: check that --proofs is a FraudProofs contract`,
    );
  }
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    incident: String(recorded.args.getValue("incident")).toLowerCase() as Hex,
    deviceId: String(recorded.args.getValue("deviceId")).toLowerCase() as Hex,
    kind: INCIDENT_KINDS[Number(recorded.args.getValue("kind"))] ?? "unknown",
    beneficiary: to,
    slashed: recorded.args.getValue("slashed") as bigint,
    bounty: slashed === undefined ? 0n : (slashed.args.getValue("bounty") as bigint),
    loss: slashed === undefined ? 0n : (slashed.args.getValue("loss") as bigint),
    backersPaid,
    lossesBooked,
  };
}

/** Reads a proof file and submits it (proof submit --file). */
export async function submitProofFile(options: {
  readonly proofs: IFraudProofs;
  readonly file: string;
  readonly beneficiary: string;
}): Promise<ProofResult & { readonly proofKind: ProofKind }> {
  const proof = await readProofFile(options.file);
  const result = await submitProof(options.proofs, proof, options.beneficiary);
  return { ...result, proofKind: proof.kind };
}
