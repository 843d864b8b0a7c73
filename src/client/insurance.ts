import {
  Contract,
  type ContractRunner,
  type Interface,
  type LogDescription,
  type Signer,
  type TransactionReceipt,
} from "ethers";
import { DeviceTrustError, InvalidInputError, asHex, type Hex } from "../protocol/index.js";
import {
  IInsurancePool__factory,
  type IInsurancePool,
} from "../../types/ethers-contracts/index.js";
import { contractError } from "./decode-error.js";
import { INCIDENT_KINDS } from "./proofs.js";
import { inWords, type CollateralToken } from "./staking.js";
import { send, type TxResult } from "./transaction.js";
import { formatAmount } from "./units.js";

export type { IInsurancePool };

/**
 * The insurer's side of the insurance pool (an ERC-4626 vault): deposit, request a withdrawal, redeem after
 * the cooldown, show the pool. Shared with insurance-cover.ts: the pool and its asset, amounts in the
 * asset's decimal units, targets, terms and the human view of amounts.
 */

/** The InsurancePool at `address`, sending transactions from (or reading through) `runner`. */
export function poolAt(address: string, runner: ContractRunner): IInsurancePool {
  return IInsurancePool__factory.connect(asHex(address, "pool address", 20), runner);
}

/** An ERC-20 as the pool's clients see it: its address, symbol and decimals. */
export interface AssetInfo {
  readonly address: Hex;
  readonly symbol: string;
  readonly decimals: number;
}

/** The units amounts are shown in: the pool's asset and its shares. */
export interface PoolUnits {
  readonly asset: AssetInfo;
  readonly shares: AssetInfo;
}

const METADATA_ABI = [
  "function symbol() view returns (string)",
  "function decimals() view returns (uint8)",
] as const;

/** The symbol and decimals of the ERC-20 at `address`. */
export async function tokenInfo(
  address: string,
  runner: ContractRunner | null,
): Promise<AssetInfo> {
  const token = new Contract(address, METADATA_ABI, runner);
  const [symbol, decimals] = await Promise.all([
    token.getFunction("symbol").staticCall() as Promise<string>,
    token.getFunction("decimals").staticCall() as Promise<bigint>,
  ]);
  return { address: asHex(address, "token address", 20), symbol, decimals: Number(decimals) };
}

/** The pool's asset and share token (the pool itself): symbols and decimals. */
export async function poolUnits(pool: IInsurancePool): Promise<PoolUnits> {
  const [asset, shares] = await Promise.all([
    pool.asset().then((a) => tokenInfo(a, pool.runner)),
    pool.getAddress().then((p) => tokenInfo(p, pool.runner)),
  ]);
  return { asset, shares };
}

/** Result fields that hold an amount of the pool's asset. */
const ASSET_FIELDS: ReadonlySet<string> = new Set([
  "assets",
  "amount",
  "premium",
  "quoted",
  "maxPremium",
  "payout",
  "paid",
  "remaining",
  "totalAssets",
  "lockedCapital",
  "freeCapital",
  "assetsPerShare",
  "value",
  "redeemableAssets",
  "covered",
  "capacity",
  "costOfCorruption",
  "coverageInForce",
  "margin",
  "valueAtRisk",
  "unlocked",
  "unearned",
  "liabilities",
  "liability",
  "recovery",
  "vested",
  "share",
  "exposure",
  "reserved",
  "allocation",
  "allocated",
  "unallocated",
  "required",
  "memberPaid",
  "available",
]);

/** Result fields that hold an amount of pool shares. */
const SHARE_FIELDS: ReadonlySet<string> = new Set([
  "shares",
  "totalShares",
  "requestedShares",
  "redeemableShares",
  "remainingShares",
  "heldShares",
]);

/** Result fields that hold a time (unix seconds; 0 for none). */
const TIME_FIELDS: ReadonlySet<string> = new Set([
  "start",
  "end",
  "unlockAt",
  "expiresAt",
  "releasableAfter",
]);

function signed(amount: bigint, token: AssetInfo): string {
  const text = `${formatAmount(amount < 0n ? -amount : amount, token)} ${token.symbol}`;
  return amount < 0n ? `-${text}` : text;
}

/**
 * A result for people: every amount field (bigint) in decimal units with its symbol ("1000.5 DTC",
 * "998.1 dtINS"), times as ISO dates. JSON output keeps base units and unix seconds; `raw` keeps them
 * here too.
 */
