import {
  id as keccakUtf8,
  TypedDataEncoder,
  type TypedDataDomain,
  type TypedDataField,
} from "ethers";
import type { Hex } from "./hex.js";

/**
 * The one TypeScript definition of every message DeviceTrust signs. The Solidity twin is
 * contracts/libraries/DeviceMessageLib.sol; test/fixtures/vectors.json (generated from this file by
 * `npm run vectors`) proves they agree.
 */

export const DOMAIN_NAME = "DeviceTrust";
export const DOMAIN_VERSION = "1";

export interface Domain {
  readonly chainId: bigint;
  /** The DeviceRegistry: every device message is bound to it and to the chain. */
  readonly verifyingContract: Hex;
}

export function typedDataDomain(domain: Domain): TypedDataDomain {
  return {
    name: DOMAIN_NAME,
    version: DOMAIN_VERSION,
    chainId: domain.chainId,
    verifyingContract: domain.verifyingContract,
  };
}

export function domainSeparator(domain: Domain): Hex {
  return TypedDataEncoder.hashDomain(typedDataDomain(domain)) as Hex;
}

export interface RegisterMessage {
  readonly deviceId: Hex;
  readonly operator: Hex;
  readonly nonce: bigint;
  readonly deadline: bigint;
}

export interface EndorseMessage {
  readonly deviceId: Hex;
  readonly model: number;
}

export interface RotateKeyMessage {
  readonly deviceId: Hex;
  readonly newKeyHash: Hex;
  readonly nonce: bigint;
  readonly deadline: bigint;
}

/**
 * The current key commits the device, once, to a post-quantum key: `scheme` 1 (LMS) or 2 (ML-DSA-44),
 * `commitment` = keccak256(uint8(scheme) ‖ public key) (pqKeyCommitment). PqKeyRecovery keeps it.
 */
export interface CommitPqKeyMessage {
  readonly deviceId: Hex;
  readonly scheme: number;
  readonly commitment: Hex;
  readonly deadline: bigint;
}

/** Signed by the committed post-quantum key: the device's key becomes the key with hash `newKeyHash`. */
export interface RecoverKeyMessage {
  readonly deviceId: Hex;
  readonly newKeyHash: Hex;
  /** PqKeyRecovery's nonce of the device's committed key. */
  readonly nonce: bigint;
  readonly deadline: bigint;
}

/** Signed by the committed post-quantum key: another post-quantum key replaces it. */
export interface ReplacePqKeyMessage {
  readonly deviceId: Hex;
  readonly scheme: number;
  readonly commitment: Hex;
  readonly nonce: bigint;
  readonly deadline: bigint;
}

/** A maker's release manifest: the reference value of (model, version), signed with its LMS key. */
export interface FirmwareReleaseMessage {
  readonly maker: number;
  readonly model: number;
  readonly version: string;
  readonly measurement: Hex;
}

export interface AttestationMessage {
  readonly deviceId: Hex;
  readonly measurement: Hex;
  readonly challenge: Hex;
  readonly timestamp: bigint;
  /** A monotonic boot counter; 0 when the device has none. */
  readonly bootCount: bigint;
}

export interface ReadingMessage {
  readonly deviceId: Hex;
  readonly feedId: Hex;
  readonly sequence: bigint;
  readonly timestamp: bigint;
  readonly value: bigint;
}

export interface ReadingBatchMessage {
  readonly deviceId: Hex;
  readonly feedId: Hex;
  readonly firstSequence: bigint;
  readonly lastSequence: bigint;
  readonly count: bigint;
  readonly fromTimestamp: bigint;
  readonly toTimestamp: bigint;
  readonly root: Hex;
}

/**
 * A payment channel voucher: the buyer device owes `cumulativeAmount` in total on channel `channel` (the id
 * PaymentChannel derives from the channel's terms). Unlike every other message it is signed under the
 * PaymentChannel contract's domain (`verifyingContract` = the channel contract), not the registry's: sign
 * it with src/payments' VoucherSigner.
 */
export interface VoucherMessage {
  readonly channel: Hex;
  readonly cumulativeAmount: bigint;
}

