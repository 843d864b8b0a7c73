import assert from "node:assert/strict";
import { Wallet, parseEther } from "ethers";
import {
  BundlerClient,
  UserOperationRevertedError,
  accountAddress,
  accountSalt,
  accountState,
  buildAccountSetup,
  closeChannel,
  createAccountData,
  erc20Transfer,
  openChannel,
  paymentChannelAt,
  sendAccountOperation,
  type AccountSetup,
  type AccountSigners,
  type Execution,
  type PackedUserOperation,
} from "../../src/client/index.js";
import type { KeyStore } from "../../src/device/key-store.js";
import { Pkcs11KeyStore } from "../../src/device/pkcs11-key-store.js";
import { createSoftHsmToken, type SoftHsmToken } from "../../src/device/softhsm-token.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import type { Hex } from "../../src/protocol/index.js";
import {
  checkValidationOn,
  deployAccountSystemOn,
  startBundlerChain,
  type BundlerChain,
} from "../support/bundler.js";
import { formatViolations } from "../support/erc7562.js";
import { requireSoftHsm } from "../device/helpers/softhsm.js";
import {
  channelBuyerAccount,
  deployPaymentChannel,
  fund,
  registerAndAttest,
  type AccountSystem,
} from "../../src/client/account-local.js";
import { VoucherSigner } from "../../src/payments/index.js";

