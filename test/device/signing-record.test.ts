import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeviceSigner } from "../../src/device/device-signer.js";
import type { KeyStore } from "../../src/device/key-store.js";
import { Pkcs11KeyStore } from "../../src/device/pkcs11-key-store.js";
import {
  AttestationConflictError,
  BatchConflictError,
  BelowLowWaterError,
  ReadingConflictError,
  SigningRecordError,
  SigningRecordImportConflictError,
  SigningRecordMismatchError,
  SigningRefusedError,
} from "../../src/device/signing-record-errors.js";
import {
  parseInterchange,
  type SigningRecordInterchange,
} from "../../src/device/signing-record-interchange.js";
import {
  exportSigningRecord,
  importSigningRecord,
} from "../../src/device/signing-record-transfer.js";
import { SigningRecord, signingRecordPath } from "../../src/device/signing-record.js";
import { createSoftHsmToken, type SoftHsmToken } from "../../src/device/softhsm-token.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  DeviceTrustError,
  buildReadingBatch,
  digest,
  structHash,
  toHex,
  type Curve,
  type Domain,
  type Hex,
  type ReadingMessage,
} from "../../src/protocol/index.js";
import { checkDeviceSignature } from "../../src/verify/signature.js";
import { requireSoftHsm } from "./helpers/softhsm.js";

const DOMAIN: Domain = {
  chainId: 31337n,
  verifyingContract: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
};
const FEED: Hex = `0x${"fe".repeat(32)}`;
const OTHER_FEED: Hex = `0x${"0f".repeat(32)}`;
const CURVES: readonly Curve[] = ["p256", "secp256k1"];

function bytes32(): Hex {
  return toHex(randomBytes(32));
}

/** A key store that counts its signatures: a refused message must never reach it. */
function counting(inner: KeyStore): KeyStore & { readonly signed: Hex[] } {
  const signed: Hex[] = [];
  return {
    kind: inner.kind,
    curve: inner.curve,
    deviceKey: inner.deviceKey,
    publicKey: inner.publicKey,
    signed,
    signDigest(d: Hex): Promise<Hex> {
      signed.push(d);
      return inner.signDigest(d);
    },
    close: () => inner.close(),
  };
}

function reading(sequence: bigint, value = 1n, feedId = FEED): Omit<ReadingMessage, "deviceId"> {
  return { feedId, sequence, timestamp: 1_700_000_000n + sequence, value };
}

function readings(from: bigint, count: number, value = 7n): Omit<ReadingMessage, "deviceId">[] {
  return Array.from({ length: count }, (_, i) => reading(from + BigInt(i), value));
}

/** The batch header of `leaves` (as buildReadingBatch builds it), without its device id. */
function header(signer: DeviceSigner, leaves: readonly Omit<ReadingMessage, "deviceId">[]) {
  const { deviceId: _deviceId, ...batch } = buildReadingBatch(
    leaves.map((r) => ({ ...r, deviceId: signer.deviceId })),
  ).batch;
  return batch;
}

async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "devicetrust-signing-record-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

