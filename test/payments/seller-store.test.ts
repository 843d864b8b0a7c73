import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getAddress } from "ethers";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  NATIVE_TOKEN,
  SellerVoucherStore,
  VoucherNotNewerError,
  VoucherRecordError,
  VoucherSignatureError,
  VoucherSigner,
  VoucherVerifier,
  channelIdOf,
  parseVoucherFile,
  voucherFileJson,
  type ChannelTerms,
} from "../../src/payments/index.js";
import { InvalidInputError, type Domain, type Hex } from "../../src/protocol/index.js";

const CHANNELS: Domain = {
  chainId: 31337n,
  verifyingContract: "0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0",
};
const SELLER = getAddress(`0x${"5e".repeat(20)}`) as Hex;
const BUYER = getAddress(`0x${"b0".repeat(20)}`) as Hex;
const NOW = 1_800_000_000n;

function channelOf(store: SoftwareKeyStore) {
  const signer = new VoucherSigner(store, CHANNELS);
  const terms: ChannelTerms = {
    buyer: BUYER,
    seller: SELLER,
    buyerDevice: signer.deviceId,
    token: NATIVE_TOKEN,
    pricePerUnit: 1n,
    nonce: 0n,
  };
  const tracked = { terms, deposit: 1_000n, expiry: NOW + 3_600n, key: store.deviceKey };
  return { signer, terms, tracked, channel: channelIdOf(terms) };
}

describe("SellerVoucherStore", function () {
  let dir: string;
  const key = SoftwareKeyStore.generate("p256");

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), "devicetrust-seller-store-"));
  });

  after(async function () {
    await key.close();
    await rm(dir, { recursive: true, force: true });
  });

  const open = (path: string) =>
    SellerVoucherStore.open(path, { domain: CHANNELS, seller: SELLER });
  const verifierOn = (store: SellerVoucherStore) =>
    new VoucherVerifier(CHANNELS, { store, now: () => NOW, closeMargin: 60n });

  describe("with VoucherVerifier", function () {
    it("keeps the latest accepted voucher across a restart (a new store and verifier on the file)", async function () {
      const path = join(dir, "restart", "seller.sqlite");
      const { signer, tracked, channel } = channelOf(key);
      const first = open(path);
      verifierOn(first).track(tracked);
      const v = verifierOn(first);
      v.verify(await signer.signVoucher(channel, 100n));
      const latest = await signer.signVoucher(channel, 250n);
      v.verify(latest);
      first.close();

      const again = open(path);
      const resumed = verifierOn(again);
      assert.deepEqual(
        { ...resumed.latest(channel), key: undefined },
        {
          channel,
          cumulativeAmount: 250n,
          signature: latest.signature,
          key: undefined,
          increment: 0n,
        },
      );
      assert.equal(again.get(channel)?.accepted, 250n);
      assert.deepEqual(again.get(channel)?.terms, tracked.terms);
      again.close();
    });

    it("never goes lower: a lower or equal voucher is refused after a restart, and by the store itself", async function () {
      const path = join(dir, "lower", "seller.sqlite");
      const { signer, tracked, channel } = channelOf(key);
      const store = open(path);
      const v = verifierOn(store);
      v.track(tracked);
      const high = await signer.signVoucher(channel, 500n);
      v.verify(high);
      store.close();

      const reopened = open(path);
      // A fresh signer (a record of its own) signs lower: valid, but below what the seller holds.
      const low = await new VoucherSigner(key, CHANNELS).signVoucher(channel, 300n);
      const resumed = verifierOn(reopened);
      assert.throws(() => resumed.verify(low), VoucherNotNewerError);
      assert.throws(() => resumed.verify(high), VoucherNotNewerError, "a replay");
      assert.throws(
        () => reopened.accept(channel, 400n, high.signature),
        (err: unknown) => err instanceof VoucherNotNewerError && err.latest === 500n,
      );
      // Tracking again (a top-up) keeps the accepted amount.
      verifierOn(reopened).track({ ...tracked, deposit: 2_000n, accepted: 0n });
      assert.deepEqual(
        [reopened.get(channel)?.deposit, reopened.get(channel)?.accepted],
        [2_000n, 500n],
      );
      reopened.close();
    });

    it("a rejected voucher changes nothing in the store", async function () {
      const store = SellerVoucherStore.inMemory({ domain: CHANNELS, seller: SELLER });
      const { signer, tracked, channel } = channelOf(key);
      const v = verifierOn(store);
      v.track(tracked);
      const voucher = await signer.signVoucher(channel, 10n);
      assert.throws(() => v.verify({ ...voucher, cumulativeAmount: 11n }), VoucherSignatureError);
      assert.deepEqual(
        [store.get(channel)?.accepted, store.get(channel)?.signature],
        [0n, undefined],
      );
      store.close();
    });

    it("refuses a store of another seller, chain or channel contract", function () {
      const path = join(dir, "identity", "seller.sqlite");
      open(path).close();
      assert.throws(
        () => SellerVoucherStore.open(path, { domain: CHANNELS, seller: `0x${"11".repeat(20)}` }),
        /seller voucher store of another seller/,
      );
      const store = SellerVoucherStore.inMemory({
        domain: { ...CHANNELS, chainId: 1n },
        seller: SELLER,
      });
      assert.throws(() => verifierOn(store), VoucherRecordError);
      const mine = SellerVoucherStore.inMemory({ domain: CHANNELS, seller: SELLER });
      const { tracked } = channelOf(key);
      assert.throws(
        () =>
          mine.track({ ...tracked, terms: { ...tracked.terms, seller: `0x${"22".repeat(20)}` } }),
        /open the store of the terms' seller/,
      );
      store.close();
      mine.close();
    });
  });

  describe("voucher files", function () {
    it("round-trip through JSON, and a damaged one is refused", async function () {
      const { signer, terms, channel } = channelOf(key);
      const signed = await signer.signVoucher(channel, 42n);
      const json = JSON.parse(JSON.stringify(voucherFileJson(CHANNELS, terms, signed))) as unknown;
      const file = parseVoucherFile(json, "v.json");
      assert.deepEqual(file, {
        domain: {
          chainId: CHANNELS.chainId,
          verifyingContract: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
        },
        terms: { ...terms, buyerDevice: terms.buyerDevice.toLowerCase() },
        channel,
        cumulativeAmount: 42n,
        signature: signed.signature,
        key: signed.key,
      });
      assert.throws(
        () => parseVoucherFile({ kind: "other" }, "x.json"),
        /not a DeviceTrust voucher/,
      );
      assert.throws(
        () => parseVoucherFile({ ...(json as object), signature: "nope" }, "x.json"),
        InvalidInputError,
      );
    });
  });
});
