import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AbiCoder, keccak256 } from "ethers";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  batchOutOfBoundsProof,
  equivocationProof,
  outOfBoundsProof,
  parseProof,
  readProofFile,
  rotateKey,
  stakeShow,
  submitProof,
  submitProofFile,
  writeProofFile,
} from "../../src/client/index.js";
import {
  InvalidInputError,
  buildReadingBatch,
  structHash,
  type Hex,
  type ReadingMessage,
} from "../../src/protocol/index.js";
import { deadlineIn, networkHelpers, rejectsWith, tempDir } from "./fixture.js";
import {
  BOUNTY_BPS,
  FEED,
  RANGE,
  clonedDevice,
  stakedClonedDevice,
  stakingFixture,
  type StakingFixture,
} from "./staking-fixture.js";

const STAKE = 10_000n;
const INCIDENT_OUT_OF_BOUNDS = 3n;

async function stakedClone(f: StakingFixture, curve: "p256" | "secp256k1" = "p256") {
  const device = await stakedClonedDevice(f, curve, STAKE);
  const timestamp = BigInt(await networkHelpers.time.latest());
  const reading = { feedId: FEED, sequence: 7n, timestamp, value: 21_500n };
  const honest = await device.signer.signReading(reading);
  const forged = await device.cloneSigner.signReading({ ...reading, value: 30_000n });
  return { ...device, honest, forged, timestamp };
}

