import { InvalidInputError } from "./errors.js";
import { fromHex, toHex, type Hex } from "./hex.js";
import { KEY_LENGTH, KeyType, SIGNATURE_LENGTH, deviceKey } from "./keys.js";
import type { ReadingBatchMessage, ReadingMessage } from "./messages.js";
import { READING_TYPEHASH, keccak256Into, writeBytes32, writeInt256Word } from "./hash.js";
import type { BatchLeaf, SignedBatch } from "./signed.js";

/**
 * Batch mode: one MQTT message carries a device-signed ReadingBatch and the readings it covers. The
 * readings are not signed one by one: the device's one signature covers the batch, whose root is the
 * OpenZeppelin SimpleMerkleTree root of the readings' EIP-712 struct hashes (sorted leaves,
 * sorted-pair keccak nodes), as ReadingAnchor.verifyReading checks it. The wire format is binary
 * (see BATCH_FORMAT_VERSION); topics.ts documents the topic.
 */

/**
 * Version 1 of the batch payload. All integers big-endian; a reading is 48 bytes, a P-256 batch of
 * 1024 readings is 49,414 bytes (JSON would be about three times that).
 *
 * | offset | size      | field                                              |
 * |--------|-----------|----------------------------------------------------|
 * | 0      | 1         | format version (1)                                 |
 * | 1      | 1         | key type (1 secp256k1, 2 P-256)                     |
 * | 2      | 32        | deviceId                                           |
 * | 34     | 32        | feedId                                             |
 * | 66     | 8         | firstSequence                                      |
 * | 74     | 8         | lastSequence                                       |
 * | 82     | 8         | fromTimestamp                                      |
 * | 90     | 8         | toTimestamp                                        |
 * | 98     | 32        | root                                               |
 * | 130    | 4         | count                                              |
 * | 134    | K         | key (secp256k1: 20-byte address, P-256: 64-byte x‖y) |
 * | 134+K  | S         | signature over the ReadingBatch digest (65 / 64)    |
 * | 134+K+S| 48·count  | readings: sequence u64, timestamp u64, value int256 (two's complement) |
 */
export const BATCH_FORMAT_VERSION = 1;
export const BATCH_HEADER_LENGTH = 134;
export const BATCH_READING_LENGTH = 48;
/** The largest batch the gateway takes (a larger one is "malformed"). */
export const MAX_BATCH_READINGS = 65_536;

/** A decoded batch message: the signed batch and its readings, still in wire form. */
export interface DecodedBatch extends SignedBatch {
  /** count × 48 bytes: sequence u64, timestamp u64, value int256 per reading. */
  readonly readings: Buffer;
}

/** Why a batch does not hold together (the gateway's reject reasons "bad_batch" and "bad_root"). */
export type BatchProblem = "bad_batch" | "bad_root";

function u64(value: bigint, what: string): bigint {
  if (value < 0n || value >= 1n << 64n) throw new InvalidInputError(`${what} must fit in uint64`);
  return value;
}

/** The wire form of readings: count × 48 bytes (sequence u64, timestamp u64, value int256). */
export function encodeReadings(readings: readonly ReadingMessage[]): Buffer {
  const out = Buffer.alloc(BATCH_READING_LENGTH * readings.length);
  let o = 0;
  for (const r of readings) {
    out.writeBigUInt64BE(u64(r.sequence, "sequence"), o);
    out.writeBigUInt64BE(u64(r.timestamp, "timestamp"), o + 8);
    writeInt256Word(out, o + 16, r.value);
    o += BATCH_READING_LENGTH;
  }
  return out;
}

