import assert from "node:assert/strict";
import { structHash, type SignedReading } from "../../src/protocol/index.js";
import { EvidenceStore } from "../../src/watchtower/store.js";
import {
  FEED,
  FakeDirectory,
  FakeSubmitter,
  QueueSource,
  deviceSigner,
  memoryLogger,
  reading,
  sample,
  tempDb,
  watchtower,
} from "./helpers.js";

const OLD = 1_000;
/** Later than OLD, and (in seconds) later than every test reading's claimed time. */
const CUTOFF = 2_000_000_000_000;

function put(store: EvidenceStore, s: SignedReading, at: number): boolean {
  return store.putFirst(s, structHash("Reading", s.reading), at).inserted;
}

describe("EvidenceStore", function () {
  describe("prune", function () {
    let store: EvidenceStore;

    beforeEach(async function () {
      store = new EvidenceStore(await tempDb());
    });

    afterEach(function () {
      store.close();
    });

    it("removes old readings and keeps recent ones and those still inside their claimed time", async function () {
      const signer = deviceSigner();
      put(store, await reading(signer, 1n, 10n), OLD);
      put(store, await reading(signer, 2n, 10n), CUTOFF + 1);
      // Claimed after the cutoff: FraudProofs counts its window from that time.
      put(store, await reading(signer, 3n, 10n, BigInt(CUTOFF / 1000) + 60n), OLD);

      const pruned = store.prune(CUTOFF);

      assert.equal(pruned.readings, 1);
      assert.equal(store.reading(signer.deviceId, FEED, 1n), undefined);
      assert.equal(store.readingCount(), 2);
    });

    it("never removes the evidence of an unfinished proof, and keeps every proof", async function () {
      const signer = deviceSigner();
      const first = await reading(signer, 1n, 10n);
      const second = await reading(signer, 1n, 11n);
      const done = await reading(signer, 2n, 10n);
      put(store, first, OLD);
      put(store, done, OLD);
      store.addProof("pending-slot", "equivocation", signer.deviceId, [first, second]);
      store.addProof("done-slot", "equivocation", signer.deviceId, [done, done]);
      store.updateProof("done-slot", { status: "submitted", attempts: 1 });

      assert.equal(store.prune(CUTOFF, 1).readings, 1);

      const kept = store.reading(first.reading.deviceId, first.reading.feedId, 1n);
      assert.equal(kept?.structHash, structHash("Reading", first.reading));
      assert.equal(store.reading(done.reading.deviceId, done.reading.feedId, 2n), undefined);
      assert.equal(store.proofs().length, 2);

      // Once the proof finishes, its evidence goes at the next prune.
      store.updateProof("pending-slot", { status: "submitted", attempts: 1 });
      assert.equal(store.prune(CUTOFF).readings, 1);
      assert.equal(store.readingCount(), 0);
    });

    it("leaves a conflict that arrives after its original was pruned unprovable", async function () {
      // Acceptable: the original was received before the retention cutoff, which the watchtower sets
      // to at least the evidence window, so FraudProofs would refuse the pair (ProofsEvidenceExpired).
      const signer = deviceSigner();
      const original = await reading(signer, 7n, 10n);
      const conflict = await reading(signer, 7n, 99n);
      put(store, original, OLD);
      store.prune(CUTOFF);

      const again = store.putFirst(conflict, structHash("Reading", conflict.reading), CUTOFF + 1);

      assert.equal(again.inserted, true);
      assert.equal(again.first.structHash, structHash("Reading", conflict.reading));
    });
  });
});

describe("Watchtower retention", function () {
  it("pruneNow removes evidence older than retentionMs, counts it per table and logs it once", async function () {
    const { logger, lines } = memoryLogger();
    const source = new QueueSource();
    const day = 86_400_000;
    const w = watchtower({
      source,
      directory: new FakeDirectory(),
      submitter: new FakeSubmitter(),
      dbPath: await tempDb(),
      retentionMs: day,
      logger,
    });
    await w.start();
    const signer = deviceSigner();
    source.push({ ...(await reading(signer, 1n, 10n)), origin: "test" });
    source.end();
    await w.drained();
    assert.equal(w.evidence.readingCount(), 1);
    assert.deepEqual(await w.pruneNow(Date.now()), {
      readings: 0,
      batches: 0,
      batchLeaves: 0,
      retiredKeyMessages: 0,
    });
    const pruned = await w.pruneNow(Date.now() + 2 * day);
    assert.equal(pruned?.readings, 1);
    assert.equal(w.evidence.readingCount(), 0, "the running count follows the prune");
    assert.equal(
      sample(await w.metrics.text(), 'watchtower_pruned_rows_total{table="readings"}'),
      1,
    );
    assert.equal(lines.filter((l) => l.event === "pruned").length, 2);
    await w.stop();
  });
});
