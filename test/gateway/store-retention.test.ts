import assert from "node:assert/strict";
import { join } from "node:path";
import { GatewayStore } from "../../src/gateway/index.js";
import {
  decodeBatch,
  encodeBatch,
  signBatch,
  structHash,
  type Hex,
  type SignedReading,
} from "../../src/protocol/index.js";
import { deviceSigner, reading } from "../watchtower/helpers.js";
import { FakeFeeds, batchOf, gateway, tempFolderPerTest } from "./helpers.js";

const TX: Hex = `0x${"ab".repeat(32)}`;
const OLD = 1_000;
const NEW = 5_000;
const CUTOFF = 2_000;

describe("GatewayStore", function () {
  const folder = tempFolderPerTest("devicetrust-retention-");
  let signed: SignedReading[];

  before(async function () {
    const signer = deviceSigner();
    signed = await Promise.all(
      Array.from({ length: 12 }, (_, i) => reading(signer, BigInt(i + 1), BigInt(i))),
    );
  });

  /** A store holding signed[i] received at `at(i)`, the ids in order. */
  function storeOf(at: (i: number) => number): { store: GatewayStore; ids: number[] } {
    const store = new GatewayStore(join(folder(), "gateway.sqlite"), "NORMAL", 0);
    const ids = store.transaction(() =>
      signed.map((s, i) => {
        const put = store.put(s, structHash("Reading", s.reading), at(i));
        assert.equal(put.result, "inserted");
        return put.id ?? -1;
      }),
    );
    return { store, ids };
  }

  describe("prune", function () {
    it("removes old submitted and rejected readings and keeps pending and recent ones", function () {
      // 0-3 old submitted, 4-5 old rejected, 6-7 old pending, 8-11 recent submitted.
      const { store, ids } = storeOf((i) => (i < 8 ? OLD : NEW));
      try {
        store.markAll(ids.slice(0, 4), "submitted", TX);
        store.markAll(ids.slice(4, 6), "rejected", TX, "SequenceNotIncreasing");
        store.markAll(ids.slice(8), "submitted", TX);

        assert.deepEqual(store.prune(CUTOFF), { readings: 6, batches: 0 });

        assert.deepEqual(
          store.pending().map((q) => q.id),
          ids.slice(6, 8),
        );
        assert.deepEqual(store.counts(), { pending: 2, submitted: 4, rejected: 0 });
        assert.deepEqual(store.rejectionReasons(), {});
        // A second prune finds nothing more.
        assert.deepEqual(store.prune(CUTOFF), { readings: 0, batches: 0 });
      } finally {
        store.close();
      }
    });

    it("keeps the running tallies equal to a recount", function () {
      const { store, ids } = storeOf((i) => OLD + i * 100);
      try {
        store.markOutcomes(
          ids.map((id, i) => ({ id, rejected: i % 3 === 0 ? "MemberQuarantined: Jump" : null })),
          TX,
        );
        store.prune(OLD + 600);
        const recount = store.recount();
        assert.deepEqual(store.counts(), recount.readings);
        assert.deepEqual(store.batchCounts(), recount.batches);
        assert.deepEqual(recount.readings, { pending: 0, submitted: 4, rejected: 2 });
      } finally {
        store.close();
      }
    });

    it("deletes more rows than one chunk in several transactions", function () {
      const { store, ids } = storeOf(() => OLD);
      try {
        store.markAll(ids, "submitted", TX);
        assert.deepEqual(store.prune(CUTOFF, 5), { readings: 12, batches: 0 });
        assert.deepEqual(store.recount().readings, { pending: 0, submitted: 0, rejected: 0 });
        assert.deepEqual(store.counts(), { pending: 0, submitted: 0, rejected: 0 });
      } finally {
        store.close();
      }
    });

    it("refuses a chunk that is not a positive integer", function () {
      const { store } = storeOf(() => OLD);
      try {
        assert.throws(() => store.prune(CUTOFF, 0), RangeError);
      } finally {
        store.close();
      }
    });
  });

  describe("sizeBytes", function () {
    it("reuses the pages a prune freed, so the file stays flat under insert, submit and prune", function () {
      const store = new GatewayStore(join(folder(), "gateway.sqlite"), "NORMAL", 0);
      try {
        const signedBy = (i: number): SignedReading => {
          const s = signed[i % signed.length];
          if (s === undefined) throw new Error("no reading");
          // The same signed bytes under a new sequence: the store checks no signature.
          return { ...s, reading: { ...s.reading, sequence: BigInt(i + 1) } };
        };
        const sizes: number[] = [];
        for (let round = 0; round < 12; round++) {
          const ids = store.transaction(() =>
            Array.from({ length: 500 }, (_, k) => {
              const i = round * 500 + k;
              const s = signedBy(i);
              return store.put(s, structHash("Reading", s.reading), i).id ?? -1;
            }),
          );
          store.markAll(ids, "submitted", TX);
          // Keep the last two rounds.
          store.prune((round - 1) * 500);
          sizes.push(store.sizeBytes());
        }
        const steady = sizes.slice(4);
        const low = Math.min(...steady);
        const high = Math.max(...steady);
        assert.ok(high <= low * 1.1, `sizes ${sizes.join(", ")} grow under retention`);
        assert.equal(store.recount().readings.submitted, 1000);
      } finally {
        store.close();
      }
    });
  });
});

describe("Gateway retention", function () {
  it("refuses readings and batches dated before the window (stale), prunes old submitted rows, never pending ones", async function () {
    const feeds = new FakeFeeds();
    const day = 86_400_000;
    const g = gateway({
      brokerUrl: "unused",
      dbPath: ":memory:",
      submitter: feeds,
      retentionMs: day,
    });
    await g.open();
    const device = deviceSigner("p256");
    const nowS = BigInt(Math.floor(Date.now() / 1000));
    assert.equal(await g.accept(await reading(device, 1n, 20n, nowS - 2n * 86_400n)), "stale");
    assert.equal(await g.accept(await reading(device, 2n, 20n, nowS - 60n)), "accepted");
    const old = await signBatch(
      device,
      batchOf(4, 10n).map((r) => ({ ...r, timestamp: nowS - 90_000n })),
    );
    assert.equal(await g.acceptBatch(decodeBatch(encodeBatch(old.signed, old.readings))), "stale");
    await g.flushNow();
    assert.deepEqual(g.readings.counts(), { pending: 0, submitted: 1, rejected: 0 });
    assert.equal(await g.accept(await reading(device, 3n, 20n, nowS)), "accepted");
    // Two days on: the submitted row is older than the window, the pending one stays.
    const pruned = await g.pruneNow(Date.now() + 2 * day);
    assert.deepEqual(pruned, { readings: 1, batches: 0 });
    assert.deepEqual(g.readings.counts(), { pending: 1, submitted: 0, rejected: 0 });
    assert.deepEqual(await g.pruneNow(), { readings: 0, batches: 0 }, "nothing inside the window");
    await g.stop();
  });

  it("refuses a retention that is not a positive number of milliseconds", function () {
    assert.throws(
      () =>
        gateway({
          brokerUrl: "unused",
          dbPath: ":memory:",
          submitter: new FakeFeeds(),
          retentionMs: 0,
        }),
      /retentionMs must be a positive number/,
    );
  });
});