/** Encodes a signed batch and its readings (in order) as a version-1 payload. */
export function encodeBatch(signed: SignedBatch, readings: readonly ReadingMessage[]): Buffer {
  const b = signed.batch;
  const header = Buffer.alloc(BATCH_HEADER_LENGTH);
  header[0] = BATCH_FORMAT_VERSION;
  header[1] = signed.key.keyType;
  writeBytes32(header, 2, b.deviceId, "deviceId");
  writeBytes32(header, 34, b.feedId, "feedId");
  header.writeBigUInt64BE(u64(b.firstSequence, "firstSequence"), 66);
  header.writeBigUInt64BE(u64(b.lastSequence, "lastSequence"), 74);
  header.writeBigUInt64BE(u64(b.fromTimestamp, "fromTimestamp"), 82);
  header.writeBigUInt64BE(u64(b.toTimestamp, "toTimestamp"), 90);
  writeBytes32(header, 98, b.root, "root");
  header.writeUInt32BE(readings.length, 130);
  return Buffer.concat([
    header,
    fromHex(signed.key.key, "key"),
    fromHex(signed.signature, "signature"),
    encodeReadings(readings),
  ]);
}

function hex(b: Buffer, start: number, end: number): Hex {
  return `0x${b.toString("hex", start, end)}`;
}

/** Decodes a version-1 payload; throws InvalidInputError when it is malformed. */
export function decodeBatch(payload: Buffer): DecodedBatch {
  if (payload.length < BATCH_HEADER_LENGTH || payload[0] !== BATCH_FORMAT_VERSION) {
    throw new InvalidInputError(
      `a batch payload starts with format version ${String(BATCH_FORMAT_VERSION)} and a ${String(BATCH_HEADER_LENGTH)}-byte header`,
    );
  }
  const keyType = payload[1];
  if (keyType !== KeyType.Secp256k1 && keyType !== KeyType.P256) {
    throw new InvalidInputError(`unknown key type ${String(keyType)} in a batch payload`);
  }
  const count = payload.readUInt32BE(130);
  const keyEnd = BATCH_HEADER_LENGTH + KEY_LENGTH[keyType];
  const sigEnd = keyEnd + SIGNATURE_LENGTH[keyType];
  if (count === 0 || count > MAX_BATCH_READINGS) {
    throw new InvalidInputError(
      `a batch holds 1 to ${String(MAX_BATCH_READINGS)} readings, not ${String(count)}`,
    );
  }
  if (payload.length !== sigEnd + count * BATCH_READING_LENGTH) {
    throw new InvalidInputError(
      `a batch of ${String(count)} readings is ${String(sigEnd + count * BATCH_READING_LENGTH)} bytes, not ${String(payload.length)}`,
    );
  }
  return {
    batch: {
      deviceId: hex(payload, 2, 34),
      feedId: hex(payload, 34, 66),
      firstSequence: payload.readBigUInt64BE(66),
      lastSequence: payload.readBigUInt64BE(74),
      count: BigInt(count),
      fromTimestamp: payload.readBigUInt64BE(82),
      toTimestamp: payload.readBigUInt64BE(90),
      root: hex(payload, 98, 130),
    },
    key: deviceKey(keyType, hex(payload, BATCH_HEADER_LENGTH, keyEnd)),
    signature: hex(payload, keyEnd, sigEnd),
    readings: payload.subarray(sigEnd),
  };
}

/** The readings of a decoded batch as protocol messages (for mirrors and tests; the hot path avoids it). */
export function batchReadings(decoded: DecodedBatch): ReadingMessage[] {
  const { deviceId, feedId } = decoded.batch;
  const out: ReadingMessage[] = [];
  const r = decoded.readings;
  for (let o = 0; o < r.length; o += BATCH_READING_LENGTH) {
    out.push({
      deviceId,
      feedId,
      sequence: r.readBigUInt64BE(o),
      timestamp: r.readBigUInt64BE(o + 8),
      value: BigInt.asIntN(256, BigInt(`0x${r.toString("hex", o + 16, o + 48)}`)),
    });
  }
  return out;
}

/**
 * The leaves of a batch: each reading's EIP-712 struct hash, count × 32 bytes in reading order. The
 * 192-byte encoding shares its first 96 bytes (type hash, deviceId, feedId) across the batch, so each
 * leaf costs three copies and one keccak.
 */