export function humanAmounts(value: unknown, units: PoolUnits, raw = false): unknown {
  if (raw) return value;
  if (Array.isArray(value)) return value.map((v) => humanAmounts(v, units));
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === "bigint" && ASSET_FIELDS.has(k)) out[k] = signed(v, units.asset);
    else if (typeof v === "bigint" && SHARE_FIELDS.has(k)) out[k] = signed(v, units.shares);
    else if (typeof v === "bigint" && TIME_FIELDS.has(k) && v > 0n)
      out[k] = new Date(Number(v) * 1000).toISOString();
    else out[k] = humanAmounts(v, units);
  }
  return out;
}

// ------------------------------------------------------------------ shared by the pool and cover clients

/** The address of the signer `contract` sends from; InvalidInputError when it has none. */
export async function senderOf(contract: { readonly runner: ContractRunner | null }): Promise<Hex> {
  const runner = contract.runner;
  if (runner === null || !("getAddress" in runner)) {
    throw new InvalidInputError("connect the pool to the sending account's signer");
  }
  return asHex(await (runner as Signer).getAddress(), "sender", 20);
}

/** Approves `spender` for `amount` unless the allowance already covers it; the approval's hash or null. */
export async function ensureAllowance(
  token: CollateralToken,
  owner: string,
  spender: string,
  amount: bigint,
): Promise<Hex | null> {
  if ((await token.allowance(owner, spender)) >= amount) return null;
  return (await send(() => token.approve(spender, amount))).txHash;
}

/** The logs of `receipt` that `iface` declares under `name` (logs of other contracts are skipped). */
export function eventsNamed(
  iface: Interface,
  receipt: TransactionReceipt,
  name: string,
): LogDescription[] {
  const out: LogDescription[] = [];
  for (const log of receipt.logs) {
    let parsed;
    try {
      parsed = iface.parseLog(log);
    } catch {
      continue; // a log of the asset or of another contract with the same topic and other fields
    }
    if (parsed?.name === name) out.push(parsed);
  }
  return out;
}

/** The one `name` event of `receipt`, or a DeviceTrustError saying the address is not a pool. */
export function oneEvent(
  iface: Interface,
  receipt: TransactionReceipt,
  name: string,
  txHash: string,
): LogDescription {
  const found = eventsNamed(iface, receipt, name)[0];
  if (found === undefined) {
    throw new DeviceTrustError(
      "NO_POOL_EVENT",
      `transaction ${txHash} emitted no ${name} event: check that --pool is an InsurancePool`,
    );
  }
  return found;
}

/** The transaction fields of a result (hash, block, gas) out of what `send` returned. */
export function txResult(tx: TxResult): TxResult {
  return { txHash: tx.txHash, blockNumber: tx.blockNumber, gasUsed: tx.gasUsed };
}

/** An incident id as given on the command line (--incident), which proof submit prints. */
export function parseIncidentId(value: string): Hex {
  if (value.trim() === "") {
    throw new InvalidInputError("name the incident: --incident <id> (proof submit prints it)");
  }
  return asHex(value.trim(), "incident id", 32);
}

/** The latest block's time (the chain's clock, not the local one). */
export async function chainTime(contract: {
  readonly runner: ContractRunner | null;
}): Promise<bigint> {
  const block = await contract.runner?.provider?.getBlock("latest");
  return BigInt(block?.timestamp ?? Math.floor(Date.now() / 1000));
}

// ------------------------------------------------------------------ pool deposit

export interface PoolDepositOptions {
  /** Connected to the insurer. */
  readonly pool: IInsurancePool;
  /** The pool's asset, connected to the same insurer. */
  readonly token: CollateralToken;
  readonly assets: bigint;
  /** Who receives the shares (default: the insurer). */
  readonly receiver?: string | undefined;
}

export interface PoolDepositResult extends TxResult {
  /** The approval transaction, or null when the allowance already covered the deposit. */
  readonly approveTxHash: Hex | null;
  readonly receiver: Hex;
  readonly assets: bigint;
  /** Shares minted for the deposit. */
  readonly shares: bigint;
  /** What the receiver's shares are worth now, in the asset. */
  readonly value: bigint;
}

