import assert from "node:assert/strict";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  ChannelExpiredError,
  NATIVE_TOKEN,
  UnknownChannelError,
  VoucherExceedsDepositError,
  VoucherNotNewerError,
  VoucherSignatureError,
  VoucherSigner,
  VoucherVerifier,
  channelIdOf,
  type ChannelTerms,
} from "../../src/payments/index.js";
import { CURVE_ORDER, type Curve, type Domain, type Hex } from "../../src/protocol/index.js";

const CHANNELS: Domain = {
  chainId: 31337n,
  verifyingContract: "0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0",
};
const NOW = 1_800_000_000n;
const DEPOSIT = 1_000n;

function setup(curve: Curve, domain: Domain = CHANNELS) {
  const store = SoftwareKeyStore.generate(curve);
  const signer = new VoucherSigner(store, domain);
  const terms: ChannelTerms = {
    buyer: `0x${"b0".repeat(20)}`,
    seller: `0x${"5e".repeat(20)}`,
    buyerDevice: signer.deviceId,
    token: NATIVE_TOKEN,
    pricePerUnit: 1n,
    nonce: 0n,
  };
  const verifier = new VoucherVerifier(CHANNELS, { now: () => NOW, closeMargin: 60n });
  const channel = verifier.track({
    terms,
    deposit: DEPOSIT,
    expiry: NOW + 3600n,
    key: store.deviceKey,
  });
  return { store, signer, terms, verifier, channel };
}

describe("VoucherVerifier", function () {
  describe("track", function () {
    it("names the channel by the contract's id (keccak256 of the ABI-encoded terms)", function () {
      const { terms, channel } = setup("p256");
      assert.equal(channel, channelIdOf(terms));
      // PaymentChannel.channelId of these terms (abi.encode of six words), computed independently.
      assert.match(channel, /^0x[0-9a-f]{64}$/);
    });

    it("keeps the latest voucher on a re-track, and drops it when `accepted` rises above it (no signature for that amount)", async function () {
      const { store, signer, terms, verifier, channel } = setup("p256");
      const v = await signer.signVoucher(channel, 100n);
      verifier.verify(v);
      const tracked = { terms, deposit: 2n * DEPOSIT, expiry: NOW + 3600n, key: store.deviceKey };
      verifier.track({ ...tracked, accepted: 50n });
      assert.equal(verifier.latest(channel)?.signature, v.signature);
      verifier.track({ ...tracked, accepted: 500n });
      assert.equal(
        verifier.latest(channel),
        undefined,
        "closing with 500 and the 100 voucher would revert",
      );
      assert.throws(() => verifier.verify(v), VoucherNotNewerError);
    });
  });

  describe("verify", function () {
    for (const curve of ["p256", "secp256k1"] as const) {
      it(`accepts rising vouchers of the buyer device (${curve})`, async function () {
        const { signer, verifier, channel } = setup(curve);
        const a = verifier.verify(await signer.signVoucher(channel, 100n));
        assert.equal(a.increment, 100n);
        const b = verifier.verify(await signer.signVoucher(channel, 250n));
        assert.equal(b.increment, 150n);
        assert.equal(verifier.latest(channel)?.cumulativeAmount, 250n);
      });
    }

    it("rejects a voucher not above the latest accepted (a replay)", async function () {
      const { signer, verifier, channel } = setup("p256");
      const v = await signer.signVoucher(channel, 100n);
      verifier.verify(v);
      assert.throws(
        () => verifier.verify(v),
        (err: unknown) => err instanceof VoucherNotNewerError && err.code === "VOUCHER_NOT_NEWER",
      );
    });

    it("rejects an amount above the deposit", async function () {
      const { signer, verifier, channel } = setup("p256");
      assert.throws(
        () => verifier.verify({ channel, cumulativeAmount: DEPOSIT + 1n, signature: "0x" }),
        (err: unknown) =>
          err instanceof VoucherExceedsDepositError && err.message.includes("tops up"),
      );
      verifier.verify(await signer.signVoucher(channel, DEPOSIT));
    });

    it("rejects vouchers once the channel leaves no time to close", function () {
      const { terms, store } = setup("p256");
      const verifier = new VoucherVerifier(CHANNELS, { now: () => NOW, closeMargin: 60n });
      const channel = verifier.track({
        terms,
        deposit: DEPOSIT,
        expiry: NOW + 60n,
        key: store.deviceKey,
      });
      assert.throws(
        () => verifier.verify({ channel, cumulativeAmount: 1n, signature: "0x" }),
        ChannelExpiredError,
      );
    });

    it("rejects a channel it does not track", function () {
      const { verifier } = setup("p256");
      const other: Hex = `0x${"01".repeat(32)}`;
      assert.throws(
        () => verifier.verify({ channel: other, cumulativeAmount: 1n, signature: "0x" }),
        UnknownChannelError,
      );
    });

    it("rejects a voucher for another amount, channel contract or key, and changes nothing", async function () {
      const { signer, verifier, channel } = setup("p256");
      const v = await signer.signVoucher(channel, 100n);
      const expectBad = (
        voucher: { channel: Hex; cumulativeAmount: bigint; signature: Hex },
        verdict: string,
      ) =>
        assert.throws(
          () => verifier.verify(voucher),
          (err: unknown) => err instanceof VoucherSignatureError && err.verdict === verdict,
        );
      expectBad({ ...v, cumulativeAmount: 101n }, "wrong-signer");
      const elsewhere = new VoucherSigner(signer.keyStore, { ...CHANNELS, chainId: 1n });
      expectBad(await elsewhere.signVoucher(channel, 100n), "wrong-signer");
      const stranger = new VoucherSigner(SoftwareKeyStore.generate("p256"), CHANNELS);
      expectBad(await stranger.signVoucher(channel, 100n), "wrong-signer");
      expectBad({ ...v, signature: `${v.signature}00` as Hex }, "bad-signature-length");
      expectBad({ ...v, signature: "0xzz" }, "malformed");
      const s = BigInt(`0x${v.signature.slice(66)}`);
      const high =
        `${v.signature.slice(0, 66)}${(CURVE_ORDER.p256 - s).toString(16).padStart(64, "0")}` as Hex;
      expectBad({ ...v, signature: high }, "high-s");
      assert.equal(verifier.latest(channel), undefined);
      verifier.verify(v);
    });

    it("follows a key rotation (setKey)", async function () {
      const { verifier, channel, signer } = setup("secp256k1");
      verifier.verify(await signer.signVoucher(channel, 1n));
      const next = SoftwareKeyStore.generate("p256");
      const rotated = new VoucherSigner(next, CHANNELS, signer.deviceId);
      verifier.setKey(channel, next.deviceKey);
      // The old key's voucher no longer counts: the contract takes only the current key's.
      const old = await signer.signVoucher(channel, 2n);
      assert.throws(() => verifier.verify(old), VoucherSignatureError);
      verifier.verify(await rotated.signVoucher(channel, 2n));
    });
  });
});