export function batchLeaves(deviceId: Hex, feedId: Hex, readings: Buffer): Buffer {
  const n = readings.length / BATCH_READING_LENGTH;
  const enc = Buffer.alloc(192);
  READING_TYPEHASH.copy(enc, 0);
  writeBytes32(enc, 32, deviceId, "deviceId");
  writeBytes32(enc, 64, feedId, "feedId");
  const leaves = Buffer.allocUnsafe(n * 32);
  for (let i = 0; i < n; i++) {
    const o = i * BATCH_READING_LENGTH;
    // uint64 words: 24 zero bytes (still zero from alloc) then the 8 wire bytes.
    readings.copy(enc, 120, o, o + 8);
    readings.copy(enc, 152, o + 8, o + 16);
    readings.copy(enc, 160, o + 16, o + 48);
    keccak256Into(leaves, i * 32, enc);
  }
  return leaves;
}

/**
 * The OpenZeppelin SimpleMerkleTree root of `leaves` (count × 32 bytes): leaves sorted ascending,
 * laid out as its array tree (leaf i at index 2n-2-i, node i = hashPair(node 2i+1, node 2i+2)), each
 * pair hashed in sorted order. Equal to `SimpleMerkleTree.of(leaves).root`, which the tests check.
 */
export function merkleRoot(leaves: Buffer): Buffer {
  const n = leaves.length / 32;
  if (n < 1 || !Number.isInteger(n)) throw new InvalidInputError("a Merkle tree needs leaves");
  // Sort by the first 48 bits as a number (almost always decisive), then by the full 32 bytes.
  const head = new Float64Array(n);
  for (let i = 0; i < n; i++) head[i] = leaves.readUIntBE(i * 32, 6);
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort(
    (a, b) =>
      (head[a] ?? 0) - (head[b] ?? 0) ||
      leaves.compare(leaves, b * 32, b * 32 + 32, a * 32, a * 32 + 32),
  );
  const size = 2 * n - 1;
  const tree = Buffer.allocUnsafe(size * 32);
  for (let i = 0; i < n; i++) {
    const leaf = order[i] ?? 0;
    leaves.copy(tree, (size - 1 - i) * 32, leaf * 32, leaf * 32 + 32);
  }
  // Each node: its two children copied in sorted order into one 64-byte buffer, hashed in place.
  const pair = Buffer.allocUnsafe(64);
  for (let i = size - 1 - n; i >= 0; i--) {
    const l = (2 * i + 1) * 32;
    const r = l + 32;
    const [a, b] = tree.compare(tree, r, r + 32, l, l + 32) <= 0 ? [l, r] : [r, l];
    tree.copy(pair, 0, a, a + 32);
    tree.copy(pair, 32, b, b + 32);
    keccak256Into(tree, i * 32, pair);
  }
  return tree.subarray(0, 32);
}

/**
 * Whether the readings match what the device signed: exactly `count` readings, sequences strictly
 * increasing from firstSequence to lastSequence, timestamps spanning exactly [fromTimestamp,
 * toTimestamp] (as protocol's buildReadingBatch sets them), and the Merkle root of their struct
 * hashes equal to `root`. Returns null when they do, else the problem.
 */
