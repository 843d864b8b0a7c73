import { ZeroAddress } from "ethers";
import { InvalidInputError, asHex, type Hex } from "../protocol/index.js";
import {
  IDeviceFeed__factory,
  InsurancePool__factory,
} from "../../types/ethers-contracts/index.js";
import { ContractError, contractError, decodeContractError } from "./decode-error.js";
import { feedAddressOf, feedIdOf } from "./feeds.js";
import {
  chainTime,
  ensureAllowance,
  oneEvent,
  parseIncidentId,
  poolUnits,
  senderOf,
  txResult,
  type IInsurancePool,
} from "./insurance.js";
import { inWords, stakingAt, type CollateralToken } from "./staking.js";
import { send, type TxResult } from "./transaction.js";
import { formatAmount } from "./units.js";

/**
 * The integrator's side of the insurance pool: quote and buy coverage on a device or a feed, show the
 * policies of a target, claim on a recorded incident, and the target's economic security report.
 */

export type TargetKindName = "device" | "feed";

/** What a policy covers: a device (its id) or a feed (its address, as bytes32 on chain). */
export interface CoverTarget {
  readonly kind: TargetKindName;
  /** IInsurancePool.TargetKind: 0 Device, 1 Feed. */
  readonly kindIndex: 0 | 1;
  /** The target as the pool keys it: the device id, or the feed address left-padded to 32 bytes. */
  readonly target: Hex;
  /** The device id, or the feed's address. */
  readonly id: Hex;
}

/** The target named by exactly one of `device` (a device id) and `feed` (a feed address or feed id). */
export function parseTarget(options: {
  readonly device?: string | undefined;
  readonly feed?: string | undefined;
}): CoverTarget {
  const device = options.device ?? "";
  const feed = options.feed ?? "";
  if ((device === "") === (feed === "")) {
    throw new InvalidInputError(
      "name exactly one target: --device <device id> or --feed <feed address>",
    );
  }
  if (device !== "") {
    const id = asHex(device, "--device", 32);
    return { kind: "device", kindIndex: 0, target: id, id };
  }
  // A feed's address, or its feed id (the address padded to 32 bytes), as the feed tasks take it.
  const id = feed.length === 66 ? feedAddressOf(feed) : asHex(feed, "--feed", 20);
  return { kind: "feed", kindIndex: 1, target: feedIdOf(id), id };
}

const UNITS: Readonly<Record<string, bigint>> = {
  s: 1n,
  m: 60n,
  h: 3600n,
  d: 86_400n,
  w: 604_800n,
};

/** A term or duration: seconds ("3600"), or a number with a unit s, m, h, d or w ("30d", "12h"). */
export function parseDuration(value: string, what = "--term"): bigint {
  const m = /^(\d+)\s*([smhdw]?)$/.exec(value.trim());
  const unit = m === null ? undefined : UNITS[m[2] === "" || m[2] === undefined ? "s" : m[2]];
  if (m?.[1] === undefined || unit === undefined) {
    throw new InvalidInputError(
      `${what} "${value}" is not a duration: give seconds or a number with s, m, h, d or w (e.g. "30d")`,
    );
  }
  const seconds = BigInt(m[1]) * unit;
  if (seconds === 0n) throw new InvalidInputError(`${what} must be longer than 0 seconds`);
  return seconds;
}

/** Runs a view call and turns a revert into a ContractError (as `send` does for transactions). */
async function view<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err: unknown) {
    throw decodeContractError(err) ?? err;
  }
}

/** The premium `buyCoverage` would charge now (reverts, decoded, as buyCoverage would). */
export async function coverQuote(
  pool: IInsurancePool,
  target: CoverTarget,
  amount: bigint,
  term: bigint,
): Promise<bigint> {
  return view(() => pool.quote(target.kindIndex, target.target, amount, term));
}

// ------------------------------------------------------------------ buy

/** Slippage allowed by default between the quote and the purchase: 1% (the attestation ages meanwhile). */
export const DEFAULT_SLIPPAGE_BPS = 100;

