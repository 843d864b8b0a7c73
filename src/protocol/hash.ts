import { createKeccak } from "hash-wasm";
import { InvalidInputError } from "./errors.js";
import { fromHex, isHex, parseHex, type Hex } from "./hex.js";
import {
  domainSeparator,
  typeHash,
  type Domain,
  type ReadingBatchMessage,
  type ReadingMessage,
  type VoucherMessage,
} from "./messages.js";

/**
 * The EIP-712 hashes of a Reading and a ReadingBatch without ethers' generic encoder (the gateway's
 * hot path): equal to protocol's structHash and digest, which the tests check. keccak-256 runs in
 * WebAssembly (hash-wasm): about 8x the speed of the pure-JS keccak for a 192-byte Reading encoding,
 * which is what makes batch mode (one keccak per reading, one per Merkle node) reach its target.
 */

// Top-level await: the WebAssembly module is compiled once when this module loads, so every hash
// below is synchronous.
const hasher = await createKeccak(256);

/** keccak-256 of `data` (synchronous, WebAssembly). */
export function keccak256Buffer(data: Uint8Array): Buffer {
  hasher.init();
  hasher.update(data);
  return Buffer.from(hasher.digest("binary"));
}

/** Writes keccak-256 of `data` into `target` at `offset` (no intermediate Buffer). */
export function keccak256Into(target: Uint8Array, offset: number, data: Uint8Array): void {
  hasher.init();
  hasher.update(data);
  target.set(hasher.digest("binary"), offset);
}

/** keccak-256 of a ‖ b without concatenating them first. */
export function keccak256Pair(a: Uint8Array, b: Uint8Array): Buffer {
  hasher.init();
  hasher.update(a);
  hasher.update(b);
  return Buffer.from(hasher.digest("binary"));
}

export const READING_TYPEHASH = Buffer.from(fromHex(typeHash("Reading")));
export const READING_BATCH_TYPEHASH = Buffer.from(fromHex(typeHash("ReadingBatch")));
export const VOUCHER_TYPEHASH = Buffer.from(fromHex(typeHash("Voucher")));
export const UINT64_MAX = (1n << 64n) - 1n;
export const UINT256_MAX = (1n << 256n) - 1n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const INT256_MIN = -(1n << 255n);
const INT256_MAX = (1n << 255n) - 1n;

/**
 * Writes a 32-byte hex string (0x-prefixed) at `offset`; throws parseHex's InvalidHexError unless it
 * is exactly that (checked before anything is written: Buffer's hex decoding would stop at a bad digit).
 */
export function writeBytes32(target: Buffer, offset: number, hex: Hex, what: string): void {
  // The hot path tests without allocating; parseHex only runs to say what is wrong.
  if (!isHex(hex, 32)) parseHex(hex, what, { bytes: 32 });
  target.write(hex.slice(2), offset, 32, "hex");
}

/** Writes a 20-byte address (0x-prefixed) as a 32-byte ABI word at `offset`. */
export function writeAddressWord(target: Buffer, offset: number, address: Hex, what: string): void {
  if (!isHex(address, 20)) {
    throw new InvalidInputError(
      `${what} must be a 20-byte 0x-prefixed address, not ${String(address)}`,
    );
  }
  target.fill(0, offset, offset + 12);
  target.write(address.slice(2), offset + 12, 20, "hex");
}

/** Writes a uint64 as a 32-byte ABI word at `offset`. */
export function writeUint64Word(target: Buffer, offset: number, value: bigint, what: string): void {
  if (value < 0n || value > UINT64_MAX) throw new InvalidInputError(`${what} must fit in uint64`);
  target.fill(0, offset, offset + 24);
  target.writeBigUInt64BE(value, offset + 24);
}