export function checkBatch(decoded: DecodedBatch): BatchProblem | null {
  const b = decoded.batch;
  const r = decoded.readings;
  const n = r.length / BATCH_READING_LENGTH;
  if (BigInt(n) !== b.count || b.firstSequence > b.lastSequence) return "bad_batch";
  if (b.fromTimestamp > b.toTimestamp) return "bad_batch";
  // Sequences and timestamps compared as (high, low) 32-bit halves: no bigint per reading.
  let prevHi = -1;
  let prevLo = 0;
  let minHi = Infinity;
  let minLo = Infinity;
  let maxHi = -1;
  let maxLo = -1;
  for (let o = 0; o < r.length; o += BATCH_READING_LENGTH) {
    const hi = r.readUInt32BE(o);
    const lo = r.readUInt32BE(o + 4);
    if (hi < prevHi || (hi === prevHi && lo <= prevLo)) return "bad_batch";
    prevHi = hi;
    prevLo = lo;
    const thi = r.readUInt32BE(o + 8);
    const tlo = r.readUInt32BE(o + 12);
    if (thi < minHi || (thi === minHi && tlo < minLo)) {
      minHi = thi;
      minLo = tlo;
    }
    if (thi > maxHi || (thi === maxHi && tlo > maxLo)) {
      maxHi = thi;
      maxLo = tlo;
    }
  }
  const last = r.length - BATCH_READING_LENGTH;
  if (
    r.readBigUInt64BE(0) !== b.firstSequence ||
    r.readBigUInt64BE(last) !== b.lastSequence ||
    BigInt(minHi) * 2n ** 32n + BigInt(minLo) !== b.fromTimestamp ||
    BigInt(maxHi) * 2n ** 32n + BigInt(maxLo) !== b.toTimestamp
  ) {
    return "bad_batch";
  }
  const root = merkleRoot(batchLeaves(b.deviceId, b.feedId, r));
  return `0x${root.toString("hex")}` === b.root.toLowerCase() ? null : "bad_root";
}

/**
 * What signs a batch on the device: DeviceSigner fits. It is given the batch's leaves, so that its
 * signing record can tell a leaf from a conflicting reading (signing-record.ts).
 */
export interface BatchSigner {
  readonly deviceId: Hex;
  signReadingBatch(
    batch: Omit<ReadingBatchMessage, "deviceId">,
    leaves: readonly BatchLeaf[],
  ): Promise<{
    readonly message: ReadingBatchMessage;
    readonly key: SignedBatch["key"];
    readonly signature: Hex;
  }>;
}

/**
 * Device side: builds the ReadingBatch of `readings` (one device, one feed, strictly increasing
 * sequences; the root as the gateway and the anchor compute it) and signs it.
 */
export async function signBatch(
  signer: BatchSigner,
  readings: readonly Omit<ReadingMessage, "deviceId">[],
): Promise<{ signed: SignedBatch; readings: ReadingMessage[] }> {
  const first = readings[0];
  if (first === undefined)
    throw new InvalidInputError("a reading batch needs at least one reading");
  const full = readings.map((r) => ({ ...r, deviceId: signer.deviceId }));
  let from = first.timestamp;
  let to = first.timestamp;
  for (let i = 0; i < full.length; i++) {
    const r = full[i] ?? first;
    if (r.feedId.toLowerCase() !== first.feedId.toLowerCase()) {
      throw new InvalidInputError("every reading of a batch must be for one feed");
    }
    const prev = full[i - 1];
    if (prev !== undefined && r.sequence <= prev.sequence) {
      throw new InvalidInputError(
        `batch readings must have strictly increasing sequences (${String(r.sequence)} after ${String(prev.sequence)})`,
      );
    }
    if (r.timestamp < from) from = r.timestamp;
    if (r.timestamp > to) to = r.timestamp;
  }
  const leaves = batchLeaves(signer.deviceId, first.feedId, encodeReadings(full));
  const root = merkleRoot(leaves);
  const s = await signer.signReadingBatch(
    {
      feedId: first.feedId,
      firstSequence: first.sequence,
      lastSequence: full[full.length - 1]?.sequence ?? first.sequence,
      count: BigInt(full.length),
      fromTimestamp: from,
      toTimestamp: to,
      root: `0x${root.toString("hex")}`,
    },
    full.map((r, i) => ({
      sequence: r.sequence,
      structHash: toHex(leaves.subarray(i * 32, i * 32 + 32)),
    })),
  );
  return { signed: { batch: s.message, key: s.key, signature: s.signature }, readings: full };
}
