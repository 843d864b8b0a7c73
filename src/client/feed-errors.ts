import {
  DeviceFeedFactory__factory,
  DeviceFeed__factory,
  ReadingAnchor__factory,
} from "../../types/ethers-contracts/index.js";
import {
  ContractError,
  contractError,
  decodeContractError,
  decodeWithSentences,
  findRevertData,
  s,
  type ErrorSentences,
} from "./decode-error.js";

/**
 * Sentences for the custom errors of DeviceFeed, DeviceFeedFactory and ReadingAnchor (decode-error.ts
 * covers the registry, staking and proofs). `decodeFeedError` tries these first, then the others.
 */

/** IDeviceFeed.Rejection, by value. */
export const REJECTION_NAMES = [
  "None",
  "NotMember",
  "WrongFeed",
  "InvalidSignature",
  "Untrusted",
  "Unstaked",
  "SequenceNotIncreasing",
  "Stale",
  "FutureTimestamp",
  "OutOfBounds",
  "Quarantined",
] as const;

/** IDeviceFeed.TripReason, by value: why the feed-wide breaker tripped. */
export const TRIP_REASON_NAMES = ["None", "MedianJump", "Quarantines", "QuorumLost"] as const;

/** IDeviceFeed.Anomaly, by value: why a member was quarantined. */
export const ANOMALY_NAMES = ["None", "TooFrequent", "Jump", "Spread"] as const;

export function rejectionName(reason: bigint | number): string {
  return REJECTION_NAMES[Number(reason)] ?? `rejection ${String(reason)}`;
}

export function tripReasonName(reason: bigint | number): string {
  return TRIP_REASON_NAMES[Number(reason)] ?? `reason ${String(reason)}`;
}

export function anomalyName(anomaly: bigint | number): string {
  return ANOMALY_NAMES[Number(anomaly)] ?? `anomaly ${String(anomaly)}`;
}

/** A unix time in seconds as "<seconds> (<ISO date>)"; 0 as "never". */
function at(seconds: unknown): string {
  const n = Number(seconds);
  if (n === 0) return "never";
  if (!Number.isSafeInteger(n)) return s(seconds);
  return `${s(seconds)} (${new Date(n * 1000).toISOString()})`;
}

const REJECTION_HELP: Readonly<Record<string, string>> = {
  NotMember:
    "the device is not a member of this feed: its owner adds it (feed add-device) and, unless the owner operates it, its operator accepts (feed join)",
  WrongFeed: "the reading names another feed id: sign it with this feed's id (feed show prints it)",
  InvalidSignature:
    "the signature is not the device's current key over this reading, chain and registry: sign it again",
  Untrusted:
    "the device is not trusted (inactive, not attested within the feed's maxAttestationAge, or on bad firmware): attest it again",
  Unstaked:
    "the device's active stake is below the feed's minStake (stake pending withdrawal counts for nothing): stake more (stake deposit)",
  SequenceNotIncreasing:
    "the sequence is not above the device's last one in this feed: a replay or a duplicate; use a higher sequence",
  Stale: "the reading is older than the feed's maxReadingAge or the device's previous reading",
  FutureTimestamp:
    "the reading's timestamp is after the block time: the device's clock is ahead; date readings with the chain's time",
  OutOfBounds: "the value is outside the feed's physical bounds [minValue, maxValue]",
  Quarantined:
    "the device is quarantined in this feed after an anomaly of its own (feed show says which, and since when): attest the device again, then readmit it (feed readmit) once its cool-off has passed",
};

/** What each anomaly means, said of the quarantined member. */
export const ANOMALY_HELP: Readonly<Record<string, string>> = {
  TooFrequent: "it reported faster than the feed's minInterval",
  Jump: "its reading jumped more than the feed's maxDeviationBps from its own previous one",
  Spread: "its reading lay more than the feed's maxSpreadBps from the committed answer",
};

