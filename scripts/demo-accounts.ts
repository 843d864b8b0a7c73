/**
 * The demo's machine-accounts chapter (called by scripts/demo.ts, on its chain, registry, staking, proofs
 * and stablecoin): an EV charger of operator A sells energy to a vehicle of operator B over a payment
 * channel the vehicle's DeviceAccount opens; the vehicle's key is then cloned, and the account's policy,
 * its velocity breaker and the registry's trust stop the clone.
 */
import {
  Wallet,
  formatUnits,
  id,
  parseEther,
  parseUnits,
  type Provider,
  type Signer,
} from "ethers";
import {
  ACCOUNT_MODEL,
  deployAccountContracts,
  deployPaymentChannel,
  fund,
  publishAccountFirmware,
  registerAndAttest,
  type AccountSystem,
} from "../src/client/account-local.js";
import type { JsonRpcSend } from "../src/client/entry-point-local.js";
import { serveJsonRpc, startAlto, type JsonRpcBridge } from "../src/client/alto-local.js";
import {
  BundlerClient,
  NATIVE,
  UserOperationRefusedError,
  UserOperationRevertedError,
  accountAddress,
  accountSalt,
  buildAccountSetup,
  collateralTokenAt,
  contractCall,
  createAccountData,
  equivocationProof,
  erc20Approve,
  erc20Transfer,
  proofsAt,
  registryAt,
  registryDomain,
  sendAccountOperation,
  stakeDeposit,
  stakingAt,
  statusName,
  submitProof,
  unlockAccount,
  walletHashSigner,
  type AccountOperationResult,
  type AccountSigners,
  type Execution,
} from "../src/client/index.js";
import { DeviceSigner, SoftwareKeyStore } from "../src/device/index.js";
import {
  VoucherSigner,
  VoucherVerifier,
  channelIdOf,
  type ChannelTerms,
} from "../src/payments/index.js";
import type { Hex } from "../src/protocol/index.js";
import { checkDeviceSignature } from "../src/verify/index.js";
import {
  DeviceAccount__factory,
  MockERC20__factory,
  PaymentChannel__factory,
} from "../types/ethers-contracts/index.js";
import { gas, say, short, step } from "./story.js";

export interface AccountsChapterContext {
  readonly provider: Provider;
  readonly send: JsonRpcSend;
  /** Deploys the account contracts and mints the stablecoin. */
  readonly governance: Signer;
  /** The maker already in the registry: it publishes the machines' firmware and endorses them. */
  readonly maker: Signer;
  /** Operator A: operates the charger and is paid for its energy. */
  readonly chargerOperator: Signer;
  /** Sends handleOps when alto cannot run. */
  readonly wallet: Signer;
  /** Proves the vehicle's equivocation and takes the bounty. */
  readonly watcher: Signer;
  readonly registryAddress: Hex;
  readonly tokenAddress: Hex;
  readonly stakingAddress: Hex;
  readonly proofsAddress: Hex;
  /** The bond staked for the vehicle (the staking contract's minimum). */
  readonly stake: bigint;
}

const usd = (v: bigint): string => `${Number(formatUnits(v, 18)).toFixed(2)} USD`;
/** The charger's price: 0.40 USD per kWh; meter readings are in Wh. */
const PRICE_PER_KWH = parseUnits("0.40", 18);
const costOf = (wh: bigint): bigint => (wh * PRICE_PER_KWH) / 1000n;
const kwh = (wh: bigint): string => `${(Number(wh) / 1000).toFixed(2)} kWh`;

/** The vehicle's account and its policy, as the chapter uses them. */
const POLICY = {
  periodCap: parseUnits("30", 18),
  perCallCap: parseUnits("10", 18),
  /** Half the period cap may flow per hour: a burst above 15 USD trips the breaker. */
  velocityShareBps: 5_000n,
  deposit: parseUnits("10", 18),
  funded: parseUnits("50", 18),
} as const;

