import { DatabaseSync, type StatementSync } from "node:sqlite";
import { deviceKey, KeyType, type Hex } from "../protocol/index.js";
import type { SignedReading } from "../watchtower/index.js";
import { GatewayError } from "./types.js";

/**
 * The gateway's durable queue, in an embedded SQLite file (node:sqlite). Every accepted reading is
 * inserted here before its MQTT acknowledgement; (device, feed, sequence) is unique, so a redelivered
 * or replayed reading is recognised; `status` moves pending -> submitted (or rejected) in the same
 * transaction that records the submission, so a restart resubmits only what was never confirmed.
 * uint64 and int256 values are stored as decimal text (SQLite integers stop at 2^63).
 */

export type ReadingStatus = "pending" | "submitted" | "rejected";
export type PutResult = "inserted" | "duplicate" | "conflict";

export interface QueuedReading {
  /** The row id: the order of acceptance. */
  readonly id: number;
  readonly signed: SignedReading;
  readonly receivedAt: number;
}

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
`;

interface Row {
  id: number;
  device_id: string;
  feed_id: string;
  sequence: string;
  timestamp: string;
  value: string;
  key_type: number;
  key: string;
  signature: string;
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

  constructor(path: string, synchronous: "NORMAL" | "FULL" = "NORMAL") {
    this.path = path;
    try {
      this.db = new DatabaseSync(path);
      this.db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous};`);
      this.db.exec(SCHEMA);
      this.insert = this.db.prepare(
        `INSERT OR IGNORE INTO readings
         (device_id, feed_id, sequence, struct_hash, timestamp, value, key_type, key, signature, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      this.slot = this.db.prepare(
        "SELECT struct_hash FROM readings WHERE device_id = ? AND feed_id = ? AND sequence = ?",
      );
      this.mark = this.db.prepare(
        "UPDATE readings SET status = ?, tx_hash = ?, error = ? WHERE id = ? AND status = 'pending'",
      );
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
    this.db.prepare("SELECT 1 AS ok").get();
  }

  /**
   * Inserts the reading as pending unless its (device, feed, sequence) is taken. Returns the row id
   * when inserted; otherwise whether the slot holds the same reading (duplicate) or another (conflict).
   */
  put(
    signed: SignedReading,
    structHash: Hex,
    receivedAt: number,
  ): { readonly result: PutResult; readonly id?: number } {
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
      return { result: "inserted", id: Number(info.lastInsertRowid) };
    }
    const row = this.slot.get(device, feed, sequence) as { struct_hash: string } | undefined;
    if (row === undefined) {
      throw new GatewayError(
        "GATEWAY_STORE_INCONSISTENT",
        "a reading the store refused as a duplicate is not in it: the store file is damaged; restore it or start a new one",
      );
    }
    return { result: row.struct_hash === structHash ? "duplicate" : "conflict" };
  }

  /** Pending readings in acceptance order (the queue to resume at start), at most `limit`. */
  pending(limit = Number.MAX_SAFE_INTEGER): QueuedReading[] {
    const rows = this.db
      .prepare("SELECT * FROM readings WHERE status = 'pending' ORDER BY id LIMIT ?")
      .all(limit) as unknown as Row[];
    return rows.map((row) => ({
      id: row.id,
      receivedAt: row.received_at,
      signed: {
        reading: {
          deviceId: row.device_id as Hex,
          feedId: row.feed_id as Hex,
          sequence: BigInt(row.sequence),
          timestamp: BigInt(row.timestamp),
          value: BigInt(row.value),
        },
        key: deviceKey(row.key_type === 1 ? KeyType.Secp256k1 : KeyType.P256, row.key),
        signature: row.signature as Hex,
      },
    }));
  }

  /** Marks the readings submitted (or rejected) in one transaction. */
  markAll(
    ids: readonly number[],
    status: Exclude<ReadingStatus, "pending">,
    txHash: Hex | null,
    error: string | null = null,
  ): void {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      for (const id of ids) this.mark.run(status, txHash, error, id);
      this.db.exec("COMMIT");
    } catch (err: unknown) {
      this.db.exec("ROLLBACK");
      throw err;
    }
  }

  counts(): Record<ReadingStatus, number> {
    const rows = this.db
      .prepare("SELECT status, COUNT(*) AS n FROM readings GROUP BY status")
      .all() as unknown as { status: ReadingStatus; n: number }[];
    const out: Record<ReadingStatus, number> = { pending: 0, submitted: 0, rejected: 0 };
    for (const r of rows) out[r.status] = r.n;
    return out;
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}
