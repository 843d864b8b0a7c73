import {
  MaxUint256,
  formatUnits,
  getAddress,
  zeroPadValue,
  type ContractRunner,
  type TransactionReceipt,
} from "ethers";
import { DeviceTrustError, InvalidInputError, asHex, type Hex } from "../protocol/index.js";
import {
  DeviceFeedFactory__factory,
  DeviceFeed__factory,
  ReadingAnchor__factory,
  type DeviceFeed,
  type DeviceFeedFactory,
  type DeviceRegistry,
  type IDeviceStaking,
  type ReadingAnchor,
} from "../../types/ethers-contracts/index.js";
import { statusName } from "./decode-error.js";
import {
  ANOMALY_HELP,
  anomalyName,
  decodeFeedError,
  feedCall,
  tripReasonName,
} from "./feed-errors.js";
import type { AssetInfo } from "./insurance.js";
import { send, type TxResult } from "./transaction.js";
import { formatAmount } from "./units.js";

export type { DeviceFeed, DeviceFeedFactory, ReadingAnchor };

/** The DeviceFeedFactory at `address`, through `runner`. */
export function feedFactoryAt(address: string, runner: ContractRunner): DeviceFeedFactory {
  return DeviceFeedFactory__factory.connect(asHex(address, "factory address", 20), runner);
}

/** The DeviceFeed at `address`, through `runner`. */
export function feedAt(address: string, runner: ContractRunner): DeviceFeed {
  return DeviceFeed__factory.connect(asHex(address, "feed address", 20), runner);
}

/** The ReadingAnchor at `address`, through `runner`. */
export function readingAnchorAt(address: string, runner: ContractRunner): ReadingAnchor {
  return ReadingAnchor__factory.connect(asHex(address, "anchor address", 20), runner);
}

/** The id readings of the feed at `feedAddress` carry: bytes32(uint256(uint160(feed))). */
export function feedIdOf(feedAddress: string): Hex {
  return zeroPadValue(asHex(feedAddress, "feed address", 20), 32).toLowerCase() as Hex;
}

/** The feed address a feed id names (the inverse of feedIdOf); throws if the id is not one. */
export function feedAddressOf(feedId: string): Hex {
  const id = asHex(feedId, "feed id", 32).toLowerCase();
  if (!id.startsWith(`0x${"0".repeat(24)}`)) {
    throw new InvalidInputError(
      `feed id ${id} is not a feed address padded to 32 bytes: take the id feed create or feed show prints`,
    );
  }
  return `0x${id.slice(26)}`;
}

/** IDeviceFeed.Config, in TypeScript types (fields in the struct's order). */
export interface FeedConfig {
  readonly quorum: number;
  readonly decimals: number;
  /** A member's jump from its own previous reading beyond this quarantines it; the median's trips the feed. */
  readonly maxDeviationBps: number;
  /** A reading farther than this from the fresh committed answer quarantines its member (0: off). */
  readonly maxSpreadBps: number;
  /** A median this far from the last round commits a round before the heartbeat (0: heartbeat only). */
  readonly deviationThresholdBps: number;
  /** Seconds after which an accepted reading commits a round anyway (0: every transaction commits). */
  readonly heartbeat: number;
  readonly maxReadingAge: number;
  readonly minInterval: number;
  readonly maxAttestationAge: number;
  /** Seconds a quarantined member waits (and must re-attest) before anyone may readmit it (>= maxReadingAge). */
  readonly quarantinePeriod: number;
  /** Quarantines within maxReadingAge the feed tolerates (at least 1: one member never trips it); one more trips it. */
  readonly maxQuarantines: number;
  /** A quarantine also suspends the device in the registry (the feed needs SUSPENDER_ROLE). */
  readonly lockdown: boolean;
  readonly minStake: bigint;
  readonly minValue: bigint;
  readonly maxValue: bigint;
  readonly description: string;
}

