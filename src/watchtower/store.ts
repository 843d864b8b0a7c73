import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  asHex,
  BATCH_READING_LENGTH,
  deviceKey,
  type Hex,
  type ReadingBatchMessage,
  isBatchedReading,
  type BatchedReading,
  type Evidence,
  type SignedBatch,
  type SignedReading,
  keyTypeOf,
  signedReadingFromJson,
  signedReadingToJson,
  type SignedReadingJson,
} from "../protocol/index.js";
import { sqliteSizeBytes } from "../service/sqlite-size.js";
import { sequenceAt, type StoredBatch } from "./batch.js";
import { WatchtowerError } from "./types.js";

/**
 * The watchtower's memory, in an embedded SQLite file (node:sqlite), so evidence survives a restart:
 * - `readings`: per (device, feed, sequence) the first signed reading seen, with its struct hash;
 * - `batches`: each signed batch seen once, with its readings in wire form (48 bytes each), from which
 *   a leaf's evidence and Merkle proof are rebuilt when a conflict needs them;
 * - `batch_leaves`: per (device, feed, sequence) the first batch leaf seen (its struct hash, batch and
 *   index), written in one transaction per batch;
 * - `proofs`: every proof the watchtower decided to send, keyed so that it is sent at most once, with
 *   its evidence (to resume after a crash), its status and the incident the contract recorded;
 * - `retired_key_messages`: each signed reading or batch (once, by its struct hash) whose key a rotation
 *   retired at or before the time the message claims: no proof applies to it, but it shows that someone
 *   still signs with the device's old key (a leaked key, unless the operator's device lags behind).
 * uint64 and int256 values are stored as decimal text: SQLite integers stop at 2^63.
 */

export type ProofKind =
  | "equivocation"
  | "out-of-bounds"
  | "batch-equivocation"
  | "batch-pair-equivocation"
  | "batch-out-of-bounds";

/**
 * pending: decided, not yet confirmed (resumed at start); submitted: the contract recorded it;
 * already-proven: the contract said ProofsEvidenceUsed; key-retired: a key of its evidence was
 * rotated out by the evidence's date, so it was not sent (or the contract said ProofsKeyRetired;
 * final); rejected: another custom error (final); failed: transient errors outlasted the retries
 * (resumed at the next start).
 */
export type ProofStatus =
  "pending" | "submitted" | "already-proven" | "key-retired" | "rejected" | "failed";

/** A write group's longest life and largest size (EvidenceStore.groupWrites). */
const GROUP_MS = 20;
const GROUP_WRITES = 2048;

export interface StoredReading {
  readonly signed: SignedReading;
  readonly structHash: Hex;
}

