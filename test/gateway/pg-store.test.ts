import assert from "node:assert/strict";
import { id } from "ethers";
import pg from "pg";
import { SqliteReadingStore } from "../../src/gateway/index.js";
import { LEAD_LOCK, PgReadingStore } from "../../src/gateway/pg-store.js";
import type {
  ReadingStore,
  StoreWrite,
  StoreWriteResult,
} from "../../src/gateway/reading-store.js";
import {
  decodeBatch,
  encodeBatch,
  signBatch,
  structHash,
  type DecodedBatch,
  type Hex,
  type SignedReading,
} from "../../src/protocol/index.js";
import { cloneOf, deviceSigner, reading, tempDb } from "../watchtower/helpers.js";
import { batchOf } from "./helpers.js";
import { postgresPerFile } from "./postgres.js";

const T0 = 1_700_000_000_000;

function readingWrite(signed: SignedReading, receivedAt = T0): StoreWrite {
  return { kind: "reading", signed, structHash: structHash("Reading", signed.reading), receivedAt };
}

function batchWrite(decoded: DecodedBatch, receivedAt = T0): StoreWrite {
  return { kind: "batch", decoded, receivedAt };
}

async function signedBatch(
  signer: ReturnType<typeof deviceSigner>,
  count: number,
  from: bigint,
): Promise<DecodedBatch> {
  const b = await signBatch(cloneOf(signer), batchOf(count, from));
  return decodeBatch(encodeBatch(b.signed, b.readings));
}

/** `template` at another sequence and value (the store verifies no signature). */
function variant(template: SignedReading, sequence: bigint, value: bigint): SignedReading {
  return { ...template, reading: { ...template.reading, sequence, value } };
}

/** A reading's slot, as the transcripts name rows. */
function label(r: SignedReading): string {
  return `${r.reading.deviceId.slice(0, 8)}:${r.reading.sequence.toString()}:${r.reading.value.toString()}`;
}

interface Fixtures {
  readonly readings: SignedReading[];
  readonly conflicting: SignedReading;
  readonly other: SignedReading;
  readonly batches: { b1: DecodedBatch; b2: DecodedBatch; b3: DecodedBatch };
}

async function fixtures(): Promise<Fixtures> {
  const signer = deviceSigner("p256");
  const second = deviceSigner("secp256k1");
  const readings = await Promise.all([1n, 2n, 3n, 4n].map((s) => reading(signer, s, 10n * s)));
  return {
    readings,
    conflicting: await reading(signer, 3n, -7n),
    other: await reading(second, 1n, 5n),
    batches: {
      b1: await signedBatch(signer, 4, 10n), // 10..13
      b2: await signedBatch(signer, 4, 12n), // 12..15: overlaps b1
      b3: await signedBatch(signer, 3, 14n), // 14..16
    },
  };
}

/**
 * One scenario through a store: inserts, duplicates and conflicts (in one group and across groups),
 * batches, the pending queues, marks, counts, rejection reasons and prune. Returns what the store
 * answered, row ids replaced by what the rows hold (ids are per store).
 */