export interface CoverBuyOptions {
  /** Connected to the buyer (who pays the premium). */
  readonly pool: IInsurancePool;
  /** The pool's asset, connected to the buyer. */
  readonly token: CollateralToken;
  readonly target: CoverTarget;
  readonly amount: bigint;
  /** Seconds from now. */
  readonly term: bigint;
  /** Who is paid on a claim: never the device's operator. */
  readonly beneficiary: string;
  /** maxPremium = quote + quote * slippageBps / 10_000, rounded up (default DEFAULT_SLIPPAGE_BPS). */
  readonly slippageBps?: number | undefined;
}

export interface CoverBuyResult extends TxResult {
  readonly kind: TargetKindName;
  readonly target: Hex;
  readonly serial: number;
  readonly beneficiary: Hex;
  readonly amount: bigint;
  /** The premium quoted before sending, the most the transaction could pay, and what it paid. */
  readonly quoted: bigint;
  readonly maxPremium: bigint;
  readonly premium: bigint;
  readonly start: bigint;
  readonly end: bigint;
  /** The approval transaction, or null when the allowance already covered maxPremium. */
  readonly approveTxHash: Hex | null;
}

/** Quotes, approves the premium with slippage (if needed), buys the coverage; reports the policy. */
export async function coverBuy(options: CoverBuyOptions): Promise<CoverBuyResult> {
  const { pool, token, target } = options;
  if (options.amount <= 0n) throw new InvalidInputError("the coverage must be a positive amount");
  const slippage = options.slippageBps ?? DEFAULT_SLIPPAGE_BPS;
  if (!Number.isInteger(slippage) || slippage < 0 || slippage > 10_000) {
    throw new InvalidInputError(
      `--slippage must be whole bps in [0, 10000] (100 = 1%), got ${String(slippage)}`,
    );
  }
  const beneficiary = asHex(options.beneficiary, "beneficiary", 20);
  if (beneficiary === ZeroAddress) throw contractError("InsuranceZeroAddress", []);
  const buyer = await senderOf(pool);
  let quoted: bigint;
  try {
    quoted = await coverQuote(pool, target, options.amount, options.term);
  } catch (err: unknown) {
    throw await withCapacityHint(pool, target, err);
  }
  const maxPremium = quoted + (quoted * BigInt(slippage) + 9_999n) / 10_000n;
  const approveTxHash = await ensureAllowance(token, buyer, await pool.getAddress(), maxPremium);
  const tx = await send(() =>
    pool.buyCoverage(
      target.kindIndex,
      target.target,
      options.amount,
      options.term,
      beneficiary,
      maxPremium,
    ),
  );
  const bought = oneEvent(pool.interface, tx.receipt, "CoverageBought", tx.txHash);
  return {
    ...txResult(tx),
    kind: target.kind,
    target: target.id,
    serial: Number(bought.args.getValue("serial")),
    beneficiary,
    amount: bought.args.getValue("amount") as bigint,
    quoted,
    maxPremium,
    premium: bought.args.getValue("premium") as bigint,
    start: bought.args.getValue("start") as bigint,
    end: bought.args.getValue("end") as bigint,
    approveTxHash,
  };
}

/**
 * A capacity refusal with the room left, from the allocations: allocation x coverFactor - exposure per
 * device (for a feed, k times the smallest member's room). Other errors come back unchanged.
 */
async function withCapacityHint(
  pool: IInsurancePool,
  target: CoverTarget,
  err: unknown,
): Promise<unknown> {
  if (!(err instanceof ContractError) || err.code !== "InsuranceCapacityExceeded") return err;
  let room;
  try {
    room = await coverBacking(pool, target);
  } catch {
    return err;
  }
  const units = await poolUnits(pool);
  const hint =
    target.kind === "device"
      ? `at most ${formatAmount(room.available, units.asset)} ${units.asset.symbol} more can be bought (its allocation to the pool x the cover factor, less its exposure)`
      : `at most ${formatAmount(room.available, units.asset)} ${units.asset.symbol} more can be bought (k x the smallest member's allocation x cover factor less its exposure)`;
  return new ContractError(err.code, err.args, `${err.message}; ${hint}`, { cause: err });
}