/**
 * What `feed create` assumes for the fields it is not given: rounds on a 0.5% move, no spread check,
 * a trip on the third quarantine within maxReadingAge, no lockdown. The heartbeat and the cool-off
 * depend on maxReadingAge (defaultHeartbeat, defaultQuarantinePeriod). tasks/index.ts states them again
 * (it loads no client code); test/tasks/feed.test.ts checks that the two agree.
 */
export const FEED_DEFAULTS = {
  deviationThresholdBps: 50,
  maxSpreadBps: 0,
  maxQuarantines: 2,
  lockdown: false,
} as const;

/** The heartbeat `feed create` takes when none is given: half of maxReadingAge, so a round is never older. */
export function defaultHeartbeat(maxReadingAge: number): number {
  return Math.floor(maxReadingAge / 2);
}

/**
 * The cool-off `feed create` takes when none is given: a day, or maxReadingAge if longer (the feed wants
 * at least that, so one member is quarantined at most once per quarantine window).
 */
export function defaultQuarantinePeriod(maxReadingAge: number): number {
  return Math.max(86_400, maxReadingAge);
}

function checkRange(name: string, value: bigint, min: bigint, max: bigint): void {
  if (value < min || value > max) {
    throw new InvalidInputError(
      `${name} ${value.toString()} is outside ${min.toString()}..${max.toString()}: pass a value in range`,
    );
  }
}

const U8 = 255n;
const U16 = 65_535n;
const U32 = 2n ** 32n - 1n;
const I128 = 2n ** 127n;

/** Checks every field against its Solidity type and the feed's own rules; throws InvalidInputError. */
export function checkFeedConfig(cfg: FeedConfig): FeedConfig {
  checkRange("--quorum", BigInt(cfg.quorum), 1n, 32n);
  checkRange("--decimals", BigInt(cfg.decimals), 0n, U8);
  checkRange("--max-deviation-bps", BigInt(cfg.maxDeviationBps), 0n, U16);
  checkRange("--max-spread-bps", BigInt(cfg.maxSpreadBps), 0n, U16);
  checkRange("--deviation-threshold-bps", BigInt(cfg.deviationThresholdBps), 0n, U16);
  checkRange("--heartbeat", BigInt(cfg.heartbeat), 0n, U32);
  checkRange("--max-reading-age", BigInt(cfg.maxReadingAge), 1n, U32);
  checkRange("--min-interval", BigInt(cfg.minInterval), 0n, U32);
  checkRange("--max-attestation-age", BigInt(cfg.maxAttestationAge), 1n, U32);
  checkRange("--quarantine-period", BigInt(cfg.quarantinePeriod), 0n, U32);
  checkRange("--max-quarantines", BigInt(cfg.maxQuarantines), 1n, U8);
  checkRange("--min-stake", cfg.minStake, 0n, 2n ** 96n - 1n);
  checkRange("--min-value", cfg.minValue, -I128, I128 - 1n);
  checkRange("--max-value", cfg.maxValue, -I128, I128 - 1n);
  if (cfg.heartbeat > cfg.maxReadingAge) {
    throw new InvalidInputError(
      `--heartbeat ${String(cfg.heartbeat)} is above --max-reading-age ${String(cfg.maxReadingAge)}: the latest round would rest on expired readings; give at most the reading age`,
    );
  }
  if (cfg.quarantinePeriod < cfg.maxReadingAge) {
    throw new InvalidInputError(
      `--quarantine-period ${String(cfg.quarantinePeriod)} is below --max-reading-age ${String(cfg.maxReadingAge)}: a member could be quarantined twice in one quarantine window; give at least the reading age`,
    );
  }
  if (cfg.minValue > cfg.maxValue) {
    throw new InvalidInputError(
      `--min-value ${cfg.minValue.toString()} is above --max-value ${cfg.maxValue.toString()}: give the physical bounds in order`,
    );
  }
  if (cfg.description.trim() === "") {
    throw new InvalidInputError(
      'describe the feed: --description "Temperature, Hall 3 (C, 8 decimals)"',
    );
  }
  return cfg;
}

export interface CreateFeedResult extends TxResult {
  readonly feed: Hex;
  readonly feedId: Hex;
  readonly owner: Hex;
  readonly config: FeedConfig;
}

