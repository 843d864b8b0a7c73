import assert from "node:assert/strict";
import { DeviceSigner } from "../../src/device/device-signer.js";
import {
  keyHash,
  structHash,
  type Hex,
  type ReadingMessage,
  signBatch,
  type SignedReading,
  type WatchedBatch,
} from "../../src/protocol/index.js";
import {
  EvidenceStore,
  KeyRetirements,
  ProofRejectedError,
  evidenceSignedAt,
} from "../../src/watchtower/index.js";
import {
  FEED,
  FakeDirectory,
  FakeSubmitter,
  QueueSource,
  deviceSigner,
  fromArray,
  reading,
  sample,
  tempDb,
  watchtower,
} from "./helpers.js";

/** When the operator rotated the device's first key out (unix seconds). */
const RETIRED_AT = 1_700_000_000n;

/**
 * A device whose first key (`old`, in the hands of whoever leaked it) a rotation retired at RETIRED_AT;
 * `current` signs for it now. The directory knows the rotation.
 */
function rotatedDevice() {
  const old = deviceSigner("p256");
  const nextKeys = deviceSigner("secp256k1");
  const current = new DeviceSigner(nextKeys.keyStore, nextKeys.domain, old.deviceId);
  const directory = new FakeDirectory();
  directory.rotate(old.deviceId, current.key, true, RETIRED_AT);
  return { old, current, directory };
}

async function watchedBatch(
  signer: DeviceSigner,
  readings: readonly Omit<ReadingMessage, "deviceId">[],
): Promise<WatchedBatch> {
  const b = await signBatch(signer, readings);
  return { signed: b.signed, readings: () => b.readings };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}

