import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import { Wallet, parseEther, type ErrorFragment, type HDNodeWallet, type Provider } from "ethers";
import type { NetworkHelpers } from "@nomicfoundation/hardhat-network-helpers/types";
import {
  ContractError,
  UserOperationRevertedError,
  EXPLAINED_CHANNEL_ERRORS,
  EXPLAINED_ERRORS,
  NATIVE,
  acceptChannelVoucher,
  channelInterface,
  decodeAccountRevertData,
  decodeChannelRevertData,
  channelDomain,
  openChannel,
  paymentChannelAt,
  reclaimChannel,
  sellerStorePath,
  settleFromStore,
  showChannel,
  signChannelVoucher,
  type AccountFile,
  type OperationRoute,
  type PaymentChannel,
} from "../../src/client/index.js";
import {
  channelBuyerAccount,
  deployAccountSystem,
  deployPaymentChannel,
  fund,
  registerAndAttest,
  type AccountSystem,
} from "../../src/client/account-local.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  SellerVoucherStore,
  VoucherExceedsDepositError,
  VoucherNotNewerError,
  VoucherRegressionError,
  parseVoucherFile,
} from "../../src/payments/index.js";
import type { Hex } from "../../src/protocol/index.js";

describe("client: payment channel errors (offline)", function () {
  it("explains every PaymentChannel custom error, and the account decodes them", function () {
    const names = channelInterface.fragments
      .filter((f): f is ErrorFragment => f.type === "error")
      .map((f) => f.name);
    // EIP712's ShortStrings, met only at deployment with a long name.
    const internal = ["InvalidShortString", "StringTooLong"];
    const unexplained = names.filter(
      (n) =>
        !EXPLAINED_CHANNEL_ERRORS.includes(n) &&
        !EXPLAINED_ERRORS.includes(n) &&
        !internal.includes(n),
    );
    assert.deepEqual(unexplained, []);
    const data = channelInterface.encodeErrorResult("ChannelNotExpired", [2_000n, 1_000n]);
    assert.equal(decodeAccountRevertData(data)?.code, "ChannelNotExpired");
    assert.match(String(decodeChannelRevertData(data)?.message), /reclaim from then on/);
  });
});