describe("SigningRecord", function () {
  let store: ReturnType<typeof counting>;
  let signer: DeviceSigner;
  let dir: string;
  let cleanup: () => Promise<void>;

  beforeEach(async function () {
    store = counting(SoftwareKeyStore.generate("p256"));
    signer = new DeviceSigner(store, DOMAIN);
    ({ dir, cleanup } = await tempDir());
  });
  afterEach(async function () {
    signer.record.close();
    await cleanup();
  });

  describe("authorize (Reading)", function () {
    it("signs the same reading again (a resend): the same digest and signature check", async function () {
      const first = await signer.signReading(reading(1n, 42n));
      const again = await signer.signReading(reading(1n, 42n));
      assert.equal(again.digest, first.digest);
      assert.equal(checkDeviceSignature(again.key, again.digest, again.signature), "valid");
      assert.equal(signer.nextSequence(FEED), 2n);
    });

    it("refuses another reading for a used (feed, sequence) with a typed error, and signs nothing", async function () {
      const first = await signer.signReading(reading(1n, 42n));
      const before = store.signed.length;
      await assert.rejects(signer.signReading(reading(1n, 43n)), (err: unknown) => {
        assert.ok(err instanceof ReadingConflictError);
        assert.ok(err instanceof SigningRefusedError && err instanceof DeviceTrustError);
        assert.equal(err.code, "SIGNING_READING_CONFLICT");
        assert.deepEqual(
          [err.kind, err.feedId, err.sequence, err.signedDigest],
          ["Reading", FEED, 1n, first.digest],
        );
        assert.match(err.message, /Take the next sequence \(DeviceSigner\.nextSequence\)/);
        return true;
      });
      // Another timestamp is other content too.
      await assert.rejects(
        signer.signReading({ ...reading(1n, 42n), timestamp: 5n }),
        ReadingConflictError,
      );
      assert.equal(store.signed.length, before, "the key store was never asked");
    });

    it("keeps feeds apart, and counts nextSequence from the highest sequence signed", async function () {
      assert.equal(signer.nextSequence(FEED), 1n);
      await signer.signReading(reading(5n));
      await signer.signReading(reading(3n));
      await signer.signReading(reading(1n, 9n, OTHER_FEED));
      assert.equal(signer.nextSequence(FEED), 6n);
      assert.equal(signer.nextSequence(OTHER_FEED), 2n);
      // Sequence 5 of the other feed is a slot of its own.
      await signer.signReading(reading(5n, 2n, OTHER_FEED));
    });

    it("does not record Register and RotateKey, which prove nothing when signed twice", async function () {
      const operator: Hex = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
      await signer.signRegister(operator, 1n);
      await signer.signRegister(operator, 2n);
      await signer.signRotateKey(SoftwareKeyStore.generate("p256").deviceKey, 1n, 1n);
      assert.deepEqual(signer.record.feeds(), []);
      assert.equal(signer.record.attestation(), undefined);
    });
  });

  describe("authorize (ReadingBatch)", function () {
    it("refuses a batch overlapping a signed batch with another digest; the identical batch is a resend", async function () {
      const eight = readings(1n, 8);
      const first = await signer.signReadingBatch(header(signer, eight), eight);
      const again = await signer.signReadingBatch(header(signer, eight), eight);
      assert.equal(again.digest, first.digest);
      const overlapping = readings(5n, 8, 9n);
      await assert.rejects(
        signer.signReadingBatch(header(signer, overlapping), overlapping),
        (err: unknown) => {
          assert.ok(err instanceof BatchConflictError);
          assert.deepEqual(
            [err.code, err.firstSequence, err.lastSequence, err.conflictAt],
            ["SIGNING_BATCH_CONFLICT", 5n, 12n, 5n],
          );
          assert.match(err.message, /overlaps the batch of sequences 1\.\.8 signed with digest/);
          return true;
        },
      );
      // The same readings as the signed batch, batched differently, overlap it too.
      const half = eight.slice(4);
      await assert.rejects(signer.signReadingBatch(header(signer, half), half), BatchConflictError);
      const next = readings(signer.nextSequence(FEED), 4);
      assert.equal(next[0]?.sequence, 9n);
      await signer.signReadingBatch(header(signer, next), next);
    });

    it("refuses a batch whose leaf differs from a reading signed alone, and a reading that is not a signed batch's leaf", async function () {
      await signer.signReading(reading(3n, 1n));
      const conflicting = readings(1n, 4, 2n);
      await assert.rejects(
        signer.signReadingBatch(header(signer, conflicting), conflicting),
        (err: unknown) => {
          assert.ok(err instanceof BatchConflictError);
          assert.equal(err.conflictAt, 3n);
          assert.match(err.message, /its leaf differs from the reading already signed there/);
          return true;
        },
      );
      // A batch with a gap at sequence 12: a reading there is not one of its leaves.
      const gapped = [reading(10n, 5n), reading(11n, 5n), reading(13n, 5n)];
      await signer.signReadingBatch(header(signer, gapped), gapped);
      await assert.rejects(signer.signReading(reading(11n, 6n)), (err: unknown) => {
        assert.ok(err instanceof ReadingConflictError);
        assert.notEqual(err.signedDigest, undefined);
        return true;
      });
      await assert.rejects(signer.signReading(reading(12n, 5n)), (err: unknown) => {
        assert.ok(err instanceof ReadingConflictError);
        assert.equal(err.signedDigest, undefined);
        assert.match(
          err.message,
          /lies inside a batch it signed, of which this reading is not a leaf/,
        );
        return true;
      });
    });

    it("takes a batch whose leaf is a reading signed before, and a leaf signed alone afterwards (the same reading)", async function () {
      const four = readings(1n, 4);
      const alone = await signer.signReading(four[1] ?? reading(2n));
      await signer.signReadingBatch(header(signer, four), four);
      const leaf = await signer.signReading(four[2] ?? reading(3n));
      const full = { ...(four[2] ?? reading(3n)), deviceId: signer.deviceId };
      assert.equal(leaf.digest, digest(DOMAIN, "Reading", full));
      assert.equal(signer.record.leafDigest(structHash("Reading", full)), leaf.digest);
      assert.equal((await signer.signReading(four[1] ?? reading(2n))).digest, alone.digest);
      assert.equal(signer.nextSequence(FEED), 5n);
    });

    it("treats a batch signed without its leaves as opaque: it may cover no signed reading, and none is signed into it", async function () {
      await signer.signReading(reading(2n));
      const covering = readings(1n, 4);
      await assert.rejects(
        signer.sign("ReadingBatch", {
          ...header(signer, covering),
          deviceId: signer.deviceId,
        }),
        (err: unknown) => {
          assert.ok(err instanceof BatchConflictError);
          assert.match(err.message, /its leaves were not given/);
          return true;
        },
      );
      const later = readings(5n, 4);
      await signer.signReadingBatch(header(signer, later));
      await assert.rejects(signer.signReading(later[0] ?? reading(5n)), ReadingConflictError);
      assert.equal(signer.nextSequence(FEED), 9n);
    });

    it("refuses leaves that are not the batch's: another root, range or feed", async function () {
      const four = readings(1n, 4);
      const other = readings(1n, 4, 8n);
      await assert.rejects(signer.signReadingBatch(header(signer, four), other), {
        code: "INVALID_INPUT",
        message: /is not the Merkle root of the leaves given/,
      });
      await assert.rejects(signer.signReadingBatch(header(signer, four), four.slice(1)), {
        code: "INVALID_INPUT",
      });
      await assert.rejects(
        signer.signReadingBatch(
          header(signer, four),
          four.map((r) => ({ ...r, feedId: OTHER_FEED })),
        ),
        { code: "INVALID_INPUT", message: /reading of the batch's feed/ },
      );
      assert.deepEqual(signer.record.feeds(), [], "nothing recorded");
    });
  });

  describe("authorize (Attestation)", function () {
    const measurement = bytes32();

    it("re-attests a boot with a fresh challenge; refuses another measurement for it, and a boot counter that went back", async function () {
      const evidence = { measurement, challenge: bytes32(), timestamp: 10n, bootCount: 3n };
      await signer.signAttestation(evidence);
      await signer.signAttestation({ ...evidence, challenge: bytes32(), timestamp: 20n });
      const before = store.signed.length;
      await assert.rejects(
        signer.signAttestation({ ...evidence, measurement: bytes32() }),
        (err: unknown) => {
          assert.ok(err instanceof AttestationConflictError);
          assert.deepEqual(
            [err.code, err.bootCount, err.signedBootCount, err.signedMeasurement],
            ["SIGNING_ATTESTATION_CONFLICT", 3n, 3n, measurement],
          );
          assert.match(err.message, /Reboot \(which increments the boot counter\)/);
          return true;
        },
      );
      await assert.rejects(signer.signAttestation({ ...evidence, bootCount: 2n }), {
        code: "SIGNING_ATTESTATION_CONFLICT",
        message: /the boot counter went back/,
      });
      assert.equal(store.signed.length, before);
      const updated = bytes32();
      await signer.signAttestation({ ...evidence, measurement: updated, bootCount: 4n });
      assert.deepEqual(signer.record.attestation(), { bootCount: 4n, measurement: updated });
    });

    it("pins nothing on boot counter 0 (no counter), and refuses it once a counter was attested", async function () {
      const evidence = { measurement, challenge: bytes32(), timestamp: 10n, bootCount: 0n };
      await signer.signAttestation(evidence);
      await signer.signAttestation({ ...evidence, measurement: bytes32() });
      await signer.signAttestation({ ...evidence, bootCount: 1n });
      await assert.rejects(signer.signAttestation(evidence), AttestationConflictError);
    });
  });

  describe("low-water mark", function () {
    it("keeps retainedSequences sequences per feed and refuses anything below the mark, resends included", async function () {
      const path = join(dir, "record.sqlite");
      const record = SigningRecord.open(path, signer, { retainedSequences: 3 });
      const bounded = new DeviceSigner(store, DOMAIN, undefined, record);
      try {
        for (let s = 1n; s <= 5n; s++) await bounded.signReading(reading(s));
        const [marks] = record.feeds();
        assert.deepEqual(
          [marks?.lowWater, marks?.highWater, marks?.nextSequence, marks?.readings],
          [3n, 5n, 6n, 3],
        );
        await assert.rejects(bounded.signReading(reading(2n)), (err: unknown) => {
          assert.ok(err instanceof BelowLowWaterError);
          assert.deepEqual(
            [err.code, err.sequence, err.lowWater],
            ["SIGNING_BELOW_LOW_WATER", 2n, 3n],
          );
          return true;
        });
        // At the mark the content is still known: the resend passes, other content does not.
        await bounded.signReading(reading(3n));
        await assert.rejects(bounded.signReading(reading(3n, 9n)), ReadingConflictError);
        const straddling = readings(2n, 8);
        await assert.rejects(
          bounded.signReadingBatch(header(bounded, straddling), straddling),
          BelowLowWaterError,
        );
        // A hundred more: the record stays at three readings.
        for (let s = 6n; s <= 105n; s++) await bounded.signReading(reading(s));
        assert.equal(record.feeds()[0]?.readings, 3);
        assert.equal(record.export().feeds[0]?.readings.length, 3);
      } finally {
        record.close();
      }
    });

    it("forgets batches that end below the mark, keeps one that straddles it (a resend of it passes)", async function () {
      const record = SigningRecord.inMemory(signer, { retainedSequences: 4 });
      const bounded = new DeviceSigner(store, DOMAIN, undefined, record);
      const first = readings(1n, 4);
      const second = readings(5n, 4);
      await bounded.signReadingBatch(header(bounded, first), first);
      await bounded.signReadingBatch(header(bounded, second), second);
      const third = readings(9n, 2);
      await bounded.signReadingBatch(header(bounded, third), third);
      // High water 10, low water 7: the first batch is forgotten, the second straddles the mark.
      assert.deepEqual(
        record.export().feeds[0]?.batches.map((b) => [b.firstSequence, b.lastSequence]),
        [
          ["5", "8"],
          ["9", "10"],
        ],
      );
      await bounded.signReadingBatch(header(bounded, second), second);
      await assert.rejects(
        bounded.signReadingBatch(header(bounded, first), first),
        BelowLowWaterError,
      );
      record.close();
    });
  });

  describe("open", function () {
    it("persists: a new signer on the same file refuses another payload, resends the same, continues the sequence", async function () {
      const path = signingRecordPath(join(dir, "records"), signer);
      assert.match(
        path,
        /records\/31337-0x5fbdb2315678afecb367f032d93f642f64180aa3\/0x[0-9a-f]{64}\.sqlite$/,
      );
      const first = SigningRecord.open(path, signer);
      const a = await new DeviceSigner(store, DOMAIN, undefined, first).signReading(
        reading(1n, 1n),
      );
      first.close();
      const reopened = SigningRecord.open(path, signer);
      const restarted = new DeviceSigner(store, DOMAIN, undefined, reopened);
      try {
        await assert.rejects(restarted.signReading(reading(1n, 2n)), ReadingConflictError);
        assert.equal((await restarted.signReading(reading(1n, 1n))).digest, a.digest);
        assert.equal(restarted.nextSequence(FEED), 2n);
      } finally {
        reopened.close();
      }
    });

    it("refuses a record of another device or deployment, and a path that holds no record", async function () {
      const path = join(dir, "record.sqlite");
      SigningRecord.open(path, signer).close();
      const other = new DeviceSigner(SoftwareKeyStore.generate("p256"), DOMAIN);
      assert.throws(() => SigningRecord.open(path, other), SigningRecordMismatchError);
      assert.throws(
        () =>
          SigningRecord.open(path, {
            domain: { ...DOMAIN, chainId: 1n },
            deviceId: signer.deviceId,
          }),
        { code: "SIGNING_RECORD_MISMATCH", message: /record of chain 31337, not 1/ },
      );
      const record = SigningRecord.open(path);
      try {
        assert.throws(() => new DeviceSigner(other.keyStore, DOMAIN, undefined, record), {
          code: "SIGNING_RECORD_MISMATCH",
        });
      } finally {
        record.close();
      }
      assert.throws(() => SigningRecord.open(join(dir, "missing.sqlite")), SigningRecordError);
      assert.equal(existsSync(join(dir, "missing.sqlite")), false);
      const garbage = join(dir, "garbage.sqlite");
      await writeFile(garbage, "not a database");
      assert.throws(() => SigningRecord.open(garbage, signer), { code: "SIGNING_RECORD" });
    });
  });

  describe("export and import", function () {
    async function history(s: DeviceSigner): Promise<void> {
      await s.signReading(reading(1n, 1n));
      await s.signReading(reading(2n, 2n));
      const batch = readings(3n, 4);
      await s.signReadingBatch(header(s, batch), batch);
      await s.signReading(reading(1n, 5n, OTHER_FEED));
      await s.signAttestation({
        measurement: bytes32(),
        challenge: bytes32(),
        timestamp: 1n,
        bootCount: 2n,
      });
    }

    it("round-trips: the new hardware's record refuses what the old one refused and continues its sequence", async function () {
      await history(signer);
      const exported = signer.record.export();
      const copy = parseInterchange(JSON.parse(JSON.stringify(exported)) as unknown, "copy");
      assert.deepEqual(copy, exported);
      assert.deepEqual(exported.metadata, {
        chainId: "31337",
        verifyingContract: DOMAIN.verifyingContract,
        deviceId: signer.deviceId,
      });
      const moved = SigningRecord.open(join(dir, "new-hardware.sqlite"), signer);
      try {
        // Three readings signed alone, one batch (its four leaves come with it), the boot.
        assert.deepEqual(moved.import(copy), { readings: 3, batches: 1, attestation: true });
        assert.deepEqual(moved.export(), exported);
        const device = new DeviceSigner(store, DOMAIN, undefined, moved);
        await assert.rejects(device.signReading(reading(2n, 3n)), ReadingConflictError);
        await assert.rejects(device.signReading(reading(4n, 3n)), ReadingConflictError);
        await device.signReading(reading(2n, 2n));
        assert.equal(device.nextSequence(FEED), 7n);
        assert.equal(device.nextSequence(OTHER_FEED), 2n);
        // Importing the same again adds nothing.
        assert.deepEqual(moved.import(copy), { readings: 0, batches: 0, attestation: false });
      } finally {
        moved.close();
      }
    });

    it("merges two records: the higher marks and boot counter, the union of entries", async function () {
      await history(signer);
      const other = SigningRecord.inMemory(signer);
      const elsewhere = new DeviceSigner(store, DOMAIN, undefined, other);
      await elsewhere.signReading(reading(20n, 1n));
      await elsewhere.signAttestation({
        measurement: bytes32(),
        challenge: bytes32(),
        timestamp: 1n,
        bootCount: 1n,
      });
      const before = signer.record.attestation();
      signer.record.import(other.export());
      other.close();
      assert.equal(signer.nextSequence(FEED), 21n);
      assert.deepEqual(signer.record.attestation(), before, "the higher boot kept");
      await assert.rejects(signer.signReading(reading(20n, 2n)), ReadingConflictError);
      await assert.rejects(signer.signReading(reading(1n, 2n)), ReadingConflictError);
    });

    it("refuses a conflicting import with a typed error and merges nothing of it", async function () {
      await history(signer);
      const clone = SigningRecord.inMemory(signer);
      await new DeviceSigner(store, DOMAIN, undefined, clone).signReading(reading(30n, 1n));
      await new DeviceSigner(store, DOMAIN, undefined, clone).signReading(reading(2n, 99n));
      const before = signer.record.export();
      assert.throws(
        () => signer.record.import(clone.export()),
        (err: unknown) => {
          assert.ok(err instanceof SigningRecordImportConflictError);
          assert.equal(err.code, "SIGNING_RECORD_IMPORT_CONFLICT");
          assert.ok(err.cause instanceof ReadingConflictError);
          assert.match(err.message, /Nothing was imported/);
          return true;
        },
      );
      assert.deepEqual(signer.record.export(), before);
      // A batch overlapping another, and another measurement for an attested boot, are refused too.
      const batch = readings(5n, 4, 1n);
      const overlapping = SigningRecord.inMemory(signer);
      await new DeviceSigner(store, DOMAIN, undefined, overlapping).signReadingBatch(
        header(signer, batch),
        batch,
      );
      assert.throws(() => signer.record.import(overlapping.export()), {
        code: "SIGNING_RECORD_IMPORT_CONFLICT",
        message: /overlaps the batch of sequences 3\.\.6/,
      });
      const rebooted = SigningRecord.inMemory(signer);
      await new DeviceSigner(store, DOMAIN, undefined, rebooted).signAttestation({
        measurement: bytes32(),
        challenge: bytes32(),
        timestamp: 1n,
        bootCount: 2n,
      });
      assert.throws(() => signer.record.import(rebooted.export()), {
        code: "SIGNING_RECORD_IMPORT_CONFLICT",
      });
      for (const r of [clone, overlapping, rebooted]) r.close();
    });

    it("refuses another device's or deployment's interchange, and a malformed one", async function () {
      await history(signer);
      const exported = signer.record.export();
      const stranger = SigningRecord.inMemory({ domain: DOMAIN, deviceId: bytes32() });
      assert.throws(() => stranger.import(exported), SigningRecordMismatchError);
      stranger.close();
      const bad = (patch: Record<string, unknown>): unknown => ({ ...exported, ...patch });
      assert.throws(() => parseInterchange(bad({ version: 2 }), "f.json"), {
        code: "SIGNING_RECORD",
        message:
          /^f\.json is not a DeviceTrust signing record interchange \(version 1\): version 2/,
      });
      assert.throws(
        () =>
          parseInterchange(bad({ metadata: { ...exported.metadata, deviceId: "0x12" } }), "f.json"),
        { code: "SIGNING_RECORD", message: /metadata\.deviceId must be 32 bytes/ },
      );
      const feed = exported.feeds.find((f) => f.feedId === FEED);
      assert.ok(feed !== undefined);
      assert.throws(
        () =>
          parseInterchange(
            bad({ feeds: [{ ...feed, readings: [{ sequence: "-1", digest: bytes32() }] }] }),
            "f.json",
          ),
        { message: /sequence must be a uint64 as a decimal string, got "-1"/ },
      );
      assert.throws(
        () =>
          parseInterchange(
            bad({ feeds: [{ ...feed, readings: [{ sequence: "99", digest: bytes32() }] }] }),
            "f.json",
          ),
        { message: /sequence 99 is outside 0\.\.6/ },
      );
    });

    it("takes a minimal record (marks only): every sequence up to its high-water mark is refused", function () {
      const minimal: SigningRecordInterchange = {
        kind: "devicetrust-signing-record",
        version: 1,
        metadata: {
          chainId: "31337",
          verifyingContract: DOMAIN.verifyingContract,
          deviceId: signer.deviceId,
        },
        feeds: [{ feedId: FEED, lowWater: "51", highWater: "50", readings: [], batches: [] }],
        attestation: null,
      };
      signer.record.import(parseInterchange(minimal, "minimal"));
      assert.equal(signer.nextSequence(FEED), 51n);
      return assert.rejects(signer.signReading(reading(50n)), BelowLowWaterError);
    });

    it("moves through files: exportSigningRecord, then importSigningRecord creates the new record", async function () {
      const path = join(dir, "old.sqlite");
      const old = SigningRecord.open(path, signer);
      await history(new DeviceSigner(store, DOMAIN, undefined, old));
      old.close();
      const file = join(dir, "record.json");
      const out = await exportSigningRecord(path, file);
      assert.deepEqual(
        [out.record, out.file, out.deviceId, out.chainId, out.bootCount],
        [path, file, signer.deviceId, 31337n, 2n],
      );
      assert.equal(
        (JSON.parse(await readFile(file, "utf8")) as { kind: string }).kind,
        "devicetrust-signing-record",
      );
      const target = join(dir, "new", "record.sqlite");
      const imported = await importSigningRecord(target, file);
      assert.deepEqual(imported.imported, { readings: 3, batches: 1, attestation: true });
      assert.deepEqual(
        imported.feeds.map((f) => [f.feedId, f.nextSequence]),
        [
          [OTHER_FEED, 2n],
          [FEED, 7n],
        ],
      );
      await writeFile(join(dir, "bad.json"), "{");
      await assert.rejects(importSigningRecord(target, join(dir, "bad.json")), {
        code: "SIGNING_RECORD",
        message: /cannot read the interchange file .*bad\.json/,
      });
    });
  });

  describe("with a PKCS#11 key (SoftHSM2)", function () {
    let token: SoftHsmToken | undefined;

    before(async function () {
      requireSoftHsm(this);
      token = await createSoftHsmToken({ label: "signing-record" });
    });
    after(async function () {
      await token?.cleanup();
    });

    for (const curve of CURVES) {
      it(`protects a ${curve} key inside the token like a software key, across a restart`, async function () {
        if (token === undefined) throw new Error("no SoftHSM token");
        const hsm = await Pkcs11KeyStore.generate({
          module: token.modulePath,
          tokenLabel: token.tokenLabel,
          pin: token.pin,
          label: `record-${curve}`,
          curve,
        });
        const keys = counting(hsm);
        const id = new DeviceSigner(keys, DOMAIN).deviceId;
        const path = join(dir, `${curve}.sqlite`);
        try {
          const first = SigningRecord.open(path, { domain: DOMAIN, deviceId: id });
          const device = new DeviceSigner(keys, DOMAIN, id, first);
          const signed = await device.signReading(reading(1n, 10n));
          assert.equal(checkDeviceSignature(signed.key, signed.digest, signed.signature), "valid");
          const eight = readings(2n, 8);
          await device.signReadingBatch(header(device, eight), eight);
          first.close();
          const restarted = new DeviceSigner(
            keys,
            DOMAIN,
            id,
            SigningRecord.open(path, { domain: DOMAIN, deviceId: id }),
          );
          const asked = keys.signed.length;
          await assert.rejects(restarted.signReading(reading(1n, 11n)), ReadingConflictError);
          await assert.rejects(restarted.signReading(reading(5n, 11n)), ReadingConflictError);
          assert.equal(keys.signed.length, asked, "the token was never asked");
          assert.equal(restarted.nextSequence(FEED), 10n);
          restarted.record.close();
        } finally {
          await hsm.close();
        }
      });
    }
  });
});