async function scenario(store: ReadingStore, f: Fixtures): Promise<unknown> {
  const [r1, r2, r3, r4] = f.readings as [
    SignedReading,
    SignedReading,
    SignedReading,
    SignedReading,
  ];
  const { b1, b2, b3 } = f.batches;
  const names = new Map<number, string>();
  const batchNames = new Map<number, string>();
  const show = (results: (StoreWriteResult | Error)[], writes: StoreWrite[]): unknown[] =>
    results.map((res, i) => {
      if (res instanceof Error) return { error: res.message };
      const w = writes[i];
      const name =
        w?.kind === "reading" ? label(w.signed) : `batch ${w?.decoded.batch.firstSequence ?? "?"}`;
      if (res.id !== undefined) (res.kind === "reading" ? names : batchNames).set(res.id, name);
      const { id: _id, ...rest } = res;
      return rest.kind === "reading" && rest.existing !== undefined
        ? { ...rest, existing: label(rest.existing) }
        : rest;
    });
  const log: Record<string, unknown> = {};
  const group1 = [r3, r1, r2, r2, f.conflicting, f.other].map((r) => readingWrite(r));
  log.group1 = show(await store.write(group1), group1);
  const group2 = [readingWrite(r1), readingWrite(f.conflicting), readingWrite(r4, T0 + 10_000)];
  log.group2 = show(await store.write(group2), group2);
  const group3 = [batchWrite(b1), batchWrite(b1), batchWrite(b2)];
  log.group3 = show(await store.write(group3), group3);
  const group4 = [batchWrite(b3), readingWrite(r1), batchWrite(b2)];
  log.group4 = show(await store.write(group4), group4);
  log.empty = await store.write([]);

  const pending = await store.pending();
  log.pending = pending.map((q) => names.get(q.id));
  log.pendingFirst2 = (await store.pending(2)).map((q) => names.get(q.id));
  const batches = await store.pendingBatches();
  log.batches = batches.map((q) => ({
    name: batchNames.get(q.id),
    root: q.signed.batch.root,
    last: q.signed.batch.lastSequence,
  }));
  const firstBatch = batches[0];
  assert.ok(firstBatch !== undefined);
  log.batchReadings = (await store.batchReadingsOf(firstBatch.id))?.equals(b1.readings);
  log.unknownBatch = await store.batchReadingsOf(987_654);
  log.roundTrip = pending.map((q) => q.signed);

  const idOf = (r: SignedReading): number => {
    const q = pending.find((p) => label(p.signed) === label(r));
    assert.ok(q !== undefined, `${label(r)} is pending`);
    return q.id;
  };
  await store.markOutcomes(
    [
      { id: idOf(r1), rejected: null },
      { id: idOf(r2), rejected: "SequenceNotIncreasing: 2 <= 2", txHash: id("other-tx") as Hex },
      { id: idOf(r1), rejected: "MemberQuarantined:Jump" }, // the first mark of a row wins
    ],
    id("tx-1") as Hex,
  );
  await store.markAll([idOf(r3), idOf(r1)], "rejected", null, "FeedStaleReading: too old");
  await store.markBatches([
    { id: firstBatch.id, status: "submitted", txHash: id("anchor-1") as Hex, error: null },
  ]);
  log.afterMarks = {
    pending: (await store.pending()).map((q) => names.get(q.id)),
    batches: (await store.pendingBatches()).map((q) => batchNames.get(q.id)),
    counts: store.counts(),
    batchCounts: store.batchCounts(),
    reasons: await store.rejectionReasons(),
  };
  // r4 was received after the cut: only r1, r2, r3 (submitted or rejected) and b1 go.
  log.prune = await store.prune(T0 + 1);
  log.afterPrune = {
    pending: (await store.pending()).map((q) => names.get(q.id)),
    batches: (await store.pendingBatches()).map((q) => batchNames.get(q.id)),
    counts: store.counts(),
    batchCounts: store.batchCounts(),
    reasons: await store.rejectionReasons(),
  };
  await store.markAll([idOf(r4)], "submitted", id("tx-2") as Hex);
  log.pruneAll = await store.prune(T0 + 1_000_000);
  log.final = {
    counts: store.counts(),
    pending: (await store.pending()).map((q) => names.get(q.id)),
  };
  return log;
}

/** Real row counts by status, straight from the database. */
async function rowCounts(
  url: string,
  table: "readings" | "batches",
): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ status: string; n: string }>(
      `SELECT status, COUNT(*) AS n FROM ${table} GROUP BY status`,
    );
    const out: Record<string, number> = { pending: 0, submitted: 0, rejected: 0 };
    for (const r of rows) out[r.status] = Number(r.n);
    return out;
  } finally {
    await client.end();
  }
}

