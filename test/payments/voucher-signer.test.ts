import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeviceSigner } from "../../src/device/device-signer.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  VoucherRecord,
  VoucherRecordError,
  VoucherRegressionError,
  VoucherSigner,
} from "../../src/payments/index.js";
import { digest, type Curve, type Domain, type Hex } from "../../src/protocol/index.js";
import { checkDeviceSignature } from "../../src/verify/signature.js";

const CHANNELS: Domain = {
  chainId: 31337n,
  verifyingContract: "0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0",
};
const CHANNEL: Hex = `0x${"c7".repeat(32)}`;
const OTHER_CHANNEL: Hex = `0x${"c8".repeat(32)}`;
const CURVES: readonly Curve[] = ["p256", "secp256k1"];

describe("VoucherSigner", function () {
  let dir: string;
  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), "vouchers-"));
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  describe("signVoucher", function () {
    for (const curve of CURVES) {
      it(`signs the protocol's Voucher digest under the channel contract's domain (${curve})`, async function () {
        const store = SoftwareKeyStore.generate(curve);
        const v = await new VoucherSigner(store, CHANNELS).signVoucher(CHANNEL, 5n);
        assert.equal(
          v.digest,
          digest(CHANNELS, "Voucher", { channel: CHANNEL, cumulativeAmount: 5n }),
        );
        assert.equal(checkDeviceSignature(v.key, v.digest, v.signature), "valid");
        await store.close();
      });
    }

    it("refuses a lower amount after a higher one for the same channel", async function () {
      const store = SoftwareKeyStore.generate("p256");
      const signer = new VoucherSigner(store, CHANNELS);
      await signer.signVoucher(CHANNEL, 10n);
      await assert.rejects(signer.signVoucher(CHANNEL, 9n), (err: unknown) => {
        assert.ok(err instanceof VoucherRegressionError);
        assert.equal(err.code, "VOUCHER_REGRESSION");
        assert.equal(err.signed, 10n);
        assert.match(err.message, /Sign the running total, at least 10/);
        return true;
      });
      // The same amount again is the same voucher; another channel has its own mark.
      await signer.signVoucher(CHANNEL, 10n);
      await signer.signVoucher(OTHER_CHANNEL, 1n);
      assert.equal((await signer.latest(CHANNEL))?.cumulativeAmount, 10n);
      await store.close();
    });

    it("keeps the highest amount across a restart when given a record file", async function () {
      const store = SoftwareKeyStore.generate("p256");
      const path = join(dir, "vouchers.sqlite");
      const identity = { domain: CHANNELS, deviceId: new VoucherSigner(store, CHANNELS).deviceId };
      const first = VoucherRecord.open(path, identity);
      const signed = await new VoucherSigner(store, CHANNELS, undefined, first).signVoucher(
        CHANNEL,
        42n,
      );
      first.close();

      const again = VoucherRecord.open(path, identity);
      const signer = new VoucherSigner(store, CHANNELS, undefined, again);
      await assert.rejects(signer.signVoucher(CHANNEL, 41n), VoucherRegressionError);
      const latest = await signer.latest(CHANNEL);
      assert.equal(latest?.cumulativeAmount, 42n);
      assert.equal(latest.signature, signed.signature);
      again.close();
      await store.close();
    });

    it("re-signs the latest amount when a crash lost its signature", async function () {
      const store = SoftwareKeyStore.generate("secp256k1");
      const signer = new VoucherSigner(store, CHANNELS);
      // What a crash between the record's commit and the key store's signature leaves.
      signer.record.authorize(CHANNEL, 7n);
      const latest = await signer.latest(CHANNEL);
      assert.equal(latest?.cumulativeAmount, 7n);
      assert.equal(checkDeviceSignature(latest.key, latest.digest, latest.signature), "valid");
      await store.close();
    });

    it("refuses a record of another device or channel contract", async function () {
      const store = SoftwareKeyStore.generate("p256");
      const other = SoftwareKeyStore.generate("p256");
      const record = VoucherRecord.inMemory({
        domain: CHANNELS,
        deviceId: new VoucherSigner(other, CHANNELS).deviceId,
      });
      assert.throws(
        () => new VoucherSigner(store, CHANNELS, undefined, record),
        VoucherRecordError,
      );
      const path = join(dir, "r.sqlite");
      VoucherRecord.open(path, {
        domain: CHANNELS,
        deviceId: new VoucherSigner(store, CHANNELS).deviceId,
      }).close();
      assert.throws(
        () =>
          VoucherRecord.open(path, {
            domain: { ...CHANNELS, chainId: 1n },
            deviceId: new VoucherSigner(store, CHANNELS).deviceId,
          }),
        /another chainId/,
      );
      await store.close();
      await other.close();
    });
  });

  describe("DeviceSigner", function () {
    it("refuses to sign a Voucher (wrong domain, no record)", async function () {
      const store = SoftwareKeyStore.generate("p256");
      const signer = new DeviceSigner(store, CHANNELS);
      await assert.rejects(
        signer.sign("Voucher", { channel: CHANNEL, cumulativeAmount: 1n }),
        /VoucherSigner/,
      );
      await store.close();
    });
  });
});