/** Approves the pool (if needed) and deposits `assets`; reports the shares minted. */
export async function poolDeposit(options: PoolDepositOptions): Promise<PoolDepositResult> {
  const { pool, token } = options;
  if (options.assets <= 0n) throw new InvalidInputError("the deposit must be a positive amount");
  const insurer = await senderOf(pool);
  const receiver =
    options.receiver === undefined || options.receiver === ""
      ? insurer
      : asHex(options.receiver, "receiver", 20);
  const approveTxHash = await ensureAllowance(
    token,
    insurer,
    await pool.getAddress(),
    options.assets,
  );
  const tx = await send(() => pool.deposit(options.assets, receiver));
  const deposited = oneEvent(pool.interface, tx.receipt, "Deposit", tx.txHash);
  return {
    ...txResult(tx),
    approveTxHash,
    receiver,
    assets: deposited.args.getValue("assets") as bigint,
    shares: deposited.args.getValue("shares") as bigint,
    value: await pool.convertToAssets(await pool.balanceOf(receiver)),
  };
}

// ------------------------------------------------------------------ withdrawal request

export interface PoolRequestResult extends TxResult {
  readonly owner: Hex;
  /** Shares escrowed by this request. */
  readonly shares: bigint;
  /** The whole escrowed request after this one (a new request adds to the pending one). */
  readonly requestedShares: bigint;
  /** What the requested shares are worth now. */
  readonly value: bigint;
  readonly unlockAt: bigint;
  readonly unlocks: string;
  /** The request can be redeemed from unlockAt until this time; then it expires. */
  readonly expiresAt: bigint;
  readonly request: string;
}

/**
 * Escrows `shares` of the insurer (or "all" its shares) for withdrawal after the cooldown; a new request
 * adds to the pending one and restarts its cooldown.
 */
export async function poolRequestWithdrawal(
  pool: IInsurancePool,
  shares: bigint | "all",
): Promise<PoolRequestResult> {
  const owner = await senderOf(pool);
  const amount = shares === "all" ? await pool.balanceOf(owner) : shares;
  if (amount <= 0n) {
    throw new InvalidInputError(
      shares === "all"
        ? `${owner} holds no free pool shares: deposit first (pool deposit), or see the pending request (pool show)`
        : "the shares to withdraw must be a positive amount",
    );
  }
  const tx = await send(() => pool.requestWithdrawal(amount));
  const [request, now] = await Promise.all([pool.withdrawalRequest(owner), chainTime(pool)]);
  return {
    ...txResult(tx),
    owner,
    shares: amount,
    requestedShares: request.shares,
    value: await pool.convertToAssets(request.shares),
    unlockAt: request.unlockAt,
    unlocks: inWords(request.unlockAt, now),
    expiresAt: request.expiresAt,
    request: requestInWords(request, now),
  };
}

// ------------------------------------------------------------------ cancel the withdrawal request

export interface PoolCancelResult extends TxResult {
  readonly owner: Hex;
  /** Shares taken back from escrow. */
  readonly shares: bigint;
  /** What they are worth now. */
  readonly value: bigint;
  /** The owner's free shares after the cancellation. */
  readonly heldShares: bigint;
}

/**
 * Takes back all shares of the insurer's pending withdrawal request. Before sending, says so when there is
 * no request.
 */
export async function poolCancelWithdrawal(pool: IInsurancePool): Promise<PoolCancelResult> {
  const owner = await senderOf(pool);
  const request = await pool.withdrawalRequest(owner);
  if (request.shares === 0n) throw contractError("InsuranceNoWithdrawalRequest", [owner]);
  const tx = await send(() => pool.cancelWithdrawal());
  const cancelled = oneEvent(pool.interface, tx.receipt, "WithdrawalCancelled", tx.txHash);
  const shares = cancelled.args.getValue("shares") as bigint;
  return {
    ...txResult(tx),
    owner,
    shares,
    value: await pool.convertToAssets(shares),
    heldShares: await pool.balanceOf(owner),
  };
}

// ------------------------------------------------------------------ withdraw (redeem)

export interface PoolWithdrawResult extends TxResult {
  readonly owner: Hex;
  readonly receiver: Hex;
  /** Shares burnt from the request. */
  readonly shares: bigint;
  /** Assets paid to the receiver. */
  readonly assets: bigint;
  /** Shares still escrowed in the request. */
  readonly remainingShares: bigint;
}

/**
 * Redeems matured requested shares: `shares`, or by default as many as may leave now (the matured request,
 * at most what the capital no coverage locks pays for). Before sending, says why nothing can leave: no
 * request, cooldown running, request expired, or capital locked.
 */
