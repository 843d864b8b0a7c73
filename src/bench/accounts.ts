import {
  Wallet,
  parseEther,
  type ContractTransactionResponse,
  type Provider,
  type Signer,
} from "ethers";
import {
  accountAddress,
  accountSalt,
  buildAccountSetup,
  createAccountData,
  erc20Transfer,
  entryPointAt,
  sendAccountOperation,
  setupStruct,
  type AccountSetup,
  type AccountSigners,
  type Execution,
} from "../client/index.js";
import {
  deployAccountSystem,
  fund,
  registerAndAttest,
  type AccountSystem,
} from "../client/account-local.js";
import type { JsonRpcSend } from "../client/entry-point-local.js";
import { SoftwareKeyStore } from "../device/software-key-store.js";
import type { Hex } from "../protocol/index.js";
import { plainMultisigPayment } from "./accounts-baseline.js";

/**
 * Gas of machine-account UserOperations as a chain charges them (`BENCH_ONLY=accounts`): each figure is
 * the receipt's gasUsed of a handleOps transaction that carries one operation (21,000, calldata, the
 * EntryPoint's work, validation and execution), on an in-process osaka chain, the median of SAMPLES
 * operations in steady state: the account deployed with a deposit at the EntryPoint (so validation owes no
 * prefund transfer), the counterparty
 * already holding the token, the device freshly attested.
 *
 * - `accounts.deploy.p256`: the first operation, with initCode (a clone and its setup: one P-256 device
 *   and the operator as signers, one token with one counterparty in the policy), which also pays (an
 *   operation carries at least one call).
 * - `accounts.create.p256`: the factory's createAccount alone for that setup, in a transaction of its own
 *   (what accounts.deploy.p256 spends on the clone and its storage, before the operation's own work).
 * - `accounts.pay.erc20.p256.1of1`: one device pays an allowed counterparty inside the policy.
 * - `accounts.pay.erc20.p256.2of3` / `.3of3`: an account of three devices whose low threshold is 2 / 3;
 *   `accounts.pay.erc20.p256.extraSignature` is their difference (one more device signature).
 * - `….ozPlain`: the same payments, measured alike, from OpenZeppelin's plain weighted multisigner account
 *   (PlainMultisigAccount: P-256 signers, no policy, no registry): what the account stack the issue
 *   prescribes costs on this chain before anything of DeviceAccount's.
 */

const SAMPLES = 5;

export interface AccountsBenchContext {
  readonly provider: Provider;
  readonly deployer: Signer;
  readonly maker: Signer;
  readonly deviceOperator: Signer;
  /** Sends handleOps (a bundler's executor). */
  readonly bundler: Signer;
  readonly send: JsonRpcSend;
  readonly progress: (message: string) => void;
}

interface Device {
  readonly store: SoftwareKeyStore;
  readonly deviceId: Hex;
}

function median(values: readonly bigint[]): bigint {
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted[Math.floor(sorted.length / 2)] ?? 0n;
}

