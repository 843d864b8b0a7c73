import { formatAmount } from "./units.js";
import {
  Contract,
  type ContractRunner,
  type ContractTransactionResponse,
  type Signer,
  type TransactionReceipt,
} from "ethers";
import { DeviceTrustError, InvalidInputError, asHex, type Hex } from "../protocol/index.js";
import {
  DeviceStaking__factory,
  IDeviceStaking__factory,
  IStakeBacker__factory,
  type IDeviceStaking,
} from "../../types/ethers-contracts/index.js";
import { feedAddressOf, feedIdOf } from "./feeds.js";
import { send, type TxResult } from "./transaction.js";

export type { IDeviceStaking };

/** The ERC-20 calls the staking client makes on the collateral token. */
export interface CollateralToken {
  getAddress(): Promise<string>;
  approve(spender: string, amount: bigint): Promise<ContractTransactionResponse>;
  allowance(owner: string, spender: string): Promise<bigint>;
  balanceOf(account: string): Promise<bigint>;
}

const ERC20_ABI = [
  "function approve(address spender, uint256 amount) returns (bool)",
  "function allowance(address owner, address spender) view returns (uint256)",
  "function balanceOf(address account) view returns (uint256)",
] as const;

/** The collateral token at `address` (any ERC-20), sending through `runner`. */
export function collateralTokenAt(address: string, runner: ContractRunner): CollateralToken {
  // ethers builds the methods from the ABI at run time; CollateralToken names exactly those three.
  return new Contract(
    asHex(address, "token address", 20),
    ERC20_ABI,
    runner,
  ) as unknown as CollateralToken;
}

/** The DeviceStaking at `address`, sending transactions from (or reading through) `runner`. */
export function stakingAt(address: string, runner: ContractRunner): IDeviceStaking {
  return IDeviceStaking__factory.connect(asHex(address, "staking address", 20), runner);
}

/** The collateral token of a DeviceStaking (its public `TOKEN` immutable). */
export async function stakingToken(staking: IDeviceStaking): Promise<Hex> {
  const token = await DeviceStaking__factory.connect(
    await staking.getAddress(),
    staking.runner,
  ).TOKEN();
  return asHex(token, "collateral token", 20);
}

function positive(amount: bigint, what: string): bigint {
  if (amount <= 0n) throw new InvalidInputError(`${what} must be a positive amount of token units`);
  return amount;
}

function events(staking: IDeviceStaking, receipt: TransactionReceipt, name: string) {
  const out = [];
  for (const log of receipt.logs) {
    let parsed;
    try {
      parsed = staking.interface.parseLog(log);
    } catch {
      continue; // a log of the token or the registry
    }
    if (parsed?.name === name) out.push(parsed);
  }
  return out;
}

export interface StakeDepositOptions {
  /** Connected to the device's operator. */
  readonly staking: IDeviceStaking;
  /** The collateral token, connected to the same operator. */
  readonly token: CollateralToken;
  readonly deviceId: string;
  readonly amount: bigint;
}

export interface StakeDepositResult extends TxResult {
  readonly deviceId: Hex;
  /** The approval transaction, or null when the allowance already covered the amount. */
  readonly approveTxHash: Hex | null;
  readonly requested: bigint;
  /** What the staking contract credited (what actually arrived; less for a fee-on-transfer token). */
  readonly credited: bigint;
  readonly active: bigint;
}

/** Approves the staking contract (if needed) and bonds `amount` for the device; reports what was credited. */
export async function stakeDeposit(options: StakeDepositOptions): Promise<StakeDepositResult> {
  const { staking, token } = options;
  const deviceId = asHex(options.deviceId, "device id", 32);
  const amount = positive(options.amount, "the stake");
  const runner = staking.runner;
  if (runner === null || !("getAddress" in runner)) {
    throw new InvalidInputError("connect the staking contract to the operator's signer");
  }
  const owner = await (runner as Signer).getAddress();
  const stakingAddress = await staking.getAddress();
  let approveTxHash: Hex | null = null;
  if ((await token.allowance(owner, stakingAddress)) < amount) {
    approveTxHash = (await send(() => token.approve(stakingAddress, amount))).txHash;
  }
  const tx = await send(() => staking.stake(deviceId, amount));
  const staked = events(staking, tx.receipt, "Staked")[0];
  if (staked === undefined) {
    throw new DeviceTrustError(
      "NO_STAKED_EVENT",
      `transaction ${tx.txHash} emitted no Staked event: check that --staking is a DeviceStaking`,
    );
  }
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    deviceId,
    approveTxHash,
    requested: amount,
    credited: staked.args.getValue("amount") as bigint,
    active: staked.args.getValue("active") as bigint,
  };
}

