import { randomUUID } from "node:crypto";
import pg from "pg";
import { type Hex, type SignedReading } from "../protocol/index.js";
import { batchOfRow, readingOfRow, type BatchColumns, type ReadingColumns } from "./store-rows.js";
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
import { GatewayError } from "./types.js";

/**
 * The gateway's durable queue in a PostgreSQL database that any number of gateway instances share
 * (npm `pg`, one pool per instance). Same rules as the SQLite store (store.ts): readings are unique
 * on (device, feed, sequence), the same struct hash again is a duplicate and another one a conflict
 * (answered with the stored reading); batches are unique on (device, feed, root) and one whose
 * sequence range overlaps a stored batch of its device and feed is refused. Hex is stored in lower
 * case; uint64 and int256 values as NUMERIC, so they round-trip exactly.
 *
 * Concurrency: a group's readings are inserted in (device, feed, sequence) order, whatever the
 * caller's order, so two instances writing overlapping groups take the unique-index slots in the
 * same order and never deadlock; batches of one device and feed are serialized by a transaction
 * advisory lock, taken in key order, before their duplicate and overlap checks. A serialization
 * failure or deadlock (40001, 40P01) retries the whole group.
 *
 * Counts (`counts`, `batchCounts`) must not query: each instance keeps its own rows in `counters`,
 * moved in the transaction of each write, mark and prune (so instances never wait on each other's
 * counters, and a mark of another instance's rows still just adds deltas), and the totals over every
 * instance are read in the background every `countsRefreshMs` and after this instance's writes.
 * The counts are as of the last refresh (plus this instance's own changes since).
 *
 * Leadership (`lead`): a session advisory lock held by a dedicated connection (not from the pool);
 * when that connection dies, the server releases the lock and another instance takes it.
 */

const SCHEMA = `
CREATE TABLE IF NOT EXISTS readings (
  id          BIGSERIAL PRIMARY KEY,
  device_id   TEXT NOT NULL,
  feed_id     TEXT NOT NULL,
  sequence    NUMERIC(20, 0) NOT NULL,
  struct_hash TEXT NOT NULL,
  timestamp   NUMERIC(20, 0) NOT NULL,
  value       NUMERIC(78, 0) NOT NULL,
  key_type    SMALLINT NOT NULL,
  key         TEXT NOT NULL,
  signature   TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'submitted', 'rejected')),
  tx_hash     TEXT,
  error       TEXT,
  UNIQUE (device_id, feed_id, sequence)
);
CREATE INDEX IF NOT EXISTS readings_pending ON readings (id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS readings_done ON readings (received_at) WHERE status <> 'pending';
CREATE TABLE IF NOT EXISTS batches (
  id          BIGSERIAL PRIMARY KEY,
  device_id   TEXT NOT NULL,
  feed_id     TEXT NOT NULL,
  root        TEXT NOT NULL,
  first_seq   NUMERIC(20, 0) NOT NULL,
  last_seq    NUMERIC(20, 0) NOT NULL,
  count       INTEGER NOT NULL,
  from_ts     NUMERIC(20, 0) NOT NULL,
  to_ts       NUMERIC(20, 0) NOT NULL,
  key_type    SMALLINT NOT NULL,
  key         TEXT NOT NULL,
  signature   TEXT NOT NULL,
  readings    BYTEA NOT NULL,
  received_at BIGINT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'submitted', 'rejected')),
  tx_hash     TEXT,
  error       TEXT,
  UNIQUE (device_id, feed_id, root)
);
CREATE INDEX IF NOT EXISTS batches_range ON batches (device_id, feed_id, first_seq);
CREATE INDEX IF NOT EXISTS batches_pending ON batches (id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS batches_done ON batches (received_at) WHERE status <> 'pending';
CREATE TABLE IF NOT EXISTS counters (
  instance_id TEXT NOT NULL,
  tbl         TEXT NOT NULL,
  status      TEXT NOT NULL,
  n           BIGINT NOT NULL,
  PRIMARY KEY (instance_id, tbl, status)
);
`;