describe("client: payment channels", function () {
  this.timeout(120_000);
  let helpers: NetworkHelpers;
  let provider: Provider;
  let system: AccountSystem;
  let channelsAddress: Hex;
  let seller: HDNodeWallet;
  let sellerChannels: PaymentChannel;
  let vehicle: SoftwareKeyStore;
  let deviceId: Hex;
  let account: Hex;
  let route: OperationRoute;
  let dir: string;

  before(async function () {
    const conn = await network.create();
    helpers = conn.networkHelpers;
    provider = conn.ethers.provider;
    const signers = await conn.ethers.getSigners();
    system = await deployAccountSystem({
      deployer: signers[0] as never,
      maker: signers[6] as never,
      deviceOperator: signers[7] as never,
      send: (method, params) => conn.ethers.provider.send(method, params),
    });
    channelsAddress = await deployPaymentChannel(system.deployer, system.registryAddress);
    seller = Wallet.createRandom().connect(provider);
    await (
      await system.deployer.sendTransaction({ to: seller.address, value: parseEther("1") })
    ).wait();
    sellerChannels = paymentChannelAt(channelsAddress, seller);
    vehicle = SoftwareKeyStore.generate("p256");
    deviceId = await registerAndAttest(system, vehicle);
    let accountFile: AccountFile;
    ({ account, accountFile } = await channelBuyerAccount(system, {
      channels: channelsAddress,
      deviceId,
      salt: "vehicle-1",
      tokenCap: parseEther("1000"),
      nativeCap: parseEther("3"),
    }));
    await fund(system, account, parseEther("100"), parseEther("5"));
    route = {
      provider,
      signers: { verifier: system.verifier, devices: [{ deviceId, store: vehicle }] },
      wallet: signers[1],
      accountFile,
    };
    dir = await mkdtemp(join(tmpdir(), "devicetrust-channels-"));
  });

  after(async function () {
    await vehicle.close();
    await rm(dir, { recursive: true, force: true });
  });

  const chainTime = async (): Promise<bigint> =>
    BigInt((await provider.getBlock("latest"))?.timestamp ?? 0);
  const open = async (token: Hex, deposit: bigint, seconds = 3_600n) =>
    openChannel(
      {
        channels: channelsAddress,
        account,
        seller: seller.address,
        buyerDevice: deviceId,
        token,
        deposit,
        expiry: (await chainTime()) + seconds,
      },
      route,
    );
  const sign = async (channel: Hex, amount: bigint) => {
    const signed = await signChannelVoucher({
      channels: paymentChannelAt(channelsAddress, provider),
      keyStore: vehicle,
      deviceId,
      channel,
      cumulativeAmount: amount,
      dir,
    });
    return signed.voucher;
  };
  /** The seller's store, opened anew each time: as a restarted process would. */
  const sellerStore = async () =>
    SellerVoucherStore.open(
      sellerStorePath(dir, await channelDomain(sellerChannels), seller.address),
      { domain: await channelDomain(sellerChannels), seller: seller.address as Hex },
    );
  const accept = async (voucher: unknown) => {
    const store = await sellerStore();
    try {
      return await acceptChannelVoucher({
        channels: sellerChannels,
        store,
        voucher: parseVoucherFile(JSON.parse(JSON.stringify(voucher)), "voucher.json"),
      });
    } finally {
      store.close();
    }
  };
  const settle = async (channel: Hex, mode: "close" | "checkpoint") => {
    const store = await sellerStore();
    try {
      return await settleFromStore(sellerChannels, store, channel, mode);
    } finally {
      store.close();
    }
  };

  describe("openChannel, signChannelVoucher, acceptChannelVoucher, settleFromStore", function () {
    it("opens from the account (its first UserOperation: approve + open), and close pays the seller exactly the latest voucher and returns the rest", async function () {
      const opened = await open(system.tokenAddress, parseEther("10"));
      assert.equal(opened.deployed, true);
      assert.equal(opened.terms.nonce, 0n);
      assert.deepEqual(
        opened.spends.map((s) => s.amount),
        [parseEther("10")],
        "the policy counted the approval",
      );
      const before = await system.token.balanceOf(account);
      for (const amount of [parseEther("1"), parseEther("2.5"), parseEther("4")]) {
        const accepted = await accept(await sign(opened.channel, amount));
        assert.equal(accepted.cumulativeAmount, amount);
      }
      const view = await showChannel(sellerChannels, opened.channel);
      assert.deepEqual(
        [view.status, view.deposit, view.checkpointed],
        ["open", parseEther("10"), 0n],
      );

      const closed = await settle(opened.channel, "close");
      assert.ok("settlement" in closed);
      assert.deepEqual(closed.settlement, {
        kind: "closed",
        paidToSeller: parseEther("4"),
        refundedToBuyer: parseEther("6"),
        voucherCounted: true,
        txHash: closed.txHash,
      });
      assert.equal(await system.token.balanceOf(seller.address), parseEther("4"));
      assert.equal(await system.token.balanceOf(account), before + parseEther("6"));
      const store = await sellerStore();
      assert.equal(store.get(opened.channel), undefined, "a closed channel leaves the store");
      store.close();
      const ended = await showChannel(sellerChannels, opened.channel);
      assert.equal(ended.status, "settled");
      assert.equal(ended.settlement?.paidToSeller, parseEther("4"));
    });

    it("refuses, typed: a voucher over the deposit, a lower one from the buyer device, a reclaim before expiry (before any gas), a voucher too close to expiry; reclaim after it returns the native deposit", async function () {
      const opened = await open(NATIVE, parseEther("1"));
      assert.equal(opened.deployed, false);
      const deposit = await provider.getBalance(account);
      await assert.rejects(
        accept(await sign(opened.channel, parseEther("1.5"))),
        VoucherExceedsDepositError,
      );
      await assert.rejects(sign(opened.channel, parseEther("1")), VoucherRegressionError);
      await assert.rejects(
        reclaimChannel({ channels: channelsAddress, account, terms: opened.terms }, route),
        (err: unknown) => err instanceof ContractError && err.code === "ChannelNotExpired",
      );
      assert.equal(await provider.getBalance(account), deposit, "refused before any gas was spent");

      await helpers.time.increase(3_600);
      const late = await accept(await sign(opened.channel, parseEther("1.5"))).catch(
        (err: unknown) => err,
      );
      assert.equal((late as { code?: string }).code, "VOUCHER_CHANNEL_EXPIRED");
      const reclaimed = await reclaimChannel(
        { channels: channelsAddress, account, terms: opened.terms },
        route,
      );
      assert.deepEqual(
        [
          reclaimed.settlement.kind,
          reclaimed.settlement.paidToSeller,
          reclaimed.settlement.refundedToBuyer,
        ],
        ["reclaimed", 0n, parseEther("1")],
      );
    });

    it("checkpoints, refuses a lower voucher and a close after expiry; reclaim pays the seller its checkpoint", async function () {
      const opened = await open(system.tokenAddress, parseEther("5"), 600n);
      await accept(await sign(opened.channel, parseEther("2")));
      const checkpoint = await settle(opened.channel, "checkpoint");
      assert.ok("checkpointed" in checkpoint);
      assert.equal(checkpoint.checkpointed, parseEther("2"));
      // Seller side: the store holds 2; the same voucher again (a replay) adds nothing.
      const store = await sellerStore();
      const held = store.get(opened.channel);
      store.close();
      await assert.rejects(
        accept(await sign(opened.channel, parseEther("2"))),
        VoucherNotNewerError,
      );
      assert.equal(held?.accepted, parseEther("2"));

      await helpers.time.increase(600);
      await assert.rejects(
        settle(opened.channel, "close"),
        (err: unknown) =>
          err instanceof ContractError &&
          err.code === "ChannelExpired" &&
          err.message.includes("now only reclaim is left"),
      );
      const sellerBefore = await system.token.balanceOf(seller.address);
      const reclaimed = await reclaimChannel(
        { channels: channelsAddress, account, terms: opened.terms },
        route,
      );
      assert.equal(reclaimed.settlement.paidToSeller, parseEther("2"));
      assert.equal(reclaimed.settlement.refundedToBuyer, parseEther("3"));
      assert.equal(await system.token.balanceOf(seller.address), sellerBefore + parseEther("2"));
    });

    it("a channel call the contract refuses inside the account is a typed, decoded error", async function () {
      await assert.rejects(open(system.tokenAddress, parseEther("1"), 0n), (err: unknown) => {
        assert.ok(err instanceof UserOperationRevertedError, String(err));
        assert.equal(err.code, "ChannelExpired");
        assert.match(err.message, /give an --expiry in the future/);
        return true;
      });
    });
  });
});
