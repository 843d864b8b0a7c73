import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import {
  InvalidInputError,
  type Hex,
  BATCH_READING_LENGTH,
  batchLeaves,
  batchReadings,
  checkBatch,
  type BatchProblem,
  type BatchedReading,
  type SignedBatch,
} from "../protocol/index.js";

/**
 * A signed batch with its readings in the gateway's wire form (count × 48 bytes: sequence u64,
 * timestamp u64, value int256): what the watchtower stores once per batch, and from which it
 * rebuilds any leaf's evidence (the reading and its Merkle proof) only when a conflict needs it.
 */
export interface StoredBatch extends SignedBatch {
  readonly readings: Buffer;
}

/** Whether the readings match the signed batch (ranges, count, Merkle root); null when they do. */
export function batchProblem(b: StoredBatch): BatchProblem | null {
  return checkBatch(b);
}

/** The leaves (readings' EIP-712 struct hashes), count × 32 bytes in reading order. */
export function leavesOf(b: StoredBatch): Buffer {
  return batchLeaves(b.batch.deviceId, b.batch.feedId, b.readings);
}

/** The sequence of the reading at `index` (no bigint decoding of the rest). */
export function sequenceAt(readings: Buffer, index: number): bigint {
  return readings.readBigUInt64BE(index * BATCH_READING_LENGTH);
}

/**
 * The evidence of leaf `index` of a batch: the signed batch, the reading and its proof from the
 * SimpleMerkleTree of all leaves (built here, once per call: callers ask only for conflicting leaves).
 */
export function batchedReadingAt(b: StoredBatch, index: number): BatchedReading {
  const readings = batchReadings(b);
  const reading = readings[index];
  if (reading === undefined) {
    throw new InvalidInputError(
      `leaf ${String(index)} is outside a batch of ${String(readings.length)} readings`,
    );
  }
  const leaves = leavesOf(b);
  const hex: Hex[] = Array.from(
    { length: readings.length },
    (_, i): Hex => `0x${leaves.toString("hex", i * 32, i * 32 + 32)}`,
  );
  const tree = SimpleMerkleTree.of(hex);
  const leaf = hex[index] ?? "0x";
  return {
    batch: b.batch,
    key: b.key,
    signature: b.signature,
    reading,
    proof: tree.getProof(leaf) as Hex[],
  };
}