/** Transaction advisory lock that serializes schema creation (CREATE … IF NOT EXISTS races). */
const SCHEMA_LOCK = "7238512609442184001";
/** Session advisory lock whose holder leads submission. */
export const LEAD_LOCK = "7238512609442184002";

/** Attempts of a transaction that fails with a serialization failure or a deadlock. */
const ATTEMPTS = 5;

const UINT64_MAX = (1n << 64n) - 1n;
const INT256_MIN = -(1n << 255n);
const INT256_MAX = (1n << 255n) - 1n;

type Table = "readings" | "batches";
type Tally = Record<ReadingStatus, number>;
type Deltas = Map<string, number>;

export interface PgReadingStoreOptions {
  /** This instance's name in `counters` (default: a random id per open). */
  readonly instanceId?: string;
  /** Connections in the pool (default 10). */
  readonly poolSize?: number;
  /** How often the counts are read again (default 1000 ms). */
  readonly countsRefreshMs?: number;
  /**
   * Rows a prune deletes per statement (default 10,000): each chunk is a short transaction of its
   * own, so a prune never holds locks for long, whatever it removes.
   */
  readonly pruneChunk?: number;
}

interface ReadingRow extends ReadingColumns {
  id: string;
  struct_hash: string;
  received_at: string;
}

interface BatchRow extends BatchColumns {
  id: string;
  received_at: string;
}

/** A reading write, normalized for the database, with its place in the caller's group. */
interface ReadingInput {
  readonly at: number;
  readonly device: string;
  readonly feed: string;
  readonly sequence: bigint;
  /** slotKey(device, feed, sequence), made once. */
  readonly slot: string;
  readonly structHash: string;
  readonly signed: SignedReading;
  readonly receivedAt: number;
}

/** `url` without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, "@");
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A serialization failure or a deadlock: the transaction may simply run again. */
function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "40001" || code === "40P01";
}

function slotKey(device: string, feed: string, sequence: bigint | string): string {
  return `${device}:${feed}:${sequence.toString()}`;
}

/** (device, feed, sequence) order: the order in which every instance takes a group's slots. */
function bySlot(a: ReadingInput, b: ReadingInput): number {
  if (a.device !== b.device) return a.device < b.device ? -1 : 1;
  if (a.feed !== b.feed) return a.feed < b.feed ? -1 : 1;
  if (a.sequence !== b.sequence) return a.sequence < b.sequence ? -1 : 1;
  return a.at - b.at;
}

function invalid(w: StoreWrite): string | null {
  if (w.kind === "reading") {
    const r = w.signed.reading;
    if (r.sequence < 0n || r.sequence > UINT64_MAX) return "sequence is not a uint64";
    if (r.timestamp < 0n || r.timestamp > UINT64_MAX) return "timestamp is not a uint64";
    if (r.value < INT256_MIN || r.value > INT256_MAX) return "value is not an int256";
    return null;
  }
  const b = w.decoded.batch;
  for (const v of [b.firstSequence, b.lastSequence, b.fromTimestamp, b.toTimestamp]) {
    if (v < 0n || v > UINT64_MAX) return "a sequence or timestamp is not a uint64";
  }
  if (b.count < 0n || b.count > 0x7fffffffn) return "count is out of range";
  return null;
}

/**
 * One mark per row, in id order (the order every instance locks rows in): the first given wins, as
 * when the marks run one after the other (the later ones find the row no longer pending).
 */
function firstPerId<T extends { readonly id: number }>(entries: readonly T[]): T[] {
  const seen = new Map<number, T>();
  for (const e of entries) if (!seen.has(e.id)) seen.set(e.id, e);
  return [...seen.values()].sort((a, b) => a.id - b.id);
}

function addDelta(deltas: Deltas, table: Table, status: ReadingStatus, n: number): void {
  if (n === 0) return;
  const key = `${table}:${status}`;
  deltas.set(key, (deltas.get(key) ?? 0) + n);
}

function emptyTally(): Tally {
  return { pending: 0, submitted: 0, rejected: 0 };
}