/** Creates a feed through the factory (the sender owns it) and reads its address from FeedCreated. */
export async function createFeed(
  factory: DeviceFeedFactory,
  config: FeedConfig,
): Promise<CreateFeedResult> {
  const cfg = checkFeedConfig(config);
  const tx = await feedTx(() => factory.createFeed(cfg));
  for (const log of tx.receipt.logs) {
    const parsed = factory.interface.parseLog(log);
    if (parsed?.name === "FeedCreated") {
      const feed = String(parsed.args.getValue("feed")).toLowerCase() as Hex;
      return {
        txHash: tx.txHash,
        blockNumber: tx.blockNumber,
        gasUsed: tx.gasUsed,
        feed,
        feedId: String(parsed.args.getValue("feedId")).toLowerCase() as Hex,
        owner: String(parsed.args.getValue("owner")).toLowerCase() as Hex,
        config: cfg,
      };
    }
  }
  throw new DeviceTrustError(
    "NO_FEED_CREATED_EVENT",
    `transaction ${tx.txHash} emitted no FeedCreated: check that --factory is a DeviceFeedFactory`,
  );
}

/** send() with the feed's custom errors decoded too. */
async function feedTx(call: Parameters<typeof send>[0]): ReturnType<typeof send> {
  try {
    return await send(call);
  } catch (err: unknown) {
    throw decodeFeedError(err) ?? err;
  }
}

/** What adding a device did: it joined at once (the feed's owner operates it) or was invited. */
export type MembershipChange = "joined" | "invited";

export interface AddDevicesResult {
  readonly feed: Hex;
  readonly added: readonly {
    readonly deviceId: Hex;
    readonly txHash: Hex;
    readonly result: MembershipChange;
  }[];
  readonly members: number;
  /** One sentence: who joined, and who must still accept the invitation (feed join, by its operator). */
  readonly note: string;
}

/** The first `name` event the feed emitted in `receipt`. */
function emitted(feed: DeviceFeed, receipt: TransactionReceipt, name: string) {
  for (const log of receipt.logs) {
    let parsed;
    try {
      parsed = feed.interface.parseLog(log);
    } catch {
      continue;
    }
    if (parsed?.name === name) return parsed;
  }
  return undefined;
}

/** The event `name` of a feed transaction, or a typed error saying --feed may not be a DeviceFeed. */
function requireEmitted(
  feed: DeviceFeed,
  tx: { receipt: TransactionReceipt; txHash: string },
  name: string,
) {
  const parsed = emitted(feed, tx.receipt, name);
  if (parsed === undefined) {
    // MemberLeaving -> NO_MEMBER_LEAVING_EVENT
    const code = `NO_${name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase()}_EVENT`;
    throw new DeviceTrustError(
      code,
      `transaction ${tx.txHash} emitted no ${name}: check that --feed is a DeviceFeed`,
    );
  }
  return parsed;
}

/**
 * The feed's owner adds member devices, one transaction each (in order; a failure stops there). A device
 * the owner operates joins at once; any other is invited, and becomes a member when its operator accepts
 * (feed join): membership needs the operator's consent.
 */
export async function addFeedDevices(
  feed: DeviceFeed,
  deviceIds: readonly string[],
): Promise<AddDevicesResult> {
  const ids = parseDeviceIds(deviceIds);
  const added: { deviceId: Hex; txHash: Hex; result: MembershipChange }[] = [];
  for (const deviceId of ids) {
    const tx = await feedTx(() => feed.addMember(deviceId));
    const joined = emitted(feed, tx.receipt, "MemberAdded") !== undefined;
    added.push({ deviceId, txHash: tx.txHash, result: joined ? "joined" : "invited" });
  }
  const members = await feed.members();
  const joined = added.filter((a) => a.result === "joined").length;
  const invited = added.length - joined;
  const parts: string[] = [];
  if (joined > 0) {
    parts.push(`${String(joined)} joined at once (the feed's owner operates them, so it consents)`);
  }
  if (invited > 0) {
    parts.push(
      `${String(invited)} invited: each becomes a member when its operator accepts (feed join --device-ids)`,
    );
  }
  return {
    feed: (await feed.getAddress()).toLowerCase() as Hex,
    added,
    members: members.length,
    note: parts.join("; "),
  };
}