describe("client", function () {
  describe("submitProofFile", function () {
    for (const curve of ["p256", "secp256k1"] as const) {
      it(`slashes a ${curve} device that equivocated: bounty, loss, suspension`, async function () {
        const f = await networkHelpers.loadFixture(stakingFixture);
        const { deviceId, honest, forged } = await stakedClone(f, curve);
        const { dir, cleanup } = await tempDir();
        try {
          const file = join(dir, "proof.json");
          await writeProofFile(file, equivocationProof(honest, forged));
          const result = await submitProofFile({
            proofs: f.proofsAsOther,
            file,
            beneficiary: f.beneficiary.address,
          });
          const bounty = (STAKE * BOUNTY_BPS) / 10_000n;
          assert.equal(result.proofKind, "equivocation");
          assert.equal(result.kind, "Equivocation");
          assert.equal(result.deviceId, deviceId);
          assert.equal(result.slashed, STAKE);
          assert.equal(result.bounty, bounty);
          assert.equal(result.loss, STAKE - bounty);
          assert.equal(await f.tokenAsOther.balanceOf(f.beneficiary.address), bounty);
          assert.equal(await f.tokenAsOther.balanceOf(f.lossRecipient.address), STAKE - bounty);
          assert.equal((await f.asOther.deviceInfo(deviceId)).status, 2n); // Suspended
          assert.equal((await stakeShow(f.stakingAsOperator, deviceId)).slashable, 0n);
          const recorded = await f.proofsAsOther.incident(result.incident);
          assert.equal(recorded.slashed, STAKE);
          assert.equal(recorded.kind, 1n);

          // The same evidence again: used once only.
          await rejectsWith(
            submitProofFile({ proofs: f.proofsAsOther, file, beneficiary: f.other.address }),
            "ProofsEvidenceUsed",
          );
        } finally {
          await cleanup();
        }
      });
    }

    it("reverts when both readings are the same, decoded", async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const { honest } = await stakedClone(f);
      const err = await rejectsWith(
        submitProof(f.proofsAsOther, equivocationProof(honest, honest), f.beneficiary.address),
        "ProofsSameReading",
      );
      assert.match(err.message, /the two readings are identical/);
    });

    it("reverts when the device has no stake, decoded", async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const device = await clonedDevice(f);
      const timestamp = BigInt(await networkHelpers.time.latest());
      const reading = { feedId: FEED, sequence: 1n, timestamp, value: 1n };
      const a = await device.signer.signReading(reading);
      const b = await device.cloneSigner.signReading({ ...reading, value: 2n });
      await rejectsWith(
        submitProof(f.proofsAsOther, equivocationProof(a, b), f.beneficiary.address),
        "ProofsNoStake",
      );
    });

    it("reverts when the key was rotated out before the evidence's time, decoded; dated before the rotation, the same key proves", async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const device = await stakedClonedDevice(f, "p256", STAKE);
      const rotation = await rotateKey({
        registry: f.asOperator,
        current: device.store,
        next: SoftwareKeyStore.generate("secp256k1"),
        deadline: await deadlineIn(600),
      });
      const retiredAt = BigInt(await networkHelpers.time.latest());
      assert.equal(await f.asOther.keyRetiredAt(rotation.oldKeyHash), retiredAt);
      // Whoever kept the old key (the clone) signs an out-of-range reading dated after the rotation.
      const hot = { feedId: FEED, value: RANGE.max + 1n };
      const late = await device.cloneSigner.signReading({
        ...hot,
        sequence: 3n,
        timestamp: retiredAt + 5n,
      });
      const err = await rejectsWith(
        submitProof(f.proofsAsOther, outOfBoundsProof(late), f.beneficiary.address),
        "ProofsKeyRetired",
      );
      assert.deepEqual(err.args, [device.deviceId, rotation.oldKeyHash, retiredAt, retiredAt + 5n]);
      assert.match(
        err.message,
        /was rotated out at \d+ \(.*\), before the evidence's signed time \d+ .*: it was no longer the device's key then, so no proof applies/,
      );
      // Dated before the rotation, inside the window: the key was the device's then.
      const early = await device.cloneSigner.signReading({
        ...hot,
        sequence: 4n,
        timestamp: retiredAt - 1n,
      });
      const result = await submitProof(
        f.proofsAsOther,
        outOfBoundsProof(early),
        f.beneficiary.address,
      );
      assert.equal(result.kind, "OutOfBounds");
      assert.equal(result.slashed, STAKE);
    });

    it("proves a reading outside the maker's declared range", async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const { signer, deviceId, timestamp } = await stakedClone(f);
      const inside = await signer.signReading({
        feedId: FEED,
        sequence: 9n,
        timestamp,
        value: RANGE.max,
      });
      const within = await rejectsWith(
        submitProof(f.proofsAsOther, outOfBoundsProof(inside), f.beneficiary.address),
        "ProofsWithinRange",
      );
      assert.deepEqual(within.args, [RANGE.max, RANGE.min, RANGE.max]);
      const outside = await signer.signReading({
        feedId: FEED,
        sequence: 10n,
        timestamp,
        value: RANGE.max + 1n,
      });
      const result = await submitProof(
        f.proofsAsOther,
        outOfBoundsProof(outside),
        f.beneficiary.address,
      );
      assert.equal(result.kind, "OutOfBounds");
      assert.equal(result.deviceId, deviceId);
      assert.equal(result.slashed, STAKE);
    });
  });

  describe("submitProof batchOutOfBounds", function () {
    /**
     * A batch of 16 readings the device signed (built by buildReadingBatch: the root and proofs the
     * contract's MerkleProof checks), its leaf at `index` outside the declared range.
     */
    async function signedBatch(device: Awaited<ReturnType<typeof stakedClone>>, index: number) {
      const readings: ReadingMessage[] = Array.from({ length: 16 }, (_, i) => ({
        deviceId: device.deviceId,
        feedId: FEED,
        sequence: 100n + BigInt(i),
        timestamp: device.timestamp - 16n + BigInt(i),
        value: i === index ? RANGE.max + 1n : 21_000n + BigInt(i),
      }));
      const built = buildReadingBatch(readings);
      const { deviceId: _deviceId, ...unsigned } = built.batch;
      // With its leaves, so that the device may later sign a leaf alone (the same reading).
      const batch = await device.signer.signReadingBatch(unsigned, readings);
      const leaf = (i: number) => {
        const reading = readings[i];
        const proof = built.proofs[i];
        assert.ok(reading !== undefined && proof !== undefined);
        return { reading, proof };
      };
      return { batch, leaf };
    }

    for (const curve of ["p256", "secp256k1"] as const) {
      it(`proves a ${curve} leaf of a TypeScript-built batch outside the range, once in either form`, async function () {
        const f = await networkHelpers.loadFixture(stakingFixture);
        const device = await stakedClone(f, curve);
        const { batch, leaf } = await signedBatch(device, 11);
        const { reading, proof } = leaf(11);
        const { dir, cleanup } = await tempDir();
        try {
          const file = join(dir, "batch-oob.json");
          await writeProofFile(file, batchOutOfBoundsProof(batch, reading, proof));
          const result = await submitProofFile({
            proofs: f.proofsAsOther,
            file,
            beneficiary: f.beneficiary.address,
          });
          assert.equal(result.proofKind, "batchOutOfBounds");
          assert.equal(result.kind, "OutOfBounds");
          assert.equal(result.deviceId, device.deviceId);
          assert.equal(result.slashed, STAKE);
          // The incident of the same reading proven alone: keccak256(abi.encode(OutOfBounds, structHash)).
          const id = keccak256(
            AbiCoder.defaultAbiCoder().encode(
              ["uint8", "bytes32"],
              [INCIDENT_OUT_OF_BOUNDS, structHash("Reading", reading)],
            ),
          ) as Hex;
          assert.equal(result.incident, id);
          assert.equal((await f.proofsAsOther.incident(id)).kind, INCIDENT_OUT_OF_BOUNDS);

          const { deviceId: _deviceId, ...unsigned } = reading;
          const alone = await device.signer.signReading(unsigned);
          const used = await rejectsWith(
            submitProof(f.proofsAsOther, outOfBoundsProof(alone), f.other.address),
            "ProofsEvidenceUsed",
          );
          assert.deepEqual(used.args, [id]);
        } finally {
          await cleanup();
        }
      });
    }

    it("reverts for a leaf inside the range and for a proof of another leaf, decoded", async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const device = await stakedClone(f);
      const { batch, leaf } = await signedBatch(device, 3);
      const inside = leaf(4);
      const within = await rejectsWith(
        submitProof(
          f.proofsAsOther,
          batchOutOfBoundsProof(batch, inside.reading, inside.proof),
          f.beneficiary.address,
        ),
        "ProofsWithinRange",
      );
      assert.deepEqual(within.args, [inside.reading.value, RANGE.min, RANGE.max]);
      const { reading } = leaf(3);
      await rejectsWith(
        submitProof(
          f.proofsAsOther,
          batchOutOfBoundsProof(batch, reading, inside.proof),
          f.beneficiary.address,
        ),
        "ProofsNotInBatch",
      );
    });
  });

  describe("parseProof", function () {
    it("round-trips a proof file with bigints as decimal strings", async function () {
      const f = await networkHelpers.loadFixture(stakingFixture);
      const { honest, forged, signer } = await stakedClone(f);
      const { dir, cleanup } = await tempDir();
      try {
        const file = join(dir, "p.json");
        const proof = equivocationProof(honest, forged);
        await writeProofFile(file, proof);
        assert.deepEqual(await readProofFile(file), proof);
        const readings: ReadingMessage[] = [honest.message, { ...honest.message, sequence: 8n }];
        const built = buildReadingBatch(readings);
        const { deviceId: _deviceId, ...unsigned } = built.batch;
        const batch = await signer.signReadingBatch(unsigned, readings);
        const batchProof = batchOutOfBoundsProof(batch, honest.message, built.proofs[0] ?? []);
        await writeProofFile(file, batchProof);
        assert.deepEqual(await readProofFile(file), batchProof);
      } finally {
        await cleanup();
      }
    });

    it("names the bad field of a malformed proof file", async function () {
      assert.throws(() => parseProof({ kind: "bribery" }), /kind must be equivocation/);
      assert.throws(
        () => parseProof({ kind: "batchOutOfBounds", reading: { batch: {}, reading: {} } }),
        (err: unknown) =>
          err instanceof InvalidInputError && err.message.includes("reading.proof must be a list"),
      );
      assert.throws(
        () => parseProof({ kind: "outOfBounds", reading: { reading: {} } }),
        (err: unknown) =>
          err instanceof InvalidInputError && err.message.includes("reading.reading.deviceId"),
      );
      const { dir, cleanup } = await tempDir();
      try {
        const file = join(dir, "bad.json");
        await writeFile(file, "{not json");
        await assert.rejects(readProofFile(file), /cannot read proof file/);
      } finally {
        await cleanup();
      }
    });
  });
});