/** Writes an int256 as a 32-byte two's-complement ABI word at `offset`. */
export function writeInt256Word(target: Buffer, offset: number, value: bigint): void {
  if (value >= INT64_MIN && value <= INT64_MAX) {
    // The common case (sensor values): sign-extend an int64 without a bigint-to-hex round trip.
    target.fill(value < 0n ? 0xff : 0, offset, offset + 24);
    target.writeBigInt64BE(value, offset + 24);
    return;
  }
  if (value < INT256_MIN || value > INT256_MAX) {
    throw new InvalidInputError("value must fit in int256");
  }
  const v = value < 0n ? (1n << 256n) + value : value;
  target.write(v.toString(16).padStart(64, "0"), offset, 32, "hex");
}

/** Writes a uint256 as a 32-byte ABI word at `offset`. */
export function writeUint256Word(
  target: Buffer,
  offset: number,
  value: bigint,
  what: string,
): void {
  if (value < 0n || value > UINT256_MAX) {
    throw new InvalidInputError(`${what} must be a whole number from 0 to 2^256 - 1`);
  }
  if (value <= UINT64_MAX) {
    // The common case (token amounts below 1.8e19): no bigint-to-hex round trip.
    target.fill(0, offset, offset + 24);
    target.writeBigUInt64BE(value, offset + 24);
    return;
  }
  target.write(value.toString(16).padStart(64, "0"), offset, 32, "hex");
}

// Scratch space for one encoding at a time (every use below is synchronous).
const readingScratch = Buffer.alloc(192);
const batchScratch = Buffer.alloc(288);
const voucherScratch = Buffer.alloc(96);
VOUCHER_TYPEHASH.copy(voucherScratch, 0);
READING_TYPEHASH.copy(readingScratch, 0);
READING_BATCH_TYPEHASH.copy(batchScratch, 0);

/** hashStruct(Reading); throws InvalidInputError when a field is out of its Solidity type's range. */
export function readingStructHash(r: ReadingMessage): Buffer {
  const b = readingScratch;
  writeBytes32(b, 32, r.deviceId, "deviceId");
  writeBytes32(b, 64, r.feedId, "feedId");
  writeUint64Word(b, 96, r.sequence, "sequence");
  writeUint64Word(b, 128, r.timestamp, "timestamp");
  writeInt256Word(b, 160, r.value);
  return keccak256Buffer(b);
}

/** hashStruct(ReadingBatch); throws InvalidInputError when a field is out of range. */
export function readingBatchStructHash(m: ReadingBatchMessage): Buffer {
  const b = batchScratch;
  writeBytes32(b, 32, m.deviceId, "deviceId");
  writeBytes32(b, 64, m.feedId, "feedId");
  writeUint64Word(b, 96, m.firstSequence, "firstSequence");
  writeUint64Word(b, 128, m.lastSequence, "lastSequence");
  writeUint64Word(b, 160, m.count, "count");
  writeUint64Word(b, 192, m.fromTimestamp, "fromTimestamp");
  writeUint64Word(b, 224, m.toTimestamp, "toTimestamp");
  writeBytes32(b, 256, m.root, "root");
  return keccak256Buffer(b);
}

/** hashStruct(Voucher) (a seller's hot path); throws InvalidInputError when a field is out of range. */
export function voucherStructHash(v: VoucherMessage): Buffer {
  const b = voucherScratch;
  writeBytes32(b, 32, v.channel, "channel");
  writeUint256Word(b, 64, v.cumulativeAmount, "cumulativeAmount");
  return keccak256Buffer(b);
}

/**
 * A digest function bound to one domain: keccak256(0x1901 ‖ domainSeparator ‖ structHash), for any
 * struct hash (a Reading's or a ReadingBatch's).
 */
export function readingDigester(domain: Domain): (structHash: Buffer) => Hex {
  const prefix = Buffer.concat([
    Buffer.from([0x19, 0x01]),
    Buffer.from(fromHex(domainSeparator(domain))),
  ]);
  return (structHash) => `0x${keccak256Pair(prefix, structHash).toString("hex")}`;
}