describe("Watchtower rotated-out keys", function () {
  describe("intake", function () {
    it("keeps a rotated-out key's conflict dated from its retirement as evidence, proves nothing with it, and still proves the current key's own conflict", async function () {
      const { old, current, directory } = rotatedDevice();
      const leaked = await reading(old, 5n, 2n, RETIRED_AT);
      const honest = await reading(current, 5n, 1n, RETIRED_AT + 10n);
      const cloned = await reading(current, 5n, 3n, RETIRED_AT + 10n);
      const submitter = new FakeSubmitter();
      const w = watchtower({
        source: fromArray([leaked, honest, leaked, cloned]),
        directory,
        submitter,
        dbPath: ":memory:",
      });
      await w.start();
      await w.drained();
      // The leaked reading came first but took no slot: the current key's two readings conflict.
      assert.equal(submitter.calls.length, 1);
      assert.equal(submitter.calls[0]?.kind, "equivocation");
      assert.deepEqual(submitter.calls[0].evidence, [honest, cloned]);
      const kept = w.evidence.retiredKeyMessages();
      assert.equal(kept.length, 1, "kept once");
      assert.deepEqual(kept[0], {
        deviceId: old.deviceId,
        keyHash: keyHash(old.key),
        retiredAt: RETIRED_AT,
        signedAt: RETIRED_AT,
        message: leaked,
      });
      const text = await w.metrics.text();
      assert.equal(sample(text, 'watchtower_messages_total{result="retired_key"}'), 2);
      assert.equal(sample(text, "watchtower_equivocations_total"), 1);
      await w.stop();
    });

    it("proves a conflict whose rotated-out half is dated before the retirement", async function () {
      const { old, current, directory } = rotatedDevice();
      const backdated = await reading(old, 7n, 2n, RETIRED_AT - 1n);
      const honest = await reading(current, 7n, 1n, RETIRED_AT + 60n);
      const submitter = new FakeSubmitter();
      const w = watchtower({
        source: fromArray([backdated, honest]),
        directory,
        submitter,
        dbPath: ":memory:",
      });
      await w.start();
      await w.drained();
      assert.equal(submitter.calls.length, 1);
      assert.deepEqual(submitter.calls[0]?.evidence, [backdated, honest]);
      assert.equal(w.evidence.proofs()[0]?.status, "submitted");
      assert.equal(w.evidence.retiredKeyMessages().length, 0);
      await w.stop();
    });

    it("proves no out-of-bounds reading or batch a rotated-out key dates from its retirement, but one batched before it", async function () {
      const { old, directory } = rotatedDevice();
      directory.range = { min: -40n, max: 125n };
      const hot = await reading(old, 1n, 500n, RETIRED_AT + 1n);
      const late = await watchedBatch(old, [
        { feedId: FEED, sequence: 2n, timestamp: RETIRED_AT - 5n, value: 500n },
        { feedId: FEED, sequence: 3n, timestamp: RETIRED_AT, value: 1n },
      ]);
      const early = await watchedBatch(old, [
        { feedId: FEED, sequence: 4n, timestamp: RETIRED_AT - 5n, value: 1n },
        { feedId: FEED, sequence: 5n, timestamp: RETIRED_AT - 1n, value: 500n },
      ]);
      const submitter = new FakeSubmitter();
      const w = watchtower({
        source: fromArray([hot, late, early]),
        directory,
        submitter,
        dbPath: ":memory:",
      });
      await w.start();
      await w.drained();
      assert.deepEqual(
        submitter.calls.map((c) => c.kind),
        ["batch-out-of-bounds"],
      );
      assert.equal(submitter.calls[0]?.evidence[0]?.reading.sequence, 5n);
      const kept = w.evidence.retiredKeyMessages();
      assert.deepEqual(
        kept.map((k) => k.signedAt),
        [RETIRED_AT + 1n, RETIRED_AT],
      );
      assert.deepEqual(kept[1]?.message, late.signed);
      const text = await w.metrics.text();
      assert.equal(sample(text, 'watchtower_messages_total{result="retired_key"}'), 1);
      assert.equal(sample(text, 'watchtower_batches_total{result="retired_key"}'), 1);
      assert.equal(w.evidence.batchCount(), 1, "only the batch signed before the rotation");
      await w.stop();
    });

    it("asks again after its device's KeyRotated event: a key it knew as current is then refused", async function () {
      const old = deviceSigner("secp256k1");
      const directory = new FakeDirectory();
      const source = new QueueSource();
      const w = watchtower({
        source,
        directory,
        submitter: new FakeSubmitter(),
        dbPath: ":memory:",
      });
      await w.start();
      source.push(await reading(old, 1n, 1n, RETIRED_AT), await reading(old, 2n, 1n, RETIRED_AT));
      await until(() => w.evidence.readingCount() === 2);
      assert.equal(directory.retiredLookups, 1, "the second reading used the cached answer");

      const next = deviceSigner("p256");
      directory.rotate(old.deviceId, next.key, true, RETIRED_AT + 5n);
      source.push(await reading(old, 3n, 1n, RETIRED_AT + 10n));
      await until(() => w.evidence.retiredKeyMessages().length === 1);
      assert.equal(directory.retiredLookups, 2);
      assert.equal(w.evidence.readingCount(), 2);
      source.end();
      await w.stop();
    });
  });

  describe("before sending", function () {
    it("marks a proof key-retired, unsent, when a rotation it had not heard of retired a key by its evidence's date", async function () {
      const old = deviceSigner("p256");
      const directory = new FakeDirectory();
      const source = new QueueSource();
      const submitter = new FakeSubmitter();
      const dbPath = await tempDb();
      const w = watchtower({ source, directory, submitter, dbPath });
      await w.start();
      // Signed ahead of a rotation the watchtower is not told of (a lost event).
      const leaked = await reading(old, 5n, 2n, RETIRED_AT + 100n);
      source.push(leaked);
      await until(() => w.evidence.readingCount() === 1);
      const nextKeys = deviceSigner("secp256k1");
      const current = new DeviceSigner(nextKeys.keyStore, nextKeys.domain, old.deviceId);
      directory.rotate(old.deviceId, current.key, false, RETIRED_AT);
      source.push(await reading(current, 5n, 1n, RETIRED_AT + 100n));
      source.end();
      await w.drained();

      assert.equal(submitter.calls.length, 0, "nothing sent");
      const [proof] = w.evidence.proofs();
      assert.equal(proof?.status, "key-retired");
      assert.equal(proof.attempts, 1);
      assert.match(proof.error ?? "", /ProofsKeyRetired: key 0x[0-9a-f]{64} was rotated out at/);
      assert.deepEqual(
        w.evidence.retiredKeyMessages().map((k) => k.message),
        [leaked],
      );
      const text = await w.metrics.text();
      assert.equal(sample(text, 'watchtower_proofs_submitted_total{result="key_retired"}'), 1);
      await w.stop();

      // Final: not resumed at the next start.
      const again = watchtower({
        source: fromArray([]),
        directory,
        submitter,
        dbPath,
      });
      await again.start();
      await again.drained();
      assert.equal(submitter.calls.length, 0);
      await again.stop();
    });

    it("takes the contract's ProofsKeyRetired as final: key-retired, the piece kept, no retry", async function () {
      const device = deviceSigner("secp256k1");
      const a = await reading(device, 1n, 1n);
      const b = await reading(device, 1n, 2n);
      const submitter = new FakeSubmitter();
      submitter.behaviour = () =>
        Promise.reject(
          new ProofRejectedError("ProofsKeyRetired", [
            device.deviceId,
            keyHash(device.key),
            RETIRED_AT,
            b.reading.timestamp,
          ]),
        );
      const w = watchtower({
        source: fromArray([a, b]),
        directory: new FakeDirectory(),
        submitter,
        dbPath: ":memory:",
      });
      await w.start();
      await w.drained();
      assert.equal(submitter.calls.length, 1);
      const [proof] = w.evidence.proofs();
      assert.equal(proof?.status, "key-retired");
      const kept = w.evidence.retiredKeyMessages();
      assert.equal(kept.length, 1);
      assert.equal(kept[0]?.retiredAt, RETIRED_AT);
      await w.stop();
    });
  });

  describe("KeyRetirements", function () {
    it("refuses a retired key from its retirement on, keeps the retirement, and asks again for a current key only when fresh", async function () {
      const { old, current, directory } = rotatedDevice();
      const retirements = new KeyRetirements(directory, 60_000);
      assert.equal(await retirements.refusing(old.deviceId, old.key, RETIRED_AT - 1n), undefined);
      assert.deepEqual(await retirements.refusing(old.deviceId, old.key, RETIRED_AT), {
        keyHash: keyHash(old.key),
        retiredAt: RETIRED_AT,
        signedAt: RETIRED_AT,
      });
      assert.equal(directory.retiredLookups, 1, "a retirement is asked once");
      assert.equal(await retirements.refusing(old.deviceId, current.key, 2n ** 63n), undefined);
      assert.equal(await retirements.refusing(old.deviceId, current.key, 0n), undefined);
      assert.equal(directory.retiredLookups, 2, "a current key's answer is cached");
      assert.equal(await retirements.refusing(old.deviceId, current.key, 0n, true), undefined);
      assert.equal(directory.retiredLookups, 3, "fresh asks again");
    });

    it("dates a batch leaf by the later of the batch's toTimestamp and its own", async function () {
      const device = deviceSigner();
      const b = await signBatch(device, [
        { feedId: FEED, sequence: 1n, timestamp: 10n, value: 1n },
        { feedId: FEED, sequence: 2n, timestamp: 20n, value: 1n },
      ]);
      const leaf = b.readings[0];
      assert.ok(leaf !== undefined);
      const batched = { ...b.signed, reading: leaf, proof: [] as Hex[] };
      assert.equal(evidenceSignedAt(batched), 20n);
      assert.equal(evidenceSignedAt({ ...batched, reading: { ...leaf, timestamp: 30n } }), 30n);
      const single: SignedReading = await reading(device, 3n, 1n, 40n);
      assert.equal(evidenceSignedAt(single), 40n);
    });
  });

  describe("EvidenceStore", function () {
    it("keeps each retired-key message once, across a restart", async function () {
      const { old } = rotatedDevice();
      const dbPath = await tempDb();
      const r = await reading(old, 1n, 1n, RETIRED_AT + 1n);
      const b = await signBatch(old, [
        { feedId: FEED, sequence: 2n, timestamp: RETIRED_AT + 2n, value: 1n },
      ]);
      const common = { deviceId: old.deviceId, keyHash: keyHash(old.key), retiredAt: RETIRED_AT };
      const store = new EvidenceStore(dbPath);
      const rHash = structHash("Reading", r.reading);
      const bHash = structHash("ReadingBatch", b.signed.batch);
      assert.equal(
        store.addRetiredKeyMessage(rHash, { ...common, signedAt: RETIRED_AT + 1n, message: r }, 1),
        true,
      );
      assert.equal(
        store.addRetiredKeyMessage(rHash, { ...common, signedAt: RETIRED_AT + 1n, message: r }, 2),
        false,
      );
      store.addRetiredKeyMessage(
        bHash,
        { ...common, signedAt: RETIRED_AT + 2n, message: b.signed },
        3,
      );
      store.close();
      const reopened = new EvidenceStore(dbPath);
      assert.deepEqual(reopened.retiredKeyMessages(), [
        { ...common, signedAt: RETIRED_AT + 1n, message: r },
        { ...common, signedAt: RETIRED_AT + 2n, message: b.signed },
      ]);
      reopened.close();
    });
  });
});
