import assert from "node:assert/strict";
import { GasModel, MAX_GAS_PER_TX, MEASURED_GAS, type GasItem } from "../../src/gateway/index.js";
import { KeyType } from "../../src/protocol/index.js";

const P256: GasItem = { key: { keyType: KeyType.P256, key: `0x${"11".repeat(64)}` }, first: false };
const K1: GasItem = {
  key: { keyType: KeyType.Secp256k1, key: `0x${"22".repeat(20)}` },
  first: false,
};

describe("GasModel", function () {
  describe("submitMany", function () {
    it("sums the base, the round, each reading by curve and first slot, then adds 25% (rounded up)", function () {
      const model = new GasModel();
      const gas = model.submitMany([{ ...P256, first: true }, K1], true);
      const raw =
        MEASURED_GAS.submitBase +
        MEASURED_GAS.roundCommit +
        MEASURED_GAS.reading.p256 +
        MEASURED_GAS.firstReading +
        MEASURED_GAS.reading.secp256k1;
      assert.equal(gas.raw, BigInt(raw));
      assert.equal(gas.limit, (BigInt(raw) * 125n + 99n) / 100n);
    });

    it("counts the Solidity verifier for each P-256 signature on a chain without the precompile", function () {
      const model = new GasModel();
      const withPrecompile = model.submitMany([P256, P256, K1], true);
      const without = model.submitMany([P256, P256, K1], false);
      assert.equal(
        without.raw - withPrecompile.raw,
        2n * BigInt(MEASURED_GAS.p256WithoutPrecompile),
      );
    });

    it("caps a limit at EIP-7825's 2^24", function () {
      const gas = new GasModel().submitMany(Array<GasItem>(500).fill(P256), false);
      assert.ok(gas.raw > MAX_GAS_PER_TX);
      assert.equal(gas.limit, MAX_GAS_PER_TX);
    });
  });

  describe("learn", function () {
    it("adds the shortfall per item (rounded up) to every later item of its kind", function () {
      const model = new GasModel();
      const before = model.submitMany([P256, K1], true).raw;
      assert.equal(model.learn("reading", 4, 100_000n, 130_001n), 7_501);
      assert.equal(model.submitMany([P256, K1], true).raw, before + 2n * 7_501n);
      assert.deepEqual(model.learned, { reading: 7_501, batch: 0 });
      assert.equal(
        model.anchorMany([P256], true).raw,
        BigInt(MEASURED_GAS.anchorBase + MEASURED_GAS.batch.p256),
      );
    });

    it("learns nothing from an estimate the model covered", function () {
      const model = new GasModel();
      assert.equal(model.learn("batch", 3, 100_000n, 90_000n), 0);
      assert.deepEqual(model.learned, { reading: 0, batch: 0 });
    });
  });
});