export interface JoinFeedResult {
  readonly feed: Hex;
  readonly joined: readonly { readonly deviceId: Hex; readonly txHash: Hex }[];
  readonly members: number;
}

/** The operator of invited devices accepts: each becomes a member (one transaction each, in order). */
export async function joinFeed(
  feed: DeviceFeed,
  deviceIds: readonly string[],
): Promise<JoinFeedResult> {
  const ids = parseDeviceIds(deviceIds);
  const joined: { deviceId: Hex; txHash: Hex }[] = [];
  for (const deviceId of ids) {
    const tx = await feedTx(() => feed.join(deviceId));
    joined.push({ deviceId, txHash: tx.txHash });
  }
  return {
    feed: (await feed.getAddress()).toLowerCase() as Hex,
    joined,
    members: (await feed.members()).length,
  };
}

export interface LeaveRequestResult extends TxResult {
  readonly feed: Hex;
  readonly deviceId: Hex;
  /** The device stays a member (its readings count, coverage relying on it holds) until then. */
  readonly leaveAt: bigint;
  readonly leaves: string;
}

/**
 * The device's operator asks to take it out of the feed: it stays a member for the staking unbonding
 * period, then anyone completes the leave (feed complete-leave).
 */
export async function requestFeedLeave(
  feed: DeviceFeed,
  deviceId: string,
): Promise<LeaveRequestResult> {
  const id = asHex(deviceId.trim(), "device id", 32).toLowerCase() as Hex;
  const tx = await feedTx(() => feed.requestLeave(id));
  const leaving = requireEmitted(feed, tx, "MemberLeaving");
  const leaveAt = leaving.args.getValue("leaveAt") as bigint;
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    feed: (await feed.getAddress()).toLowerCase() as Hex,
    deviceId: id,
    leaveAt,
    leaves: `the device stays a member until ${new Date(Number(leaveAt) * 1000).toISOString()} (the staking unbonding period); then anyone runs feed complete-leave`,
  };
}

export interface CompleteLeaveResult extends TxResult {
  readonly feed: Hex;
  readonly deviceId: Hex;
  readonly members: number;
}

/** Completes a requested leave once its time has come (anyone may): the device is no longer a member. */
export async function completeFeedLeave(
  feed: DeviceFeed,
  deviceId: string,
): Promise<CompleteLeaveResult> {
  const id = asHex(deviceId.trim(), "device id", 32).toLowerCase() as Hex;
  const tx = await feedTx(() => feed.completeLeave(id));
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    feed: (await feed.getAddress()).toLowerCase() as Hex,
    deviceId: id,
    members: (await feed.members()).length,
  };
}

/** A member's quarantine after an anomaly of its own: its readings are refused until it is readmitted. */
export interface MemberQuarantine {
  /** TooFrequent, Jump or Spread. */
  readonly anomaly: string;
  /** What the anomaly was, in a sentence. */
  readonly meaning: string;
  /** When it was quarantined. */
  readonly since: bigint;
  readonly age: string;
  /** From then on anyone may readmit it once it has attested again; a guardian may earlier. */
  readonly readmitAfter: bigint;
}