/** Runs the accounts part; returns its figures (keys of bench/results.json's gas section). */
export async function benchAccounts(ctx: AccountsBenchContext): Promise<Record<string, number>> {
  ctx.progress("accounts: deploying the registry, EntryPoint v0.8, verifier and account factory");
  const system = await deployAccountSystem(ctx);
  const devices: Device[] = [];
  for (let i = 0; i < 3; i++) {
    const store = SoftwareKeyStore.generate("p256");
    devices.push({ store, deviceId: await registerAndAttest(system, store) });
  }
  const operator = Wallet.createRandom();
  const seller = Wallet.createRandom().address as Hex;
  const gas: Record<string, number> = {};

  const setupFor = (count: number, low: bigint): AccountSetup =>
    buildAccountSetup({
      verifier: system.verifier,
      devices: devices.slice(0, count).map((d) => d.deviceId),
      operator: operator.address,
      lowThreshold: low,
      // Above what the devices weigh together: their payments go through the policy (the low path); the
      // operator alone (weight = this) reaches it.
      highThreshold: BigInt(count) + 1n,
      tokens: [
        {
          token: system.tokenAddress,
          periodCap: parseEther("1000000"),
          perCallCap: parseEther("1000"),
        },
      ],
      counterparties: [
        {
          token: system.tokenAddress,
          counterparty: seller,
          periodCap: parseEther("1000000"),
          perCallCap: parseEther("1000"),
        },
      ],
    });

  const send = async (
    account: Hex,
    signing: readonly Device[],
    batch: readonly Execution[],
    initCode?: { factory: string; factoryData: string },
  ): Promise<bigint> => {
    const signers: AccountSigners = {
      verifier: system.verifier,
      devices: signing.map((d) => ({ deviceId: d.deviceId, store: d.store })),
    };
    const result = await sendAccountOperation({
      account,
      batch,
      signers,
      provider: ctx.provider,
      wallet: ctx.bundler,
      entryPoint: system.entryPoint,
      ...(initCode === undefined ? {} : { initCode }),
    });
    const receipt = await ctx.provider.getTransactionReceipt(result.txHash);
    if (receipt === null) throw new Error(`no receipt for ${result.txHash}`);
    return receipt.gasUsed;
  };
  const pay = (): Execution[] => [erc20Transfer(system.tokenAddress, seller, parseEther("1"))];

  // The seller holds the token already, as in steady state.
  await (await system.token.mint(seller, 1n)).wait();

  ctx.progress("accounts: first UserOperations with initCode");
  const deploys: bigint[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const setup = setupFor(1, 1n);
    const salt = accountSalt(`bench-deploy-${String(i)}`);
    const account = await accountAddress(system.factory, setup, salt);
    await fund(system, account);
    const initCode = {
      factory: system.factoryAddress,
      factoryData: createAccountData(setup, salt),
    };
    deploys.push(await send(account, devices.slice(0, 1), pay(), initCode));
  }
  gas["accounts.deploy.p256"] = Number(median(deploys));

  for (const [key, count, low] of [
    ["accounts.pay.erc20.p256.1of1", 1, 1n],
    ["accounts.pay.erc20.p256.2of3", 3, 2n],
    ["accounts.pay.erc20.p256.3of3", 3, 3n],
  ] as const) {
    ctx.progress(`accounts: ${key}`);
    const { account, createGas } = await createAccount(system, setupFor(count, low), key);
    if (count === 1) gas["accounts.create.p256"] = Number(createGas);
    const signing = devices.slice(0, Number(low));
    await send(account, signing, pay()); // the deposit at the EntryPoint and the first spend's slots
    const samples: bigint[] = [];
    for (let i = 0; i < SAMPLES; i++) samples.push(await send(account, signing, pay()));
    gas[key] = Number(median(samples));
  }
  const twoOfThree = gas["accounts.pay.erc20.p256.2of3"] ?? 0;
  const threeOfThree = gas["accounts.pay.erc20.p256.3of3"] ?? 0;
  gas["accounts.pay.erc20.p256.extraSignature"] = threeOfThree - twoOfThree;

  for (const [key, count, threshold] of [
    ["accounts.pay.erc20.p256.1of1.ozPlain", 1, 1],
    ["accounts.pay.erc20.p256.2of3.ozPlain", 3, 2],
    ["accounts.pay.erc20.p256.3of3.ozPlain", 3, 3],
  ] as const) {
    ctx.progress(`accounts: ${key} (OpenZeppelin's plain multisigner, the baseline)`);
    const plain = await plainMultisigPayment(system, ctx.bundler, seller, count, threshold);
    await plain.pay(); // the deposit's and the first spend's slots, as above
    const samples: bigint[] = [];
    for (let i = 0; i < SAMPLES; i++) samples.push(await plain.pay());
    gas[key] = Number(median(samples));
  }
  gas["accounts.pay.erc20.p256.extraSignature.ozPlain"] =
    (gas["accounts.pay.erc20.p256.3of3.ozPlain"] ?? 0) -
    (gas["accounts.pay.erc20.p256.2of3.ozPlain"] ?? 0);
  return gas;
}

async function createAccount(
  system: AccountSystem,
  setup: AccountSetup,
  name: string,
): Promise<{ account: Hex; createGas: bigint }> {
  const salt = accountSalt(name);
  const account = await accountAddress(system.factory, setup, salt);
  await fund(system, account);
  // A running account keeps a deposit at the EntryPoint (ERC-4337's usual practice): its operations then
  // owe no prefund transfer in validation.
  const entryPoint = entryPointAt(system.entryPoint, system.deployer);
  const deposit = (await entryPoint.getFunction("depositTo")(account, {
    value: parseEther("1"),
  })) as ContractTransactionResponse;
  await deposit.wait();
  const created = await (await system.factory.createAccount(setupStruct(setup), salt)).wait();
  if (created === null) throw new Error("createAccount was not mined");
  return { account, createGas: created.gasUsed };
}
