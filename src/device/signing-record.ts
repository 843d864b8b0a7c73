import { existsSync, mkdirSync } from "node:fs";
import { fsyncFolder } from "./fsync.js";
import { dirname, join } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { keccak_256 } from "@noble/hashes/sha3.js";
import {
  InvalidInputError,
  domainSeparator,
  fromHex,
  parseHexBytes,
  toHex,
  type AttestationMessage,
  type BatchLeaf,
  type Domain,
  type Hex,
  type ReadingBatchMessage,
  type ReadingMessage,
} from "../protocol/index.js";
import {
  AttestationConflictError,
  BatchConflictError,
  BelowLowWaterError,
  ReadingConflictError,
  SigningRecordError,
  SigningRecordImportConflictError,
  SigningRecordMismatchError,
  SigningRefusedError,
} from "./signing-record-errors.js";
import {
  INTERCHANGE_KIND,
  INTERCHANGE_VERSION,
  type InterchangeFeed,
  type SigningRecordInterchange,
} from "./signing-record-interchange.js";

/**
 * A device's signing record: its slashing protection, as an Ethereum validator client keeps one
 * (EIP-3076). Every DeviceSigner consults it before it signs a Reading, a ReadingBatch or an
 * Attestation, and refuses (a SigningRefusedError) whatever would give a watchtower a fraud proof
 * against the device beside what it signed before:
 *
 * - Reading: per (feed, sequence), the EIP-712 digest signed. The same digest again is allowed (a resend);
 *   other content is refused (FraudProofs.proveEquivocation). So is a sequence inside a signed batch's
 *   range unless it is that batch's leaf, identical (proveBatchEquivocation).
 * - ReadingBatch: per feed, no two batches with overlapping sequence ranges (firstSequence..lastSequence)
 *   and different digests (proveBatchPairEquivocation, and ReadingAnchor takes a range once anyway); a
 *   batch must not cover a signed reading unless its leaf at that sequence is that reading, identical
 *   (proveBatchEquivocation). Leaves are recorded like readings, by the digest they would have alone.
 *   Given without its leaves (DeviceSigner.sign), a batch covers no signed reading and no reading is
 *   signed into its range later.
 * - Attestation: keyed on the boot counter. No fraud proof pairs two attestations (FraudProofs proves
 *   revoked firmware from one), and the registry takes many per boot (each with a fresh challenge and a
 *   later timestamp), so re-attesting a boot is allowed; what one boot cannot do is measure two firmware
 *   chains: another measurement for an attested boot counter is refused, and so is a counter below the
 *   highest attested (rolled back). bootCount 0 means "no counter" (AttestationMessage): nothing to key on.
 *
 * Register and RotateKey are not recorded: signing them twice proves nothing against the device.
 *
 * Crash safety: `authorize` checks and then commits the request's digest in one SQLite transaction
 * (BEGIN IMMEDIATE, so two processes on one record are serialized; WAL with synchronous=FULL, so the
 * commit is on disk, WAL fsynced, before it returns); only then does the DeviceSigner ask its key store
 * to sign. A crash, SIGKILL or power loss included, can leave an intent without a signature (harmless:
 * the sequence is just skipped), never a signature without its record.
 *
 * Bounded state (EIP-3076's low-water rule): per feed the record keeps the highest sequence signed
 * (the high-water mark, which `nextSequence` counts from) and remembers the content of the last
 * `retainedSequences` sequences up to it; the low-water mark is the lowest sequence it still remembers.
 * A reading below the low-water mark is refused even if it would be a resend (its content is forgotten),
 * and so is a batch starting below it, unless the identical batch is still remembered. Only the highest
 * attested boot is kept. A fresh record's low-water mark is 0: it remembers everything.
 */

export interface SigningRecordIdentity {
  /** The deployment's EIP-712 domain the device signs under. */
  readonly domain: Domain;
  /** The id the device is registered under. */
  readonly deviceId: Hex;
}

export interface SigningRecordOptions {
  /** Sequences per feed whose content is remembered, up to the high-water mark (default 4096, at least 1). */
  readonly retainedSequences?: number;
}

/** A leaf of a batch: its sequence and its reading's EIP-712 struct hash. */
export type { BatchLeaf };