export class PgReadingStore implements ReadingStore {
  readonly kind = "postgres";
  readonly shared = true;
  readonly instanceId: string;
  private readonly pool: pg.Pool;
  private readonly url: string;
  private closed = false;
  private readonly cache: { readings: Tally; batches: Tally } = {
    readings: emptyTally(),
    batches: emptyTally(),
  };
  private refreshedAt = 0;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private timer: NodeJS.Timeout | undefined;
  private leader: pg.Client | undefined;
  private leading = false;
  private leadQueue: Promise<unknown> = Promise.resolve();

  private readonly pruneChunk: number;

  private constructor(pool: pg.Pool, url: string, options: PgReadingStoreOptions) {
    this.pool = pool;
    this.url = url;
    this.instanceId = options.instanceId ?? randomUUID();
    this.pruneChunk = options.pruneChunk ?? 10_000;
  }

  /** Connects, creates the schema if absent, reads the counts; rejects with GATEWAY_STORE_OPEN. */
  static async open(url: string, options: PgReadingStoreOptions = {}): Promise<PgReadingStore> {
    const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 });
    // An idle client whose connection dies emits on the pool; the pool drops it, and the next
    // query opens a new one. Without a listener the event would end the process.
    pool.on("error", () => undefined);
    const store = new PgReadingStore(pool, url, options);
    try {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        // Two instances opening a new database at once would race on the catalog (CREATE … IF NOT
        // EXISTS is not atomic): the first creates, the second waits, then finds everything there.
        await client.query(`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK})`);
        await client.query(SCHEMA);
        await client.query("COMMIT");
      } catch (err: unknown) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
      await store.refreshCounts();
    } catch (err: unknown) {
      await pool.end().catch(() => undefined);
      throw new GatewayError(
        "GATEWAY_STORE_OPEN",
        `cannot connect to PostgreSQL at ${redactUrl(url)}: check the URL and that the server runs and accepts this user (${message(err)})`,
        { cause: err },
      );
    }
    const every = options.countsRefreshMs ?? 1000;
    store.timer = setInterval(() => {
      void store.refreshCounts().catch(() => undefined);
    }, every);
    store.timer.unref();
    return store;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** When the counts were last read from the database (ms since the epoch). */
  get countsRefreshedAt(): number {
    return this.refreshedAt;
  }

  async check(): Promise<void> {
    this.assertOpen();
    try {
      await this.pool.query("SELECT 1");
    } catch (err: unknown) {
      throw this.unavailable(err);
    }
  }

  async write(writes: readonly StoreWrite[]): Promise<(StoreWriteResult | Error)[]> {
    this.assertOpen();
    if (writes.length === 0) return [];
    const results: (StoreWriteResult | Error)[] = new Array<StoreWriteResult | Error>(
      writes.length,
    );
    const valid: number[] = [];
    writes.forEach((w, i) => {
      const why = invalid(w);
      if (why === null) valid.push(i);
      else {
        results[i] = new GatewayError(
          "GATEWAY_STORE_INVALID",
          `cannot store this ${w.kind}: its ${why}; the gateway must refuse it before storing`,
        );
      }
    });
    if (valid.length === 0) return results;
    const deltas = await this.transaction(async (client) => {
      const d: Deltas = new Map();
      await this.writeReadings(client, writes, valid, results, d);
      await this.writeBatches(client, writes, valid, results, d);
      await this.saveDeltas(client, d);
      return d;
    });
    this.applied(deltas);
    return results;
  }

  async pending(limit?: number): Promise<QueuedReading[]> {
    this.assertOpen();
    const { rows } = await this.query<ReadingRow>(
      `SELECT id, device_id, feed_id, sequence, struct_hash, timestamp, value, key_type, key,
       signature, received_at FROM readings WHERE status = 'pending' ORDER BY id LIMIT $1`,
      [limit ?? null],
    );
    return rows.map((row) => ({
      id: Number(row.id),
      receivedAt: Number(row.received_at),
      signed: readingOfRow(row),
    }));
  }

  async pendingBatches(limit?: number): Promise<QueuedBatch[]> {
    this.assertOpen();
    const { rows } = await this.query<BatchRow>(
      `SELECT id, device_id, feed_id, root, first_seq, last_seq, count, from_ts, to_ts, key_type,
       key, signature, received_at FROM batches WHERE status = 'pending' ORDER BY id LIMIT $1`,
      [limit ?? null],
    );
    return rows.map((row) => ({
      id: Number(row.id),
      receivedAt: Number(row.received_at),
      signed: batchOfRow(row, BigInt),
    }));
  }

  async batchReadingsOf(id: number): Promise<Buffer | undefined> {
    this.assertOpen();
    const { rows } = await this.query<{ readings: Buffer }>(
      "SELECT readings FROM batches WHERE id = $1",
      [id],
    );
    return rows[0]?.readings;
  }

  async markOutcomes(entries: readonly ReadingMark[], txHash: Hex): Promise<void> {
    this.assertOpen();
    const marks = firstPerId(entries);
    if (marks.length === 0) return;
    const deltas = await this.transaction(async (client) => {
      const { rows } = await client.query<{ status: ReadingStatus }>(
        `UPDATE readings AS r SET status = m.status, tx_hash = m.tx_hash, error = m.error
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS m(id, status, tx_hash, error)
         WHERE r.id = m.id AND r.status = 'pending' RETURNING r.status`,
        [
          marks.map((e) => e.id),
          marks.map((e) => (e.rejected === null ? "submitted" : "rejected")),
          marks.map((e) => (e.txHash ?? txHash).toLowerCase()),
          marks.map((e) => e.rejected),
        ],
      );
      return this.moved(client, "readings", rows);
    });
    this.applied(deltas);
  }

  async markAll(
    ids: readonly number[],
    status: Exclude<ReadingStatus, "pending">,
    txHash: Hex | null,
    error: string | null = null,
  ): Promise<void> {
    this.assertOpen();
    if (ids.length === 0) return;
    const sorted = [...new Set(ids)].sort((a, b) => a - b);
    const deltas = await this.transaction(async (client) => {
      const { rows } = await client.query<{ status: ReadingStatus }>(
        `UPDATE readings SET status = $2, tx_hash = $3, error = $4
         WHERE id = ANY($1::bigint[]) AND status = 'pending' RETURNING status`,
        [sorted, status, txHash?.toLowerCase() ?? null, error],
      );
      return this.moved(client, "readings", rows);
    });
    this.applied(deltas);
  }

  async markBatches(entries: readonly BatchMark[]): Promise<void> {
    this.assertOpen();
    const marks = firstPerId(entries);
    if (marks.length === 0) return;
    const deltas = await this.transaction(async (client) => {
      const { rows } = await client.query<{ status: ReadingStatus }>(
        `UPDATE batches AS b SET status = m.status, tx_hash = m.tx_hash, error = m.error
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS m(id, status, tx_hash, error)
         WHERE b.id = m.id AND b.status = 'pending' RETURNING b.status`,
        [
          marks.map((e) => e.id),
          marks.map((e) => e.status),
          marks.map((e) => e.txHash?.toLowerCase() ?? null),
          marks.map((e) => e.error),
        ],
      );
      return this.moved(client, "batches", rows);
    });
    this.applied(deltas);
  }

  /** Readings by status, as of the last refresh (every instance's), plus this instance's since. */
  counts(): Record<ReadingStatus, number> {
    return { ...this.cache.readings };
  }

  /** Batches by status, like counts. */
  batchCounts(): Record<ReadingStatus, number> {
    return { ...this.cache.batches };
  }

  async rejectionReasons(): Promise<Record<string, number>> {
    this.assertOpen();
    const { rows } = await this.query<{ error: string | null; n: string }>(
      "SELECT error, COUNT(*) AS n FROM readings WHERE status = 'rejected' GROUP BY error",
    );
    const out: Record<string, number> = {};
    for (const r of rows) {
      const reason = (r.error ?? "unknown").split(": ")[0] ?? "unknown";
      out[reason] = (out[reason] ?? 0) + Number(r.n);
    }
    return out;
  }

  async lead(): Promise<boolean> {
    // One attempt at a time: two concurrent calls must not open two leader connections.
    const next = this.leadQueue.then(() => this.tryLead());
    this.leadQueue = next.catch(() => undefined);
    return next;
  }

  async prune(before: number): Promise<PruneResult> {
    this.assertOpen();
    const pruned = { readings: 0, batches: 0 };
    for (const table of ["readings", "batches"] as const) {
      for (;;) {
        const { n, deltas } = await this.transaction(async (client) => {
          const { rows } = await client.query<{ status: ReadingStatus }>(
            `DELETE FROM ${table} WHERE id IN (
               SELECT id FROM ${table} WHERE status <> 'pending' AND received_at < $1 LIMIT $2
             ) RETURNING status`,
            [before, this.pruneChunk],
          );
          const d: Deltas = new Map();
          for (const row of rows) addDelta(d, table, row.status, -1);
          await this.saveDeltas(client, d);
          return { n: rows.length, deltas: d };
        });
        this.applied(deltas);
        pruned[table] += n;
        if (n < this.pruneChunk) break;
      }
    }
    return pruned;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.leadQueue;
    await this.dropLeader();
    await this.refreshing?.catch(() => undefined);
    await this.pool.end();
  }

  /** Reads every instance's counters again (coalesced: one query at a time, one more if asked meanwhile). */
  private async refreshCounts(): Promise<void> {
    if (this.refreshing !== undefined) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    const run = async (): Promise<void> => {
      do {
        this.refreshAgain = false;
        const { rows } = await this.pool.query<{ tbl: Table; status: ReadingStatus; n: string }>(
          "SELECT tbl, status, SUM(n)::bigint AS n FROM counters GROUP BY tbl, status",
        );
        const next = { readings: emptyTally(), batches: emptyTally() };
        for (const r of rows) {
          if (r.tbl in next && r.status in next[r.tbl]) next[r.tbl][r.status] = Number(r.n);
        }
        Object.assign(this.cache.readings, next.readings);
        Object.assign(this.cache.batches, next.batches);
        this.refreshedAt = Date.now();
      } while (this.refreshAsked() && this.isOpen);
    };
    this.refreshing = run().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Adds a committed transaction's deltas to the cached counts, then reads the totals again. */
  private applied(deltas: Deltas): void {
    if (deltas.size === 0) return;
    for (const [key, n] of deltas) {
      const [table, status] = key.split(":") as [Table, ReadingStatus];
      this.cache[table][status] += n;
    }
    if (!this.closed) void this.refreshCounts().catch(() => undefined);
  }

  /** Moves the counters for rows that left pending for the statuses in `rows`. */
  private async moved(
    client: pg.PoolClient,
    table: Table,
    rows: readonly { status: ReadingStatus }[],
  ): Promise<Deltas> {
    const d: Deltas = new Map();
    for (const row of rows) {
      addDelta(d, table, "pending", -1);
      addDelta(d, table, row.status, 1);
    }
    await this.saveDeltas(client, d);
    return d;
  }

  /** Adds `deltas` to this instance's counter rows, in key order (one statement). */
  private async saveDeltas(client: pg.PoolClient, deltas: Deltas): Promise<void> {
    if (deltas.size === 0) return;
    const keys = [...deltas.keys()].sort();
    await client.query(
      `INSERT INTO counters (instance_id, tbl, status, n)
       SELECT $1, d.tbl, d.status, d.n FROM unnest($2::text[], $3::text[], $4::bigint[])
         WITH ORDINALITY AS d(tbl, status, n, ord) ORDER BY d.ord
       ON CONFLICT (instance_id, tbl, status) DO UPDATE SET n = counters.n + excluded.n`,
      [
        this.instanceId,
        keys.map((k) => k.split(":")[0]),
        keys.map((k) => k.split(":")[1]),
        keys.map((k) => deltas.get(k) ?? 0),
      ],
    );
  }

  /**
   * Inserts the group's readings in one statement, slots in key order; row ids in the caller's order
   * (the order of acceptance). A slot's first write in the group is the one inserted; every later
   * one, and every write whose slot was taken already, is then judged against the slot's holder.
   */
  private async writeReadings(
    client: pg.PoolClient,
    writes: readonly StoreWrite[],
    valid: readonly number[],
    results: (StoreWriteResult | Error)[],
    deltas: Deltas,
  ): Promise<void> {
    const inputs: ReadingInput[] = [];
    for (const at of valid) {
      const w = writes[at];
      if (w?.kind !== "reading") continue;
      const r = w.signed.reading;
      const device = r.deviceId.toLowerCase();
      const feed = r.feedId.toLowerCase();
      inputs.push({
        at,
        device,
        feed,
        sequence: r.sequence,
        slot: slotKey(device, feed, r.sequence),
        structHash: w.structHash.toLowerCase(),
        signed: w.signed,
        receivedAt: w.receivedAt,
      });
    }
    if (inputs.length === 0) return;
    const firsts = new Map<string, ReadingInput>();
    for (const input of inputs) if (!firsts.has(input.slot)) firsts.set(input.slot, input);
    const candidates = [...firsts.values()].sort(bySlot);
    // The ids are drawn in the caller's order, then the rows inserted in slot order: the order
    // of acceptance is kept, and every instance takes the unique index's slots in one order. The
    // rows inserted come back as (place in the group, id): `numbered` is computed once (it calls
    // nextval), so the join finds each inserted row's input.
    const { rows: inserted } = await client.query<{ at: number; id: string }>(
      `WITH input AS (
         SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::numeric[], $5::text[],
           $6::numeric[], $7::numeric[], $8::smallint[], $9::text[], $10::text[], $11::bigint[])
           WITH ORDINALITY AS u(at, device_id, feed_id, sequence, struct_hash, timestamp, value,
             key_type, key, signature, received_at, slot_order)
       ), numbered AS (
         SELECT nextval('readings_id_seq') AS id, s.*
         FROM (SELECT * FROM input ORDER BY at) AS s
       ), inserted AS (
         INSERT INTO readings (id, device_id, feed_id, sequence, struct_hash, timestamp, value,
           key_type, key, signature, received_at)
         SELECT id, device_id, feed_id, sequence, struct_hash, timestamp, value, key_type, key,
           signature, received_at FROM numbered ORDER BY slot_order
         ON CONFLICT (device_id, feed_id, sequence) DO NOTHING
         RETURNING id
       )
       SELECT n.at, i.id FROM inserted AS i JOIN numbered AS n ON n.id = i.id`,
      [
        candidates.map((c) => c.at),
        candidates.map((c) => c.device),
        candidates.map((c) => c.feed),
        candidates.map((c) => c.sequence.toString()),
        candidates.map((c) => c.structHash),
        candidates.map((c) => c.signed.reading.timestamp.toString()),
        candidates.map((c) => c.signed.reading.value.toString()),
        candidates.map((c) => c.signed.key.keyType),
        candidates.map((c) => c.signed.key.key.toLowerCase()),
        candidates.map((c) => c.signed.signature.toLowerCase()),
        candidates.map((c) => c.receivedAt),
      ],
    );
    /** Row id by place in the group, of the candidates inserted. */
    const insertedAt = new Map<number, number>();
    for (const row of inserted) insertedAt.set(row.at, Number(row.id));
    addDelta(deltas, "readings", "pending", inserted.length);
    // The slots this group did not take: who holds them now (committed by another transaction).
    const taken = candidates.filter((c) => !insertedAt.has(c.at));
    const holders = new Map<string, { structHash: string; signed: SignedReading }>();
    if (taken.length > 0) {
      const { rows } = await client.query<ReadingRow>(
        `SELECT r.id, r.device_id, r.feed_id, r.sequence::text, r.struct_hash, r.timestamp::text,
         r.value::text, r.key_type, r.key, r.signature, r.received_at
         FROM readings r JOIN unnest($1::text[], $2::text[], $3::numeric[]) AS s(device_id, feed_id, sequence)
           ON r.device_id = s.device_id AND r.feed_id = s.feed_id AND r.sequence = s.sequence`,
        [
          taken.map((c) => c.device),
          taken.map((c) => c.feed),
          taken.map((c) => c.sequence.toString()),
        ],
      );
      for (const row of rows) {
        holders.set(slotKey(row.device_id, row.feed_id, row.sequence), {
          structHash: row.struct_hash,
          signed: readingOfRow(row),
        });
      }
    }
    for (const input of inputs) {
      const first = firsts.get(input.slot);
      const id = first === undefined ? undefined : insertedAt.get(first.at);
      if (id !== undefined && first === input) {
        results[input.at] = { kind: "reading", result: "inserted", id };
        continue;
      }
      // A later write of a slot this group took is judged against the group's first of it.
      const holder = id !== undefined ? first : holders.get(input.slot);
      if (holder === undefined) {
        // ON CONFLICT found the slot taken, yet no row holds it: only a concurrent prune of that
        // very slot between the two statements does this; the group runs again.
        throw Object.assign(new Error("a taken slot vanished before it could be read"), {
          code: "40001",
        });
      }
      results[input.at] =
        holder.structHash === input.structHash
          ? { kind: "reading", result: "duplicate" }
          : { kind: "reading", result: "conflict", existing: holder.signed };
    }
  }

  /**
   * Stores the group's batches in the caller's order, each device and feed's under a transaction
   * advisory lock (taken for the whole group first, in key order) so that the duplicate and overlap
   * checks and the insert are one step for every instance.
   */
  private async writeBatches(
    client: pg.PoolClient,
    writes: readonly StoreWrite[],
    valid: readonly number[],
    results: (StoreWriteResult | Error)[],
    deltas: Deltas,
  ): Promise<void> {
    const batches = valid.filter((at) => writes[at]?.kind === "batch");
    if (batches.length === 0) return;
    const streams = [
      ...new Set(
        batches.map((at) => {
          const w = writes[at];
          if (w?.kind !== "batch") return "";
          return `${w.decoded.batch.deviceId.toLowerCase()}:${w.decoded.batch.feedId.toLowerCase()}`;
        }),
      ),
    ];
    await client.query(
      `SELECT pg_advisory_xact_lock(k) FROM (
         SELECT DISTINCT hashtextextended(s, 0) AS k FROM unnest($1::text[]) AS s ORDER BY k
       ) AS locks`,
      [streams],
    );
    for (const at of batches) {
      const w = writes[at];
      if (w?.kind !== "batch") continue;
      const b = w.decoded.batch;
      const device = b.deviceId.toLowerCase();
      const feed = b.feedId.toLowerCase();
      const root = b.root.toLowerCase();
      const first = b.firstSequence.toString();
      const last = b.lastSequence.toString();
      // Stored batches of a device and feed never overlap: the one starting last at or before the
      // new batch's end is the only one that can overlap it.
      const { rows } = await client.query<{ duplicate: boolean; overlap: boolean }>(
        `SELECT
           EXISTS (SELECT 1 FROM batches WHERE device_id = $1 AND feed_id = $2 AND root = $3) AS duplicate,
           COALESCE((SELECT last_seq >= $4::numeric FROM batches
             WHERE device_id = $1 AND feed_id = $2 AND first_seq <= $5::numeric
             ORDER BY first_seq DESC LIMIT 1), false) AS overlap`,
        [device, feed, root, first, last],
      );
      const check = rows[0];
      if (check?.duplicate === true) {
        results[at] = { kind: "batch", result: "duplicate" };
        continue;
      }
      if (check?.overlap === true) {
        results[at] = { kind: "batch", result: "overlap" };
        continue;
      }
      const { rows: ids } = await client.query<{ id: string }>(
        `INSERT INTO batches (device_id, feed_id, root, first_seq, last_seq, count, from_ts, to_ts,
         key_type, key, signature, readings, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
        [
          device,
          feed,
          root,
          first,
          last,
          Number(b.count),
          b.fromTimestamp.toString(),
          b.toTimestamp.toString(),
          w.decoded.key.keyType,
          w.decoded.key.key.toLowerCase(),
          w.decoded.signature.toLowerCase(),
          w.decoded.readings,
          w.receivedAt,
        ],
      );
      addDelta(deltas, "batches", "pending", 1);
      results[at] = { kind: "batch", result: "inserted", id: Number(ids[0]?.id) };
    }
  }

  /**
   * Runs `fn` in a transaction on a pool client; runs it again (up to ATTEMPTS) after a serialization failure or a deadlock. Rejects with
   * GATEWAY_STORE_WRITE otherwise, nothing of it committed.
   */
  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err: unknown) {
        throw this.unavailable(err);
      }
      let broken: Error | undefined;
      try {
        await client.query("BEGIN");
        const out = await fn(client);
        await client.query("COMMIT");
        return out;
      } catch (err: unknown) {
        await client.query("ROLLBACK").catch((rollback: unknown) => {
          // The connection is gone: the pool must not hand it out again.
          broken = rollback instanceof Error ? rollback : new Error(String(rollback));
        });
        if (isTransient(err) && attempt < ATTEMPTS) {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
          continue;
        }
        if (err instanceof GatewayError) throw err;
        throw new GatewayError(
          "GATEWAY_STORE_WRITE",
          `PostgreSQL at ${redactUrl(this.url)} refused a write, none of it stored: check the server's log and that it runs (${message(err)})`,
          { cause: err },
        );
      } finally {
        client.release(broken);
      }
    }
  }

  private async query<R extends pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values);
    } catch (err: unknown) {
      throw this.unavailable(err);
    }
  }

  private async tryLead(): Promise<boolean> {
    if (this.closed) return false;
    if (this.leader !== undefined && this.leading) {
      // Still ours only while its connection lives: ask it (a dead one rejects, or has emitted).
      try {
        await this.leader.query("SELECT 1");
        // The connection may have ended (its "error" or "end" event) while the ping was out.
        if (this.holdsLead()) return true;
      } catch {
        // Lost with the connection.
      }
      await this.dropLeader();
    }
    if (this.leader === undefined) {
      const client = new pg.Client({
        connectionString: this.url,
        application_name: `devicetrust-gateway-lead ${this.instanceId}`,
      });
      const lost = (): void => {
        if (this.leader === client) void this.dropLeader();
      };
      client.on("error", lost);
      client.on("end", lost);
      try {
        await client.connect();
      } catch {
        await client.end().catch(() => undefined);
        return false;
      }
      if (!this.isOpen) {
        await client.end().catch(() => undefined);
        return false;
      }
      this.leader = client;
    }
    const client = this.leader;
    try {
      const { rows } = await client.query<{ held: boolean }>(
        `SELECT pg_try_advisory_lock(${LEAD_LOCK}) AS held`,
      );
      this.leading = this.leader === client && rows[0]?.held === true;
    } catch {
      await this.dropLeader();
    }
    return this.holdsLead();
  }

  /** Whether a refresh was asked for while one ran (read after an await: it may have changed). */
  private refreshAsked(): boolean {
    return this.refreshAgain;
  }

  private holdsLead(): boolean {
    return this.leading;
  }

  /**
   * Forgets the leader connection and ends it: its session, and with it the lock, ends (the server
   * releases a session's locks before it closes the connection).
   */
  private async dropLeader(): Promise<void> {
    const client = this.leader;
    this.leader = undefined;
    this.leading = false;
    if (client !== undefined) await client.end().catch(() => undefined);
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new GatewayError(
        "GATEWAY_STORE_CLOSED",
        "the PostgreSQL store is closed: open a new one (PgReadingStore.open)",
      );
    }
  }

  private unavailable(err: unknown): GatewayError {
    return new GatewayError(
      "GATEWAY_STORE_UNAVAILABLE",
      `PostgreSQL at ${redactUrl(this.url)} does not answer: check that the server runs and is reachable (${message(err)})`,
      { cause: err },
    );
  }
}
