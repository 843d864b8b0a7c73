import assert from "node:assert/strict";
import { join } from "node:path";
import { GatewayStore } from "../../src/gateway/index.js";
import { structHash, type Hex, type SignedReading } from "../../src/protocol/index.js";
import { deviceSigner, reading } from "../watchtower/helpers.js";
import { tempFolderPerTest } from "./helpers.js";

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