/** What each trip reason means. */
export const TRIP_HELP: Readonly<Record<string, string>> = {
  MedianJump:
    "the median of the fresh readings moved more than the feed's maxDeviationBps from the previous round",
  Quarantines:
    "more members were quarantined within maxReadingAge than the feed's maxQuarantines tolerates (a coordinated attack?)",
  QuorumLost: "quarantines left fewer members counting than the feed's quorum",
};

const EXPLAIN: ErrorSentences = {
  DeviceFeedInvalidConfig: () =>
    "the feed configuration is invalid (quorum 0 or above 32 members, zero maxReadingAge or maxAttestationAge, a heartbeat above maxReadingAge, a quarantinePeriod below it, maxQuarantines 0, or minValue above maxValue): fix the feed create options",
  DeviceFeedZeroAddress: () => "an address argument is the zero address: pass a real one",
  DeviceFeedNotGuardian: (a) =>
    `${s(a[0])} is neither the feed's owner nor a guardian: reset the feed (or readmit a member early) from such an account (--from)`,
  DeviceFeedAlreadyMember: (a) =>
    `device ${s(a[0])} is already a member of this feed: nothing to do`,
  DeviceFeedNotMember: (a) =>
    `device ${s(a[0])} is not a member of this feed (nor invited): the feed's owner adds it with feed add-device`,
  DeviceFeedTooManyMembers: (a) =>
    `the feed already has the maximum of ${s(a[0])} members: remove one or create another feed`,
  DeviceFeedRejected: (a) => {
    const name = rejectionName(a[2] as bigint);
    return `the feed rejected reading ${s(a[1])} of device ${s(a[0])} (${name}): ${REJECTION_HELP[name] ?? "check the reading"}`;
  },
  DeviceFeedTripped: (a) => {
    const name = tripReasonName(a[0] as bigint);
    return `the feed's circuit breaker tripped (${name}: ${TRIP_HELP[name] ?? "see FeedTripped"}): it commits no new round until a guardian checks the members and resets it; latestRoundData still answers the last round committed before the trip (its updatedAt ages), readFresh refuses`;
  },
  DeviceFeedNotTripped: () => "the feed is not tripped: there is nothing to reset",
  DeviceFeedNoRound: () =>
    "the feed has committed no round yet: a round commits once a quorum of members have fresh readings; wait for more devices to report (feed show lists whose readings count)",
  DeviceFeedRoundNotAvailable: (a) =>
    Number(a[1]) === 0
      ? `round ${s(a[0])} is not available: the feed has committed no round yet`
      : `round ${s(a[0])} was not committed: committed rounds are 1..${s(a[1])}; ask for one of them (feed round --id), or read the latest (feed read)`,
  DeviceFeedStale: (a) =>
    `the latest round ${s(a[0])} rests on a reading from ${at(a[1])}, at least ${s(a[2])} s old: wait for a newer round (members must report; a round commits at the feed's heartbeat or when the median moves), or accept older data with a larger --max-age (readFresh takes at most the feed's maxReadingAge)`,
  DeviceFeedStillEligible: (a) =>
    `device ${s(a[0])} is still trusted and staked: its reading keeps counting and cannot be evicted`,
  DeviceFeedNotOperator: (a) =>
    `${s(a[1])} is not the operator of device ${s(a[0])}: only its operator joins or leaves a feed for it; send this from the operator's account (--from)`,
  DeviceFeedNotInvited: (a) =>
    `device ${s(a[0])} was not invited to this feed: its owner adds it first (feed add-device), then its operator joins`,
  DeviceFeedNotYetLeaving: (a) =>
    Number(a[1]) === 0
      ? `device ${s(a[0])} has not asked to leave this feed: its operator requests it first (feed leave)`
      : `device ${s(a[0])} stays a member until ${new Date(Number(a[1]) * 1000).toISOString()} (the staking unbonding period after its leave request): complete the leave then`,
  DeviceFeedNotQuarantined: (a) =>
    `device ${s(a[0])} is not quarantined in this feed: there is nothing to readmit`,
  DeviceFeedCoolingOff: (a) =>
    `device ${s(a[0])} is cooling off after its quarantine: readmit after ${at(a[1])}, or ask a guardian (the feed's owner or a guardian may readmit a re-attested device early)`,
  DeviceFeedNotReattested: (a) =>
    `device ${s(a[0])} has not attested since its quarantine at ${at(a[2])} (last attestation: ${at(a[1])}), or is not trusted now: attest the device again (device attest), then readmit (feed readmit)`,
  DeviceFeedReadingOutlivesEvidence: (a) =>
    `a maxReadingAge of ${s(a[0])} s would let a reading count after an equivocation on it can no longer be proven (evidence window ${s(a[1])} s): give --max-reading-age at most the evidence window`,
  OwnableInvalidOwner: (a) => `${s(a[0])} cannot own the feed: name a real account as owner`,
  OwnableUnauthorizedAccount: (a) =>
    `${s(a[0])} is not the feed's owner: send this from the account that created the feed (--from)`,
  DeviceFeedFactoryZeroAddress: () =>
    "the factory needs a registry and a staking contract: deploy it with both addresses",
  ReadingAnchorZeroAddress: () => "the anchor needs a registry: deploy it with its address",
  ReadingAnchorInvalidBatch: (a) =>
    `the batch is inconsistent (first sequence ${s(a[0])}, last ${s(a[1])}, count ${s(a[2])}): the count must fit the sequence range; rebuild the batch`,
  ReadingAnchorInvalidTimes: (a) =>
    `the batch's time range ${s(a[0])}..${s(a[1])} is reversed or after the block time ${s(a[2])}: date batches with the chain's time`,
  ReadingAnchorZeroRoot: () =>
    "the batch root is zero: build it from the readings (buildReadingBatch)",
  ReadingAnchorSequenceNotAfter: (a) =>
    `the batch of device ${s(a[0])} for feed ${s(a[1])} starts at sequence ${s(a[2])}, not after the last anchored sequence ${s(a[3])}: it (or a batch overlapping it) is already anchored; batches are anchored once, in sequence order`,
  ReadingAnchorNothingAnchored: (a) =>
    `device ${s(a[0])} has anchored no batch for feed ${s(a[1])}: there is no head to checkpoint`,
  ReadingAnchorInvalidSignature: (a) =>
    `the batch is not signed by device ${s(a[0])}'s current key over this chain and registry: sign it again with the device's key`,
};