// ------------------------------------------------------------------ show

/** "waiting": sold, coverage starts after the pool's waiting period. */
export type PolicyStatus = "waiting" | "active" | "expired" | "exhausted" | "released";

export interface PolicyView {
  readonly serial: number;
  readonly status: PolicyStatus;
  readonly beneficiary: Hex;
  readonly amount: bigint;
  readonly paid: bigint;
  readonly start: bigint;
  readonly end: bigint;
}

/** A device's room for coverage in one scope: its allocation to the pool times the cover factor. */
export interface CapacityView {
  readonly deviceId: Hex;
  /** Its stake allocated to this pool for the scope (the device itself, or the feed). */
  readonly allocation: bigint;
  /** allocation x coverFactorBps: the most its incidents may pay from this pool's policies in the scope. */
  readonly capacity: bigint;
  /** What its incidents can pay now from this pool's policies in the scope. */
  readonly exposure: bigint;
  /** capacity - exposure (0 when exposure exceeds it). */
  readonly available: bigint;
}

export interface CoverView {
  readonly kind: TargetKindName;
  readonly target: Hex;
  /** Coverage in force on the target. */
  readonly covered: bigint;
  /**
   * The most coverage the target could carry in all: a device's allocation x coverFactor; for a feed, k x
   * the smallest member capacity (each policy puts ceil(amount / k) on every member, k = floor(n / 2) + 1).
   */
  readonly capacity: bigint;
  /** The most a new policy could add now, as capacity allows (utilization may allow less). */
  readonly available: bigint;
  /** Per device (the device, or each member of the feed): allocation, capacity, exposure. */
  readonly backing: readonly CapacityView[];
  readonly policyCount: number;
  /** When the pool learnt of an incident on the target, or null: no new coverage is sold on it then. */
  readonly incidentAt: string | null;
  /** "yes", or why no coverage can be bought on it now (the decoded revert of a quote). */
  readonly buyable: string;
  readonly policies: readonly PolicyView[];
}

function policyStatus(p: IInsurancePool.PolicyStructOutput, now: bigint): PolicyStatus {
  if (p.released) return "released";
  if (p.paid >= p.amount) return "exhausted";
  if (now < p.start) return "waiting";
  return now > p.end ? "expired" : "active";
}

/** The staking contract the pool reads allocations from (its STAKING immutable). */
async function poolStaking(pool: IInsurancePool) {
  const address = await InsurancePool__factory.connect(
    await pool.getAddress(),
    pool.runner,
  ).STAKING();
  if (pool.runner === null) throw new InvalidInputError("connect the pool to a provider");
  return stakingAt(address, pool.runner);
}

/** Each device backing coverage on `target` in this pool: its allocation, capacity and exposure. */
export async function coverBacking(
  pool: IInsurancePool,
  target: CoverTarget,
): Promise<{
  readonly backing: CapacityView[];
  readonly capacity: bigint;
  readonly available: bigint;
}> {
  const [staking, params, poolAddress] = await Promise.all([
    poolStaking(pool),
    pool.params(),
    pool.getAddress(),
  ]);
  const devices =
    target.kind === "device"
      ? [target.target]
      : (await IDeviceFeed__factory.connect(target.id, pool.runner).members()).map(
          (m) => m.toLowerCase() as Hex,
        );
  const backing = await Promise.all(
    devices.map(async (deviceId): Promise<CapacityView> => {
      const [allocation, [exposure]] = await Promise.all([
        staking.allocationOf(deviceId, poolAddress, target.target),
        pool.exposureOf(deviceId, target.target),
      ]);
      const capacity = (allocation * params.coverFactorBps) / 10_000n;
      return {
        deviceId,
        allocation,
        capacity,
        exposure,
        available: capacity > exposure ? capacity - exposure : 0n,
      };
    }),
  );
  if (target.kind === "device") {
    const only = backing[0];
    return { backing, capacity: only?.capacity ?? 0n, available: only?.available ?? 0n };
  }
  if (backing.length === 0) return { backing, capacity: 0n, available: 0n };
  const k = BigInt(Math.floor(backing.length / 2) + 1);
  const min = (pick: (c: CapacityView) => bigint): bigint =>
    backing.map(pick).reduce((a, b) => (b < a ? b : a));
  return { backing, capacity: k * min((c) => c.capacity), available: k * min((c) => c.available) };
}