/** What a DeviceSigner is about to sign; `digest` is the EIP-712 digest its key store will sign. */
export type SigningRequest =
  | { readonly kind: "Reading"; readonly message: ReadingMessage; readonly digest: Hex }
  | {
      readonly kind: "ReadingBatch";
      readonly message: ReadingBatchMessage;
      readonly digest: Hex;
      /** The batch's leaves in sequence order; without them the batch's content is unknown. */
      readonly leaves?: readonly BatchLeaf[] | undefined;
    }
  | { readonly kind: "Attestation"; readonly message: AttestationMessage; readonly digest: Hex };

/** Where a feed stands in the record. */
export interface FeedMarks {
  readonly feedId: Hex;
  /** The lowest sequence whose content is remembered; below it everything is refused. */
  readonly lowWater: bigint;
  /** The highest sequence signed (alone or in a batch). */
  readonly highWater: bigint;
  readonly nextSequence: bigint;
  readonly readings: number;
  readonly batches: number;
}

export interface ImportSummary {
  readonly readings: number;
  readonly batches: number;
  readonly attestation: boolean;
}

export const DEFAULT_RETAINED_SEQUENCES = 4096;

/** Where tasks keep signing records by default (`fleet simulate --signing-records`). */
export const DEFAULT_SIGNING_RECORDS_DIR = ".devicetrust/signing-records";

/** The record file of a device on a deployment under `folder`: <chainId>-<registry>/<deviceId>.sqlite. */
export function signingRecordPath(folder: string, identity: SigningRecordIdentity): string {
  const id = normalized(identity);
  return join(
    folder,
    `${id.domain.chainId.toString()}-${id.domain.verifyingContract}`,
    `${id.deviceId}.sqlite`,
  );
}