describe("DeviceAccount through a real bundler (alto on hardhat node)", function () {
  this.timeout(180_000);
  let chain: BundlerChain;
  let client: BundlerClient;
  let system: AccountSystem;
  let token: SoftHsmToken;
  let software: SoftwareKeyStore;
  let hsm: Pkcs11KeyStore;
  let softwareId: Hex;
  let hsmId: Hex;
  let setup: AccountSetup;
  let account: Hex;
  const operator = Wallet.createRandom();
  const seller = Wallet.createRandom().address as Hex;
  const salt = accountSalt("charger-7");
  const verdicts: string[] = [];
  const stops: (() => Promise<void>)[] = [];

  before(async function () {
    requireSoftHsm(this);
    const started = Date.now();
    token = await createSoftHsmToken();
    stops.push(() => token.cleanup());
    chain = await startBundlerChain();
    stops.push(() => chain.stop());
    client = new BundlerClient(chain.bundlerUrl, chain.entryPoint);
    system = await deployAccountSystemOn(chain);
    assert.equal(system.entryPoint, chain.entryPoint);
    software = SoftwareKeyStore.generate("p256");
    hsm = await Pkcs11KeyStore.generate({
      tokenLabel: token.tokenLabel,
      pin: token.pin,
      label: "charger-key",
      curve: "p256",
    });
    stops.push(() => hsm.close());
    softwareId = await registerAndAttest(system, software);
    hsmId = await registerAndAttest(system, hsm);
    const t = chain.timings;
    console.log(
      `      (set up in ${Date.now() - started} ms: hardhat node ${t.node} ms, EntryPoint ${t.entryPoint} ms, alto ${t.alto} ms)`,
    );
  });

  after(async function () {
    // Last started, first stopped (the before hook may have stopped half way, or skipped).
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  function signers(store: KeyStore, deviceId: Hex): AccountSigners {
    return { verifier: system.verifier, devices: [{ deviceId, store }] };
  }

  /** The ERC-7562 rules of the operation's validation (unstaked account and factory), before it is sent. */
  async function check(packed: PackedUserOperation): Promise<void> {
    const report = await checkValidationOn(chain, packed);
    const verdict = formatViolations(report);
    verdicts.push(verdict);
    console.log(
      `      (ERC-7562: ${report.entities.join(" + ")} validated; ${report.storage.length} slots; violations: ${verdict})`,
    );
    assert.deepEqual(report.context.staked, {
      account: false,
      ...(packed.initCode === "0x" ? {} : { factory: false }),
    });
  }

  async function pay(store: KeyStore, deviceId: Hex, batch: Execution[], withInitCode = false) {
    const started = Date.now();
    const result = await sendAccountOperation({
      account,
      batch,
      signers: signers(store, deviceId),
      provider: chain.provider,
      bundler: client,
      entryPoint: chain.entryPoint,
      ...(withInitCode
        ? {
            initCode: {
              factory: system.factoryAddress,
              factoryData: createAccountData(setup, salt),
            },
          }
        : {}),
      onSigned: (_op, packed) => check(packed),
    });
    console.log(
      `      (${store.kind} device: UserOperation mined through the bundler in ${Date.now() - started} ms, ${result.actualGasUsed} gas)`,
    );
    return result;
  }

  it("creates a counterfactual account whose first UserOperation (initCode) deploys it and pays an allowed counterparty", async function () {
    setup = buildAccountSetup({
      verifier: system.verifier,
      devices: [softwareId, hsmId],
      operator: operator.address,
      tokens: [
        {
          token: system.tokenAddress,
          periodCap: parseEther("1000"),
          perCallCap: parseEther("400"),
        },
      ],
      counterparties: [{ token: system.tokenAddress, counterparty: seller }],
    });
    account = await accountAddress(system.factory, setup, salt);
    assert.equal(await chain.provider.getCode(account), "0x");
    await fund(system, account);

    const result = await pay(
      software,
      softwareId,
      [erc20Transfer(system.tokenAddress, seller, parseEther("10"))],
      true,
    );
    assert.equal(result.via, "bundler");
    assert.equal(result.deployed, true);
    assert.equal(result.nonce, 0n);
    assert.deepEqual(
      result.spends.map((s) => [s.token, s.counterparty, s.amount]),
      [[system.tokenAddress, seller, parseEther("10")]],
    );
    assert.notEqual(await chain.provider.getCode(account), "0x");
    assert.equal(await system.token.balanceOf(seller), parseEther("10"));
  });

  it("sends a second UserOperation signed inside SoftHSM (PKCS#11)", async function () {
    const result = await pay(hsm, hsmId, [
      erc20Transfer(system.tokenAddress, seller, parseEther("20")),
    ]);
    assert.equal(result.deployed, false);
    assert.equal(result.nonce, 1n);
    assert.equal(await system.token.balanceOf(seller), parseEther("30"));
    const state = await accountState(chain.provider, account);
    assert.equal(state.policy.tokens[0]?.spentThisPeriod, parseEther("30"));
    assert.equal(state.policy.counterparties[0]?.spentThisPeriod, parseEther("30"));
    assert.equal(state.trustedWeight, 2n);
    assert.equal(state.frozen, false);
  });

  it("comes back as a typed error naming AccountCounterpartyNotAllowed when a device pays a stranger (in simulation, and once mined)", async function () {
    const stranger = Wallet.createRandom().address as Hex;
    const batch = [erc20Transfer(system.tokenAddress, stranger, parseEther("1"))];
    const expectCounterparty = (stage: "simulation" | "execution") => (err: unknown) => {
      assert.ok(err instanceof UserOperationRevertedError, String(err));
      assert.equal(err.stage, stage);
      assert.equal(err.code, "AccountCounterpartyNotAllowed");
      assert.deepEqual(err.args, [system.tokenAddress, stranger]);
      assert.match(err.message, /is not an allowed counterparty for token/);
      return true;
    };
    // The bundler's estimation simulates the call phase: it refuses to estimate a reverting operation.
    await assert.rejects(pay(software, softwareId, batch), expectCounterparty("simulation"));
    // With its gas fixed, the bundler takes it (validation passes) and mines it: the EntryPoint reports
    // the revert (UserOperationRevertReason), the nonce and the gas are spent, nothing moved.
    const nonceBefore = (await accountState(chain.provider, account)).nonce;
    await assert.rejects(
      sendAccountOperation({
        account,
        batch,
        signers: signers(software, softwareId),
        provider: chain.provider,
        bundler: client,
        gas: {
          callGasLimit: 300_000n,
          verificationGasLimit: 300_000n,
          preVerificationGas: 60_000n,
        },
        onSigned: (_op, packed) => check(packed),
      }),
      (err: unknown) => {
        expectCounterparty("execution")(err);
        assert.ok(err instanceof UserOperationRevertedError);
        assert.equal(err.operation?.via, "bundler");
        return true;
      },
    );
    assert.equal((await accountState(chain.provider, account)).nonce, nonceBefore + 1n);
    assert.equal(await system.token.balanceOf(stranger), 0n);
  });

  it("opens a payment channel through the bundler (the buyer account's first UserOperation: approve + open), and the seller closes with the device's latest voucher", async function () {
    const channels = await deployPaymentChannel(system.deployer, system.registryAddress);
    const { account: buyer, accountFile } = await channelBuyerAccount(system, {
      channels,
      deviceId: softwareId,
      salt: "vehicle-through-alto",
      tokenCap: parseEther("100"),
      nativeCap: 0n,
    });
    await fund(system, buyer);
    const sellerWallet = Wallet.createRandom().connect(chain.provider);
    await (
      await chain.funder.sendTransaction({ to: sellerWallet.address, value: parseEther("1") })
    ).wait();
    const latest = await chain.provider.getBlock("latest");
    const opened = await openChannel(
      {
        channels,
        account: buyer,
        seller: sellerWallet.address,
        buyerDevice: softwareId,
        token: system.tokenAddress,
        deposit: parseEther("10"),
        expiry: BigInt(latest?.timestamp ?? 0) + 3_600n,
      },
      {
        provider: chain.provider,
        signers: signers(software, softwareId),
        bundler: client,
        accountFile,
      },
    );
    assert.equal(opened.via, "bundler");
    assert.equal(opened.deployed, true);
    const { chainId } = await chain.provider.getNetwork();
    const vouchers = new VoucherSigner(
      software,
      { chainId, verifyingContract: channels },
      softwareId,
    );
    await vouchers.signVoucher(opened.channel, parseEther("3"));
    const voucher = await vouchers.signVoucher(opened.channel, parseEther("4"));
    const closed = await closeChannel(
      paymentChannelAt(channels, sellerWallet),
      opened.terms,
      voucher,
    );
    assert.deepEqual(
      [
        closed.settlement.paidToSeller,
        closed.settlement.refundedToBuyer,
        closed.settlement.voucherCounted,
      ],
      [parseEther("4"), parseEther("6"), true],
    );
    assert.equal(await system.token.balanceOf(sellerWallet.address), parseEther("4"));
  });

  it("finds no ERC-7562 violation in the DeviceAccount's validation (unstaked account and factory)", function () {
    assert.ok(verdicts.length >= 2, "the checker ran on the first (initCode) and later operations");
    assert.deepEqual(
      verdicts,
      verdicts.map(() => "none"),
    );
  });
});