export interface FeedMemberView {
  readonly deviceId: Hex;
  readonly status: string;
  /** isTrusted(deviceId, the feed's maxAttestationAge). */
  readonly trusted: boolean;
  /** Its operator (one operator controls all its devices' readings). */
  readonly operator: Hex;
  /** Active stake: what counts for eligibility and what a proof takes for sure. */
  readonly active: bigint;
  /** Active plus pending withdrawal (pending counts for nothing: it may unlock before a proof). */
  readonly slashable: bigint;
  /** Active stake at least the feed's minStake. */
  readonly staked: boolean;
  readonly sequence: bigint;
  /**
   * The latest reading as the contract holds it, an integer scaled by 10^decimals (null before the
   * first); an excluded one stays the member's reference.
   */
  readonly answer: bigint | null;
  /** `answer` in the feed's units (its decimals), e.g. "21.5". */
  readonly value: string | null;
  readonly timestamp: bigint | null;
  readonly age: string | null;
  /**
   * Its reading no longer counts: it was evicted, or its member quarantined. It stays the reference of the
   * member's minInterval and jump checks until the member's next accepted reading.
   */
  readonly excluded: boolean;
  /** Its reading is fresh and not excluded, so it counts toward the next round. */
  readonly counts: boolean;
  /**
   * It holds a counting reading but is no longer trusted or staked: anyone may evict (exclude) that
   * reading, and until then it still counts.
   */
  readonly evictable: boolean;
  /** Null when it is not quarantined. */
  readonly quarantine: MemberQuarantine | null;
}

/** A committed round, as getRoundData answers it (rounds never change once committed). */
export interface FeedRound {
  readonly roundId: bigint;
  /** The answer as the contract holds it: an integer scaled by 10^decimals. */
  readonly answer: bigint;
  /** `answer` scaled by the feed's decimals, e.g. "21.5". */
  readonly value: string;
  /** The round's oldest reading. */
  readonly startedAt: bigint;
  /** When the round was committed (judge staleness from it, as with any Chainlink feed). */
  readonly updatedAt: bigint;
  /** How long ago it was committed. */
  readonly age: string;
  /** How many readings its median was taken over. */
  readonly readings: number;
}

export interface FeedAnswer {
  /** Null through readFresh, which answers no round id. */
  readonly roundId: bigint | null;
  readonly answer: bigint;
  /** `answer` scaled by the feed's decimals, e.g. "21.5". */
  readonly value: string;
  /** The round's oldest reading (null through readFresh). */
  readonly startedAt: bigint | null;
  readonly updatedAt: bigint;
  readonly age: string;
}

export interface FeedView {
  readonly feed: Hex;
  readonly feedId: Hex;
  readonly owner: Hex;
  readonly description: string;
  /** minValue and maxValue are integers scaled by 10^decimals, as the contract holds them. */
  readonly config: FeedConfig;
  /** The physical range of config.minValue..maxValue in the feed's units, e.g. "-40.5". */
  readonly range: { readonly minValue: string; readonly maxValue: string };
  readonly tripped: boolean;
  readonly tripReason: string;
  /** The latest committed round (null before the first); a tripped feed keeps answering it. */
  readonly latestRound: FeedRound | null;
  /** "answering" when readFresh answers (a fresh round, not tripped), else why not, as a sentence. */
  readonly status: string;
  /** Members in quarantine (their readings do not count). */
  readonly quarantined: number;
  /** Active stake of the cheapest set of operators whose devices control the median. */
  readonly costOfCorruption: bigint;
  /** The fewest operators that together control the median (1: one operator controls it alone). */
  readonly operatorsToControl: bigint;
  /** One sentence: what the cost of corruption covers and what it does not. */
  readonly corruption: string;
  readonly members: readonly FeedMemberView[];
}

function configOf(c: Awaited<ReturnType<DeviceFeed["config"]>>): FeedConfig {
  return {
    quorum: Number(c.quorum),
    decimals: Number(c.decimals),
    maxDeviationBps: Number(c.maxDeviationBps),
    maxSpreadBps: Number(c.maxSpreadBps),
    deviationThresholdBps: Number(c.deviationThresholdBps),
    heartbeat: Number(c.heartbeat),
    maxReadingAge: Number(c.maxReadingAge),
    minInterval: Number(c.minInterval),
    maxAttestationAge: Number(c.maxAttestationAge),
    quarantinePeriod: Number(c.quarantinePeriod),
    maxQuarantines: Number(c.maxQuarantines),
    lockdown: c.lockdown,
    minStake: c.minStake,
    minValue: c.minValue,
    maxValue: c.maxValue,
    description: c.description,
  };
}

