import { statSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { Worker } from "node:worker_threads";
import { type Hex, type SignedReading, type DecodedBatch } from "../protocol/index.js";
import { sqliteSizeBytes } from "../service/sqlite-size.js";
import type { PruneResult } from "./reading-store.js";
import { GatewayError } from "./types.js";
import { batchOfRow, readingOfRow, type BatchColumns, type ReadingColumns } from "./store-rows.js";

/**
 * The gateway's durable queue, in an embedded SQLite file (node:sqlite). Every accepted reading is
 * inserted here before its MQTT acknowledgement; (device, feed, sequence) is unique, so a redelivered
 * or replayed reading is recognised; `status` moves pending -> submitted (or rejected) in the same
 * transaction that records the submission, so a restart resubmits only what was never confirmed.
 * uint64 and int256 values are stored as decimal text (SQLite integers stop at 2^63).
 *
 * Device-signed batches have a table of their own: one row per batch, its readings in one BLOB in
 * their wire form (batch.ts), unique on (device, feed, root). A batch whose sequence range overlaps
 * a stored batch of its device and feed is refused (it conflicts with it). One that comes late (after
 * a later batch, as an MQTT redelivery after a restart may) is stored and queued: ReadingAnchor takes
 * a device's batches in sequence order, so it refuses it if the later one was anchored first, and the
 * gateway marks it rejected with that reason, its readings kept. Sequences are stored as 16 hex
 * digits, so that text order is numeric order and the overlap check is one indexed lookup.
 *
 * Writes are grouped: the gateway runs the writes of readings that arrived together in one
 * transaction (`transaction`), which is what makes a persisted-before-ack reading cheap.
 *
 * Counts by status (`counts`, `batchCounts`, read by /health) are kept as running tallies: counted
 * once when the store opens, then moved by each insert and status change, and restored when their
 * transaction rolls back. Reading them costs nothing whatever the store's size. They assume this
 * store is the file's only writer, as the gateway is.
 */

import type {
  PutBatchResult,
  PutResult,
  QueuedBatch,
  QueuedReading,
  ReadingStatus,
} from "./reading-store.js";

export type { PutBatchResult, PutResult, QueuedBatch, QueuedReading, ReadingStatus };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS readings (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id   TEXT NOT NULL,
  feed_id     TEXT NOT NULL,
  sequence    TEXT NOT NULL,
  struct_hash TEXT NOT NULL,
  timestamp   TEXT NOT NULL,
  value       TEXT NOT NULL,
  key_type    INTEGER NOT NULL,
  key         TEXT NOT NULL,
  signature   TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  status      TEXT NOT NULL DEFAULT 'pending',
  tx_hash     TEXT,
  error       TEXT,
  UNIQUE (device_id, feed_id, sequence)
);
CREATE INDEX IF NOT EXISTS readings_pending ON readings (status, id);
CREATE TABLE IF NOT EXISTS batches (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id   TEXT NOT NULL,
  feed_id     TEXT NOT NULL,
  root        TEXT NOT NULL,
  first_seq   TEXT NOT NULL,
  last_seq    TEXT NOT NULL,
  count       INTEGER NOT NULL,
  from_ts     TEXT NOT NULL,
  to_ts       TEXT NOT NULL,
  key_type    INTEGER NOT NULL,
  key         TEXT NOT NULL,
  signature   TEXT NOT NULL,
  readings    BLOB NOT NULL,
  received_at INTEGER NOT NULL,
  status      TEXT NOT NULL DEFAULT 'pending',
  tx_hash     TEXT,
  error       TEXT,
  UNIQUE (device_id, feed_id, root)
);
CREATE INDEX IF NOT EXISTS batches_range ON batches (device_id, feed_id, first_seq);
CREATE INDEX IF NOT EXISTS batches_pending ON batches (status, id);
`;

/**
 * Retention's index: the rows a prune may delete (submitted or rejected, received before a time) in
 * one range per status, without reading the retained rows or the pending ones.
 */
const SCHEMA_RETENTION = `
CREATE INDEX IF NOT EXISTS readings_retention ON readings (status, received_at);
CREATE INDEX IF NOT EXISTS batches_retention ON batches (status, received_at);
`;

interface BatchRow extends BatchColumns {
  id: number;
  received_at: number;
}

/**
 * The checkpointer thread: its own connection copies committed WAL frames into the database file
 * (PASSIVE: it never blocks the gateway's writes) every `intervalMs`. A checkpoint ends in fsyncs;
 * run by the writer (SQLite's default, every 1000 pages) it halves the gateway's insert rate.
 */
const CHECKPOINTER = `
const { workerData } = require("node:worker_threads");
const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(workerData.path);
db.exec("PRAGMA busy_timeout = 1000");
setInterval(() => {
  try {
    db.exec("PRAGMA wal_checkpoint(PASSIVE)");
  } catch {
    // Busy or closing: the next tick tries again; the writer's WAL keeps every commit meanwhile.
  }
}, workerData.intervalMs);
`;

/**
 * The WAL's size past which the writer resets it. A writer that keeps writing appends to the WAL
 * forever (SQLite restarts it only when a write begins after a complete checkpoint, which the
 * checkpointer thread never finishes while frames keep coming): measured, 323 MB after 300,000
 * readings. So every WAL_CHECK_COMMITS commits the writer looks at its size and, past the limit,
 * runs a TRUNCATE checkpoint itself (the checkpointer has copied nearly everything: little is left
 * to copy).
 */
const WAL_LIMIT_BYTES = 64 * 1024 * 1024;
const WAL_CHECK_COMMITS = 64;

/** One row left pending for `status`. */
function moved(tally: Tally, status: Exclude<ReadingStatus, "pending">): void {
  tally.pending--;
  tally[status]++;
}

/** A uint64 as 16 hex digits: text order is numeric order. */
function seqText(value: bigint): string {
  return value.toString(16).padStart(16, "0");
}

/** Rows by status, of readings or of batches. */
type Tally = Record<ReadingStatus, number>;

interface Row extends ReadingColumns {
  id: number;
  received_at: number;
}

/**
 * `synchronous`: "NORMAL" (default) makes a committed row survive a crash of the process (SIGKILL
 * included: WAL frames are in the OS before the commit returns); "FULL" also survives a power loss,
 * at the cost of an fsync per accepted reading.
 */
export class GatewayStore {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly insert: StatementSync;
  private readonly slot: StatementSync;
  private readonly mark: StatementSync;
  private readonly insertBatch: StatementSync;
  private readonly batchByRoot: StatementSync;
  private readonly batchBefore: StatementSync;
  private readonly markBatchStmt: StatementSync;
  private readonly ping: StatementSync;
  private readonly checkpointer: Worker | undefined;
  private commits = 0;
  private readonly tally: { readonly readings: Tally; readonly batches: Tally };

  /**
   * `checkpointMs`: how often a helper thread checkpoints the WAL (default 250 ms; 0 leaves it to
   * SQLite's automatic checkpoints on the writer's thread). An in-memory store has none.
   */
  constructor(path: string, synchronous: "NORMAL" | "FULL" = "NORMAL", checkpointMs = 250) {
    this.path = path;
    try {
      this.db = new DatabaseSync(path);
      // Another connection (the previous run's checkpointer thread, ending) may hold the file for
      // a moment: wait for it rather than fail.
      this.db.exec("PRAGMA busy_timeout = 5000");
      this.db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous};`);
      this.db.exec(SCHEMA);
      this.db.exec(SCHEMA_RETENTION);
      if (checkpointMs > 0 && path !== ":memory:" && path !== "") {
        this.db.exec("PRAGMA wal_autocheckpoint = 0");
        this.checkpointer = new Worker(CHECKPOINTER, {
          eval: true,
          workerData: { path, intervalMs: checkpointMs },
          stderr: true,
        });
        this.checkpointer.unref();
      }
      this.insert = this.db.prepare(
        `INSERT OR IGNORE INTO readings
         (device_id, feed_id, sequence, struct_hash, timestamp, value, key_type, key, signature, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      this.slot = this.db.prepare(
        "SELECT * FROM readings WHERE device_id = ? AND feed_id = ? AND sequence = ?",
      );
      this.mark = this.db.prepare(
        "UPDATE readings SET status = ?, tx_hash = ?, error = ? WHERE id = ? AND status = 'pending'",
      );
      this.insertBatch = this.db.prepare(
        `INSERT INTO batches
         (device_id, feed_id, root, first_seq, last_seq, count, from_ts, to_ts, key_type, key, signature, readings, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      this.batchByRoot = this.db.prepare(
        "SELECT id FROM batches WHERE device_id = ? AND feed_id = ? AND root = ?",
      );
      // Stored batches of one device and feed are in sequence order: the last ends highest.
      // Stored batches never overlap, so the one starting last at or before a new batch's end is the
      // only one that can overlap it.
      this.batchBefore = this.db.prepare(
        `SELECT last_seq FROM batches WHERE device_id = ? AND feed_id = ? AND first_seq <= ?
         ORDER BY first_seq DESC LIMIT 1`,
      );
      this.markBatchStmt = this.db.prepare(
        "UPDATE batches SET status = ?, tx_hash = ?, error = ? WHERE id = ? AND status = 'pending'",
      );
      this.ping = this.db.prepare("SELECT 1 AS ok");
      // The one full count: at open, before any write of this process.
      this.tally = {
        readings: this.statusCounts("readings"),
        batches: this.statusCounts("batches"),
      };
    } catch (err: unknown) {
      throw new GatewayError(
        "GATEWAY_STORE_OPEN",
        `cannot open the gateway store at ${path}: check that its folder exists and is writable (${err instanceof Error ? err.message : String(err)})`,
        { cause: err },
      );
    }
  }

  get isOpen(): boolean {
    return this.db.isOpen;
  }

  /** Throws when the store cannot answer (for /health). */
  check(): void {
    this.ping.get();
  }

  /**
   * Inserts the reading as pending unless its (device, feed, sequence) is taken. Returns the row id
   * when inserted; otherwise whether the slot holds the same reading (duplicate) or another (conflict,
   * with the reading that holds it).
   */
  put(
    signed: SignedReading,
    structHash: Hex,
    receivedAt: number,
  ): { readonly result: PutResult; readonly id?: number; readonly existing?: SignedReading } {
    const r = signed.reading;
    const device = r.deviceId.toLowerCase();
    const feed = r.feedId.toLowerCase();
    const sequence = r.sequence.toString();
    const info = this.insert.run(
      device,
      feed,
      sequence,
      structHash,
      r.timestamp.toString(),
      r.value.toString(),
      signed.key.keyType,
      signed.key.key.toLowerCase(),
      signed.signature.toLowerCase(),
      receivedAt,
    );
    if (Number(info.changes) === 1) {
      this.tally.readings.pending++;
      return { result: "inserted", id: Number(info.lastInsertRowid) };
    }
    const row = this.slot.get(device, feed, sequence) as
      (Row & { struct_hash: string }) | undefined;
    if (row === undefined) {
      throw new GatewayError(
        "GATEWAY_STORE_INCONSISTENT",
        "a reading the store refused as a duplicate is not in it: the store file is damaged; restore it or start a new one",
      );
    }
    if (row.struct_hash === structHash) return { result: "duplicate" };
    return { result: "conflict", existing: readingOfRow(row) };
  }

  /**
   * Runs `fn` in one transaction (BEGIN IMMEDIATE … COMMIT; ROLLBACK when it throws): the gateway's
   * grouped writes. Nothing `fn` wrote is durable before this returns.
   */
  transaction<T>(fn: () => T): T {
    this.db.exec("BEGIN IMMEDIATE");
    // The tallies move with the writes: what the transaction undoes, they undo too.
    const before = { readings: { ...this.tally.readings }, batches: { ...this.tally.batches } };
    let result: T;
    try {
      result = fn();
      this.db.exec("COMMIT");
      this.boundWal();
    } catch (err: unknown) {
      // A failed COMMIT may have ended the transaction already (SQLite rolls back on some errors).
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      Object.assign(this.tally.readings, before.readings);
      Object.assign(this.tally.batches, before.batches);
      throw err;
    }
    return result;
  }

  /** Every WAL_CHECK_COMMITS commits: a TRUNCATE checkpoint when the WAL is past its limit. */
  private boundWal(): void {
    if (this.checkpointer === undefined || ++this.commits % WAL_CHECK_COMMITS !== 0) return;
    let size = 0;
    try {
      size = statSync(`${this.path}-wal`).size;
    } catch {
      return;
    }
    if (size > WAL_LIMIT_BYTES) this.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }

  /**
   * Inserts a verified batch (and its readings) as pending, unless the device already sent this root
   * for this feed (duplicate) or its sequence range overlaps a stored batch of the device and feed
   * (overlap). A batch that comes after a later one (MQTT may redeliver out of order after a restart)
   * is stored: no accepted reading is dropped, though the anchor refuses it if the later batch was
   * anchored first. Returns the row id when inserted.
   */
  putBatch(
    decoded: DecodedBatch,
    receivedAt: number,
  ): { readonly result: PutBatchResult; readonly id?: number } {
    const b = decoded.batch;
    const device = b.deviceId.toLowerCase();
    const feed = b.feedId.toLowerCase();
    const root = b.root.toLowerCase();
    if (this.batchByRoot.get(device, feed, root) !== undefined) return { result: "duplicate" };
    const first = seqText(b.firstSequence);
    const last = seqText(b.lastSequence);
    const before = this.batchBefore.get(device, feed, last) as { last_seq: string } | undefined;
    if (before !== undefined && before.last_seq >= first) return { result: "overlap" };
    const info = this.insertBatch.run(
      device,
      feed,
      root,
      first,
      last,
      Number(b.count),
      b.fromTimestamp.toString(),
      b.toTimestamp.toString(),
      decoded.key.keyType,
      decoded.key.key.toLowerCase(),
      decoded.signature.toLowerCase(),
      decoded.readings,
      receivedAt,
    );
    this.tally.batches.pending++;
    return { result: "inserted", id: Number(info.lastInsertRowid) };
  }

  /** Pending batches in acceptance order (the anchor queue to resume at start), at most `limit`. */
  pendingBatches(limit = Number.MAX_SAFE_INTEGER): QueuedBatch[] {
    const rows = this.db
      .prepare(
        `SELECT id, device_id, feed_id, root, first_seq, last_seq, count, from_ts, to_ts, key_type,
         key, signature, received_at FROM batches WHERE status = 'pending' ORDER BY id LIMIT ?`,
      )
      .all(limit) as unknown as BatchRow[];
    return rows.map((row) => ({
      id: row.id,
      receivedAt: row.received_at,
      signed: batchOfRow(row, (text) => BigInt(`0x${text}`)),
    }));
  }

  /** The readings of a stored batch in wire form (batch.ts), or undefined for an unknown id. */
  batchReadingsOf(id: number): Buffer | undefined {
    const row = this.db.prepare("SELECT readings FROM batches WHERE id = ?").get(id) as
      { readings: Uint8Array } | undefined;
    return row === undefined ? undefined : Buffer.from(row.readings);
  }

  /** Marks a batch anchored (or rejected) once its anchoring returned. */
  markBatch(
    id: number,
    status: Exclude<ReadingStatus, "pending">,
    txHash: Hex | null,
    error: string | null = null,
  ): void {
    const info = this.markBatchStmt.run(status, txHash, error, id);
    if (Number(info.changes) === 1) moved(this.tally.batches, status);
  }

  /** Batches by status (a running tally: no query). */
  batchCounts(): Record<ReadingStatus, number> {
    return { ...this.tally.batches };
  }

  /** Pending readings in acceptance order (the queue to resume at start), at most `limit`. */
  pending(limit = Number.MAX_SAFE_INTEGER): QueuedReading[] {
    const rows = this.db
      .prepare("SELECT * FROM readings WHERE status = 'pending' ORDER BY id LIMIT ?")
      .all(limit) as unknown as Row[];
    return rows.map((row) => ({
      id: row.id,
      receivedAt: row.received_at,
      signed: readingOfRow(row),
    }));
  }

  /**
   * Records what the chain made of each reading of one submission, in one transaction: submitted
   * (its feed accepted it) or rejected with the feed's reason, under the transaction's hash.
   */
  markOutcomes(
    entries: readonly {
      readonly id: number;
      readonly rejected: string | null;
      readonly txHash?: Hex | undefined;
    }[],
    txHash: Hex,
  ): void {
    this.transaction(() => {
      for (const e of entries) {
        const tx = e.txHash ?? txHash;
        const status = e.rejected === null ? "submitted" : "rejected";
        const info = this.mark.run(status, tx, e.rejected, e.id);
        if (Number(info.changes) === 1) moved(this.tally.readings, status);
      }
    });
  }

  /**
   * How many readings were rejected, by reason: the feed's reason (e.g. SequenceNotIncreasing,
   * MemberQuarantined:Jump), or the code of a submission refused as a whole (the text before ": ").
   */
  rejectionReasons(): Record<string, number> {
    const rows = this.db
      .prepare("SELECT error, COUNT(*) AS n FROM readings WHERE status = 'rejected' GROUP BY error")
      .all() as unknown as { error: string | null; n: number }[];
    const out: Record<string, number> = {};
    for (const r of rows) {
      const reason = (r.error ?? "unknown").split(": ")[0] ?? "unknown";
      out[reason] = (out[reason] ?? 0) + r.n;
    }
    return out;
  }

  /** Marks the readings submitted (or rejected) in one transaction. */
  markAll(
    ids: readonly number[],
    status: Exclude<ReadingStatus, "pending">,
    txHash: Hex | null,
    error: string | null = null,
  ): void {
    this.transaction(() => {
      for (const id of ids) {
        const info = this.mark.run(status, txHash, error, id);
        if (Number(info.changes) === 1) moved(this.tally.readings, status);
      }
    });
  }

  /** Readings by status (a running tally: no query). */
  counts(): Record<ReadingStatus, number> {
    return { ...this.tally.readings };
  }

  /**
   * Readings and batches by status, counted in the file now (a scan of the status index: seconds on
   * millions of rows). For checks and repairs; `counts` and `batchCounts` answer without a query.
   */
  recount(): { readonly readings: Tally; readonly batches: Tally } {
    return { readings: this.statusCounts("readings"), batches: this.statusCounts("batches") };
  }

  private statusCounts(table: "readings" | "batches"): Record<ReadingStatus, number> {
    const rows = this.db
      .prepare(`SELECT status, COUNT(*) AS n FROM ${table} GROUP BY status`)
      .all() as unknown as { status: ReadingStatus; n: number }[];
    const out: Record<ReadingStatus, number> = { pending: 0, submitted: 0, rejected: 0 };
    for (const r of rows) out[r.status] = r.n;
    return out;
  }

  /**
   * Retention (ReadingStore.prune): deletes the readings and batches received before `before` (ms
   * since the epoch) that are no longer pending (submitted or rejected); pending rows are never
   * pruned. Each transaction deletes at most `chunk` rows of one table and status, so a prune of
   * millions of rows holds the writer for milliseconds at a time, not for the whole prune. The
   * running tallies move with each chunk. Freed pages are reused by later inserts (no VACUUM): under
   * a steady insert, submit and prune cycle the file stops growing; it keeps its largest size.
   */
  prune(before: number, chunk = 10_000): PruneResult {
    if (!Number.isSafeInteger(chunk) || chunk < 1) {
      throw new RangeError(`prune: chunk must be a positive integer (got ${String(chunk)})`);
    }
    let readings = 0;
    let batches = 0;
    for (const status of ["submitted", "rejected"] as const) {
      readings += this.pruneTable("readings", status, before, chunk);
      batches += this.pruneTable("batches", status, before, chunk);
    }
    return { readings, batches };
  }

  /**
   * The store's size on disk in bytes: the database's pages (free ones included: SQLite reuses them
   * without giving them back) plus the write-ahead log.
   */
  sizeBytes(): number {
    return sqliteSizeBytes(this.db, this.path);
  }

  /** Deletes the `status` rows of `table` received before `before`, `chunk` per transaction. */
  private pruneTable(
    table: "readings" | "batches",
    status: Exclude<ReadingStatus, "pending">,
    before: number,
    chunk: number,
  ): number {
    // (status, received_at) (SCHEMA_RETENTION) finds them without a scan of what is kept.
    const remove = this.db.prepare(
      `DELETE FROM ${table} WHERE id IN
       (SELECT id FROM ${table} WHERE status = ? AND received_at < ? LIMIT ?)`,
    );
    let total = 0;
    for (;;) {
      const n = this.transaction(() => {
        const changes = Number(remove.run(status, before, chunk).changes);
        this.tally[table][status] -= changes;
        return changes;
      });
      total += n;
      if (n < chunk) return total;
    }
  }

  close(): void {
    if (this.checkpointer !== undefined) void this.checkpointer.terminate();
    // The last connection to close checkpoints the WAL into the database file.
    if (this.db.isOpen) this.db.close();
  }

  /** close(), resolving once the checkpointer thread has ended too (the file is then free). */
  async closeAndWait(): Promise<void> {
    const ended = this.checkpointer?.terminate();
    if (this.db.isOpen) this.db.close();
    await ended;
  }
}
