import type { Hex } from "../protocol/index.js";
import type {
  BatchMark,
  PruneResult,
  QueuedBatch,
  QueuedReading,
  ReadingMark,
  ReadingStatus,
  ReadingStore,
  StoreWrite,
  StoreWriteResult,
} from "./reading-store.js";
import { GatewayStore } from "./store.js";

/**
 * The embedded SQLite store (store.ts) as a ReadingStore: one gateway instance, which always leads
 * its own submission. node:sqlite is synchronous, so each call completes before its promise resolves;
 * a group's writes are one transaction, as before. `sqlite` gives the synchronous store itself (tests,
 * benchmarks, the CLI's summaries).
 */
export class SqliteReadingStore implements ReadingStore {
  readonly kind = "sqlite";
  readonly shared = false;
  readonly sqlite: GatewayStore;

  constructor(path: string, synchronous: "NORMAL" | "FULL" = "NORMAL", checkpointMs?: number) {
    this.sqlite = new GatewayStore(path, synchronous, checkpointMs);
  }

  get isOpen(): boolean {
    return this.sqlite.isOpen;
  }

  check(): Promise<void> {
    return run(() => {
      this.sqlite.check();
    });
  }

  write(writes: readonly StoreWrite[]): Promise<(StoreWriteResult | Error)[]> {
    return run(() => {
      const store = this.sqlite;
      const results: (StoreWriteResult | Error)[] = [];
      store.transaction(() => {
        for (const w of writes) {
          try {
            results.push(
              w.kind === "reading"
                ? { kind: "reading", ...store.put(w.signed, w.structHash, w.receivedAt) }
                : { kind: "batch", ...store.putBatch(w.decoded, w.receivedAt) },
            );
          } catch (err: unknown) {
            results.push(err instanceof Error ? err : new Error(String(err)));
          }
        }
      });
      return results;
    });
  }

  pending(limit?: number): Promise<QueuedReading[]> {
    return run(() => this.sqlite.pending(limit));
  }

  pendingBatches(limit?: number): Promise<QueuedBatch[]> {
    return run(() => this.sqlite.pendingBatches(limit));
  }

  batchReadingsOf(id: number): Promise<Buffer | undefined> {
    return run(() => this.sqlite.batchReadingsOf(id));
  }

  markOutcomes(entries: readonly ReadingMark[], txHash: Hex): Promise<void> {
    return run(() => {
      this.sqlite.markOutcomes(entries, txHash);
    });
  }

  markAll(
    ids: readonly number[],
    status: Exclude<ReadingStatus, "pending">,
    txHash: Hex | null,
    error: string | null = null,
  ): Promise<void> {
    return run(() => {
      this.sqlite.markAll(ids, status, txHash, error);
    });
  }

  markBatches(entries: readonly BatchMark[]): Promise<void> {
    return run(() => {
      const store = this.sqlite;
      store.transaction(() => {
        for (const e of entries) store.markBatch(e.id, e.status, e.txHash, e.error);
      });
    });
  }

  counts(): Record<ReadingStatus, number> {
    return this.sqlite.counts();
  }

  batchCounts(): Record<ReadingStatus, number> {
    return this.sqlite.batchCounts();
  }

  rejectionReasons(): Promise<Record<string, number>> {
    return run(() => this.sqlite.rejectionReasons());
  }

  lead(): Promise<boolean> {
    return Promise.resolve(true);
  }

  prune(before: number): Promise<PruneResult> {
    return run(() => this.sqlite.prune(before));
  }

  close(): Promise<void> {
    return this.sqlite.closeAndWait();
  }
}

/** Runs a synchronous store call as a promise (a throw becomes a rejection). */
function run<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err: unknown) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