async function blockTime(runner: DeviceFeed): Promise<bigint> {
  const provider = runner.runner?.provider;
  if (provider === null || provider === undefined) {
    throw new InvalidInputError("connect the feed contract to a provider");
  }
  const block = await provider.getBlock("latest");
  if (block === null) throw new DeviceTrustError("NO_BLOCK", "the node returned no latest block");
  return BigInt(block.timestamp);
}

function ago(timestamp: bigint, now: bigint): string {
  const seconds = now - timestamp;
  return seconds < 0n ? `in ${(-seconds).toString()}s` : `${seconds.toString()}s ago`;
}

/** Round `roundId` as stored (roundAt), its answer scaled by `decimals`. */
async function roundOf(
  feed: DeviceFeed,
  roundId: bigint,
  decimals: number,
  now: bigint,
): Promise<FeedRound> {
  const r = await feedCall(() => feed.roundAt(roundId));
  return {
    roundId,
    answer: r.answer,
    value: formatUnits(r.answer, decimals),
    startedAt: r.startedAt,
    updatedAt: r.updatedAt,
    age: ago(r.updatedAt, now),
    readings: Number(r.readings),
  };
}

/**
 * Everything about a feed: its configuration, each member's trust, stake, latest reading and quarantine,
 * the breaker, the latest committed round, whether the feed answers fresh (or why not, as a sentence) and
 * the cost of corruption. `registry` and `staking` are the ones the feed checks (the factory's REGISTRY
 * and STAKING).
 */
export async function showFeed(
  feed: DeviceFeed,
  deps: { readonly registry: DeviceRegistry; readonly staking: IDeviceStaking },
): Promise<FeedView> {
  const address = (await feed.getAddress()).toLowerCase() as Hex;
  const [rawConfig, owner, ids, trip, quarantined, roundId, [cost, operatorsToControl], now] =
    await Promise.all([
      feedCall(() => feed.config()),
      feed.owner(),
      feed.members(),
      feed.tripReason(),
      feed.quarantinedCount(),
      feed.latestRound(),
      feed.corruption(),
      blockTime(feed),
    ]);
  const config = configOf(rawConfig);
  const members = await Promise.all(
    ids.map(async (id): Promise<FeedMemberView> => {
      const deviceId = id.toLowerCase() as Hex;
      const [status, trusted, operator, active, slashable, slot, q] = await Promise.all([
        deps.registry.statusOf(deviceId),
        deps.registry.isTrusted(deviceId, config.maxAttestationAge),
        deps.registry.operatorOf(deviceId),
        deps.staking.activeOf(deviceId),
        deps.staking.slashableOf(deviceId),
        feed.slotOf(deviceId),
        feed.quarantineOf(deviceId),
      ]);
      const has = slot.timestamp !== 0n;
      const inQuarantine = q.since !== 0n;
      const counting = has && !slot.excluded;
      const fresh =
        counting && !inQuarantine && now - slot.timestamp < BigInt(config.maxReadingAge);
      const staked = active >= config.minStake;
      const anomaly = anomalyName(q.anomaly);
      return {
        deviceId,
        status: statusName(status),
        trusted,
        operator: operator.toLowerCase() as Hex,
        active,
        slashable,
        staked,
        sequence: slot.sequence,
        answer: has ? slot.value : null,
        value: has ? formatUnits(slot.value, config.decimals) : null,
        timestamp: has ? slot.timestamp : null,
        age: has ? ago(slot.timestamp, now) : null,
        excluded: slot.excluded,
        counts: fresh,
        evictable: counting && !(trusted && staked),
        quarantine: inQuarantine
          ? {
              anomaly,
              meaning: ANOMALY_HELP[anomaly] ?? "see MemberQuarantined",
              since: q.since,
              age: ago(q.since, now),
              readmitAfter: q.since + BigInt(config.quarantinePeriod),
            }
          : null,
      };
    }),
  );
  const latestRound = roundId === 0n ? null : await roundOf(feed, roundId, config.decimals, now);
  let status = "answering";
  try {
    await feedCall(() => feed.readFresh(MaxUint256));
  } catch (err: unknown) {
    const decoded = decodeFeedError(err);
    if (decoded === undefined) throw err;
    status = decoded.message;
  }
  return {
    feed: address,
    feedId: feedIdOf(address),
    owner: owner.toLowerCase() as Hex,
    description: config.description,
    config,
    range: {
      minValue: formatUnits(config.minValue, config.decimals),
      maxValue: formatUnits(config.maxValue, config.decimals),
    },
    tripped: Number(trip) !== 0,
    tripReason: tripReasonName(trip),
    latestRound,
    status,
    quarantined: Number(quarantined),
    costOfCorruption: cost,
    operatorsToControl,
    corruption: corruptionSentence(ids.length, operatorsToControl),
    members,
  };
}

