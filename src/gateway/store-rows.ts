import {
  deviceKey,
  KeyType,
  type DeviceKey,
  type Hex,
  type SignedBatch,
  type SignedReading,
} from "../protocol/index.js";

/**
 * The columns both gateway stores (SQLite, PostgreSQL) keep for a reading and a batch, and what they
 * read back into: uint64 and int256 values as decimal text (SQLite's integers stop at 2^63), ids and
 * keys as lower-case hex. Batch sequences are encoded per store (SQLite: 16 hex digits, so that text
 * order is numeric order; PostgreSQL: NUMERIC), so the caller decodes them.
 */
export interface ReadingColumns {
  readonly device_id: string;
  readonly feed_id: string;
  readonly sequence: string;
  readonly timestamp: string;
  readonly value: string;
  readonly key_type: number;
  readonly key: string;
  readonly signature: string;
}

export interface BatchColumns {
  readonly device_id: string;
  readonly feed_id: string;
  readonly root: string;
  readonly first_seq: string;
  readonly last_seq: string;
  readonly count: number;
  readonly from_ts: string;
  readonly to_ts: string;
  readonly key_type: number;
  readonly key: string;
  readonly signature: string;
}

export function keyOfRow(keyType: number, key: string): DeviceKey {
  return deviceKey(keyType === 1 ? KeyType.Secp256k1 : KeyType.P256, key);
}

export function readingOfRow(row: ReadingColumns): SignedReading {
  return {
    reading: {
      deviceId: row.device_id as Hex,
      feedId: row.feed_id as Hex,
      sequence: BigInt(row.sequence),
      timestamp: BigInt(row.timestamp),
      value: BigInt(row.value),
    },
    key: keyOfRow(row.key_type, row.key),
    signature: row.signature as Hex,
  };
}

/** `sequence` decodes the store's first_seq and last_seq. */
export function batchOfRow(row: BatchColumns, sequence: (text: string) => bigint): SignedBatch {
  return {
    batch: {
      deviceId: row.device_id as Hex,
      feedId: row.feed_id as Hex,
      firstSequence: sequence(row.first_seq),
      lastSequence: sequence(row.last_seq),
      count: BigInt(row.count),
      fromTimestamp: BigInt(row.from_ts),
      toTimestamp: BigInt(row.to_ts),
      root: row.root as Hex,
    },
    key: keyOfRow(row.key_type, row.key),
    signature: row.signature as Hex,
  };
}