export async function poolWithdraw(
  pool: IInsurancePool,
  options: { readonly shares?: bigint | undefined; readonly receiver?: string | undefined } = {},
): Promise<PoolWithdrawResult> {
  const owner = await senderOf(pool);
  const receiver =
    options.receiver === undefined || options.receiver === ""
      ? owner
      : asHex(options.receiver, "receiver", 20);
  const [request, redeemable, now] = await Promise.all([
    pool.withdrawalRequest(owner),
    pool.maxRedeem(owner),
    chainTime(pool),
  ]);
  if (request.shares === 0n) throw contractError("InsuranceNoWithdrawalRequest", [owner]);
  if (request.unlockAt > now) throw contractError("InsuranceCooldown", [owner, request.unlockAt]);
  // Redeemable while block.timestamp < expiresAt; the next block comes after `now`.
  if (now + 1n >= request.expiresAt) {
    throw contractError("InsuranceRequestExpired", [owner, request.expiresAt]);
  }
  const shares = options.shares ?? redeemable;
  if (shares > request.shares) {
    throw contractError("InsuranceExceedsRequest", [owner, shares, request.shares]);
  }
  if (shares === 0n || shares > redeemable) {
    const [assets, free] = await Promise.all([
      pool.previewRedeem(shares === 0n ? request.shares : shares),
      pool.freeCapital(),
    ]);
    throw contractError("InsuranceCapitalLocked", [assets, free]);
  }
  const tx = await send(() => pool.redeem(shares, receiver, owner));
  const withdrawn = oneEvent(pool.interface, tx.receipt, "Withdraw", tx.txHash);
  return {
    ...txResult(tx),
    owner,
    receiver,
    shares: withdrawn.args.getValue("shares") as bigint,
    assets: withdrawn.args.getValue("assets") as bigint,
    remainingShares: (await pool.withdrawalRequest(owner)).shares,
  };
}

// ------------------------------------------------------------------ show

export interface PoolParamsView {
  readonly maxUtilizationBps: number;
  readonly coverFactorBps: number;
  readonly baseRateBps: number;
  readonly utilizationRateBps: number;
  readonly capacityRateBps: number;
  readonly attestationRateBps: number;
  /** A premium is at least this share of the amount. */
  readonly minPremiumBps: number;
  readonly maxAttestationAge: bigint;
  readonly minTerm: bigint;
  readonly maxTerm: bigint;
  /** Between a withdrawal request and its first redeem (longer than the evidence window). */
  readonly cooldown: bigint;
  /** How long a matured withdrawal request can be redeemed before it expires. */
  readonly withdrawalWindow: bigint;
  /** Between a sale and the start of its coverage. */
  readonly waitingPeriod: bigint;
  /** How long after its term a policy can still be claimed on (longer than the evidence window). */
  readonly claimWindow: bigint;
  /** Over how long a recovery beyond the liability it covers is earned. */
  readonly recoveryVesting: bigint;
}

export interface PoolAccountView {
  readonly address: Hex;
  /** Free shares (not escrowed in a request). */
  readonly shares: bigint;
  /** What the free shares are worth now. */
  readonly value: bigint;
  readonly requestedShares: bigint;
  readonly unlockAt: bigint;
  readonly unlocks: string;
  /** When the request stops being redeemable (unlockAt + withdrawalWindow; 0 when none). */
  readonly expiresAt: bigint;
  /** Whether the request can be redeemed, will be, or expired, as a sentence. */
  readonly request: string;
  /** What may leave now (pool withdraw): matured request, limited by free capital. */
  readonly redeemableShares: bigint;
  readonly redeemableAssets: bigint;
}

export interface PoolView {
  readonly pool: Hex;
  readonly asset: AssetInfo;
  readonly shareToken: AssetInfo;
  /** Booked assets: deposits, premiums and recoveries minus payouts and withdrawals (donations excluded). */
  readonly totalAssets: bigint;
  readonly totalShares: bigint;
  /** What one whole share redeems for. */
  readonly assetsPerShare: bigint;
  readonly lockedCapital: bigint;
  readonly freeCapital: bigint;
  /** Premiums and recoveries received but not yet earned (they stream into totalAssets). */
  readonly unearned: bigint;
  /** Proven liabilities (exposures of slashed devices) not yet paid out to claims. */
  readonly liabilities: bigint;
  /** Locked coverage over assets, in bps (the pool sells up to params.maxUtilizationBps). */
  readonly utilizationBps: number;
  readonly params: PoolParamsView;
  /** Payout per incident kind, in bps of the policy amount. */
  readonly payoutBps: Readonly<Record<string, number>>;
  readonly account: PoolAccountView | null;
}