/** A feed view or a created feed, with the collateral token its stake figures are counted in. */
export type WithCollateral<T extends FeedView | CreateFeedResult> = T & {
  /** The staking collateral: minStake, members' stakes and costOfCorruption are in its base units. */
  readonly collateral: AssetInfo;
};

/**
 * A feed for people (feed show, feed create): its stake figures (config.minStake, each member's active
 * and slashable stake, costOfCorruption) in decimal units of the collateral token with its symbol,
 * "1.5 DTC". JSON output keeps them in base units, as decimal strings.
 */
export function feedStakesInTokens(
  value: WithCollateral<FeedView> | WithCollateral<CreateFeedResult>,
): unknown {
  const { collateral } = value;
  const tokens = (amount: bigint): string =>
    `${formatAmount(amount, collateral)} ${collateral.symbol}`;
  const config = { ...value.config, minStake: tokens(value.config.minStake) };
  if (!("members" in value)) return { ...value, config };
  return {
    ...value,
    config,
    costOfCorruption: tokens(value.costOfCorruption),
    members: value.members.map((m) => ({
      ...m,
      active: tokens(m.active),
      slashable: tokens(m.slashable),
    })),
  };
}

/**
 * What the feed's cost of corruption means: it is the stake that provable lies (equivocation, out of
 * bounds) of a median-controlling set of operators forfeit; false values inside the physical range from
 * that many colluding operators prove nothing and cost nothing.
 */
export function corruptionSentence(members: number, operators: bigint): string {
  if (members === 0) return "the feed has no members: nothing controls it, and nothing backs it";
  const who =
    operators === 1n
      ? "ONE operator controls the median alone"
      : `${operators.toString()} colluding operators are needed to control the median`;
  return `${who}; the cost of corruption is the active stake their provable lies forfeit, while false values inside the physical range from them are not provable and cost nothing`;
}

async function readFeedAnswer(
  feed: DeviceFeed,
  decimals: number,
  now: bigint,
  maxAge?: bigint,
): Promise<FeedAnswer> {
  if (maxAge !== undefined) {
    const [answer, updatedAt] = await feedCall(() => feed.readFresh(maxAge));
    return {
      roundId: null,
      answer,
      value: formatUnits(answer, decimals),
      startedAt: null,
      updatedAt,
      age: ago(updatedAt, now),
    };
  }
  const round = await feedCall(() => feed.latestRoundData());
  return {
    roundId: round.roundId,
    answer: round.answer,
    value: formatUnits(round.answer, decimals),
    startedAt: round.startedAt,
    updatedAt: round.updatedAt,
    age: ago(round.updatedAt, now),
  };
}

export interface FeedReading extends FeedAnswer {
  readonly feed: Hex;
  readonly description: string;
  readonly decimals: number;
  /** "latestRoundData", or "readFresh(<maxAge>)". */
  readonly method: string;
}

/**
 * The feed's answer as DeFi reads it: latestRoundData (the latest committed round, also while the feed
 * is tripped: judge staleness from updatedAt), or readFresh(maxAge) when `maxAge` is given (it reverts
 * when the round's oldest reading is that old, or the feed is tripped). No round yet, a stale round or a
 * tripped feed throws a ContractError whose message says so in a sentence.
 */