/**
 * The coverage on a target: in force, capacity from the allocations backing it, incident, whether more can
 * be bought, and its policies.
 */
export async function coverShow(
  pool: IInsurancePool,
  target: CoverTarget,
  serial?: number,
): Promise<CoverView> {
  // The pool's own check of the target first: a feed its factory did not create is refused in a sentence.
  await view(() => pool.securityReport(target.kindIndex, target.target, 0n));
  const [state, params, now, room] = await Promise.all([
    pool.targetState(target.target),
    pool.params(),
    chainTime(pool),
    view(() => coverBacking(pool, target)),
  ]);
  const count = Number(state.policies);
  if (serial !== undefined && (serial < 0 || serial >= count)) {
    throw contractError("InsuranceUnknownPolicy", [target.target, BigInt(serial)]);
  }
  const serials = serial === undefined ? Array.from({ length: count }, (_, i) => i) : [serial];
  const policies = await Promise.all(
    serials.map(async (s): Promise<PolicyView> => {
      const p = await pool.policy(target.target, s);
      return {
        serial: s,
        status: policyStatus(p, now),
        beneficiary: p.beneficiary.toLowerCase() as Hex,
        amount: p.amount,
        paid: p.paid,
        start: p.start,
        end: p.end,
      };
    }),
  );
  let buyable = "yes";
  try {
    await coverQuote(pool, target, 1n, params.minTerm === 0n ? 1n : params.minTerm);
  } catch (err: unknown) {
    buyable = `no: ${err instanceof Error ? err.message : String(err)}`;
  }
  return {
    kind: target.kind,
    target: target.id,
    covered: state.covered,
    capacity: room.capacity,
    available: room.available,
    backing: room.backing,
    policyCount: count,
    incidentAt:
      state.incidentAt === 0n ? null : new Date(Number(state.incidentAt) * 1000).toISOString(),
    buyable,
    policies,
  };
}

// ------------------------------------------------------------------ claim

/** InvalidInputError unless `serial` is a policy serial (0, 1, ...). */
function checkSerial(serial: number): void {
  if (!Number.isInteger(serial) || serial < 0) {
    throw new InvalidInputError(
      `--serial must be a policy serial (0, 1, ...), got ${String(serial)}`,
    );
  }
}

export interface CoverClaimResult extends TxResult {
  readonly target: Hex;
  readonly serial: number;
  readonly incident: Hex;
  /** The device whose incident paid (the device itself, or the feed member that lied). */
  readonly deviceId: Hex;
  readonly beneficiary: Hex;
  readonly payout: bigint;
  /**
   * A feed policy pays each proven member at most its share, ceil(amount / k) (k = floor(n / 2) + 1 of the
   * snapshot's n members control the median); a device policy's share is its amount. What the policy has
   * paid for this device's incidents in all.
   */
  readonly share: bigint;
  readonly memberPaid: bigint;
  /** What the policy has paid in all, and what is left of its coverage. */
  readonly paid: bigint;
  readonly remaining: bigint;
  /** The feed policy's member snapshot the claim named (empty for a device policy). */
  readonly members: readonly Hex[];
}

/**
 * The member snapshot of policy `serial` of a feed target, from its CoverageMembers event (empty for a
 * device policy). InsuranceUnknownPolicy when the pool never sold it.
 */