export async function machineAccountsChapter(
  ctx: AccountsChapterContext,
): Promise<{ readonly accountFactory: Hex }> {
  const { provider, governance, wallet } = ctx;
  const chainTime = async (): Promise<bigint> =>
    BigInt((await provider.getBlock("latest"))?.timestamp ?? 0);

  // ---------------------------------------------------------------- setup
  step(
    "Machine accounts: an EV charger (operator A) and a vehicle (operator B) with an ERC-4337 DeviceAccount",
  );
  const operatorB = Wallet.createRandom().connect(provider);
  await (
    await governance.sendTransaction({ to: operatorB.address, value: parseEther("10") })
  ).wait();
  const contracts = await deployAccountContracts({
    deployer: governance,
    registryAddress: ctx.registryAddress,
    send: ctx.send,
  });
  const channelsAddress = await deployPaymentChannel(governance, ctx.registryAddress);
  const channels = PaymentChannel__factory.connect(channelsAddress, governance);
  say(
    `EntryPoint v0.8 at its canonical address ${contracts.entryPoint}; on the demo's registry: DeviceSignerVerifier ` +
      `${short(contracts.verifier)}, DeviceAccountFactory ${short(contracts.factoryAddress)}, PaymentChannel ${short(channelsAddress)}`,
  );
  const bundler = await startDemoBundler(ctx, contracts.entryPoint);
  try {
    await publishAccountFirmware(ctx.registryAddress, ctx.maker);
    const token = MockERC20__factory.connect(ctx.tokenAddress, governance);
    const system: AccountSystem = {
      provider,
      deployer: governance,
      maker: ctx.maker,
      deviceOperator: ctx.chargerOperator,
      registry: registryAt(ctx.registryAddress, ctx.chargerOperator),
      registryAddress: ctx.registryAddress,
      ...contracts,
      token,
      tokenAddress: ctx.tokenAddress,
    };
    const chargerStore = SoftwareKeyStore.generate("secp256k1");
    const vehicleStore = SoftwareKeyStore.generate("p256");
    const chargerId = await registerAndAttest(system, chargerStore);
    const vehicleId = await registerAndAttest(
      {
        ...system,
        deviceOperator: operatorB,
        registry: registryAt(ctx.registryAddress, operatorB),
      },
      vehicleStore,
    );
    await (await token.mint(operatorB.address, ctx.stake)).wait();
    await stakeDeposit({
      staking: stakingAt(ctx.stakingAddress, operatorB),
      token: collateralTokenAt(ctx.tokenAddress, operatorB),
      deviceId: vehicleId,
      amount: ctx.stake,
    });
    say(
      `the demo's maker publishes firmware 1.0.0 of model ${String(ACCOUNT_MODEL)} and endorses both: charger ${short(chargerId)} (secp256k1) registered by A, ` +
        `vehicle ${short(vehicleId)} (P-256) by B, who stakes ${usd(ctx.stake)} for it; both attest`,
    );

    const seller = (await ctx.chargerOperator.getAddress()) as Hex;
    const setup = buildAccountSetup({
      verifier: contracts.verifier,
      devices: [vehicleId],
      operator: operatorB.address,
      // Above the vehicle's weight: its payments take the policy's path; operator B (weight 2) alone has it.
      highThreshold: 2n,
      velocityShareBps: POLICY.velocityShareBps,
      tokens: [
        { token: ctx.tokenAddress, periodCap: POLICY.periodCap, perCallCap: POLICY.perCallCap },
        // The native coin only so that the channel contract can be an allowed call target: caps of 0.
        { token: NATIVE, periodCap: 0n },
      ],
      counterparties: [
        { token: ctx.tokenAddress, counterparty: channelsAddress },
        { token: ctx.tokenAddress, counterparty: seller },
        { token: NATIVE, counterparty: channelsAddress },
      ],
    });
    const salt = accountSalt("ev-7");
    const account = await accountAddress(contracts.factory, setup, salt);
    const accountView = DeviceAccount__factory.connect(account, provider);
    await fund(system, account, POLICY.funded, parseEther("1"));
    say(
      `vehicle account ${account} (counterfactual; funded with ${usd(POLICY.funded)} and 1 ETH for gas before it exists): ` +
        `the vehicle signs alone (low threshold 1) inside the policy — USD to the PaymentChannel and the charger's operator only, ` +
        `${usd(POLICY.perCallCap)} per call, ${usd(POLICY.periodCap)} a day, velocity breaker at ${String(Number(POLICY.velocityShareBps) / 100)}% of that per hour; ` +
        `operator B's key is the high threshold`,
    );

    const vehicleSigns: AccountSigners = {
      verifier: contracts.verifier,
      devices: [{ deviceId: vehicleId, store: vehicleStore }],
    };
    const operate = (
      signers: AccountSigners,
      batch: readonly Execution[],
      initCode?: { factory: string; factoryData: string },
    ): Promise<AccountOperationResult> =>
      sendAccountOperation({
        account,
        batch,
        signers,
        provider,
        wallet,
        bundler: bundler.client,
        entryPoint: contracts.entryPoint,
        ...(initCode === undefined ? {} : { initCode }),
      });

    // ---------------------------------------------------------------- the channel
    step(
      "The vehicle opens a payment channel from its account and pays per kWh with vouchers its device signs",
    );
    const { chainId } = await provider.getNetwork();
    const channelDomain = { chainId, verifyingContract: channelsAddress };
    const terms: ChannelTerms = {
      buyer: account,
      seller,
      buyerDevice: vehicleId,
      token: ctx.tokenAddress,
      pricePerUnit: PRICE_PER_KWH,
      nonce: await channels.nonceOf(account),
    };
    const expiry = (await chainTime()) + 86_400n;
    const opened = await operate(
      vehicleSigns,
      [
        erc20Approve(ctx.tokenAddress, channelsAddress, POLICY.deposit),
        contractCall(
          channelsAddress,
          channels.interface.encodeFunctionData("open", [terms, POLICY.deposit, expiry]),
        ),
      ],
      { factory: contracts.factoryAddress, factoryData: createAccountData(setup, salt) },
    );
    const channelId = channelIdOf(terms);
    const receipt = await provider.getTransactionReceipt(opened.txHash);
    say(
      `one UserOperation (approve + open) deployed the account and opened channel ${short(channelId)} with ${usd(POLICY.deposit)}: ` +
        `${opened.via === "bundler" ? "the bundler's handleOps" : "handleOps"} gas ${gas(receipt?.gasUsed ?? 0n)}; the policy counts the allowance: ${usd(await accountView["spentThisPeriod(address)"](ctx.tokenAddress))} spent today`,
    );

    const registryDomainValue = await registryDomain(system.registry);
    const vehicle = new DeviceSigner(vehicleStore, registryDomainValue, vehicleId);
    const soc = await vehicle.signReading({
      feedId: id("ev-7/state-of-charge") as Hex,
      sequence: 1n,
      timestamp: await chainTime(),
      value: 22n,
    });
    const charger = new DeviceSigner(chargerStore, registryDomainValue, chargerId);
    const vouchers = new VoucherSigner(vehicleStore, channelDomain, vehicleId);
    const nowOnChain = await chainTime();
    // The charger's side judges expiry by the chain's clock (the demo's chain runs hours ahead).
    const chargerSide = new VoucherVerifier(channelDomain, { now: () => nowOnChain });
    chargerSide.track({ terms, deposit: POLICY.deposit, expiry, key: vehicleStore.deviceKey });
    const lines: string[] = [];
    for (const [i, wh] of [5_000n, 11_500n, 18_250n].entries()) {
      const reading = await charger.signReading({
        feedId: id("charger-3/meter") as Hex,
        sequence: BigInt(i + 1),
        timestamp: nowOnChain + BigInt(i) * 600n,
        value: wh,
      });
      if (
        checkDeviceSignature(chargerStore.deviceKey, reading.digest, reading.signature) !== "valid"
      ) {
        throw new Error("the vehicle refused the charger's meter reading");
      }
      const voucher = await vouchers.signVoucher(channelId, costOf(wh));
      const accepted = chargerSide.verify(voucher);
      lines.push(
        `${kwh(wh)} → voucher ${usd(accepted.cumulativeAmount)} (+${usd(accepted.increment)})`,
      );
    }
    say(
      `the vehicle signs its state of charge (reading #1: ${String(soc.message.value)}%) at plug-in; then, as each meter reading ` +
        `signed by the charger arrives, it checks it and signs a voucher for the running total at 0.40 USD/kWh, which the ` +
        `charger verifies off chain: ${lines.join("; ")}`,
    );
    const latest = chargerSide.latest(channelId);
    if (latest === undefined) throw new Error("the charger accepted no voucher");
    const sellerBefore = await token.balanceOf(seller);
    const closed = await (
      await channels
        .connect(ctx.chargerOperator)
        .close(terms, latest.cumulativeAmount, latest.key, latest.signature)
    ).wait();
    const settled = closed?.logs
      .map((l) => {
        try {
          return channels.interface.parseLog(l);
        } catch {
          return null;
        }
      })
      .find((p) => p?.name === "ChannelSettled");
    if (settled === undefined || settled === null) throw new Error("the channel did not settle");
    say(
      `operator A closes with the latest voucher (gas ${gas(closed?.gasUsed ?? 0n)}): paid ${usd(settled.args.paidToSeller as bigint)} ` +
        `(A's balance +${usd((await token.balanceOf(seller)) - sellerBefore)}), refunded ${usd(settled.args.refundedToBuyer as bigint)} to the account, ` +
        `which holds ${usd(await token.balanceOf(account))}`,
    );

    // ---------------------------------------------------------------- the clone
    step("An attacker clones the vehicle's key and tries to spend from its account");
    const cloneStore = SoftwareKeyStore.fromPrivateKey("p256", vehicleStore.exportPrivateKey());
    const cloneSigns: AccountSigners = {
      verifier: contracts.verifier,
      devices: [{ deviceId: vehicleId, store: cloneStore }],
    };
    const attacker = Wallet.createRandom().address;
    try {
      await operate(cloneSigns, [erc20Transfer(ctx.tokenAddress, attacker, parseUnits("5", 18))]);
      throw new Error("the account paid an unknown address");
    } catch (err: unknown) {
      if (!(err instanceof UserOperationRevertedError)) throw err;
      // The typed error's message without its first clause (the operation's and transaction's hashes).
      const what = err.message.replace(
        /^.*? reverted in account 0x[0-9a-fA-F]{40}(?: \(nothing was sent\))?: /,
        "",
      );
      const where =
        err.stage === "simulation"
          ? "refused by the bundler's simulation (nothing sent, no gas spent)"
          : "reverted in the account";
      say(`pay 5.00 USD to its own address ${short(attacker)} → ${where}: ${what}`);
    }
    const burst = Array.from({ length: 4 }, () =>
      erc20Transfer(ctx.tokenAddress, seller, parseUnits("5", 18)),
    );
    try {
      await operate(cloneSigns, burst);
      throw new Error("the burst went through");
    } catch (err: unknown) {
      if (!(err instanceof UserOperationRefusedError)) throw err;
      const trip = err.tripped;
      say(
        `drain the rest of today's cap to the charger (an allowed counterparty; say the clone colludes) in one batch of 4 × 5.00 USD → ` +
          `refused: ${err.reason}` +
          (trip === undefined
            ? ""
            : `, the velocity breaker tripped (its bucket would hold ${usd(trip.level)}, above ${usd(trip.capacity)})`) +
          `; nothing moved, the account holds ${usd(await token.balanceOf(account))} and is locked: ` +
          `locked() → ${String(await accountView.locked())}`,
      );
    }

    // ---------------------------------------------------------------- the equivocation
    step(
      "The clone equivocates: the watchtower proves it, the vehicle is slashed and suspended, the account freezes",
    );
    const clone = new DeviceSigner(cloneStore, registryDomainValue, vehicleId);
    const conflicting = await clone.signReading({
      feedId: soc.message.feedId,
      sequence: soc.message.sequence,
      timestamp: await chainTime(),
      value: 95n,
    });
    const proof = await submitProof(
      proofsAt(ctx.proofsAddress, ctx.watcher),
      equivocationProof(soc, conflicting),
      await ctx.watcher.getAddress(),
    );
    const info = await system.registry.deviceInfo(vehicleId);
    say(
      `the clone signs state of charge #1 = ${String(conflicting.message.value)}% (the vehicle signed ${String(soc.message.value)}%): ` +
        `the watchtower's wallet submits both to FraudProofs.proveEquivocation (gas ${gas(proof.gasUsed)}): ${proof.kind}, ` +
        `slashed ${usd(proof.slashed)} (bounty ${usd(proof.bounty)} to the watchtower, ${usd(proof.loss)} to staking's loss recipient); ` +
        `the vehicle is ${statusName(info.status)}`,
    );
    try {
      await operate(cloneSigns, [erc20Transfer(ctx.tokenAddress, seller, parseUnits("1", 18))]);
      throw new Error("a suspended device paid");
    } catch (err: unknown) {
      if (!(err instanceof UserOperationRefusedError)) throw err;
      say(
        `the next payment the vehicle's key signs (1.00 USD to the charger) → refused: ${err.reason}, trusted weight ${String(err.trustedWeight)}: ` +
          `the account asked the registry in that same operation; the device is marked distrusted until ` +
          `${new Date(Number(err.distrusted[0]?.until ?? 0n) * 1000).toISOString()}, and until then its operations do not even validate (ERC-4337 validAfter)`,
      );
    }
    const balance = await token.balanceOf(account);
    const rescued = await operate(
      { verifier: contracts.verifier, operator: walletHashSigner(operatorB) },
      [unlockAccount(account), erc20Transfer(ctx.tokenAddress, operatorB.address, balance)],
    );
    say(
      `operator B's key (the high threshold) still works: one UserOperation unlocks the account and moves its ${usd(balance)} ` +
        `to B's wallet (nonce ${String(rescued.nonce)}); the clone got nothing`,
    );
    return { accountFactory: contracts.factoryAddress };
  } finally {
    await bundler.stop();
  }
}

