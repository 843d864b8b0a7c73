import assert from "node:assert/strict";
import { DeviceSigner } from "../../src/device/device-signer.js";
import {
  NotAnchoredError,
  anchorPath,
  readingAnchorAt,
  registryDomain,
  verifyAnchoredReading,
} from "../../src/client/index.js";
import {
  EMPTY_ANCHOR_HEAD,
  asHex,
  buildReadingBatch,
  linkAnchorHead,
  structHash,
  type ReadingMessage,
} from "../../src/protocol/index.js";
import { deployFixture, ethers, networkHelpers, registeredDevice } from "./fixture.js";

const FEED = asHex(`0x${"ab".repeat(32)}`, "feed", 32);

async function setup() {
  const f = await deployFixture();
  const device = await registeredDevice(f, "p256");
  const signer = new DeviceSigner(device.store, await registryDomain(f.asOperator));
  const deployed = await ethers.deployContract("ReadingAnchor", [f.address]);
  const anchor = readingAnchorAt(await deployed.getAddress(), f.operator);
  const now = BigInt(await networkHelpers.time.latest());
  const readingsFrom = (first: bigint): ReadingMessage[] =>
    Array.from({ length: 5 }, (_, i) => ({
      deviceId: device.deviceId,
      feedId: FEED,
      sequence: first + BigInt(i),
      timestamp: now - 10n + BigInt(i),
      value: 2_000n + BigInt(i),
    }));
  const anchorBatch = async (first: bigint) => {
    const readings = readingsFrom(first);
    const built = buildReadingBatch(readings);
    const { deviceId: _id, ...unsigned } = built.batch;
    const signed = await signer.signReadingBatch(unsigned);
    await (await anchor.anchor(signed.message, signed.key, signed.signature)).wait();
    return { readings, built };
  };
  return { anchor, anchorBatch, deviceId: device.deviceId };
}

describe("Anchor proofs (src/client/anchor-proof.ts)", function () {
  describe("linkAnchorHead", function () {
    it("computes the head the contract stores", async function () {
      const { anchor, anchorBatch, deviceId } = await networkHelpers.loadFixture(setup);
      const a = await anchorBatch(1n);
      const b = await anchorBatch(6n);
      const head = linkAnchorHead(
        linkAnchorHead(EMPTY_ANCHOR_HEAD, structHash("ReadingBatch", a.built.batch)),
        structHash("ReadingBatch", b.built.batch),
      );
      const cursor = await anchor.cursorOf(deviceId, FEED);
      assert.equal(cursor.head, head);
      assert.equal(cursor.lastSequence, 10n);
    });
  });

  describe("verifyAnchoredReading", function () {
    it("proves a reading of an older batch through the later batch hashes", async function () {
      const { anchor, anchorBatch } = await networkHelpers.loadFixture(setup);
      const first = await anchorBatch(1n);
      await anchorBatch(6n);
      await anchorBatch(11n);
      const reading = first.readings[3];
      const proof = first.built.proofs[3];
      assert.ok(reading !== undefined && proof !== undefined);
      const { verified, path } = await verifyAnchoredReading(
        anchor,
        reading,
        proof,
        first.built.batch,
      );
      assert.equal(verified, true);
      assert.equal(path.previousHead, EMPTY_ANCHOR_HEAD);
      assert.equal(path.laterBatchHashes.length, 2);
      assert.equal(path.endsAt, "head");
      const forged = { ...reading, value: reading.value + 1n };
      assert.equal(
        (await verifyAnchoredReading(anchor, forged, proof, first.built.batch)).verified,
        false,
      );
    });

    it("stops at a checkpoint", async function () {
      const { anchor, anchorBatch, deviceId } = await networkHelpers.loadFixture(setup);
      await anchorBatch(1n);
      const second = await anchorBatch(6n);
      await (await anchor.checkpoint(deviceId, FEED)).wait();
      await anchorBatch(11n);
      await anchorBatch(16n);
      const path = await anchorPath(anchor, second.built.batch);
      assert.equal(path.endsAt, "checkpoint");
      assert.equal(path.laterBatchHashes.length, 0);
      const reading = second.readings[0];
      const proof = second.built.proofs[0];
      assert.ok(reading !== undefined && proof !== undefined);
      assert.equal(
        (await verifyAnchoredReading(anchor, reading, proof, second.built.batch)).verified,
        true,
      );
    });

    it("refuses a batch that was never anchored", async function () {
      const { anchor, anchorBatch } = await networkHelpers.loadFixture(setup);
      const first = await anchorBatch(1n);
      const other = { ...first.built.batch, root: asHex(`0x${"11".repeat(32)}`, "root", 32) };
      await assert.rejects(anchorPath(anchor, other), NotAnchoredError);
    });
  });
});