export async function policyMembers(
  pool: IInsurancePool,
  target: CoverTarget,
  serial: number,
): Promise<Hex[]> {
  if (target.kind === "device") return [];
  const events = await pool.queryFilter(pool.filters.CoverageMembers(target.target, serial));
  const found = events[0];
  if (found === undefined) {
    throw contractError("InsuranceUnknownPolicy", [target.target, BigInt(serial)]);
  }
  return found.args.members.map((m) => m.toLowerCase() as Hex);
}

/** A member's share of a feed policy of `amount` over `n` members: ceil(amount / k), k = floor(n / 2) + 1. */
export function memberShare(amount: bigint, n: number): bigint {
  const k = BigInt(Math.floor(n / 2) + 1);
  return (amount + k - 1n) / k;
}

/**
 * Claims policy `serial` of the target for a recorded incident (anyone may; the beneficiary is paid). For a
 * feed policy, the member snapshot comes from the policy's CoverageMembers event, and the payout is the
 * lying member's share, not the whole policy.
 */
export async function coverClaim(
  pool: IInsurancePool,
  target: CoverTarget,
  serial: number,
  incidentId: string,
): Promise<CoverClaimResult> {
  checkSerial(serial);
  const incident = parseIncidentId(incidentId);
  const members = await policyMembers(pool, target, serial);
  const tx = await send(() => pool.claim(target.target, serial, incident, members));
  const paid = oneEvent(pool.interface, tx.receipt, "ClaimPaid", tx.txHash);
  const deviceId = String(paid.args.getValue("deviceId")).toLowerCase() as Hex;
  const [policy, memberPaid] = await Promise.all([
    pool.policy(target.target, serial),
    pool.paidFor(target.target, serial, deviceId),
  ]);
  return {
    ...txResult(tx),
    target: target.id,
    serial,
    incident,
    deviceId,
    beneficiary: String(paid.args.getValue("beneficiary")).toLowerCase() as Hex,
    payout: paid.args.getValue("payout") as bigint,
    share: target.kind === "device" ? policy.amount : memberShare(policy.amount, members.length),
    memberPaid,
    paid: policy.paid,
    remaining: policy.amount - policy.paid,
    members,
  };
}

// ------------------------------------------------------------------ release

export interface CoverReleaseResult extends TxResult {
  readonly kind: TargetKindName;
  readonly target: Hex;
  readonly serial: number;
  /** The unpaid rest of the policy, no longer locked (0 when it paid out its whole coverage). */
  readonly unlocked: bigint;
  /** Coverage still in force on the target, and capital the pool still locks, after the release. */
  readonly covered: bigint;
  readonly lockedCapital: bigint;
}

/** "7d", or seconds when not a whole number of days. */
function days(seconds: bigint): string {
  return seconds % 86_400n === 0n ? `${String(seconds / 86_400n)}d` : `${String(seconds)} s`;
}

/**
 * Releases policy `serial` of the target after its term and the pool's claim window (anyone may): the
 * unpaid rest stops being locked. Before sending, says why it cannot be released: unknown, already
 * released, or when it becomes releasable.
 */
export async function coverRelease(
  pool: IInsurancePool,
  target: CoverTarget,
  serial: number,
): Promise<CoverReleaseResult> {
  checkSerial(serial);
  const [policy, params, now] = await Promise.all([
    pool.policy(target.target, serial),
    pool.params(),
    chainTime(pool),
  ]);
  const window = params.claimWindow;
  if (policy.beneficiary === ZeroAddress) {
    throw contractError("InsuranceUnknownPolicy", [target.target, BigInt(serial)]);
  }
  if (policy.released) {
    throw contractError("InsurancePolicyReleased", [target.target, BigInt(serial)]);
  }
  const releasableAfter = policy.end + window;
  // The contract releases once block.timestamp > releasableAfter; the next block comes after `now`.
  if (now < releasableAfter) {
    const args = [target.target, BigInt(serial), releasableAfter] as const;
    throw new ContractError(
      "InsurancePolicyActive",
      args,
      `InsurancePolicyActive(${args.join(", ")}): policy ${String(serial)} of ${target.id} becomes releasable ${inWords(releasableAfter + 1n, now)}: its term ends ${new Date(Number(policy.end) * 1000).toISOString()} and claims stay open ${days(window)} after it; run cover release again then`,
    );
  }
  const members = await policyMembers(pool, target, serial);
  const tx = await send(() => pool.release(target.target, serial, members));
  const released = oneEvent(pool.interface, tx.receipt, "CoverageReleased", tx.txHash);
  const [state, lockedCapital] = await Promise.all([
    pool.targetState(target.target),
    pool.lockedCapital(),
  ]);
  return {
    ...txResult(tx),
    kind: target.kind,
    target: target.id,
    serial,
    unlocked: released.args.getValue("unlocked") as bigint,
    covered: state.covered,
    lockedCapital,
  };
}