/** The custom-error names explained above: every error of IDeviceFeed, DeviceFeedFactory and ReadingAnchor. */
export const EXPLAINED_FEED_ERRORS: readonly string[] = Object.keys(EXPLAIN);

const INTERFACES = [
  DeviceFeed__factory.createInterface(),
  DeviceFeedFactory__factory.createInterface(),
  ReadingAnchor__factory.createInterface(),
];

/** The ContractError of a feed, factory or anchor custom error `name` with `args`. */
export function feedContractError(
  name: string,
  args: readonly unknown[],
  cause?: unknown,
): ContractError {
  return contractError(name, args, cause, EXPLAIN);
}

/**
 * The decoded contract error inside `err`: a DeviceFeed, DeviceFeedFactory or ReadingAnchor custom
 * error, else any error decode-error.ts knows (registry, key, staking, proofs); undefined otherwise.
 */
export function decodeFeedError(err: unknown): ContractError | undefined {
  if (err instanceof ContractError) return err;
  const data = findRevertData(err);
  if (data === undefined) return undefined;
  const decoded = decodeWithSentences(data, INTERFACES, EXPLAIN, err);
  if (decoded !== undefined) return decoded;
  return decodeContractError(err);
}

/** Runs a contract call, turning a revert into a ContractError with a sentence. */
export async function feedCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err: unknown) {
    throw decodeFeedError(err) ?? err;
  }
}