export interface WithdrawalRequestResult extends TxResult {
  readonly deviceId: Hex;
  readonly amount: bigint;
  /** The whole pending withdrawal after this request (a new request adds to the pending one). */
  readonly pending: bigint;
  readonly unlockAt: bigint;
  readonly unlocks: string;
}

/** The operator asks to withdraw `amount`; it unlocks after the unbonding period and stays slashable. */
export async function requestWithdrawal(
  staking: IDeviceStaking,
  deviceId: string,
  amount: bigint,
): Promise<WithdrawalRequestResult> {
  const id = asHex(deviceId, "device id", 32);
  const tx = await send(() => staking.requestWithdrawal(id, positive(amount, "the withdrawal")));
  const record = await staking.stakeOf(id);
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    deviceId: id,
    amount,
    pending: record.pending,
    unlockAt: record.unlockAt,
    unlocks: inWords(record.unlockAt, await blockTime(staking)),
  };
}

export interface WithdrawResult extends TxResult {
  readonly deviceId: Hex;
  readonly amount: bigint;
}

/** The operator collects an unlocked withdrawal. */
export async function withdraw(staking: IDeviceStaking, deviceId: string): Promise<WithdrawResult> {
  const id = asHex(deviceId, "device id", 32);
  const tx = await send(() => staking.withdraw(id));
  const withdrawn = events(staking, tx.receipt, "Withdrawn")[0];
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    deviceId: id,
    amount: withdrawn === undefined ? 0n : (withdrawn.args.getValue("amount") as bigint),
  };
}

export interface StakeParamsView {
  readonly minStake: bigint;
  readonly unbondingPeriod: bigint;
  readonly bountyBps: number;
  readonly lossRecipient: Hex;
}

export interface StakeView {
  readonly deviceId: Hex;
  /** Backs coverage and feed eligibility; a proof takes it. */
  readonly active: bigint;
  /** Requested for withdrawal: still slashable until withdrawn, but backs nothing. */
  readonly pending: bigint;
  readonly slashable: bigint;
  /** Active stake allocated to backers (insurance pools), and the rest (what may be requested). */
  readonly allocated: bigint;
  readonly unallocated: bigint;
  readonly allocations: readonly AllocationView[];
  /** 0 when no withdrawal is pending. */
  readonly unlockAt: bigint;
  readonly unlocks: string;
  readonly params: StakeParamsView;
  /** Scheduled parameters, or null when none are scheduled. */
  readonly pendingParams: (StakeParamsView & { readonly effectiveAt: bigint }) | null;
}

function paramsView(p: IDeviceStaking.ParamsStructOutput): StakeParamsView {
  return {
    minStake: p.minStake,
    unbondingPeriod: p.unbondingPeriod,
    bountyBps: Number(p.bountyBps),
    lossRecipient: p.lossRecipient.toLowerCase() as Hex,
  };
}

async function blockTime(staking: IDeviceStaking): Promise<bigint> {
  const block = await staking.runner?.provider?.getBlock("latest");
  return BigInt(block?.timestamp ?? Math.floor(Date.now() / 1000));
}

/** "no withdrawal pending", "unlocked", or "in 3d 4h 5m (2026-…Z)". */
export function inWords(unlockAt: bigint, now: bigint): string {
  if (unlockAt === 0n) return "no withdrawal pending";
  const iso = new Date(Number(unlockAt) * 1000).toISOString();
  if (unlockAt <= now) return `unlocked since ${iso}`;
  let left = Number(unlockAt - now);
  const parts: string[] = [];
  for (const [unit, size] of [
    ["d", 86400],
    ["h", 3600],
    ["m", 60],
  ] as const) {
    if (left >= size) {
      parts.push(`${String(Math.floor(left / size))}${unit}`);
      left %= size;
    }
  }
  if (parts.length === 0 || left > 0) parts.push(`${String(left)}s`);
  return `in ${parts.join(" ")} (${iso})`;
}

