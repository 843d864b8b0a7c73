import { DatabaseSync } from "node:sqlite";
import { InvalidInputError, KeyType, asHex, deviceKey, type Hex } from "../protocol/index.js";
import { WatchtowerError, type SignedReading } from "./types.js";

/**
 * The watchtower's memory, in an embedded SQLite file (node:sqlite), so evidence survives a restart:
 * - `readings`: per (device, feed, sequence) the first signed reading seen, with its struct hash;
 * - `proofs`: every proof the watchtower decided to send, keyed so that it is sent at most once, with
 *   its evidence (to resume after a crash), its status and the incident the contract recorded.
 * uint64 and int256 values are stored as decimal text: SQLite integers stop at 2^63.
 */

export type ProofKind = "equivocation" | "out-of-bounds";

/**
 * pending: decided, not yet confirmed (resumed at start); submitted: the contract recorded it;
 * already-proven: the contract said ProofsEvidenceUsed; rejected: another custom error (final);
 * failed: transient errors outlasted the retries (resumed at the next start).
 */
export type ProofStatus = "pending" | "submitted" | "already-proven" | "rejected" | "failed";

export interface StoredReading {
  readonly signed: SignedReading;
  readonly structHash: Hex;
}

export interface ProofRecord {
  readonly proofKey: string;
  readonly kind: ProofKind;
  readonly deviceId: Hex;
  readonly evidence: readonly SignedReading[];
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
`;

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

/** A signed reading as JSON (bigints as decimal strings): the evidence column and the JSON source. */
export interface SignedReadingJson {
  readonly reading: {
    readonly deviceId: string;
    readonly feedId: string;
    readonly sequence: string;
    readonly timestamp: string;
    readonly value: string;
  };
  readonly key: { readonly keyType: number; readonly key: string };
  readonly signature: string;
}

/** A key type number (1 secp256k1, 2 P-256) as the KeyType enum. */
function keyTypeOf(value: number): KeyType {
  if (value === 1) return KeyType.Secp256k1;
  if (value === 2) return KeyType.P256;
  throw new InvalidInputError(
    `key type ${String(value)} is not supported: use 1 (secp256k1) or 2 (P-256)`,
  );
}

export function signedReadingToJson(s: SignedReading): SignedReadingJson {
  const r = s.reading;
  return {
    reading: {
      deviceId: r.deviceId,
      feedId: r.feedId,
      sequence: r.sequence.toString(),
      timestamp: r.timestamp.toString(),
      value: r.value.toString(),
    },
    key: { keyType: s.key.keyType, key: s.key.key },
    signature: s.signature,
  };
}

/** Parses (and validates the shape of) a signed reading from JSON; throws InvalidInputError if malformed. */
export function signedReadingFromJson(j: SignedReadingJson): SignedReading {
  return {
    reading: {
      deviceId: asHex(j.reading.deviceId, "reading.deviceId", 32),
      feedId: asHex(j.reading.feedId, "reading.feedId", 32),
      sequence: BigInt(j.reading.sequence),
      timestamp: BigInt(j.reading.timestamp),
      value: BigInt(j.reading.value),
    },
    key: deviceKey(keyTypeOf(j.key.keyType), j.key.key),
    signature: asHex(j.signature, "signature"),
  };
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
  const evidence = (JSON.parse(row.evidence) as SignedReadingJson[]).map(signedReadingFromJson);
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

  /** Opens (creating if needed) the store at `path` (":memory:" for a throwaway one). */
  constructor(path: string) {
    this.path = path;
    try {
      this.db = new DatabaseSync(path);
      // WAL with full sync: a reading or a proof decision acknowledged here is on disk.
      this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
      this.db.exec(SCHEMA);
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

  /** Throws when the store cannot answer a query (for /health). */
  check(): void {
    this.db.prepare("SELECT 1 AS ok").get();
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
    const inserted = this.db
      .prepare(
        `INSERT OR IGNORE INTO readings
         (device_id, feed_id, sequence, struct_hash, timestamp, value, key_type, key, signature, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
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
    if (Number(inserted.changes) === 1) return { inserted: true, first: { signed, structHash } };
    const row = this.db
      .prepare("SELECT * FROM readings WHERE device_id = ? AND feed_id = ? AND sequence = ?")
      .get(r.deviceId.toLowerCase(), r.feedId.toLowerCase(), r.sequence.toString()) as
      ReadingRow | undefined;
    if (row === undefined) {
      throw new WatchtowerError(
        "WATCHTOWER_STORE_INCONSISTENT",
        "a reading the store refused as a duplicate is not in it: the store file is damaged; restore it or start a new one",
      );
    }
    return { inserted: false, first: rowToStored(row) };
  }

  /** How many (device, feed, sequence) slots the store holds. */
  readingCount(): number {
    const row = this.db.prepare("SELECT COUNT(*) AS n FROM readings").get() as { n: number };
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
    evidence: readonly SignedReading[],
  ): boolean {
    const now = Date.now();
    const result = this.db
      .prepare(
        `INSERT OR IGNORE INTO proofs (proof_key, kind, device_id, evidence, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'pending', ?, ?)`,
      )
      .run(
        proofKey,
        kind,
        deviceId.toLowerCase(),
        JSON.stringify(evidence.map(signedReadingToJson)),
        now,
        now,
      );
    return Number(result.changes) === 1;
  }

  proof(proofKey: string): ProofRecord | undefined {
    const row = this.db.prepare("SELECT * FROM proofs WHERE proof_key = ?").get(proofKey) as
      ProofRow | undefined;
    return row === undefined ? undefined : rowToProof(row);
  }

  /** Proofs to (re)send at start: pending ones (cut short by a stop or a crash) and failed ones. */
  unfinishedProofs(): ProofRecord[] {
    const rows = this.db
      .prepare(
        "SELECT * FROM proofs WHERE status IN ('pending', 'failed') ORDER BY created_at, proof_key",
      )
      .all() as unknown as ProofRow[];
    return rows.map(rowToProof);
  }

  proofs(): ProofRecord[] {
    const rows = this.db
      .prepare("SELECT * FROM proofs ORDER BY created_at, proof_key")
      .all() as unknown as ProofRow[];
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
    this.db
      .prepare(
        `UPDATE proofs SET status = ?, attempts = ?, incident = COALESCE(?, incident),
         tx_hash = COALESCE(?, tx_hash), error = ?, updated_at = ? WHERE proof_key = ?`,
      )
      .run(
        update.status,
        update.attempts,
        update.incident ?? null,
        update.txHash ?? null,
        update.error ?? null,
        Date.now(),
        proofKey,
      );
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}
