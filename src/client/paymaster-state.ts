import { getAddress, type Provider } from "ethers";
import type { Hex } from "../protocol/index.js";
import { entryPointAt } from "./account-send.js";
import { paymasterAt } from "./paymaster.js";

/**
 * What an operator (or the paymaster's owner) asks a DevicePaymaster: its stake and deposit at the
 * EntryPoint, an operator's balance and budget, an account's sponsor and budget, with each budget's room in
 * the window that holds `at` (default the latest block's time). One block for every read.
 */

/** A budget as it applies at `at`: what the window holding `at` spent and has left, and when it ends. */
export interface BudgetState {
  readonly cap: bigint;
  readonly period: bigint;
  readonly spent: bigint;
  readonly remaining: bigint;
  /** The first second of the next window (room comes back then). */
  readonly windowEndsAt: bigint;
}

/** A stored IDevicePaymaster.Budget seen at `at` (undefined when unset: period 0). */
export function budgetAt(
  stored: { cap: bigint; spent: bigint; period: bigint; window: bigint },
  at: bigint,
): BudgetState | undefined {
  if (stored.period === 0n) return undefined;
  const window = at / stored.period;
  const spent = stored.window === window ? stored.spent : 0n;
  return {
    cap: stored.cap,
    period: stored.period,
    spent,
    remaining: spent >= stored.cap ? 0n : stored.cap - spent,
    windowEndsAt: (window + 1n) * stored.period,
  };
}

export interface PaymasterState {
  readonly paymaster: Hex;
  readonly owner: Hex;
  readonly entryPoint: Hex;
  readonly at: bigint;
  /** The paymaster's EntryPoint deposit (the operators' balances plus the surplus). */
  readonly deposit: bigint;
  readonly totalFunds: bigint;
  readonly surplus: bigint;
  readonly stake: {
    readonly staked: boolean;
    readonly amount: bigint;
    readonly unstakeDelaySec: bigint;
    /** Non-zero once unlocked: the stake may be withdrawn from then. */
    readonly withdrawTime: bigint;
  };
  readonly operator?: {
    readonly address: Hex;
    readonly funds: bigint;
    /** undefined: no budget set, so nothing of it is sponsored. */
    readonly budget: BudgetState | undefined;
  };
  readonly account?: {
    readonly address: Hex;
    /** The operator that sponsors it (undefined: none). */
    readonly sponsor: Hex | undefined;
    /** undefined: no budget of its own (the operator's applies). */
    readonly budget: BudgetState | undefined;
  };
}

function addressOrUndefined(value: string): Hex | undefined {
  return /^0x0{40}$/i.test(value) ? undefined : (getAddress(value) as Hex);
}

/** The paymaster's state, with an operator's and an account's part when asked for. */
export async function paymasterState(
  provider: Provider,
  paymaster: string,
  about: { readonly operator?: string | undefined; readonly account?: string | undefined } = {},
): Promise<PaymasterState> {
  const block = await provider.getBlock("latest");
  const blockTag = block?.number ?? "latest";
  const at = BigInt(block?.timestamp ?? 0);
  const contract = paymasterAt(paymaster, provider);
  const overrides = { blockTag };
  const [owner, entryPoint, totalFunds, surplus] = await Promise.all([
    contract.owner(overrides),
    contract.entryPoint(overrides),
    contract.totalFunds(overrides),
    contract.surplus(overrides),
  ]);
  const info = (await entryPointAt(entryPoint, provider).getFunction("getDepositInfo")(
    paymaster,
    overrides,
  )) as {
    deposit: bigint;
    staked: boolean;
    stake: bigint;
    unstakeDelaySec: bigint;
    withdrawTime: bigint;
  };
  const result: PaymasterState = {
    paymaster: getAddress(paymaster) as Hex,
    owner: getAddress(owner) as Hex,
    entryPoint: getAddress(entryPoint) as Hex,
    at,
    deposit: info.deposit,
    totalFunds,
    surplus,
    stake: {
      staked: info.staked,
      amount: info.stake,
      unstakeDelaySec: info.unstakeDelaySec,
      withdrawTime: info.withdrawTime,
    },
  };
  const operator =
    about.operator === undefined
      ? undefined
      : {
          address: getAddress(about.operator) as Hex,
          funds: await contract.fundsOf(about.operator, overrides),
          budget: budgetAt(await contract.operatorBudget(about.operator, overrides), at),
        };
  const account =
    about.account === undefined
      ? undefined
      : {
          address: getAddress(about.account) as Hex,
          sponsor: addressOrUndefined(await contract.sponsorOf(about.account, overrides)),
          budget: budgetAt(await contract.accountBudget(about.account, overrides), at),
        };
  return {
    ...result,
    ...(operator === undefined ? {} : { operator }),
    ...(account === undefined ? {} : { account }),
  };
}