const RECORD_KIND = "devicetrust-signing-record";
const RECORD_VERSION = "1";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feeds (
  feed_id    TEXT PRIMARY KEY,
  low_water  TEXT NOT NULL,
  high_water TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS readings (
  feed_id  TEXT NOT NULL,
  sequence TEXT NOT NULL,
  digest   TEXT NOT NULL,
  PRIMARY KEY (feed_id, sequence)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (
  feed_id   TEXT NOT NULL,
  first_seq TEXT NOT NULL,
  last_seq  TEXT NOT NULL,
  digest    TEXT NOT NULL,
  PRIMARY KEY (feed_id, first_seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attestation (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  boot_count  TEXT NOT NULL,
  measurement TEXT NOT NULL
);
`;

const UINT64_MAX = 2n ** 64n - 1n;

/** A uint64 as 16 hex digits: text order is numeric order (SQLite integers stop at 2^63). */
function seqText(value: bigint): string {
  return value.toString(16).padStart(16, "0");
}

function seqOf(text: string): bigint {
  return BigInt(`0x${text}`);
}

function maxOf(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

interface FeedRow {
  low_water: string;
  high_water: string;
}
interface DigestRow {
  sequence: string;
  digest: string;
}
interface BatchRow {
  first_seq: string;
  last_seq: string;
  digest: string;
}
interface AttestationRow {
  boot_count: string;
  measurement: string;
}

interface Statements {
  readonly feed: StatementSync;
  readonly feedIds: StatementSync;
  readonly upsertFeed: StatementSync;
  readonly setLowWater: StatementSync;
  readonly reading: StatementSync;
  readonly readingsIn: StatementSync;
  readonly insertReading: StatementSync;
  readonly batchAtOrBefore: StatementSync;
  readonly batchesOf: StatementSync;
  readonly insertBatch: StatementSync;
  readonly pruneReadings: StatementSync;
  readonly pruneBatches: StatementSync;
  readonly countReadings: StatementSync;
  readonly countBatches: StatementSync;
  readonly attestation: StatementSync;
  readonly putAttestation: StatementSync;
}

/** Which rules apply: signing refuses below the low-water mark; importing drops what is below it. */
type Mode = "sign" | "import";

export class SigningRecord {
  /** The SQLite file, or ":memory:" for a record that lives as long as its process. */
  readonly path: string;
  readonly domain: Domain;
  readonly deviceId: Hex;
  readonly retainedSequences: bigint;
  readonly #db: DatabaseSync;
  readonly #s: Statements;
  /** 0x1901 ‖ domain separator: the head of every EIP-712 digest under the record's domain. */
  readonly #digestHead: Uint8Array;

  private constructor(
    db: DatabaseSync,
    path: string,
    identity: SigningRecordIdentity,
    retained: bigint,
  ) {
    this.#db = db;
    this.path = path;
    this.domain = identity.domain;
    this.deviceId = identity.deviceId;
    this.retainedSequences = retained;
    this.#digestHead = new Uint8Array(34);
    this.#digestHead.set([0x19, 0x01], 0);
    this.#digestHead.set(fromHex(domainSeparator(identity.domain)), 2);
    const p = (sql: string) => db.prepare(sql);
    this.#s = {
      feed: p("SELECT low_water, high_water FROM feeds WHERE feed_id = ?"),
      feedIds: p("SELECT feed_id FROM feeds ORDER BY feed_id"),
      upsertFeed: p(
        `INSERT INTO feeds (feed_id, low_water, high_water) VALUES (?, ?, ?)
         ON CONFLICT (feed_id) DO UPDATE SET
           low_water = MAX(low_water, excluded.low_water),
           high_water = MAX(high_water, excluded.high_water)`,
      ),
      setLowWater: p("UPDATE feeds SET low_water = ? WHERE feed_id = ?"),
      reading: p("SELECT sequence, digest FROM readings WHERE feed_id = ? AND sequence = ?"),
      readingsIn: p(
        `SELECT sequence, digest FROM readings WHERE feed_id = ? AND sequence >= ? AND sequence <= ?
         ORDER BY sequence`,
      ),
      insertReading: p(
        "INSERT OR IGNORE INTO readings (feed_id, sequence, digest) VALUES (?, ?, ?)",
      ),
      // Recorded batches of a feed never overlap, so the one starting last at or before a sequence is the
      // only one that can cover it (or overlap a range ending there).
      batchAtOrBefore: p(
        `SELECT first_seq, last_seq, digest FROM batches WHERE feed_id = ? AND first_seq <= ?
         ORDER BY first_seq DESC LIMIT 1`,
      ),
      batchesOf: p(
        "SELECT first_seq, last_seq, digest FROM batches WHERE feed_id = ? ORDER BY first_seq",
      ),
      insertBatch: p(
        "INSERT INTO batches (feed_id, first_seq, last_seq, digest) VALUES (?, ?, ?, ?)",
      ),
      pruneReadings: p("DELETE FROM readings WHERE feed_id = ? AND sequence < ?"),
      pruneBatches: p("DELETE FROM batches WHERE feed_id = ? AND last_seq < ?"),
      countReadings: p("SELECT COUNT(*) AS n FROM readings WHERE feed_id = ?"),
      countBatches: p("SELECT COUNT(*) AS n FROM batches WHERE feed_id = ?"),
      attestation: p("SELECT boot_count, measurement FROM attestation WHERE id = 1"),
      putAttestation: p(
        `INSERT INTO attestation (id, boot_count, measurement) VALUES (1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET boot_count = excluded.boot_count, measurement = excluded.measurement`,
      ),
    };
  }

  /**
   * Opens the record at `path`, creating it (and its folder) for `identity` if it does not exist. An
   * existing record must belong to `identity` when one is given (SigningRecordMismatchError).
   */
  static open(
    path: string,
    identity?: SigningRecordIdentity,
    options: SigningRecordOptions = {},
  ): SigningRecord {
    const created = !existsSync(path);
    if (created && identity === undefined) {
      throw new SigningRecordError(
        `no signing record at ${path}: check the path (a DeviceSigner given a record path creates it)`,
      );
    }
    if (created) mkdirSync(dirname(path), { recursive: true });
    const record = SigningRecord.#openDb(path, identity, options);
    // SQLite fsyncs the folder of the WAL it creates; the database file's own entry is fsynced here,
    // so that a power loss cannot leave the WAL without the file it belongs to.
    if (created) fsyncFolder(dirname(path));
    return record;
  }

  /** A record in memory: it protects for the life of its process (the default of a DeviceSigner). */
  static inMemory(
    identity: SigningRecordIdentity,
    options: SigningRecordOptions = {},
  ): SigningRecord {
    return SigningRecord.#openDb(":memory:", identity, options);
  }

  static #openDb(
    path: string,
    identity: SigningRecordIdentity | undefined,
    options: SigningRecordOptions,
  ): SigningRecord {
    const retained = options.retainedSequences ?? DEFAULT_RETAINED_SEQUENCES;
    if (!Number.isSafeInteger(retained) || retained < 1) {
      throw new InvalidInputError(
        `retainedSequences must be a whole number of at least 1, not ${String(retained)}`,
      );
    }
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
      db.exec("PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
      db.exec(SCHEMA);
    } catch (cause: unknown) {
      throw new SigningRecordError(
        `cannot open the signing record ${path}: check that it is a signing record and that its folder is writable (${cause instanceof Error ? cause.message : String(cause)})`,
        { cause },
      );
    }
    try {
      const stored = SigningRecord.#identityOf(db, path);
      if (stored === undefined) {
        if (identity === undefined) {
          throw new SigningRecordError(`${path} holds no signing record: give the right file`);
        }
        const put = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
        db.exec("BEGIN IMMEDIATE");
        put.run("kind", RECORD_KIND);
        put.run("version", RECORD_VERSION);
        put.run("chainId", identity.domain.chainId.toString());
        put.run("verifyingContract", identity.domain.verifyingContract.toLowerCase());
        put.run("deviceId", identity.deviceId.toLowerCase());
        db.exec("COMMIT");
      } else if (identity !== undefined) {
        checkIdentity(path, stored, identity);
      }
      const id = identity ?? stored;
      if (id === undefined) throw new SigningRecordError(`${path} holds no signing record`);
      return new SigningRecord(db, path, normalized(id), BigInt(retained));
    } catch (err: unknown) {
      db.close();
      throw err;
    }
  }

  static #identityOf(db: DatabaseSync, path: string): SigningRecordIdentity | undefined {
    const rows = db.prepare("SELECT key, value FROM meta").all() as {
      key: string;
      value: string;
    }[];
    if (rows.length === 0) return undefined;
    const meta = new Map(rows.map((r) => [r.key, r.value]));
    const chainId = meta.get("chainId");
    const verifyingContract = meta.get("verifyingContract");
    const deviceId = meta.get("deviceId");
    if (
      meta.get("kind") !== RECORD_KIND ||
      meta.get("version") !== RECORD_VERSION ||
      chainId === undefined ||
      !/^\d+$/.test(chainId) ||
      verifyingContract === undefined ||
      deviceId === undefined
    ) {
      throw new SigningRecordError(
        `${path} is not a DeviceTrust signing record (version ${RECORD_VERSION}) or is damaged: restore it from a backup or an export`,
      );
    }
    return {
      domain: { chainId: BigInt(chainId), verifyingContract: verifyingContract as Hex },
      deviceId: deviceId as Hex,
    };
  }

  /** Closes the database; the record cannot authorize afterwards. */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  get isOpen(): boolean {
    return this.#db.isOpen;
  }

  /** The device's next sequence for `feedId`: the highest it signed (alone or in a batch) + 1; 1 at first. */
  nextSequence(feedId: Hex): bigint {
    const marks = this.#marks(feedId.toLowerCase() as Hex);
    const next = marks === undefined ? 1n : maxOf(marks.high + 1n, marks.low);
    if (next > UINT64_MAX) {
      throw new InvalidInputError(`feed ${feedId} has used every uint64 sequence of this device`);
    }
    return next > 0n ? next : 1n;
  }

  /** Every feed the record knows, with its marks and how many entries it remembers. */
  feeds(): FeedMarks[] {
    const ids = (this.#s.feedIds.all() as { feed_id: string }[]).map((r) => r.feed_id as Hex);
    return ids.map((feedId) => {
      const m = this.#marks(feedId);
      if (m === undefined) throw new SigningRecordError(`${this.path} lost feed ${feedId}`);
      const n = (s: StatementSync) => (s.get(feedId) as { n: number }).n;
      return {
        feedId,
        lowWater: m.low,
        highWater: m.high,
        nextSequence: this.nextSequence(feedId),
        readings: n(this.#s.countReadings),
        batches: n(this.#s.countBatches),
      };
    });
  }

  /** The highest boot counter attested and its measurement, if any. */
  attestation(): { readonly bootCount: bigint; readonly measurement: Hex } | undefined {
    const row = this.#s.attestation.get() as AttestationRow | undefined;
    return row === undefined
      ? undefined
      : { bootCount: seqOf(row.boot_count), measurement: row.measurement as Hex };
  }

  /**
   * Checks `request` against the record and, if it may be signed, commits it durably (or finds it
   * already recorded: a resend). Returns only once the record is on disk; throws a SigningRefusedError
   * (nothing recorded) otherwise. Call it before the key signs, never after.
   */
  authorize(request: SigningRequest): void {
    if (request.message.deviceId.toLowerCase() !== this.deviceId) {
      throw new InvalidInputError(
        `the message is device ${request.message.deviceId}'s, and this is the signing record of device ${this.deviceId}`,
      );
    }
    const digest = request.digest.toLowerCase() as Hex;
    this.#transaction(() => {
      switch (request.kind) {
        case "Reading": {
          const m = request.message;
          const feed = m.feedId.toLowerCase() as Hex;
          if (this.#admitReading(feed, m.sequence, digest, "sign")) this.#prune(feed);
          return;
        }
        case "ReadingBatch": {
          const b = request.message;
          const feed = b.feedId.toLowerCase() as Hex;
          const leaves =
            request.leaves === undefined ? undefined : this.#leafDigests(b, request.leaves);
          if (this.#admitBatch(feed, b.firstSequence, b.lastSequence, digest, leaves, "sign")) {
            this.#prune(feed);
          }
          return;
        }
        case "Attestation":
          this.#admitAttestation(request.message.bootCount, request.message.measurement, "sign");
          return;
      }
    });
  }

  /** The record in the interchange format (signing-record-interchange.ts). */
  export(): SigningRecordInterchange {
    const feeds = this.feeds().map((f): InterchangeFeed => {
      const readings = this.#s.readingsIn.all(
        f.feedId,
        seqText(0n),
        seqText(UINT64_MAX),
      ) as unknown as DigestRow[];
      const batches = this.#s.batchesOf.all(f.feedId) as unknown as BatchRow[];
      return {
        feedId: f.feedId,
        lowWater: f.lowWater.toString(),
        highWater: f.highWater.toString(),
        readings: readings.map((r) => ({
          sequence: seqOf(r.sequence).toString(),
          digest: r.digest as Hex,
        })),
        batches: batches.map((b) => ({
          firstSequence: seqOf(b.first_seq).toString(),
          lastSequence: seqOf(b.last_seq).toString(),
          digest: b.digest as Hex,
        })),
      };
    });
    const a = this.attestation();
    return {
      kind: INTERCHANGE_KIND,
      version: INTERCHANGE_VERSION,
      metadata: {
        chainId: this.domain.chainId.toString(),
        verifyingContract: this.domain.verifyingContract,
        deviceId: this.deviceId,
      },
      feeds,
      attestation:
        a === undefined ? null : { bootCount: a.bootCount.toString(), measurement: a.measurement },
    };
  }

  /**
   * Merges an interchange (parseInterchange'd) into the record, all or nothing: per feed the higher of
   * the two low-water marks and of the two high-water marks; every entry at or above the merged low-water
   * mark passes the signing rules against what the record holds (SigningRecordImportConflictError if one
   * does not: the two records disagree); the higher attested boot. Returns what was added.
   */
  import(interchange: SigningRecordInterchange): ImportSummary {
    const m = interchange.metadata;
    checkIdentity(
      "the interchange",
      {
        domain: { chainId: BigInt(m.chainId), verifyingContract: m.verifyingContract },
        deviceId: m.deviceId,
      },
      { domain: this.domain, deviceId: this.deviceId },
    );
    let readings = 0;
    let batches = 0;
    let attestation = false;
    try {
      this.#transaction(() => {
        for (const f of interchange.feeds) {
          const feed = f.feedId.toLowerCase() as Hex;
          this.#s.upsertFeed.run(feed, seqText(BigInt(f.lowWater)), seqText(BigInt(f.highWater)));
          const low = this.#marks(feed)?.low ?? 0n;
          // What the merged low-water mark forgets, the record forgets too.
          this.#s.pruneReadings.run(feed, seqText(low));
          this.#s.pruneBatches.run(feed, seqText(low));
          const entries = new Map<bigint, Hex>();
          for (const r of f.readings) {
            const s = BigInt(r.sequence);
            if (s >= low) entries.set(s, r.digest.toLowerCase() as Hex);
          }
          const leaves = new Set<bigint>();
          for (const b of [...f.batches].sort((x, y) =>
            BigInt(x.firstSequence) < BigInt(y.firstSequence) ? -1 : 1,
          )) {
            const first = BigInt(b.firstSequence);
            const last = BigInt(b.lastSequence);
            if (last < low) continue;
            // In a valid record the readings inside a batch's range are exactly its leaves.
            const own = new Map([...entries].filter(([s]) => s >= first && s <= last));
            for (const s of own.keys()) leaves.add(s);
            if (this.#admitBatch(feed, first, last, b.digest.toLowerCase() as Hex, own, "import")) {
              batches++;
            }
          }
          for (const [s, digest] of entries) {
            if (leaves.has(s)) continue;
            if (this.#admitReading(feed, s, digest, "import")) readings++;
          }
          this.#prune(feed);
        }
        if (interchange.attestation !== null) {
          const a = interchange.attestation;
          attestation = this.#admitAttestation(
            BigInt(a.bootCount),
            a.measurement.toLowerCase() as Hex,
            "import",
          );
        }
      });
    } catch (err: unknown) {
      if (err instanceof SigningRefusedError) {
        throw new SigningRecordImportConflictError(this.path, err);
      }
      throw err;
    }
    return { readings, batches, attestation };
  }

  // ------------------------------------------------------------------------------------- rules

  /** Admits a reading; true when newly recorded, false when the identical one is (a resend). */
  #admitReading(feed: Hex, sequence: bigint, digest: Hex, mode: Mode): boolean {
    const seq = seqText(sequence);
    const row = this.#s.reading.get(feed, seq) as DigestRow | undefined;
    if (row !== undefined) {
      if (row.digest === digest) return false;
      throw new ReadingConflictError(feed, sequence, row.digest as Hex, digest);
    }
    const low = this.#marks(feed)?.low ?? 0n;
    if (mode === "sign" && sequence < low) {
      throw new BelowLowWaterError("Reading", feed, sequence, low);
    }
    const batch = this.#s.batchAtOrBefore.get(feed, seq) as BatchRow | undefined;
    if (batch !== undefined && seqOf(batch.last_seq) >= sequence) {
      // Every leaf of a recorded batch is a recorded reading: this sequence is not one of them.
      throw new ReadingConflictError(feed, sequence, undefined, digest);
    }
    this.#s.insertReading.run(feed, seq, digest);
    this.#s.upsertFeed.run(feed, seqText(0n), seq);
    return true;
  }

  /** Admits a batch (with its leaves' digests by sequence, if known); false when it is a resend. */
  #admitBatch(
    feed: Hex,
    first: bigint,
    last: bigint,
    digest: Hex,
    leaves: ReadonlyMap<bigint, Hex> | undefined,
    mode: Mode,
  ): boolean {
    const other = this.#s.batchAtOrBefore.get(feed, seqText(last)) as BatchRow | undefined;
    if (other !== undefined && seqOf(other.last_seq) >= first) {
      if (other.digest === digest) return false;
      const from = seqOf(other.first_seq);
      throw new BatchConflictError(
        feed,
        first,
        last,
        maxOf(first, from),
        `it overlaps the batch of sequences ${String(from)}..${String(seqOf(other.last_seq))} signed with digest ${other.digest}`,
      );
    }
    const low = this.#marks(feed)?.low ?? 0n;
    if (mode === "sign" && first < low) {
      throw new BelowLowWaterError("ReadingBatch", feed, first, low);
    }
    const signed = this.#s.readingsIn.all(
      feed,
      seqText(maxOf(first, low)),
      seqText(last),
    ) as unknown as DigestRow[];
    for (const row of signed) {
      const at = seqOf(row.sequence);
      const leaf = leaves?.get(at);
      if (leaf === row.digest) continue;
      throw new BatchConflictError(
        feed,
        first,
        last,
        at,
        leaves === undefined
          ? "it covers a reading already signed, and its leaves were not given to show it holds that reading"
          : leaf === undefined
            ? `it covers a reading already signed (digest ${row.digest}) that is not one of its leaves`
            : `its leaf differs from the reading already signed there (digest ${row.digest})`,
      );
    }
    this.#s.insertBatch.run(feed, seqText(first), seqText(last), digest);
    for (const [s, d] of leaves ?? []) {
      if (s >= low) this.#s.insertReading.run(feed, seqText(s), d);
    }
    this.#s.upsertFeed.run(feed, seqText(0n), seqText(last));
    return true;
  }

  /** Admits attestation evidence for `bootCount`; true when it changed the record. */
  #admitAttestation(bootCount: bigint, measurement: Hex, mode: Mode): boolean {
    const m = measurement.toLowerCase() as Hex;
    const row = this.#s.attestation.get() as AttestationRow | undefined;
    const signed = row === undefined ? undefined : seqOf(row.boot_count);
    if (row === undefined || signed === undefined || bootCount > signed) {
      this.#s.putAttestation.run(seqText(bootCount), m);
      return true;
    }
    if (bootCount === signed) {
      if (row.measurement === m) return false;
      // No counter (0): nothing to key on; the latest measurement is kept.
      if (bootCount === 0n) {
        this.#s.putAttestation.run(seqText(0n), m);
        return true;
      }
    } else if (mode === "import") {
      // An older boot from the other record: history this record has moved past.
      return false;
    }
    throw new AttestationConflictError(bootCount, signed, row.measurement as Hex);
  }

  /** Forgets the content of sequences more than retainedSequences below the high-water mark. */
  #prune(feed: Hex): void {
    const marks = this.#marks(feed);
    if (marks === undefined) return;
    const low = marks.high - this.retainedSequences + 1n;
    if (low <= marks.low) return;
    this.#s.pruneReadings.run(feed, seqText(low));
    this.#s.pruneBatches.run(feed, seqText(low));
    this.#s.setLowWater.run(seqText(low), feed);
  }

  #marks(feed: Hex): { low: bigint; high: bigint } | undefined {
    const row = this.#s.feed.get(feed) as FeedRow | undefined;
    return row === undefined
      ? undefined
      : { low: seqOf(row.low_water), high: seqOf(row.high_water) };
  }

  /** Checks the leaves against the batch header and returns each one's digest by sequence. */
  #leafDigests(batch: ReadingBatchMessage, leaves: readonly BatchLeaf[]): Map<bigint, Hex> {
    const out = new Map<bigint, Hex>();
    let prev: bigint | undefined;
    for (const leaf of leaves) {
      if (prev !== undefined && leaf.sequence <= prev) {
        throw new InvalidInputError("a batch's leaves must have strictly increasing sequences");
      }
      prev = leaf.sequence;
      out.set(leaf.sequence, this.leafDigest(leaf.structHash));
    }
    const first = leaves[0]?.sequence;
    if (
      first !== batch.firstSequence ||
      prev !== batch.lastSequence ||
      BigInt(leaves.length) !== batch.count
    ) {
      throw new InvalidInputError(
        `the leaves (${String(leaves.length)}, sequences ${String(first)}..${String(prev)}) are not those of the batch (${String(batch.count)}, sequences ${String(batch.firstSequence)}..${String(batch.lastSequence)})`,
      );
    }
    return out;
  }

  /** The EIP-712 digest of a reading from its struct hash, under the record's domain. */
  leafDigest(structHash: Hex): Hex {
    const input = new Uint8Array(66);
    input.set(this.#digestHead, 0);
    input.set(parseHexBytes(structHash, "leaf struct hash", { bytes: 32 }), 34);
    return toHex(keccak_256(input));
  }

  #transaction<T>(body: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = body();
      this.#db.exec("COMMIT");
      return result;
    } catch (err: unknown) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw err;
    }
  }
}

function normalized(identity: SigningRecordIdentity): SigningRecordIdentity {
  return {
    domain: {
      chainId: identity.domain.chainId,
      verifyingContract: identity.domain.verifyingContract.toLowerCase() as Hex,
    },
    deviceId: identity.deviceId.toLowerCase() as Hex,
  };
}

function checkIdentity(
  where: string,
  recorded: SigningRecordIdentity,
  expected: SigningRecordIdentity,
): void {
  const r = normalized(recorded);
  const e = normalized(expected);
  if (r.deviceId !== e.deviceId) {
    throw new SigningRecordMismatchError(where, "device", r.deviceId, e.deviceId);
  }
  if (r.domain.chainId !== e.domain.chainId) {
    throw new SigningRecordMismatchError(
      where,
      "chain",
      r.domain.chainId.toString(),
      e.domain.chainId.toString(),
    );
  }
  if (r.domain.verifyingContract !== e.domain.verifyingContract) {
    throw new SigningRecordMismatchError(
      where,
      "registry",
      r.domain.verifyingContract,
      e.domain.verifyingContract,
    );
  }
}