export interface MessageTypes {
  Register: RegisterMessage;
  Endorse: EndorseMessage;
  RotateKey: RotateKeyMessage;
  CommitPqKey: CommitPqKeyMessage;
  RecoverKey: RecoverKeyMessage;
  ReplacePqKey: ReplacePqKeyMessage;
  FirmwareRelease: FirmwareReleaseMessage;
  Attestation: AttestationMessage;
  Reading: ReadingMessage;
  ReadingBatch: ReadingBatchMessage;
  Voucher: VoucherMessage;
}

export type MessageKind = keyof MessageTypes;

export const EIP712_TYPES: Readonly<Record<MessageKind, readonly TypedDataField[]>> = {
  Register: [
    { name: "deviceId", type: "bytes32" },
    { name: "operator", type: "address" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  Endorse: [
    { name: "deviceId", type: "bytes32" },
    { name: "model", type: "uint32" },
  ],
  RotateKey: [
    { name: "deviceId", type: "bytes32" },
    { name: "newKeyHash", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  CommitPqKey: [
    { name: "deviceId", type: "bytes32" },
    { name: "scheme", type: "uint8" },
    { name: "commitment", type: "bytes32" },
    { name: "deadline", type: "uint256" },
  ],
  RecoverKey: [
    { name: "deviceId", type: "bytes32" },
    { name: "newKeyHash", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  ReplacePqKey: [
    { name: "deviceId", type: "bytes32" },
    { name: "scheme", type: "uint8" },
    { name: "commitment", type: "bytes32" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  FirmwareRelease: [
    { name: "maker", type: "uint16" },
    { name: "model", type: "uint32" },
    { name: "version", type: "string" },
    { name: "measurement", type: "bytes32" },
  ],
  Attestation: [
    { name: "deviceId", type: "bytes32" },
    { name: "measurement", type: "bytes32" },
    { name: "challenge", type: "bytes32" },
    { name: "timestamp", type: "uint64" },
    { name: "bootCount", type: "uint64" },
  ],
  Reading: [
    { name: "deviceId", type: "bytes32" },
    { name: "feedId", type: "bytes32" },
    { name: "sequence", type: "uint64" },
    { name: "timestamp", type: "uint64" },
    { name: "value", type: "int256" },
  ],
  ReadingBatch: [
    { name: "deviceId", type: "bytes32" },
    { name: "feedId", type: "bytes32" },
    { name: "firstSequence", type: "uint64" },
    { name: "lastSequence", type: "uint64" },
    { name: "count", type: "uint64" },
    { name: "fromTimestamp", type: "uint64" },
    { name: "toTimestamp", type: "uint64" },
    { name: "root", type: "bytes32" },
  ],
  Voucher: [
    { name: "channel", type: "bytes32" },
    { name: "cumulativeAmount", type: "uint256" },
  ],
};

export const MESSAGE_KINDS = Object.keys(EIP712_TYPES) as MessageKind[];

function typesOf(kind: MessageKind): Record<string, TypedDataField[]> {
  return { [kind]: [...EIP712_TYPES[kind]] };
}

/** "Register(bytes32 deviceId,address operator,uint256 nonce,uint256 deadline)" */
export function encodeType(kind: MessageKind): string {
  return TypedDataEncoder.from(typesOf(kind)).encodeType(kind);
}

export function typeHash(kind: MessageKind): Hex {
  return keccakUtf8(encodeType(kind)) as Hex;
}

/** hashStruct(message): the value DeviceMessageLib.hash<Kind> returns. */
export function structHash<K extends MessageKind>(kind: K, message: MessageTypes[K]): Hex {
  return TypedDataEncoder.hashStruct(kind, typesOf(kind), message) as Hex;
}

/** The EIP-712 digest a device (or maker) signs: keccak256(0x1901 ‖ domainSeparator ‖ hashStruct). */
export function digest<K extends MessageKind>(
  domain: Domain,
  kind: K,
  message: MessageTypes[K],
): Hex {
  return TypedDataEncoder.hash(typedDataDomain(domain), typesOf(kind), message) as Hex;
}
