import assert from "node:assert/strict";
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import {
  structHash,
  type Hex,
  type ReadingMessage,
  signBatch,
  isBatchedReading,
  type BatchedReading,
  type Evidence,
  type WatchedBatch,
} from "../../src/protocol/index.js";
import { type SensorRange } from "../../src/watchtower/index.js";
import {
  BENEFICIARY,
  FEED,
  FakeDirectory,
  cloneOf,
  FakeSubmitter,
  deviceSigner,
  fromArray,
  reading,
  sample,
  tempDb,
  watchtower,
} from "./helpers.js";

type Signer = ReturnType<typeof deviceSigner>;

/** A batch of `readings` signed with `signer`'s key (by a clone: conflicts allowed), as a source yields it. */
async function watched(
  signer: Signer,
  readings: readonly Omit<ReadingMessage, "deviceId">[],
): Promise<WatchedBatch> {
  const b = await signBatch(cloneOf(signer), readings);
  return { signed: b.signed, readings: () => b.readings };
}

/** `count` unsigned readings of FEED from sequence `from`; each one's content depends on its sequence only. */
function batchOf(count: number, from = 1n): Omit<ReadingMessage, "deviceId">[] {
  return Array.from({ length: count }, (_, i) => {
    const sequence = from + BigInt(i);
    return {
      feedId: FEED,
      sequence,
      timestamp: 1_700_000_000n + sequence,
      value: ((sequence * 37n) % 101n) - 50n,
    };
  });
}

/** `batchOf(count, from)` with the value at sequence `at` changed (what a clone would sign). */
function tampered(count: number, from: bigint, at: bigint): Omit<ReadingMessage, "deviceId">[] {
  return batchOf(count, from).map((r) => (r.sequence === at ? { ...r, value: r.value + 1n } : r));
}

/** The leaf is in the batch the device signed, as MerkleProof.verify checks it on chain. */
function assertProvable(e: Evidence | undefined): asserts e is BatchedReading {
  assert.ok(e !== undefined && isBatchedReading(e));
  const leaf = structHash("Reading", e.reading);
  assert.ok(SimpleMerkleTree.verify(e.batch.root, leaf, [...e.proof]), "proof verifies");
  assert.equal(e.reading.deviceId, e.batch.deviceId);
}

async function run(
  inputs: Parameters<typeof fromArray>[0],
  dbPath = ":memory:",
  range: SensorRange | null = null,
) {
  const submitter = new FakeSubmitter();
  const directory = new FakeDirectory();
  directory.range = range;
  const w = watchtower({
    source: fromArray(inputs),
    directory,
    submitter,
    dbPath,
  });
  await w.start();
  await w.drained();
  const text = await w.metrics.text();
  const proofs = w.evidence.proofs();
  const batches = w.evidence.batchCount();
  await w.stop();
  return { submitter, text, proofs, batches };
}