// ------------------------------------------------------------------ security report

export interface SecurityReportView {
  readonly kind: TargetKindName;
  readonly target: Hex;
  readonly valueAtRisk: bigint;
  /**
   * Active stake provable lies forfeit: a device's, or the cheapest median-controlling set of a feed's
   * operators (pending withdrawals count for nothing).
   */
  readonly costOfCorruption: bigint;
  /** Coverage in force on the target: what colluding beneficiaries could be paid. */
  readonly coverageInForce: bigint;
  /** costOfCorruption - (valueAtRisk + coverageInForce); negative when corruption pays. */
  readonly margin: bigint;
  /** The fewest operators that control the answer (1 for a device). */
  readonly operatorsToControl: bigint;
  readonly secure: boolean;
  /** One sentence: the verdict and what to do. */
  readonly verdict: string;
  /** What `secure` covers: provable faults only. */
  readonly scope: string;
}

/**
 * Whether corrupting the target costs more than the value relying on it plus its coverage could earn, and
 * how many operators must collude for it.
 */
export async function securityReport(
  pool: IInsurancePool,
  target: CoverTarget,
  valueAtRisk: bigint,
): Promise<SecurityReportView> {
  if (valueAtRisk < 0n) throw new InvalidInputError("the value at risk must be 0 or more");
  const [report, units] = await Promise.all([
    view(() => pool.securityReport(target.kindIndex, target.target, valueAtRisk)),
    poolUnits(pool),
  ]);
  const amount = (v: bigint): string =>
    `${formatAmount(v < 0n ? -v : v, units.asset)} ${units.asset.symbol}`;
  const operators = report.operatorsToControl;
  const what =
    target.kind === "device"
      ? "the device's active stake"
      : "the active stake of the feed's cheapest median-controlling operators";
  let verdict: string;
  if (report.secure) {
    verdict = `secure: corrupting this ${target.kind} costs ${amount(report.margin)} more than the value at risk plus the coverage in force could earn`;
  } else if (report.margin > 0n) {
    verdict = `NOT secure: one operator controls this feed's median, so it can move the answer with false values inside the physical range, which prove nothing and forfeit no stake; rely on a feed whose members have more independent operators`;
  } else {
    verdict = `NOT secure: corrupting this ${target.kind} could earn up to ${amount(report.margin)} more than it costs; rely on less value, or wait until ${what} exceeds ${amount(valueAtRisk + report.coverageInForce)}`;
  }
  const scope =
    target.kind === "device"
      ? "secure covers provable faults only (equivocation, out-of-bounds values, revoked firmware): a false value inside the physical range from the device's operator is not provable and costs no stake"
      : `secure covers provable faults only (equivocation, out-of-bounds values, revoked firmware): a false value inside the physical range reported by ${operators.toString()} colluding operator${operators === 1n ? "" : "s"} is not provable and costs no stake`;
  return {
    kind: target.kind,
    target: target.id,
    valueAtRisk,
    costOfCorruption: report.costOfCorruption,
    coverageInForce: report.coverageInForce,
    margin: report.margin,
    operatorsToControl: operators,
    secure: report.secure,
    verdict,
    scope,
  };
}