/** alto against this in-process chain (served on loopback), or handleOps from the wallet if it cannot run. */
async function startDemoBundler(
  ctx: AccountsChapterContext,
  entryPoint: Hex,
): Promise<{ client: BundlerClient | undefined; stop: () => Promise<void> }> {
  let bridge: JsonRpcBridge | undefined;
  try {
    bridge = await serveJsonRpc({
      request: ({ method, params }) => ctx.send(method, params ?? []),
    });
    // Keys of alto's own, funded here: the demo's accounts send transactions of their own meanwhile.
    const [executor, utility] = [Wallet.createRandom(), Wallet.createRandom()];
    for (const w of [executor, utility]) {
      await (
        await ctx.governance.sendTransaction({ to: w.address, value: parseEther("10") })
      ).wait();
    }
    const alto = await startAlto(bridge.url, {
      entryPoint,
      executorKey: executor.privateKey as Hex,
      utilityKey: utility.privateKey as Hex,
    });
    say(
      `a real ERC-4337 bundler: @pimlico/alto (pid ${String(alto.pid)}, started in ${String(alto.startMs)} ms) on ${alto.url}, ` +
        `reading this in-process chain through a loopback JSON-RPC bridge (${bridge.url}); every UserOperation below goes through it`,
    );
    const served = bridge;
    return {
      client: new BundlerClient(alto.url, entryPoint),
      stop: async () => {
        await alto.stop();
        await served.close();
      },
    };
  } catch (err: unknown) {
    await bridge?.close();
    say(
      `alto could not start here (${err instanceof Error ? err.message.split("\n")[0] : String(err)}): ` +
        `UserOperations go to EntryPoint.handleOps directly from a wallet instead`,
    );
    return { client: undefined, stop: () => Promise.resolve() };
  }
}