export async function readFeed(
  feed: DeviceFeed,
  options: { readonly maxAge?: bigint | undefined } = {},
): Promise<FeedReading> {
  if (options.maxAge !== undefined && options.maxAge <= 0n) {
    throw new InvalidInputError("--max-age must be a positive number of seconds");
  }
  const [decimals, description, now] = await Promise.all([
    feedCall(() => feed.decimals()),
    feed.description(),
    blockTime(feed),
  ]);
  const answer = await readFeedAnswer(feed, Number(decimals), now, options.maxAge);
  return {
    feed: getAddress(await feed.getAddress()).toLowerCase() as Hex,
    description,
    decimals: Number(decimals),
    method:
      options.maxAge === undefined ? "latestRoundData" : `readFresh(${options.maxAge.toString()})`,
    ...answer,
  };
}

export interface FeedRoundReading extends FeedRound {
  readonly feed: Hex;
  readonly description: string;
  readonly decimals: number;
  /** The latest committed round id, for reference. */
  readonly latestRound: bigint;
}

const U80 = 2n ** 80n - 1n;

/**
 * Committed round `roundId` (default: the latest) as a consumer reads it (getRoundData), with how many
 * readings its median was taken over. A round never changes once committed; an id not committed, or no
 * round yet, throws a ContractError.
 */
export async function readFeedRound(feed: DeviceFeed, roundId?: bigint): Promise<FeedRoundReading> {
  if (roundId !== undefined && (roundId < 1n || roundId > U80)) {
    throw new InvalidInputError(
      `--id ${roundId.toString()} is no round id: rounds are numbered from 1 (feed read prints the latest)`,
    );
  }
  const [decimals, description, latest, now] = await Promise.all([
    feedCall(() => feed.decimals()),
    feed.description(),
    feed.latestRound(),
    blockTime(feed),
  ]);
  // No id: the latest round, through latestRoundData (which says when there is none yet).
  const id = roundId ?? (await feedCall(() => feed.latestRoundData())).roundId;
  const [round, stored] = await Promise.all([
    feedCall(() => feed.getRoundData(id)),
    feedCall(() => feed.roundAt(id)),
  ]);
  return {
    feed: (await feed.getAddress()).toLowerCase() as Hex,
    description,
    decimals: Number(decimals),
    latestRound: latest,
    roundId: round.roundId,
    answer: round.answer,
    value: formatUnits(round.answer, Number(decimals)),
    startedAt: round.startedAt,
    updatedAt: round.updatedAt,
    age: ago(round.updatedAt, now),
    readings: Number(stored.readings),
  };
}

export interface ReadmitResult extends TxResult {
  readonly feed: Hex;
  readonly deviceId: Hex;
  /** Who readmitted it (anyone after the cool-off; a guardian earlier). */
  readonly by: Hex;
  /** Members still in quarantine. */
  readonly quarantined: number;
}

/**
 * Readmits a quarantined member: anyone may once its cool-off (the feed's quarantinePeriod) has passed
 * and the device has attested again since its quarantine; the feed's owner or a guardian may earlier
 * (still only a re-attested device). Its next reading counts again.
 */
export async function readmitFeedMember(
  feed: DeviceFeed,
  deviceId: string,
): Promise<ReadmitResult> {
  const id = asHex(deviceId.trim(), "device id", 32).toLowerCase() as Hex;
  const tx = await feedTx(() => feed.readmit(id));
  const readmitted = requireEmitted(feed, tx, "MemberReadmitted");
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    feed: (await feed.getAddress()).toLowerCase() as Hex,
    deviceId: id,
    by: String(readmitted.args.getValue("by")).toLowerCase() as Hex,
    quarantined: Number(await feed.quarantinedCount()),
  };
}

/** The device ids a task names (at least one), each a 32-byte hex, lower-cased. */
function parseDeviceIds(deviceIds: readonly string[]): Hex[] {
  if (deviceIds.length === 0) {
    throw new InvalidInputError("name the devices: --device-ids <id>,<id>,...");
  }
  return deviceIds.map((d) => asHex(d.trim(), "device id", 32).toLowerCase() as Hex);
}