/** The device's stake, what a proof would slash, the parameters in force and scheduled. */
export async function stakeShow(staking: IDeviceStaking, deviceId: string): Promise<StakeView> {
  const id = asHex(deviceId, "device id", 32);
  const [record, slashable, params, [next, effectiveAt], now, allocated, allocations] =
    await Promise.all([
      staking.stakeOf(id),
      staking.slashableOf(id),
      staking.params(),
      staking.pendingParams(),
      blockTime(staking),
      staking.allocatedOf(id),
      stakeAllocations(staking, id),
    ]);
  return {
    deviceId: id,
    active: record.active,
    pending: record.pending,
    slashable,
    allocated,
    unallocated: record.active - allocated,
    allocations,
    unlockAt: record.unlockAt,
    unlocks: inWords(record.unlockAt, now),
    params: paramsView(params),
    pendingParams: effectiveAt === 0n ? null : { ...paramsView(next), effectiveAt },
  };
}

// ------------------------------------------------------------------ allocations

/** What an allocation backs: coverage on the device itself, or on a feed the device is a member of. */
export type AllocationScopeKind = "device" | "feed";

export interface AllocationScope {
  readonly scopeKind: AllocationScopeKind;
  /** The scope as staking keys it: the device id, or the feed id (its address padded to 32 bytes). */
  readonly scope: Hex;
}

/**
 * The scope of an allocation of `deviceId`: the feed named by `feed` (its address or its feed id), or the
 * device itself when `feed` is empty.
 */
export function allocationScope(deviceId: string, feed?: string): AllocationScope {
  const f = (feed ?? "").trim();
  if (f === "") return { scopeKind: "device", scope: asHex(deviceId, "device id", 32) };
  const address = f.length === 66 ? feedAddressOf(f) : asHex(f, "--feed", 20);
  return { scopeKind: "feed", scope: feedIdOf(address) };
}

export interface AllocationView {
  readonly backer: Hex;
  readonly scopeKind: AllocationScopeKind;
  readonly scope: Hex;
  readonly amount: bigint;
  /** What the backer's live coverage still uses of it (cannot be deallocated), or null if it did not say. */
  readonly required: bigint | null;
}

async function requiredOf(
  staking: IDeviceStaking,
  deviceId: Hex,
  backer: string,
  scope: string,
): Promise<bigint | null> {
  try {
    return await IStakeBacker__factory.connect(backer, staking.runner).requiredAllocation(
      deviceId,
      scope,
    );
  } catch {
    return null; // a backer that is no contract or not an IStakeBacker (never approved, or governance erred)
  }
}

/** Every allocation of the device: backer, scope, amount, and what live coverage requires of it. */
export async function stakeAllocations(
  staking: IDeviceStaking,
  deviceId: string,
): Promise<AllocationView[]> {
  const id = asHex(deviceId, "device id", 32);
  const list = await staking.allocationsOf(id);
  return Promise.all(
    list.map(async (a): Promise<AllocationView> => {
      const scope = a.scope.toLowerCase() as Hex;
      return {
        backer: a.backer.toLowerCase() as Hex,
        scopeKind: scope === id.toLowerCase() ? "device" : "feed",
        scope,
        amount: a.amount,
        required: await requiredOf(staking, id, a.backer, scope),
      };
    }),
  );
}

export interface AllocationOptions {
  /** Connected to the device's operator. */
  readonly staking: IDeviceStaking;
  readonly deviceId: string;
  /** The backer (an insurance pool governance approved). */
  readonly backer: string;
  /** The feed the allocation backs coverage on (address or feed id); empty: the device itself. */
  readonly feed?: string | undefined;
  readonly amount: bigint;
}

export interface AllocationResult extends TxResult, AllocationScope {
  readonly deviceId: Hex;
  readonly backer: Hex;
  /** What this transaction moved. */
  readonly amount: bigint;
  /** The allocation to (backer, scope) after it. */
  readonly allocation: bigint;
  /** Active stake no allocation holds after it (what a withdrawal request may take). */
  readonly unallocated: bigint;
  /** What the backer's live coverage uses of the allocation (it cannot be deallocated). */
  readonly required: bigint | null;
}