export function poolParamsView(p: IInsurancePool.PoolParamsStructOutput): PoolParamsView {
  return {
    maxUtilizationBps: Number(p.maxUtilizationBps),
    coverFactorBps: Number(p.coverFactorBps),
    baseRateBps: Number(p.baseRateBps),
    utilizationRateBps: Number(p.utilizationRateBps),
    capacityRateBps: Number(p.capacityRateBps),
    attestationRateBps: Number(p.attestationRateBps),
    minPremiumBps: Number(p.minPremiumBps),
    maxAttestationAge: p.maxAttestationAge,
    minTerm: p.minTerm,
    maxTerm: p.maxTerm,
    cooldown: p.cooldown,
    withdrawalWindow: p.withdrawalWindow,
    waitingPeriod: p.waitingPeriod,
    claimWindow: p.claimWindow,
    recoveryVesting: p.recoveryVesting,
  };
}

async function accountView(pool: IInsurancePool, address: Hex): Promise<PoolAccountView> {
  const [shares, request, redeemableShares, redeemableAssets, now] = await Promise.all([
    pool.balanceOf(address),
    pool.withdrawalRequest(address),
    pool.maxRedeem(address),
    pool.maxWithdraw(address),
    chainTime(pool),
  ]);
  return {
    address,
    shares,
    value: await pool.convertToAssets(shares),
    requestedShares: request.shares,
    unlockAt: request.unlockAt,
    unlocks: inWords(request.unlockAt, now),
    expiresAt: request.expiresAt,
    request: requestInWords(request, now),
    redeemableShares,
    redeemableAssets,
  };
}

/**
 * A withdrawal request in words: none, redeemable from unlockAt, redeemable until expiresAt, or expired
 * (then only cancelling it and requesting again frees the shares).
 */
export function requestInWords(
  request: { readonly shares: bigint; readonly unlockAt: bigint; readonly expiresAt: bigint },
  now: bigint,
): string {
  if (request.shares === 0n) return "no withdrawal request";
  const iso = (t: bigint): string => new Date(Number(t) * 1000).toISOString();
  // The contract redeems in [unlockAt, expiresAt); the next block comes after `now`.
  if (now >= request.expiresAt) {
    return `expired at ${iso(request.expiresAt)}: the request can no longer be redeemed; cancel it (pool cancel-withdrawal) and request again`;
  }
  if (now < request.unlockAt) {
    return `cooling down: redeemable from ${iso(request.unlockAt)} until ${iso(request.expiresAt)}`;
  }
  return `redeemable now, until ${iso(request.expiresAt)} (then it expires)`;
}

/** The pool's capital, locked and free, utilization, parameters, payouts, and `account`'s position. */
export async function poolShow(pool: IInsurancePool, account?: string): Promise<PoolView> {
  const units = await poolUnits(pool);
  const kinds = INCIDENT_KINDS.slice(1);
  const [
    totalAssets,
    totalShares,
    assetsPerShare,
    locked,
    free,
    unearned,
    liabilities,
    params,
    payouts,
  ] = await Promise.all([
    pool.totalAssets(),
    pool.totalSupply(),
    pool.convertToAssets(10n ** BigInt(units.shares.decimals)),
    pool.lockedCapital(),
    pool.freeCapital(),
    pool.unearned(),
    pool.liabilities(),
    pool.params(),
    Promise.all(kinds.map((_, i) => pool.payoutBps(i + 1))),
  ]);
  const payoutBps: Record<string, number> = {};
  kinds.forEach((kind, i) => {
    payoutBps[kind] = Number(payouts[i] ?? 0n);
  });
  return {
    pool: asHex(await pool.getAddress(), "pool address", 20),
    asset: units.asset,
    shareToken: units.shares,
    totalAssets,
    totalShares,
    assetsPerShare,
    lockedCapital: locked,
    freeCapital: free,
    unearned,
    liabilities,
    utilizationBps: totalAssets === 0n ? 0 : Number((locked * 10_000n) / totalAssets),
    params: poolParamsView(params),
    payoutBps,
    account:
      account === undefined || account === ""
        ? null
        : await accountView(pool, asHex(account, "account", 20)),
  };
}