describe("Watchtower batches", function () {
  describe("batch leaf against a single reading", function () {
    for (const curve of ["p256", "secp256k1"] as const) {
      it(`proves a ${curve} batch leaf against a later conflicting reading, once`, async function () {
        const device = deviceSigner(curve);
        const batch = await watched(device, batchOf(32, 1n));
        const leaf = batchOf(32, 1n)[9];
        assert.ok(leaf !== undefined);
        const clone = await reading(device, leaf.sequence, leaf.value + 5n, leaf.timestamp);
        const { submitter, text, proofs } = await run([batch, batch, clone, clone]);
        assert.equal(submitter.calls.length, 1);
        const call = submitter.calls[0];
        assert.equal(call?.kind, "batch-equivocation");
        assert.equal(call.beneficiary, BENEFICIARY);
        const [a, b] = call.evidence;
        assertProvable(a);
        assert.equal(a.reading.sequence, 10n);
        assert.equal(a.signature, batch.signed.signature);
        assert.deepEqual(b, clone);
        assert.equal(proofs[0]?.kind, "batch-equivocation");
        assert.equal(proofs[0].status, "submitted");
        assert.deepEqual(proofs[0].evidence, [a, { ...clone }]);
        assert.equal(sample(text, 'watchtower_batches_total{result="stored"}'), 1);
        assert.equal(sample(text, 'watchtower_batches_total{result="duplicate"}'), 1);
        assert.equal(sample(text, "watchtower_equivocations_total"), 1);
        assert.equal(sample(text, "watchtower_batch_equivocations_total"), 1);
      });
    }

    it("proves a reading seen first against a later batch that contradicts it", async function () {
      const device = deviceSigner();
      const original = batchOf(16, 100n)[3];
      assert.ok(original !== undefined);
      const single = await reading(device, original.sequence, original.value, original.timestamp);
      const clone = await watched(device, tampered(16, 100n, original.sequence));
      const agreeing = await watched(device, batchOf(16, 100n));
      // The agreeing batch then contradicts the clone's leaf: that slot's proof is already decided.
      const { submitter, text } = await run([single, clone, agreeing]);
      assert.equal(submitter.calls.length, 1);
      assert.equal(submitter.calls[0]?.kind, "batch-equivocation");
      const [a, b] = submitter.calls[0].evidence;
      assertProvable(a);
      assert.equal(a.batch.root, clone.signed.batch.root);
      assert.deepEqual(b, single);
      assert.equal(sample(text, 'watchtower_batches_total{result="conflict"}'), 2);
    });
  });

  describe("two batch leaves", function () {
    it("proves two batches covering a sequence with different content, one proof per batch", async function () {
      const device = deviceSigner("secp256k1");
      const first = await watched(device, batchOf(1024, 1n));
      // The clone re-signs an overlapping range with two changed readings: one proof (the first).
      const clone = await watched(
        device,
        tampered(64, 1000n, 1003n).map((r) => (r.sequence === 1010n ? { ...r, value: 7n } : r)),
      );
      const started = Date.now();
      const { submitter, proofs, batches } = await run([first, clone]);
      const elapsed = Date.now() - started;
      assert.equal(batches, 2);
      assert.equal(submitter.calls.length, 1);
      const call = submitter.calls[0];
      assert.equal(call?.kind, "batch-pair-equivocation");
      const [a, b] = call.evidence;
      assertProvable(a);
      assertProvable(b);
      assert.equal(a.batch.root, first.signed.batch.root);
      assert.equal(b.batch.root, clone.signed.batch.root);
      assert.equal(a.reading.sequence, 1003n);
      assert.equal(b.reading.sequence, 1003n);
      assert.equal(a.proof.length, 10, "a 1024-leaf tree is 10 levels deep");
      assert.equal(proofs.length, 1);
      assert.ok(elapsed < 5_000, `a 1024-leaf batch and its proof took ${String(elapsed)} ms`);
    });

    it("ignores overlapping batches that agree, and batches that do not hold together", async function () {
      const device = deviceSigner();
      const other = deviceSigner();
      const a = await watched(device, batchOf(8, 1n));
      const overlapping = await watched(device, batchOf(8, 5n));
      const genuine = await signBatch(device, batchOf(4, 50n));
      const badRoot: WatchedBatch = {
        signed: genuine.signed,
        readings: () => genuine.readings.map((r, i) => (i === 0 ? { ...r, value: 99n } : r)),
      };
      const forged: WatchedBatch = {
        signed: {
          ...genuine.signed,
          signature: (await signBatch(other, batchOf(4, 50n))).signed.signature,
        },
        readings: () => genuine.readings,
      };
      const { submitter, text, batches } = await run([a, overlapping, badRoot, forged]);
      assert.equal(submitter.calls.length, 0);
      assert.equal(batches, 2);
      assert.equal(sample(text, 'watchtower_batches_total{result="stored"}'), 2);
      assert.equal(sample(text, 'watchtower_batches_total{result="bad_root"}'), 1);
      assert.equal(sample(text, 'watchtower_batches_total{result="invalid_signature"}'), 1);
    });

    it("decides the proof once across restarts, and finds a conflict again at redelivery", async function () {
      const device = deviceSigner();
      const first = await watched(device, batchOf(8, 1n));
      const clone = await watched(device, tampered(8, 1n, 2n));
      const dbPath = await tempDb();
      const one = await run([first], dbPath);
      assert.equal(one.submitter.calls.length, 0);
      const two = await run([clone], dbPath);
      assert.equal(two.submitter.calls[0]?.kind, "batch-pair-equivocation");
      const three = await run([first, clone], dbPath);
      assert.equal(three.submitter.calls.length, 0);
      assert.equal(three.proofs.length, 1);
      assert.equal(sample(three.text, 'watchtower_batches_total{result="conflict"}'), 1);
    });
  });

  describe("batch leaf out of bounds", function () {
    /** batchOf's values lie in -50..50. */
    const RANGE: SensorRange = { min: -50n, max: 50n };

    /** `batchOf(count, from)` with the value at each of `at` set to `value`. */
    function outOfRange(count: number, from: bigint, at: readonly bigint[], value = 1000n) {
      return batchOf(count, from).map((r) => (at.includes(r.sequence) ? { ...r, value } : r));
    }

    for (const curve of ["p256", "secp256k1"] as const) {
      it(`proves the first ${curve} leaf outside the declared range, once`, async function () {
        const device = deviceSigner(curve);
        const batch = await watched(device, outOfRange(64, 1n, [20n, 40n], 51n));
        const { submitter, text, proofs } = await run([batch, batch], ":memory:", RANGE);
        assert.equal(submitter.calls.length, 1);
        const call = submitter.calls[0];
        assert.equal(call?.kind, "batch-out-of-bounds");
        assert.equal(call.beneficiary, BENEFICIARY);
        const [a] = call.evidence;
        assertProvable(a);
        assert.equal(a.reading.sequence, 20n);
        assert.equal(a.reading.value, 51n);
        assert.equal(a.signature, batch.signed.signature);
        assert.equal(proofs.length, 1);
        assert.equal(proofs[0]?.kind, "batch-out-of-bounds");
        assert.equal(proofs[0].proofKey, `out-of-bounds:${structHash("Reading", a.reading)}`);
        assert.equal(proofs[0].status, "submitted");
        assert.deepEqual(proofs[0].evidence, [a]);
        assert.equal(sample(text, "watchtower_out_of_bounds_total"), 1);
        assert.equal(sample(text, "watchtower_batch_out_of_bounds_total"), 1);
        assert.equal(sample(text, "watchtower_equivocations_total"), 0);
        assert.equal(sample(text, 'watchtower_batches_total{result="duplicate"}'), 1);
      });
    }

    it("proves a reading once, whether it came alone or in a batch first", async function () {
      const device = deviceSigner();
      const readings = outOfRange(8, 1n, [3n], -51n);
      const leaf = readings[2];
      assert.ok(leaf?.value === -51n);
      const alone = await reading(device, leaf.sequence, leaf.value, leaf.timestamp);
      const batch = await watched(device, readings);

      const aloneFirst = await run([alone, batch], ":memory:", RANGE);
      assert.deepEqual(
        aloneFirst.submitter.calls.map((c) => c.kind),
        ["out-of-bounds"],
      );
      const batchFirst = await run([batch, alone], ":memory:", RANGE);
      assert.deepEqual(
        batchFirst.submitter.calls.map((c) => c.kind),
        ["batch-out-of-bounds"],
      );
      // One proof key for both forms: the reading's struct hash, the contract's incident id too.
      assert.equal(aloneFirst.proofs[0]?.proofKey, batchFirst.proofs[0]?.proofKey);
    });

    it("decides the proof once across restarts, and again at redelivery if it was never decided", async function () {
      const device = deviceSigner();
      const batch = await watched(device, outOfRange(16, 1n, [9n]));
      const dbPath = await tempDb();
      // Seen while no range was declared: nothing to prove, but the batch is stored.
      const before = await run([batch], dbPath);
      assert.equal(before.submitter.calls.length, 0);
      assert.equal(before.batches, 1);
      // Redelivered once the maker declared the range: proven now.
      const one = await run([batch], dbPath, RANGE);
      assert.equal(one.submitter.calls[0]?.kind, "batch-out-of-bounds");
      const two = await run([batch], dbPath, RANGE);
      assert.equal(two.submitter.calls.length, 0);
      assert.equal(two.proofs.length, 1);
    });

    it("proves nothing for leaves inside the range, or without a declared range", async function () {
      const device = deviceSigner("secp256k1");
      const inside = await watched(device, batchOf(32, 1n));
      const outside = await watched(device, outOfRange(4, 100n, [101n]));
      assert.equal((await run([inside], ":memory:", RANGE)).submitter.calls.length, 0);
      assert.equal((await run([outside], ":memory:", null)).submitter.calls.length, 0);
    });

    it("proves nothing for a batch that does not hold together", async function () {
      const device = deviceSigner();
      const genuine = await signBatch(device, batchOf(4, 50n));
      const badRoot: WatchedBatch = {
        signed: genuine.signed,
        readings: () => genuine.readings.map((r, i) => (i === 0 ? { ...r, value: 1000n } : r)),
      };
      const { submitter, text } = await run([badRoot], ":memory:", RANGE);
      assert.equal(submitter.calls.length, 0);
      assert.equal(sample(text, 'watchtower_batches_total{result="bad_root"}'), 1);
    });
  });

  describe("EvidenceStore", function () {
    it("rebuilds a stored batch exactly", async function () {
      const device = deviceSigner();
      const b = await watched(device, batchOf(5, 3n));
      const w = watchtower({
        source: fromArray([b]),
        directory: new FakeDirectory(),
        submitter: new FakeSubmitter(),
        dbPath: ":memory:",
      });
      await w.start();
      await w.drained();
      const stored = w.evidence.batch(1);
      assert.deepEqual(
        { batch: stored.batch, key: stored.key, signature: stored.signature },
        {
          batch: { ...b.signed.batch, deviceId: b.signed.batch.deviceId.toLowerCase() as Hex },
          key: { ...b.signed.key, key: b.signed.key.key.toLowerCase() as Hex },
          signature: b.signed.signature.toLowerCase() as Hex,
        },
      );
      assert.equal(stored.readings.length, 5 * 48);
      assert.equal(
        w.evidence.batchLeaf(device.deviceId, batchOf(1)[0]?.feedId ?? "0x", 4n)?.leafIndex,
        1,
      );
      await w.stop();
    });
  });
});
