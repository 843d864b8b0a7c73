import type { DecodedBatch, Hex, SignedBatch, SignedReading } from "../protocol/index.js";

/**
 * The gateway's durable queue, as the gateway sees it: an embedded SQLite file for one instance
 * (store.ts, the default) or a PostgreSQL database shared by any number of instances (pg-store.ts),
 * chosen by `gateway start --store <path or postgres:// URL>`.
 *
 * Every accepted reading is written here before its MQTT acknowledgement; (device, feed, sequence) is
 * unique across every instance that shares the store, so a redelivered or replayed reading is
 * recognised wherever it arrives, and a conflicting one meets the original (`existing`, which the
 * gateway hands to its watchtower). `status` moves pending -> submitted (or rejected) once the chain
 * has answered.
 */

export type ReadingStatus = "pending" | "submitted" | "rejected";
export type PutResult = "inserted" | "duplicate" | "conflict";
export type PutBatchResult = "inserted" | "duplicate" | "overlap";

export interface QueuedReading {
  /** The row id: the order of acceptance (per store). */
  readonly id: number;
  readonly signed: SignedReading;
  readonly receivedAt: number;
}

/** An accepted batch waiting to be anchored. */
export interface QueuedBatch {
  readonly id: number;
  readonly signed: SignedBatch;
  readonly receivedAt: number;
}

/** One write of a group: a verified reading (with its EIP-712 struct hash) or a verified batch. */
export type StoreWrite =
  | {
      readonly kind: "reading";
      readonly signed: SignedReading;
      readonly structHash: Hex;
      readonly receivedAt: number;
    }
  | { readonly kind: "batch"; readonly decoded: DecodedBatch; readonly receivedAt: number };

export interface ReadingPut {
  readonly kind: "reading";
  readonly result: PutResult;
  /** The row id, when inserted. */
  readonly id?: number;
  /** The reading that holds the slot, when the write conflicts with it. */
  readonly existing?: SignedReading;
}

export interface BatchPut {
  readonly kind: "batch";
  readonly result: PutBatchResult;
  readonly id?: number;
}

export type StoreWriteResult = ReadingPut | BatchPut;

/** What one submission made of a reading: submitted (its feed accepted it) or rejected, with why. */
export interface ReadingMark {
  readonly id: number;
  /** null: accepted; otherwise the feed's reason (e.g. SequenceNotIncreasing). */
  readonly rejected: string | null;
  /** The transaction that carried it, when not the submission's own. */
  readonly txHash?: Hex | undefined;
}

export interface BatchMark {
  readonly id: number;
  readonly status: Exclude<ReadingStatus, "pending">;
  readonly txHash: Hex | null;
  readonly error: string | null;
}

/** What a prune removed. */
export interface PruneResult {
  readonly readings: number;
  readonly batches: number;
}

export interface ReadingStore {
  /** "sqlite" or "postgres" (logs, /health). */
  readonly kind: "sqlite" | "postgres";
  /**
   * Whether other gateway instances write to this store too. A shared store's pending rows are
   * submitted by one instance at a time (the one `lead` says leads), taken from the store in each
   * device's sequence order; an unshared store's by its only gateway, from its memory.
   */
  readonly shared: boolean;
  readonly isOpen: boolean;
  /** Rejects when the store cannot answer (for /health). */
  check(): Promise<void>;
  /**
   * Runs the writes in one transaction, in order, and resolves with one result (or the Error of that
   * write alone) per write once committed. Rejects, with nothing of the group durable, when the
   * transaction fails.
   */
  write(writes: readonly StoreWrite[]): Promise<(StoreWriteResult | Error)[]>;
  /** Pending readings in acceptance order, at most `limit`. */
  pending(limit?: number): Promise<QueuedReading[]>;
  /** Pending batches in acceptance order, at most `limit`. */
  pendingBatches(limit?: number): Promise<QueuedBatch[]>;
  /** The readings of a stored batch in wire form (batch.ts), or undefined for an unknown id. */
  batchReadingsOf(id: number): Promise<Buffer | undefined>;
  /** Records one submission's outcome per reading, in one transaction (pending rows only). */
  markOutcomes(entries: readonly ReadingMark[], txHash: Hex): Promise<void>;
  /** Marks the readings submitted or rejected in one transaction (pending rows only). */
  markAll(
    ids: readonly number[],
    status: Exclude<ReadingStatus, "pending">,
    txHash: Hex | null,
    error?: string | null,
  ): Promise<void>;
  /** Records a group of batches' outcomes in one transaction (pending rows only). */
  markBatches(entries: readonly BatchMark[]): Promise<void>;
  /** Readings by status, without a query (running tallies, or the last refresh of a shared store's). */
  counts(): Record<ReadingStatus, number>;
  /** Batches by status, like counts. */
  batchCounts(): Record<ReadingStatus, number>;
  /** Rejected readings by reason (the text before ": "). */
  rejectionReasons(): Promise<Record<string, number>>;
  /**
   * Shared stores: whether this instance leads submission now (it takes the lead when nobody holds
   * it; a crashed leader's lead passes on by itself). Unshared stores always lead.
   */
  lead(): Promise<boolean>;
  /**
   * Retention: deletes the readings and batches received before `before` (ms since the epoch) that
   * are no longer pending (submitted or rejected). Pending rows are never pruned. The gateway refuses
   * readings dated before its retention window, so a pruned slot cannot be filled again by a replay.
   */
  prune(before: number): Promise<PruneResult>;
  close(): Promise<void>;
}