async function allocationTx(
  options: AllocationOptions,
  direction: "allocate" | "deallocate",
): Promise<AllocationResult> {
  const { staking } = options;
  const deviceId = asHex(options.deviceId, "device id", 32);
  const backer = asHex(options.backer, "backer (--pool)", 20).toLowerCase() as Hex;
  const { scope, scopeKind } = allocationScope(deviceId, options.feed);
  const amount = positive(options.amount, `the amount to ${direction}`);
  const tx = await send(() =>
    direction === "allocate"
      ? staking.allocate(deviceId, backer, scope, amount)
      : staking.deallocate(deviceId, backer, scope, amount),
  );
  const event = events(
    staking,
    tx.receipt,
    direction === "allocate" ? "Allocated" : "Deallocated",
  )[0];
  if (event === undefined) {
    throw new DeviceTrustError(
      "NO_ALLOCATION_EVENT",
      `transaction ${tx.txHash} emitted no ${direction === "allocate" ? "Allocated" : "Deallocated"} event: check that --staking is a DeviceStaking`,
    );
  }
  const [active, allocated, required] = await Promise.all([
    staking.activeOf(deviceId),
    staking.allocatedOf(deviceId),
    requiredOf(staking, deviceId, backer, scope),
  ]);
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    deviceId,
    backer,
    scopeKind,
    scope,
    amount: event.args.getValue("amount") as bigint,
    allocation: event.args.getValue("allocation") as bigint,
    unallocated: active - allocated,
    required,
  };
}

/**
 * The operator allocates `amount` of the device's unallocated active stake to `backer` for a scope (a
 * feed, or the device itself): the pool sells coverage only against such allocations.
 */
export async function stakeAllocate(options: AllocationOptions): Promise<AllocationResult> {
  return allocationTx(options, "allocate");
}

/**
 * The operator takes `amount` of an allocation back into unallocated active stake; the contract refuses to
 * go below what the backer's live coverage requires (StakingAllocationInUse, decoded).
 */
export async function stakeDeallocate(options: AllocationOptions): Promise<AllocationResult> {
  return allocationTx(options, "deallocate");
}

export interface BackerResult extends TxResult {
  readonly backer: Hex;
  readonly approved: boolean;
  /** Every backer governance ever approved (approved now or not). */
  readonly backers: readonly Hex[];
}

/**
 * Governance approves `backer` (an insurance pool over the collateral token) for allocations, or stops
 * approving it for new ones (`approved` false). The contract checks the asset and that the backer's cover
 * factor ceiling plus the bounty stays below 100%.
 */
export async function setBacker(
  staking: IDeviceStaking,
  backer: string,
  approved = true,
): Promise<BackerResult> {
  const address = asHex(backer, "backer (--pool)", 20).toLowerCase() as Hex;
  const tx = await send(() => staking.setBacker(address, approved));
  const [isBacker, backers] = await Promise.all([staking.isBacker(address), staking.backers()]);
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    backer: address,
    approved: isBacker,
    backers: backers.map((b) => b.toLowerCase() as Hex),
  };
}

/**
 * A stake view for people: every amount in the collateral's units with its symbol ("1.5 DTC"); the
 * parameters' bps and times as they are. JSON keeps base units (stakeShow's view).
 */
export function stakeInTokens(
  view: StakeView,
  token: { readonly symbol: string; readonly decimals: number },
): unknown {
  const tokens = (amount: bigint): string => `${formatAmount(amount, token)} ${token.symbol}`;
  const required = (r: bigint | null): string | null => (r === null ? null : tokens(r));
  return {
    ...view,
    active: tokens(view.active),
    pending: tokens(view.pending),
    slashable: tokens(view.slashable),
    allocated: tokens(view.allocated),
    unallocated: tokens(view.unallocated),
    allocations: view.allocations.map((a) => ({
      ...a,
      amount: tokens(a.amount),
      required: required(a.required),
    })),
    params: { ...view.params, minStake: tokens(view.params.minStake) },
    pendingParams:
      view.pendingParams === null
        ? null
        : { ...view.pendingParams, minStake: tokens(view.pendingParams.minStake) },
  };
}