async function sql(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

describe("PgReadingStore", function () {
  this.timeout(30_000);
  const server = postgresPerFile();
  const opened: ReadingStore[] = [];

  async function open(
    options: Parameters<typeof PgReadingStore.open>[1] = {},
  ): Promise<PgReadingStore> {
    const store = await PgReadingStore.open(server.database(), options);
    opened.push(store);
    return store;
  }

  afterEach(async function () {
    for (const s of opened.splice(0)) await s.close();
  });

  describe("open", function () {
    it("creates the schema once when two instances open a new database at once", async function () {
      const stores = await Promise.all([open(), open(), open()]);
      for (const s of stores) {
        assert.equal(s.kind, "postgres");
        assert.equal(s.shared, true);
        assert.equal(s.isOpen, true);
        await s.check();
      }
    });

    it("rejects with GATEWAY_STORE_OPEN, the URL without its password, when no server answers", async function () {
      await assert.rejects(
        PgReadingStore.open("postgres://gw:s3cret@127.0.0.1:1/devicetrust"),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.equal((err as { code?: string }).code, "GATEWAY_STORE_OPEN");
          assert.match(
            err.message,
            /cannot connect to PostgreSQL at postgres:\/\/gw@127\.0\.0\.1:1\/devicetrust/,
          );
          assert.doesNotMatch(err.message, /s3cret/);
          return true;
        },
      );
    });

    it("closes idempotently and refuses work after close", async function () {
      const store = await open();
      await store.close();
      await store.close();
      assert.equal(store.isOpen, false);
      await assert.rejects(store.pending(), { code: "GATEWAY_STORE_CLOSED" });
      assert.equal(await store.lead(), false);
    });
  });

  describe("semantics", function () {
    it("answers the SQLite store's scenario exactly as the SQLite store does", async function () {
      const f = await fixtures();
      const sqlite = new SqliteReadingStore(await tempDb(), "NORMAL", 0);
      opened.push(sqlite);
      const expected = await scenario(sqlite, f);
      const actual = await scenario(await open(), f);
      assert.deepEqual(actual, expected);
      // The scenario says what it should: a few of its answers spelled out.
      const log = expected as Record<string, unknown>;
      assert.deepEqual(log.group1, [
        { kind: "reading", result: "inserted" },
        { kind: "reading", result: "inserted" },
        { kind: "reading", result: "inserted" },
        { kind: "reading", result: "duplicate" },
        { kind: "reading", result: "conflict", existing: label(f.readings[2]!) },
        { kind: "reading", result: "inserted" },
      ]);
      assert.deepEqual(log.group3, [
        { kind: "batch", result: "inserted" },
        { kind: "batch", result: "duplicate" },
        { kind: "batch", result: "overlap" },
      ]);
      assert.deepEqual(log.prune, { readings: 3, batches: 1 });
    });

    it("round-trips uint64 max sequences and timestamps and int256 extremes", async function () {
      const store = await open();
      const signer = deviceSigner("p256");
      const max = (1n << 64n) - 1n;
      const template = await reading(signer, max, -(1n << 255n), max);
      const readings = [
        template,
        variant(template, max - 1n, (1n << 255n) - 1n),
        variant(template, 0n, -1n),
      ];
      const results = await store.write(readings.map((r) => readingWrite(r)));
      assert.deepEqual(
        results.map((r) => (r instanceof Error ? r.message : r.result)),
        ["inserted", "inserted", "inserted"],
      );
      assert.deepEqual(
        (await store.pending()).map((q) => q.signed),
        readings,
      );
      const [conflict] = await store.write([readingWrite(variant(template, max, 1n))]);
      assert.ok(
        conflict !== undefined && !(conflict instanceof Error) && conflict.kind === "reading",
      );
      assert.deepEqual(conflict.existing, template);
      const signedMax = await signBatch(
        cloneOf(signer),
        batchOf(3).map((r, i) => ({ ...r, sequence: max - 2n + BigInt(i) })),
      );
      const batch = decodeBatch(encodeBatch(signedMax.signed, signedMax.readings));
      const [put] = await store.write([batchWrite(batch)]);
      assert.equal((put as StoreWriteResult).result, "inserted");
      const [queued] = await store.pendingBatches();
      assert.ok(queued !== undefined);
      assert.equal(queued.signed.batch.lastSequence, max);
      assert.deepEqual(queued.signed, {
        batch: batch.batch,
        key: batch.key,
        signature: batch.signature,
      });
    });

    it("answers an Error for a write whose values cannot be stored, and stores the rest of the group", async function () {
      const store = await open();
      const template = await reading(deviceSigner("p256"), 1n, 1n);
      const results = await store.write([
        // Its struct hash would not even compute: any hash does for the store.
        {
          kind: "reading",
          signed: variant(template, 1n << 64n, 1n),
          structHash: id("any") as Hex,
          receivedAt: T0,
        },
        readingWrite(template),
      ]);
      assert.ok(results[0] instanceof Error);
      assert.equal((results[0] as Error & { code?: string }).code, "GATEWAY_STORE_INVALID");
      assert.equal((results[1] as StoreWriteResult).result, "inserted");
      assert.deepEqual(store.counts(), { pending: 1, submitted: 0, rejected: 0 });
    });
  });

  describe("concurrency", function () {
    it("lets two instances write overlapping groups in opposite orders without deadlock, each slot once", async function () {
      const a = await open({ poolSize: 4, countsRefreshMs: 50 });
      const b = await open({ poolSize: 4, countsRefreshMs: 50 });
      const template = await reading(deviceSigner("p256"), 0n, 0n);
      // Instance b's version of every third slot differs: those writes conflict when a's won.
      const version = (store: "a" | "b", seq: bigint): SignedReading =>
        variant(template, seq, store === "b" && seq % 3n === 0n ? -seq : seq);
      const rounds = 24;
      const size = 96;
      const jobs: Promise<{
        store: "a" | "b";
        writes: SignedReading[];
        results: (StoreWriteResult | Error)[];
      }>[] = [];
      for (let round = 0; round < rounds; round++) {
        // Each round's slots overlap the next round's by half.
        const seqs = Array.from({ length: size }, (_, i) => BigInt(round * (size / 2) + i));
        for (const [name, store, order] of [
          ["a", a, seqs],
          ["b", b, [...seqs].reverse()],
        ] as const) {
          const writes = order.map((s) => version(name, s));
          jobs.push(
            store
              .write(writes.map((r) => readingWrite(r)))
              .then((results) => ({ store: name, writes, results })),
          );
        }
      }
      const done = await Promise.all(jobs);
      const holder = new Map<string, SignedReading>();
      for (const { writes, results } of done) {
        results.forEach((res, i) => {
          assert.ok(!(res instanceof Error), res instanceof Error ? res.message : "");
          if (res.result === "inserted") {
            const slot = writes[i]!.reading.sequence.toString();
            assert.equal(holder.has(slot), false, `slot ${slot} inserted twice`);
            holder.set(slot, writes[i]!);
          }
        });
      }
      const slots = (rounds + 1) * (size / 2);
      assert.equal(holder.size, slots);
      for (const { writes, results } of done) {
        results.forEach((res, i) => {
          const w = writes[i]!;
          const held = holder.get(w.reading.sequence.toString())!;
          if (res instanceof Error || res.result === "inserted") return;
          if (res.kind !== "reading") throw new Error("a reading write answered as a batch");
          if (held.reading.value === w.reading.value) assert.equal(res.result, "duplicate");
          else {
            assert.equal(res.result, "conflict");
            assert.deepEqual(res.existing, held);
          }
        });
      }
      const real = await rowCounts(server.database(), "readings");
      assert.deepEqual(real, { pending: slots, submitted: 0, rejected: 0 });
      // Each instance counted its own inserts; a refresh sums every instance's.
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.deepEqual(a.counts(), real);
      assert.deepEqual(b.counts(), real);
      // Marks by one instance of rows the other inserted move the totals all the same.
      const ids = (await b.pending(100)).map((q) => q.id);
      await b.markAll(ids, "submitted", id("tx") as Hex);
      await a.markAll(ids, "rejected", null, "late"); // no longer pending: nothing moves
      await new Promise((resolve) => setTimeout(resolve, 150));
      const after = await rowCounts(server.database(), "readings");
      assert.deepEqual(after, { pending: slots - 100, submitted: 100, rejected: 0 });
      assert.deepEqual(a.counts(), after);
      assert.deepEqual(b.counts(), after);
    });

    it("stores one of two overlapping batches sent to two instances at once", async function () {
      const a = await open();
      const b = await open();
      const signer = deviceSigner("p256");
      const results = await Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          const batch = await signedBatch(signer, 4, 1n + BigInt(i % 3)); // 1..4, 2..5, 3..6
          const [res] = await (i % 2 === 0 ? a : b).write([batchWrite(batch)]);
          return (res as StoreWriteResult).result;
        }),
      );
      assert.equal(results.filter((r) => r === "inserted").length, 1);
      assert.equal((await rowCounts(server.database(), "batches")).pending, 1);
    });
  });

  describe("lead", function () {
    it("lets exactly one of two instances lead, and passes the lead on when its connection dies or it closes", async function () {
      const a = await open();
      const b = await open();
      assert.equal(await a.lead(), true);
      assert.equal(await b.lead(), false);
      assert.equal(await a.lead(), true);
      assert.equal(await b.lead(), false);

      const key = BigInt(LEAD_LOCK);
      const killed = await sql(
        server.database(),
        `SELECT pg_terminate_backend(pid, 5000) AS gone FROM pg_locks
         WHERE locktype = 'advisory' AND granted AND classid = $1 AND objid = $2`,
        [(key >> 32n).toString(), (key & 0xffffffffn).toString()],
      );
      assert.equal(killed.rowCount, 1);
      assert.equal(await b.lead(), true);
      assert.equal(await a.lead(), false);

      await b.close();
      assert.equal(await a.lead(), true);
      assert.equal(await a.lead(), true);
    });
  });

  describe("prune", function () {
    it("deletes old submitted and rejected rows in chunks, never pending or recent ones", async function () {
      const store = await open({ pruneChunk: 128 });
      const template = await reading(deviceSigner("p256"), 0n, 0n);
      const cut = T0 + 1_000;
      // 1,000 old readings then 200 recent ones.
      for (let from = 0; from < 1200; from += 256) {
        const writes = Array.from({ length: Math.min(256, 1200 - from) }, (_, i) => {
          const seq = BigInt(from + i);
          return readingWrite(variant(template, seq, seq), seq < 1000n ? T0 : cut + 1);
        });
        await store.write(writes);
      }
      const queued = await store.pending();
      assert.equal(queued.length, 1200);
      const old = queued.filter((q) => q.receivedAt < cut);
      const recent = queued.filter((q) => q.receivedAt >= cut);
      await store.markAll(
        old.slice(0, 700).map((q) => q.id),
        "submitted",
        id("tx") as Hex,
      );
      await store.markOutcomes(
        old.slice(700, 800).map((q) => ({ id: q.id, rejected: "SequenceNotIncreasing" })),
        id("tx-2") as Hex,
      );
      await store.markAll(
        recent.slice(0, 50).map((q) => q.id),
        "submitted",
        id("tx-3") as Hex,
      );

      assert.deepEqual(await store.prune(cut), { readings: 800, batches: 0 });
      const left = await rowCounts(server.database(), "readings");
      assert.deepEqual(left, { pending: 350, submitted: 50, rejected: 0 });
      assert.deepEqual(store.counts(), left);
      const pendingLeft = await store.pending();
      assert.deepEqual(
        pendingLeft.map((q) => q.id),
        [...old.slice(800), ...recent.slice(50)].map((q) => q.id),
      );
      assert.deepEqual(await store.prune(cut), { readings: 0, batches: 0 });
    });
  });
});