export interface ProofRecord {
  readonly proofKey: string;
  readonly kind: ProofKind;
  readonly deviceId: Hex;
  /** Signed readings and batch leaves, in the order the proof function takes them. */
  readonly evidence: readonly Evidence[];
  readonly status: ProofStatus;
  readonly incident: Hex | null;
  readonly txHash: Hex | null;
  readonly attempts: number;
  readonly error: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS readings (
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
  PRIMARY KEY (device_id, feed_id, sequence)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS proofs (
  proof_key  TEXT PRIMARY KEY,
  kind       TEXT NOT NULL,
  device_id  TEXT NOT NULL,
  evidence   TEXT NOT NULL,
  status     TEXT NOT NULL,
  incident   TEXT,
  tx_hash    TEXT,
  attempts   INTEGER NOT NULL DEFAULT 0,
  error      TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS proofs_status ON proofs (status);
CREATE TABLE IF NOT EXISTS batches (
  id             INTEGER PRIMARY KEY,
  batch_hash     TEXT NOT NULL UNIQUE,
  device_id      TEXT NOT NULL,
  feed_id        TEXT NOT NULL,
  first_sequence TEXT NOT NULL,
  last_sequence  TEXT NOT NULL,
  count          TEXT NOT NULL,
  from_timestamp TEXT NOT NULL,
  to_timestamp   TEXT NOT NULL,
  root           TEXT NOT NULL,
  key_type       INTEGER NOT NULL,
  key            TEXT NOT NULL,
  signature      TEXT NOT NULL,
  readings       BLOB NOT NULL,
  received_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS retired_key_messages (
  message_hash TEXT PRIMARY KEY,
  device_id    TEXT NOT NULL,
  key_hash     TEXT NOT NULL,
  retired_at   TEXT NOT NULL,
  signed_at    TEXT NOT NULL,
  message      TEXT NOT NULL,
  received_at  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_leaves (
  device_id   TEXT NOT NULL,
  feed_id     TEXT NOT NULL,
  sequence    TEXT NOT NULL,
  struct_hash TEXT NOT NULL,
  batch_id    INTEGER NOT NULL,
  leaf_index  INTEGER NOT NULL,
  PRIMARY KEY (device_id, feed_id, sequence)
) WITHOUT ROWID;
`;

/**
 * Retention's indexes: what a prune may delete (received before a time) in one range, without a scan
 * of what is kept. Proofs have none: they are the audit trail and are never pruned.
 */
const SCHEMA_RETENTION = `
CREATE INDEX IF NOT EXISTS readings_received ON readings (received_at);
CREATE INDEX IF NOT EXISTS batches_received ON batches (received_at);
CREATE INDEX IF NOT EXISTS retired_key_messages_received ON retired_key_messages (received_at);
`;

/** What an evidence prune removed. */
export interface EvidencePruneResult {
  readonly readings: number;
  readonly batches: number;
  /** The leaves of the pruned batches that held their (device, feed, sequence). */
  readonly batchLeaves: number;
  readonly retiredKeyMessages: number;
}

/**
 * A signed reading or batch by a key a rotation retired at or before the time the message claims: no
 * proof applies to it; it is evidence that someone still signs with the device's old key.
 */
export interface RetiredKeyMessage {
  readonly deviceId: Hex;
  readonly keyHash: Hex;
  /** When the rotation retired the key (unix seconds). */
  readonly retiredAt: bigint;
  /** When the message says it was signed (a batch: its toTimestamp; unix seconds). */
  readonly signedAt: bigint;
  /** The message as signed (a batch without its readings: its signature covers their root). */
  readonly message: SignedReading | SignedBatch;
}

interface RetiredKeyRow {
  device_id: string;
  key_hash: string;
  retired_at: string;
  signed_at: string;
  message: string;
}

/** The first batch leaf stored for a (device, feed, sequence). */
export interface StoredLeaf {
  readonly structHash: Hex;
  readonly batchId: number;
  readonly leafIndex: number;
}

/** A leaf of a new batch whose (device, feed, sequence) holds other content. */
export interface BatchConflict {
  /** The leaf's index in the new batch. */
  readonly index: number;
  readonly sequence: bigint;
  readonly structHash: Hex;
  /** What it conflicts with: the slot's first single signed reading, or its first batch leaf. */
  readonly against:
    | { readonly kind: "single"; readonly first: StoredReading }
    | { readonly kind: "leaf"; readonly leaf: StoredLeaf };
}

interface BatchRow {
  id: number;
  device_id: string;
  feed_id: string;
  first_sequence: string;
  last_sequence: string;
  count: string;
  from_timestamp: string;
  to_timestamp: string;
  root: string;
  key_type: number;
  key: string;
  signature: string;
  readings: Uint8Array;
}

interface ReadingRow {
  device_id: string;
  feed_id: string;
  sequence: string;
  struct_hash: string;
  timestamp: string;
  value: string;
  key_type: number;
  key: string;
  signature: string;
}

interface ProofRow {
  proof_key: string;
  kind: string;
  device_id: string;
  evidence: string;
  status: string;
  incident: string | null;
  tx_hash: string | null;
  attempts: number;
  error: string | null;
}

/** A batch leaf as JSON (bigints as decimal strings): an evidence entry of a batch proof. */
export interface BatchedReadingJson {
  readonly batch: {
    readonly deviceId: string;
    readonly feedId: string;
    readonly firstSequence: string;
    readonly lastSequence: string;
    readonly count: string;
    readonly fromTimestamp: string;
    readonly toTimestamp: string;
    readonly root: string;
  };
  readonly key: { readonly keyType: number; readonly key: string };
  readonly signature: string;
  readonly reading: SignedReadingJson["reading"];
  readonly proof: readonly string[];
}

/** A ReadingBatch's fields as JSON (bigints as decimal strings). */
export function readingBatchToJson(b: ReadingBatchMessage): BatchedReadingJson["batch"] {
  return {
    deviceId: b.deviceId,
    feedId: b.feedId,
    firstSequence: b.firstSequence.toString(),
    lastSequence: b.lastSequence.toString(),
    count: b.count.toString(),
    fromTimestamp: b.fromTimestamp.toString(),
    toTimestamp: b.toTimestamp.toString(),
    root: b.root,
  };
}

/** The ReadingBatch of readingBatchToJson; throws InvalidInputError on a malformed id or root. */
export function readingBatchFromJson(b: BatchedReadingJson["batch"]): ReadingBatchMessage {
  return {
    deviceId: asHex(b.deviceId, "batch.deviceId", 32),
    feedId: asHex(b.feedId, "batch.feedId", 32),
    firstSequence: BigInt(b.firstSequence),
    lastSequence: BigInt(b.lastSequence),
    count: BigInt(b.count),
    fromTimestamp: BigInt(b.fromTimestamp),
    toTimestamp: BigInt(b.toTimestamp),
    root: asHex(b.root, "batch.root", 32),
  };
}

function batchedReadingToJson(e: BatchedReading): BatchedReadingJson {
  const b = e.batch;
  const { reading } = signedReadingToJson({ reading: e.reading, key: e.key, signature: "0x" });
  return {
    batch: readingBatchToJson(b),
    key: { keyType: e.key.keyType, key: e.key.key },
    signature: e.signature,
    reading,
    proof: [...e.proof],
  };
}

function batchedReadingFromJson(j: BatchedReadingJson): BatchedReading {
  const { reading, key, signature } = signedReadingFromJson({
    reading: j.reading,
    key: j.key,
    signature: j.signature,
  });
  const b = j.batch;
  return {
    batch: readingBatchFromJson(b),
    key,
    signature,
    reading,
    proof: j.proof.map((p, i) => asHex(p, `proof[${String(i)}]`, 32)),
  };
}

type EvidenceJson = SignedReadingJson | BatchedReadingJson;

/** A signed batch (without its readings) as JSON. */
interface SignedBatchJson {
  readonly batch: BatchedReadingJson["batch"];
  readonly key: BatchedReadingJson["key"];
  readonly signature: string;
}

function retiredKeyMessageToJson(
  m: SignedReading | SignedBatch,
): SignedReadingJson | SignedBatchJson {
  if ("reading" in m) return signedReadingToJson(m);
  return {
    batch: readingBatchToJson(m.batch),
    key: { keyType: m.key.keyType, key: m.key.key },
    signature: m.signature,
  };
}

function retiredKeyMessageFromJson(
  j: SignedReadingJson | SignedBatchJson,
): SignedReading | SignedBatch {
  if ("reading" in j) return signedReadingFromJson(j);
  return {
    batch: readingBatchFromJson(j.batch),
    key: deviceKey(keyTypeOf(j.key.keyType), j.key.key),
    signature: asHex(j.signature, "signature"),
  };
}

function evidenceToJson(e: Evidence): EvidenceJson {
  return isBatchedReading(e) ? batchedReadingToJson(e) : signedReadingToJson(e);
}

function evidenceFromJson(j: EvidenceJson): Evidence {
  return "batch" in j ? batchedReadingFromJson(j) : signedReadingFromJson(j);
}

function rowToStored(row: ReadingRow): StoredReading {
  return {
    structHash: row.struct_hash as Hex,
    signed: {
      reading: {
        deviceId: row.device_id as Hex,
        feedId: row.feed_id as Hex,
        sequence: BigInt(row.sequence),
        timestamp: BigInt(row.timestamp),
        value: BigInt(row.value),
      },
      key: deviceKey(keyTypeOf(row.key_type), row.key),
      signature: row.signature as Hex,
    },
  };
}

function rowToProof(row: ProofRow): ProofRecord {
  const evidence = (JSON.parse(row.evidence) as EvidenceJson[]).map(evidenceFromJson);
  return {
    proofKey: row.proof_key,
    kind: row.kind as ProofKind,
    deviceId: row.device_id as Hex,
    evidence,
    status: row.status as ProofStatus,
    incident: row.incident as Hex | null,
    txHash: row.tx_hash as Hex | null,
    attempts: row.attempts,
    error: row.error,
  };
}

export class EvidenceStore {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readings = 0;
  /** Prepared statements by their SQL: preparing one per call was most of an insert's cost. */
  private readonly statements = new Map<string, StatementSync>();
  /** A proof decision or status was written and is not yet synced (see durable). */
  private unsynced = false;
  /** A write group (groupWrites) is open, with its timer and its writes so far. */
  private groupOpen = false;
  private groupTimer: NodeJS.Timeout | undefined;
  private groupWritten = 0;
  /** Whether batch_leaves may hold a row (checked at open, set by putBatch). */
  private hasLeaves = false;
  /** transaction() calls in progress (nested ones are savepoints). */
  private depth = 0;

  /** Opens (creating if needed) the store at `path` (":memory:" for a throwaway one). */
  /**
   * `synchronous`: "NORMAL" (default) makes a stored reading survive a crash of the process (SIGKILL
   * included), as the gateway's store does; "FULL" also a power loss, at the cost of an fsync per
   * message (it held an in-process watchtower to ~750 messages/s). Proof decisions and their status
   * are made durable either way: the WAL is synced (a checkpoint) once the write that holds them has
   * committed.
   */
  constructor(path: string, synchronous: "NORMAL" | "FULL" = "NORMAL") {
    this.path = path;
    try {
      this.db = new DatabaseSync(path);
      this.db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous};`);
      this.db.exec(SCHEMA);
      this.db.exec(SCHEMA_RETENTION);
      this.hasLeaves = this.stmt("SELECT 1 AS one FROM batch_leaves LIMIT 1").get() !== undefined;
      // The one full count: at open. Then inserts and prunes move it (readingCount, /health).
      this.readings = (this.stmt("SELECT COUNT(*) AS n FROM readings").get() as { n: number }).n;
    } catch (err: unknown) {
      throw new WatchtowerError(
        "WATCHTOWER_STORE_OPEN",
        `cannot open the watchtower store at ${path}: check that its folder exists and is writable (${err instanceof Error ? err.message : String(err)})`,
        { cause: err },
      );
    }
  }

  get isOpen(): boolean {
    return this.db.isOpen;
  }

  private stmt(sql: string): StatementSync {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Throws when the store cannot answer a query (for /health). */
  check(): void {
    this.stmt("SELECT 1 AS ok").get();
  }

  /**
   * Stores `signed` as the first reading of its (device, feed, sequence) unless one is already there.
   * Returns the stored one: `signed` itself when it was first (inserted = true), else the earlier one.
   */
  putFirst(
    signed: SignedReading,
    structHash: Hex,
    receivedAt: number,
  ): { readonly inserted: boolean; readonly first: StoredReading } {
    const r = signed.reading;
    this.groupWrites();
    const inserted = this.stmt(
      `INSERT OR IGNORE INTO readings
         (device_id, feed_id, sequence, struct_hash, timestamp, value, key_type, key, signature, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      r.deviceId.toLowerCase(),
      r.feedId.toLowerCase(),
      r.sequence.toString(),
      structHash,
      r.timestamp.toString(),
      r.value.toString(),
      signed.key.keyType,
      signed.key.key.toLowerCase(),
      signed.signature.toLowerCase(),
      receivedAt,
    );
    if (Number(inserted.changes) === 1) {
      this.readings++;
      return { inserted: true, first: { signed, structHash } };
    }
    const row = this.stmt(
      "SELECT * FROM readings WHERE device_id = ? AND feed_id = ? AND sequence = ?",
    ).get(r.deviceId.toLowerCase(), r.feedId.toLowerCase(), r.sequence.toString()) as
      ReadingRow | undefined;
    if (row === undefined) {
      throw new WatchtowerError(
        "WATCHTOWER_STORE_INCONSISTENT",
        "a reading the store refused as a duplicate is not in it: the store file is damaged; restore it or start a new one",
      );
    }
    return { inserted: false, first: rowToStored(row) };
  }

  /** The first single signed reading of a (device, feed, sequence), if any. */
  reading(deviceId: Hex, feedId: Hex, sequence: bigint): StoredReading | undefined {
    const row = this.stmt(
      "SELECT * FROM readings WHERE device_id = ? AND feed_id = ? AND sequence = ?",
    ).get(deviceId.toLowerCase(), feedId.toLowerCase(), sequence.toString()) as
      ReadingRow | undefined;
    return row === undefined ? undefined : rowToStored(row);
  }

  /** The first batch leaf of a (device, feed, sequence), if any. */
  batchLeaf(deviceId: Hex, feedId: Hex, sequence: bigint): StoredLeaf | undefined {
    // A fleet that sends single readings only has no leaves: no query per reading.
    if (!this.hasLeaves) return undefined;
    const row = this.stmt(
      "SELECT struct_hash, batch_id, leaf_index FROM batch_leaves WHERE device_id = ? AND feed_id = ? AND sequence = ?",
    ).get(deviceId.toLowerCase(), feedId.toLowerCase(), sequence.toString()) as
      { struct_hash: string; batch_id: number; leaf_index: number } | undefined;
    return row === undefined
      ? undefined
      : { structHash: row.struct_hash as Hex, batchId: row.batch_id, leafIndex: row.leaf_index };
  }

  /**
   * Stores a verified batch (once: keyed by its EIP-712 struct hash) and, per leaf, the first leaf of
   * its (device, feed, sequence); returns the batch's id, whether it is new, and every leaf whose slot
   * holds other content (a single reading, or a leaf of another batch). Call it inside transaction()
   * so the batch and its leaves are written at once. A batch seen again is checked again (so a
   * conflict cut short by a crash is found at its redelivery) but nothing is rewritten.
   */
  putBatch(
    b: StoredBatch,
    batchHash: Hex,
    leaves: Buffer,
    receivedAt: number,
  ): { readonly batchId: number; readonly inserted: boolean; readonly conflicts: BatchConflict[] } {
    const m = b.batch;
    const deviceId = m.deviceId.toLowerCase();
    const feedId = m.feedId.toLowerCase();
    const inserted =
      Number(
        this.stmt(
          `INSERT OR IGNORE INTO batches (batch_hash, device_id, feed_id, first_sequence, last_sequence,
             count, from_timestamp, to_timestamp, root, key_type, key, signature, readings, received_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          batchHash.toLowerCase(),
          deviceId,
          feedId,
          m.firstSequence.toString(),
          m.lastSequence.toString(),
          m.count.toString(),
          m.fromTimestamp.toString(),
          m.toTimestamp.toString(),
          m.root.toLowerCase(),
          b.key.keyType,
          b.key.key.toLowerCase(),
          b.signature.toLowerCase(),
          b.readings,
          receivedAt,
        ).changes,
      ) === 1;
    const idRow = this.stmt("SELECT id FROM batches WHERE batch_hash = ?").get(
      batchHash.toLowerCase(),
    ) as { id: number } | undefined;
    if (idRow === undefined) {
      throw new WatchtowerError(
        "WATCHTOWER_STORE_INCONSISTENT",
        "a batch the store refused as a duplicate is not in it: the store file is damaged; restore it or start a new one",
      );
    }
    const batchId = idRow.id;
    this.hasLeaves = true;
    const insertLeaf = this.stmt(
      `INSERT OR IGNORE INTO batch_leaves (device_id, feed_id, sequence, struct_hash, batch_id, leaf_index)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    const readLeaf = this.stmt(
      "SELECT struct_hash, batch_id, leaf_index FROM batch_leaves WHERE device_id = ? AND feed_id = ? AND sequence = ?",
    );
    const readSingle = this.stmt(
      "SELECT * FROM readings WHERE device_id = ? AND feed_id = ? AND sequence = ?",
    );
    const conflicts: BatchConflict[] = [];
    const n = leaves.length / 32;
    for (let i = 0; i < n; i++) {
      const sequence = sequenceAt(b.readings, i);
      const seq = sequence.toString();
      const structHash: Hex = `0x${leaves.toString("hex", i * 32, i * 32 + 32)}`;
      const added = insertLeaf.run(deviceId, feedId, seq, structHash, batchId, i);
      if (Number(added.changes) === 0) {
        const leaf = readLeaf.get(deviceId, feedId, seq) as
          { struct_hash: string; batch_id: number; leaf_index: number } | undefined;
        if (leaf !== undefined && leaf.struct_hash !== structHash) {
          conflicts.push({
            index: i,
            sequence,
            structHash,
            against: {
              kind: "leaf",
              leaf: {
                structHash: leaf.struct_hash as Hex,
                batchId: leaf.batch_id,
                leafIndex: leaf.leaf_index,
              },
            },
          });
          continue;
        }
      }
      const single = readSingle.get(deviceId, feedId, seq) as ReadingRow | undefined;
      if (single !== undefined && single.struct_hash !== structHash) {
        conflicts.push({
          index: i,
          sequence,
          structHash,
          against: { kind: "single", first: rowToStored(single) },
        });
      }
    }
    return { batchId, inserted, conflicts };
  }

  /** A stored batch with its readings (to rebuild a leaf's evidence). */
  batch(batchId: number): StoredBatch {
    const row = this.stmt("SELECT * FROM batches WHERE id = ?").get(batchId) as
      BatchRow | undefined;
    if (row === undefined) {
      throw new WatchtowerError(
        "WATCHTOWER_STORE_INCONSISTENT",
        `batch ${String(batchId)} that a leaf names is not in the store: the store file is damaged; restore it or start a new one`,
      );
    }
    return {
      batch: {
        deviceId: row.device_id as Hex,
        feedId: row.feed_id as Hex,
        firstSequence: BigInt(row.first_sequence),
        lastSequence: BigInt(row.last_sequence),
        count: BigInt(row.count),
        fromTimestamp: BigInt(row.from_timestamp),
        toTimestamp: BigInt(row.to_timestamp),
        root: row.root as Hex,
      },
      key: deviceKey(keyTypeOf(row.key_type), row.key),
      signature: row.signature as Hex,
      readings: Buffer.from(row.readings),
    };
  }

  /** How many batches the store holds. */
  batchCount(): number {
    const row = this.stmt("SELECT COUNT(*) AS n FROM batches").get() as { n: number };
    return row.n;
  }

  /** Runs `fn` in one transaction (committed when it returns, rolled back when it throws). */
  transaction<T>(fn: () => T): T {
    // Inside the open write group (groupWrites) it is a savepoint of it.
    const nested = this.db.isTransaction;
    this.db.exec(nested ? "SAVEPOINT nested" : "BEGIN IMMEDIATE");
    const readings = this.readings;
    this.depth++;
    try {
      const result = fn();
      this.db.exec(nested ? "RELEASE nested" : "COMMIT");
      return result;
    } catch (err: unknown) {
      if (nested) this.db.exec("ROLLBACK TO nested; RELEASE nested");
      else this.db.exec("ROLLBACK");
      this.readings = readings;
      if (!nested) this.unsynced = false;
      throw err;
    } finally {
      this.depth--;
      if (this.depth === 0) this.makeDurable();
    }
  }

  /**
   * Opens a write group unless a transaction is open: the writes of the messages handled within
   * GROUP_MS (at most GROUP_WRITES of them) share one transaction. A commit per message was 42% of
   * the watchtower's time, one per event-loop turn still 21%. What a group holds is no less durable
   * than the messages waiting in the watchtower's in-memory source (up to 1,000 with the gateway's
   * link), and a proof decision commits the group at once (durable).
   */
  private groupWrites(): void {
    if (this.db.isTransaction) {
      if (this.groupOpen && ++this.groupWritten >= GROUP_WRITES) this.commitGroup();
      return;
    }
    this.db.exec("BEGIN IMMEDIATE");
    this.groupOpen = true;
    this.groupWritten = 1;
    const timer = setTimeout(() => {
      this.commitGroup();
    }, GROUP_MS);
    timer.unref();
    this.groupTimer = timer;
  }

  /** Commits the open write group, if any (also before close and before reading counts elsewhere). */
  commitGroup(): void {
    if (!this.groupOpen) return;
    this.groupOpen = false;
    clearTimeout(this.groupTimer);
    if (!this.db.isTransaction) return;
    try {
      this.db.exec("COMMIT");
    } catch (err: unknown) {
      // A failed COMMIT may have ended the transaction already.
      if (this.db.isTransaction as boolean) this.db.exec("ROLLBACK");
      this.readings = (this.stmt("SELECT COUNT(*) AS n FROM readings").get() as { n: number }).n;
      throw err;
    }
    this.syncIfNeeded();
  }

  /**
   * After a proof decision or status update: syncs the WAL (a PASSIVE checkpoint syncs it before it
   * copies), unless a transaction is open (its commit does it). Proofs are rare: the cost is too.
   */
  private durable(): void {
    this.unsynced = true;
    if (this.depth === 0) this.makeDurable();
  }

  /**
   * A proof decision or status written and not yet synced: the open write group commits now (a
   * decision is durable before its proof is sent), then the WAL is synced.
   */
  private makeDurable(): void {
    if (!this.unsynced) return;
    this.commitGroup();
    this.syncIfNeeded();
  }

  private syncIfNeeded(): void {
    if (!this.unsynced || this.db.isTransaction) return;
    this.unsynced = false;
    this.db.exec("PRAGMA wal_checkpoint(PASSIVE)");
  }

  /**
   * How many (device, feed, sequence) slots the store holds: a running count (counted once at open,
   * then moved by inserts and prunes), so /health costs no query whatever the store's size.
   */
  readingCount(): number {
    return this.readings;
  }

  /** How many proofs are pending or failed (an indexed count of the proofs table). */
  unfinishedProofCount(): number {
    const row = this.stmt(
      "SELECT COUNT(*) AS n FROM proofs WHERE status IN ('pending', 'failed')",
    ).get() as { n: number };
    return row.n;
  }

  /**
   * Records the decision to send a proof, unless one with this key exists. Returns true when it is new
   * (the caller then sends it), false when it was decided before (in this run or an earlier one).
   */
  addProof(
    proofKey: string,
    kind: ProofKind,
    deviceId: Hex,
    evidence: readonly Evidence[],
  ): boolean {
    const now = Date.now();
    const result = this.stmt(
      `INSERT OR IGNORE INTO proofs (proof_key, kind, device_id, evidence, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'pending', ?, ?)`,
    ).run(
      proofKey,
      kind,
      deviceId.toLowerCase(),
      JSON.stringify(evidence.map(evidenceToJson)),
      now,
      now,
    );
    this.durable();
    return Number(result.changes) === 1;
  }

  /**
   * Keeps a message signed by a retired key (once per message: `messageHash` is its EIP-712 struct
   * hash). Returns true when it is new.
   */
  addRetiredKeyMessage(messageHash: Hex, m: RetiredKeyMessage, receivedAt: number): boolean {
    const result = this.stmt(
      `INSERT OR IGNORE INTO retired_key_messages
         (message_hash, device_id, key_hash, retired_at, signed_at, message, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      messageHash.toLowerCase(),
      m.deviceId.toLowerCase(),
      m.keyHash.toLowerCase(),
      m.retiredAt.toString(),
      m.signedAt.toString(),
      JSON.stringify(retiredKeyMessageToJson(m.message)),
      receivedAt,
    );
    return Number(result.changes) === 1;
  }

  /** The messages signed by retired keys, in the order they were kept. */
  retiredKeyMessages(): RetiredKeyMessage[] {
    const rows = this.stmt(
      "SELECT * FROM retired_key_messages ORDER BY rowid",
    ).all() as unknown as RetiredKeyRow[];
    return rows.map((row) => ({
      deviceId: row.device_id as Hex,
      keyHash: row.key_hash as Hex,
      retiredAt: BigInt(row.retired_at),
      signedAt: BigInt(row.signed_at),
      message: retiredKeyMessageFromJson(
        JSON.parse(row.message) as SignedReadingJson | SignedBatchJson,
      ),
    }));
  }

  proof(proofKey: string): ProofRecord | undefined {
    const row = this.stmt("SELECT * FROM proofs WHERE proof_key = ?").get(proofKey) as
      ProofRow | undefined;
    return row === undefined ? undefined : rowToProof(row);
  }

  /** Proofs to (re)send at start: pending ones (cut short by a stop or a crash) and failed ones. */
  unfinishedProofs(): ProofRecord[] {
    const rows = this.stmt(
      "SELECT * FROM proofs WHERE status IN ('pending', 'failed') ORDER BY created_at, proof_key",
    ).all() as unknown as ProofRow[];
    return rows.map(rowToProof);
  }

  proofs(): ProofRecord[] {
    const rows = this.stmt(
      "SELECT * FROM proofs ORDER BY created_at, proof_key",
    ).all() as unknown as ProofRow[];
    return rows.map(rowToProof);
  }

  updateProof(
    proofKey: string,
    update: {
      readonly status: ProofStatus;
      readonly attempts: number;
      readonly incident?: Hex | null;
      readonly txHash?: Hex | null;
      readonly error?: string | null;
    },
  ): void {
    this.stmt(
      `UPDATE proofs SET status = ?, attempts = ?, incident = COALESCE(?, incident),
         tx_hash = COALESCE(?, tx_hash), error = ?, updated_at = ? WHERE proof_key = ?`,
    ).run(
      update.status,
      update.attempts,
      update.incident ?? null,
      update.txHash ?? null,
      update.error ?? null,
      Date.now(),
      proofKey,
    );
    this.durable();
  }

  /**
   * Retention: deletes the single readings, batches (with the leaves they hold) and retired-key
   * messages received before `before` (ms since the epoch). A reading or batch whose claimed time
   * (timestamp, a batch's toTimestamp) is not before `before` stays: FraudProofs measures its
   * evidence window from that time, so such evidence can still be proven. Evidence that an unfinished
   * proof (pending or failed) names stays too, whatever its age: its slot must keep the reading the
   * proof was decided on, and a batch its leaves. Proofs are never pruned: they are the audit trail.
   * Each transaction deletes about `chunk` rows, so a large prune never holds the writer for long.
   *
   * With `before` at least the on-chain evidence window ago (FraudProofs.evidenceWindow()), what is
   * pruned can no longer be proven: a conflicting reading that arrives later finds its slot empty and
   * is stored as the first, with no proof, as the chain would refuse one (ProofsEvidenceExpired).
   */
  prune(before: number, chunk = 10_000): EvidencePruneResult {
    if (!Number.isSafeInteger(chunk) || chunk < 1) {
      throw new RangeError(`prune: chunk must be a positive integer (got ${String(chunk)})`);
    }
    this.keepUnfinishedEvidence();
    // Claimed times are decimal text of a uint64: a value past 2^63 casts to the largest integer.
    const claimedBefore = Math.floor(before / 1000);
    let readings: number;
    try {
      readings = this.pruneChunks(
        this.stmt(
          `DELETE FROM readings WHERE (device_id, feed_id, sequence) IN
         (SELECT r.device_id, r.feed_id, r.sequence FROM readings r
          WHERE r.received_at < ? AND CAST(r.timestamp AS INTEGER) < ?
          AND NOT EXISTS (SELECT 1 FROM temp.prune_keep_slots k WHERE k.device_id = r.device_id
                          AND k.feed_id = r.feed_id AND k.sequence = r.sequence)
          LIMIT ?)`,
        ),
        [before, claimedBefore],
        chunk,
      );
    } catch (err: unknown) {
      // Some chunks may have gone before the failure: count again.
      this.readings = (this.stmt("SELECT COUNT(*) AS n FROM readings").get() as { n: number }).n;
      throw err;
    }
    this.readings -= readings;
    const { batches, batchLeaves } = this.pruneBatches(before, claimedBefore, chunk);
    const retiredKeyMessages = this.pruneChunks(
      this.stmt(
        `DELETE FROM retired_key_messages WHERE rowid IN
         (SELECT rowid FROM retired_key_messages WHERE received_at < ? LIMIT ?)`,
      ),
      [before],
      chunk,
    );
    return { readings, batches, batchLeaves, retiredKeyMessages };
  }

  /** The store's size on disk in bytes (pages, free ones included, plus the write-ahead log). */
  sizeBytes(): number {
    return sqliteSizeBytes(this.db, this.path);
  }

  /**
   * Fills this connection's temporary keep lists with what the unfinished proofs name: the slots of
   * their single readings and the (device, feed, root) of their batches.
   */
  private keepUnfinishedEvidence(): void {
    this.db.exec(`
      CREATE TEMP TABLE IF NOT EXISTS prune_keep_slots (
        device_id TEXT NOT NULL, feed_id TEXT NOT NULL, sequence TEXT NOT NULL,
        PRIMARY KEY (device_id, feed_id, sequence)) WITHOUT ROWID;
      CREATE TEMP TABLE IF NOT EXISTS prune_keep_batches (
        device_id TEXT NOT NULL, feed_id TEXT NOT NULL, root TEXT NOT NULL,
        PRIMARY KEY (device_id, feed_id, root)) WITHOUT ROWID;
      DELETE FROM temp.prune_keep_slots;
      DELETE FROM temp.prune_keep_batches;
    `);
    const slot = this.stmt("INSERT OR IGNORE INTO temp.prune_keep_slots VALUES (?, ?, ?)");
    const batch = this.stmt("INSERT OR IGNORE INTO temp.prune_keep_batches VALUES (?, ?, ?)");
    for (const proof of this.unfinishedProofs()) {
      for (const e of proof.evidence) {
        if (isBatchedReading(e)) {
          const b = e.batch;
          batch.run(b.deviceId.toLowerCase(), b.feedId.toLowerCase(), b.root.toLowerCase());
        } else {
          const r = e.reading;
          slot.run(r.deviceId.toLowerCase(), r.feedId.toLowerCase(), r.sequence.toString());
        }
      }
    }
  }

  /** Runs `remove` (its parameters, then a LIMIT) in one transaction per chunk until it falls short. */
  private pruneChunks(remove: StatementSync, params: readonly number[], chunk: number): number {
    let total = 0;
    for (;;) {
      const n = this.transaction(() => Number(remove.run(...params, chunk).changes));
      total += n;
      if (n < chunk) return total;
    }
  }

  /**
   * Deletes the prunable batches and, by their primary keys, the leaves they hold (a batch's leaves
   * go with it, so no leaf names a missing batch), about `chunk` rows per transaction.
   */
  private pruneBatches(
    before: number,
    claimedBefore: number,
    chunk: number,
  ): { batches: number; batchLeaves: number } {
    const candidates = this.stmt(
      `SELECT b.id, b.device_id, b.feed_id, b.readings FROM batches b
       WHERE b.received_at < ? AND CAST(b.to_timestamp AS INTEGER) < ?
       AND NOT EXISTS (SELECT 1 FROM temp.prune_keep_batches k WHERE k.device_id = b.device_id
                       AND k.feed_id = b.feed_id AND k.root = b.root)
       LIMIT 64`,
    );
    const removeLeaf = this.stmt(
      "DELETE FROM batch_leaves WHERE device_id = ? AND feed_id = ? AND sequence = ? AND batch_id = ?",
    );
    const removeBatch = this.stmt("DELETE FROM batches WHERE id = ?");
    let batches = 0;
    let batchLeaves = 0;
    for (;;) {
      const done = this.transaction(() => {
        let rows = 0;
        while (rows < chunk) {
          const found = candidates.all(before, claimedBefore) as unknown as {
            id: number;
            device_id: string;
            feed_id: string;
            readings: Uint8Array;
          }[];
          if (found.length === 0) return true;
          for (const b of found) {
            const readings = Buffer.from(b.readings);
            const n = readings.length / BATCH_READING_LENGTH;
            for (let i = 0; i < n; i++) {
              const seq = sequenceAt(readings, i).toString();
              batchLeaves += Number(removeLeaf.run(b.device_id, b.feed_id, seq, b.id).changes);
            }
            removeBatch.run(b.id);
            batches++;
            rows += n + 1;
          }
        }
        return false;
      });
      if (done) return { batches, batchLeaves };
    }
  }

  close(): void {
    if (this.db.isOpen) {
      this.commitGroup();
      this.db.close();
    }
  }
}
