import { ANOMALY_NAMES, TRIP_REASON_NAMES } from "../client/feed-errors.js";
import { INCIDENT_KINDS } from "../client/proofs.js";
import { FIRMWARE_STATUSES } from "../verify/enum-names.js";
import type {
  AttestationEntry,
  ClaimEntry,
  DeviceStatusName,
  FeedEventEntry,
  FirmwareStatusName,
  HexString,
  IncidentEntry,
  LastReading,
  Point,
  RecoveryEntry,
  SharePricePoint,
  TimelineEntry,
} from "./api.js";

/**
 * The console's index of DeviceTrust's events: every event of the deployed contracts is applied once,
 * in chain order, to the records below (devices with their custody chain and attestations, firmware,
 * feeds with their answers and members' readings, the pool's policies, claims and recoveries, machine
 * accounts). A view is then read from memory, never by scanning logs again. State no event carries
 * (a device's stake after a slash, the pool's assets) is read from the chain by ChainSync for what the
 * events touched, and set here.
 *
 * Pure: no provider, no clock. Events arrive decoded (ChainSync) or built by hand (tests, benchmarks).
 */

/** Which contract an event came from. */
export type SourceKind =
  | "registry"
  | "staking"
  | "proofs"
  | "pool"
  | "feedFactory"
  | "feed"
  | "accountFactory"
  | "account";

/** One decoded event: its arguments by name, integers as bigint, addresses and hashes as hex. */
export interface IndexedEvent {
  readonly source: SourceKind;
  readonly address: HexString;
  readonly name: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly block: number;
  readonly logIndex: number;
  readonly tx: HexString;
  /** The block's time (unix seconds). */
  readonly time: number;
}

export interface FirmwareRecord {
  readonly id: number;
  readonly maker: number;
  readonly model: number;
  readonly version: string;
  readonly measurement: HexString;
  status: FirmwareStatusName;
  sunset: number;
}

export interface StakeRecord {
  readonly active: bigint;
  readonly pending: bigint;
  readonly unlockAt: number;
}

export interface DeviceRecord {
  readonly id: HexString;
  /** Position in registration order (the fleet's default order). */
  readonly index: number;
  operator: HexString;
  pendingOperator: HexString | null;
  readonly maker: number;
  readonly model: number;
  keyType: number;
  status: DeviceStatusName;
  firmwareId: number;
  /** The latest evidence's own time (what the verdict's age counts from), 0 when never attested. */
  attestedAt: number;
  bootCount: bigint;
  /** Incidents the registry counted (DeviceIncidentRecorded). */
  incidentCount: number;
  /** Stake read from the chain (null until read). */
  stake: StakeRecord | null;
  /** Total slashed from the device by proofs. */
  slashed: bigint;
  readonly custody: TimelineEntry[];
  readonly attestations: AttestationEntry[];
  readonly incidents: IncidentEntry[];
  /** The last accepted reading per feed address (the view adds the feed's decimals). */
  readonly lastReadings: Map<HexString, Omit<LastReading, "decimals">>;
}

export interface FeedRecord {
  readonly address: HexString;
  readonly feedId: HexString;
  readonly description: string;
  readonly owner: HexString;
  readonly createdBlock: number;
  readonly members: Set<HexString>;
  /** Quarantined members and the anomaly's name. */
  readonly quarantined: Map<HexString, string>;
  tripped: boolean;
  tripReason: string;
  readonly answers: (Point & { readonly round: number })[];
  readonly readings: Map<HexString, (Point & { readonly sequence: string })[]>;
  readonly rejected: Map<HexString, number>;
  readonly events: FeedEventEntry[];
  /** Read from the chain: the feed's config and its cost of corruption. */
  state: FeedState | null;
}

export interface FeedState {
  readonly decimals: number;
  readonly quorum: number;
  readonly heartbeat: number;
  readonly costOfCorruption: bigint;
  readonly operatorsToControl: bigint;
}

export interface PolicyRecord {
  readonly target: HexString;
  readonly kind: "device" | "feed";
  readonly serial: number;
  readonly beneficiary: HexString;
  readonly amount: bigint;
  readonly premium: bigint;
  readonly start: number;
  readonly end: number;
  paid: bigint;
  released: boolean;
  members: HexString[];
}

export interface AccountRecord {
  readonly account: HexString;
  /** From AccountCreated (the clone's own setup events come first, in the same transaction). */
  operator: HexString;
  /** The spending policy, from the account's own events (its setup, and each change applied). */
  readonly policy: AccountPolicy;
  readonly history: TimelineEntry[];
  readonly spent: Map<HexString, bigint>;
  breakerTrips: number;
  refused: number;
  /** Device signers the account distrusts, and until when (unix seconds; it asks the registry again then). */
  readonly distrusted: Map<HexString, number>;
  /** Read from the chain. */
  locked: boolean;
  /** The latest trip, for "why". */
  lastTrip: TimelineEntry | null;
}

/** What an account's policy events say: thresholds, config, and limits per token and counterparty. */
export interface AccountPolicy {
  lowThreshold: number | null;
  highThreshold: number | null;
  maxAttestationAge: number | null;
  changeDelay: number | null;
  velocityShareBps: number | null;
  /** Token (0x0…0: the native coin) → its limits; a period of 0 removed it. */
  readonly tokens: Map<HexString, AccountPolicyToken>;
  /** `${token}:${counterparty}` → its limits. */
  readonly counterparties: Map<string, AccountPolicyCounterparty>;
}

export interface AccountPolicyToken {
  readonly token: HexString;
  readonly periodCap: bigint;
  readonly perCallCap: bigint;
  readonly period: number;
  readonly velocityWindow: number;
}

export interface AccountPolicyCounterparty {
  readonly token: HexString;
  readonly counterparty: HexString;
  readonly periodCap: bigint;
  readonly perCallCap: bigint;
  readonly allowed: boolean;
}

export interface PoolTotals {
  readonly shareDecimals: number;
  readonly totalAssets: bigint;
  readonly totalSupply: bigint;
  readonly lockedCapital: bigint;
  readonly freeCapital: bigint;
  readonly liabilities: bigint;
}

const KEY_TYPES: Readonly<Record<number, string>> = { 1: "secp256k1", 2: "P-256" };

export function keyTypeLabel(keyType: number): string {
  return KEY_TYPES[keyType] ?? `key type ${String(keyType)}`;
}

function nameOf(names: readonly string[], value: unknown): string {
  const n = Number(value);
  return names[n] ?? `#${String(n)}`;
}

const hex = (v: unknown): HexString => String(v).toLowerCase() as HexString;
const big = (v: unknown): bigint => (typeof v === "bigint" ? v : BigInt(String(v)));
const num = (v: unknown): number => Number(v);
const short = (h: string): string => (h.length > 14 ? `${h.slice(0, 8)}…${h.slice(-4)}` : h);

/** A feed's target id in the pool: the feed's address padded to 32 bytes. */
export function feedTargetOf(feed: HexString): HexString {
  return `0x${feed.slice(2).padStart(64, "0")}`;
}

export class EventIndex {
  readonly makers = new Map<number, { name: string; signer: HexString }>();
  readonly firmware = new Map<number, FirmwareRecord>();
  readonly devices = new Map<HexString, DeviceRecord>();
  /** Devices in registration order. */
  readonly deviceOrder: DeviceRecord[] = [];
  readonly feeds = new Map<HexString, FeedRecord>();
  readonly policies = new Map<string, PolicyRecord>();
  readonly claims: ClaimEntry[] = [];
  readonly recoveries: RecoveryEntry[] = [];
  readonly sharePrice: SharePricePoint[] = [];
  readonly accounts = new Map<HexString, AccountRecord>();
  pool: PoolTotals | null = null;
  /** How many events were applied. */
  events = 0;
  /** Bumped by every change: the page refetches when it moves. */
  version = 0;
  /** The latest block applied and its time. */
  block = -1;
  blockTime = 0;

  /** Applies one event. Events must come in chain order (block, then log index). */
  apply(e: IndexedEvent): void {
    this.events++;
    this.version++;
    if (e.block > this.block) {
      this.block = e.block;
      this.blockTime = e.time;
    }
    switch (e.source) {
      case "registry":
        this.onRegistry(e);
        return;
      case "staking":
        this.onStaking(e);
        return;
      case "proofs":
        this.onProofs(e);
        return;
      case "pool":
        this.onPool(e);
        return;
      case "feedFactory":
        this.onFeedFactory(e);
        return;
      case "feed":
        this.onFeed(e);
        return;
      case "accountFactory":
        this.onAccountFactory(e);
        return;
      case "account":
        this.onAccount(e);
        return;
    }
  }

  /** The chain's head moved without events (verdicts age, policies end): the page refetches. */
  advance(block: number, time: number): void {
    if (block <= this.block) return;
    this.block = block;
    this.blockTime = time;
    this.version++;
  }

  setStake(deviceId: HexString, stake: StakeRecord): void {
    const d = this.devices.get(deviceId);
    if (d === undefined) return;
    d.stake = stake;
    this.version++;
  }

  setFeedState(feed: HexString, state: FeedState): void {
    const f = this.feeds.get(feed);
    if (f === undefined) return;
    f.state = state;
    this.version++;
  }

  setPool(totals: PoolTotals): void {
    this.pool = totals;
    this.version++;
  }

  setAccountLocked(account: HexString, locked: boolean): void {
    const a = this.accounts.get(account);
    if (a === undefined) return;
    a.locked = locked;
    this.version++;
  }

  /** A share price sample at `block` (ChainSync reads it at each block with pool events). */
  addSharePrice(p: SharePricePoint): void {
    const last = this.sharePrice[this.sharePrice.length - 1];
    if (last !== undefined && last.block >= p.block) return;
    this.sharePrice.push(p);
    this.version++;
  }

  device(id: string): DeviceRecord | undefined {
    return this.devices.get(id.toLowerCase() as HexString);
  }

  /** Feeds the device is a member of. */
  feedsOf(deviceId: HexString): FeedRecord[] {
    return [...this.feeds.values()].filter((f) => f.members.has(deviceId));
  }

  // ------------------------------------------------------------------ registry

  private entry(e: IndexedEvent, summary: string): TimelineEntry {
    return { block: e.block, time: e.time, tx: e.tx, event: e.name, summary };
  }

  private custody(e: IndexedEvent, summary: string): DeviceRecord | undefined {
    const d = this.devices.get(hex(e.args.deviceId));
    d?.custody.push(this.entry(e, summary));
    return d;
  }

  private onRegistry(e: IndexedEvent): void {
    const a = e.args;
    switch (e.name) {
      case "MakerAdded":
        this.makers.set(num(a.maker), { name: String(a.name), signer: hex(a.signer) });
        return;
      case "MakerSignerChanged": {
        const m = this.makers.get(num(a.maker));
        if (m !== undefined) m.signer = hex(a.signer);
        return;
      }
      case "DeviceRegistered": {
        const id = hex(a.deviceId);
        if (this.devices.has(id)) return;
        const d: DeviceRecord = {
          id,
          index: this.deviceOrder.length,
          operator: hex(a.operator),
          pendingOperator: null,
          maker: num(a.maker),
          model: num(a.model),
          keyType: num(a.keyType),
          status: "Active",
          firmwareId: 0,
          attestedAt: 0,
          bootCount: 0n,
          incidentCount: 0,
          stake: null,
          slashed: 0n,
          custody: [],
          attestations: [],
          incidents: [],
          lastReadings: new Map(),
        };
        this.devices.set(id, d);
        this.deviceOrder.push(d);
        const maker = this.makers.get(d.maker)?.name ?? `maker ${String(d.maker)}`;
        d.custody.push(
          this.entry(
            e,
            `registered by ${maker} for operator ${short(d.operator)}, model ${String(d.model)}, ${keyTypeLabel(d.keyType)} key`,
          ),
        );
        return;
      }
      case "KeyRotated":
        this.custody(
          e,
          `key rotated to ${short(hex(a.newKeyHash))} (${keyTypeLabel(num(a.keyType))}, rotation ${String(num(a.nonce) + 1)})`,
        );
        return;
      case "KeyRecovered":
        this.custody(
          e,
          `key recovered by its post-quantum key: new key ${short(hex(a.newKeyHash))}`,
        );
        return;
      case "CustodyTransferStarted": {
        const d = this.custody(
          e,
          `transfer offered from ${short(hex(a.from))} to ${short(hex(a.to))}`,
        );
        if (d !== undefined) d.pendingOperator = hex(a.to);
        return;
      }
      case "CustodyTransferCancelled": {
        const d = this.custody(e, `transfer to ${short(hex(a.to))} cancelled`);
        if (d !== undefined) d.pendingOperator = null;
        return;
      }
      case "CustodyTransferred": {
        const d = this.custody(
          e,
          `custody transferred from ${short(hex(a.from))} to ${short(hex(a.to))}`,
        );
        if (d !== undefined) {
          d.operator = hex(a.to);
          d.pendingOperator = null;
        }
        return;
      }
      case "DeviceSuspended": {
        const d = this.custody(e, `suspended by ${short(hex(a.by))}${reasonText(a.reason)}`);
        if (d !== undefined) d.status = "Suspended";
        return;
      }
      case "DeviceIncidentRecorded": {
        const d = this.custody(
          e,
          `incident recorded by ${short(hex(a.by))} (${String(num(a.incidents))} so far)${reasonText(a.reason)}`,
        );
        if (d !== undefined) d.incidentCount = num(a.incidents);
        return;
      }
      case "DeviceReinstated": {
        const d = this.custody(e, `reinstated by ${short(hex(a.by))}`);
        if (d !== undefined) d.status = "Active";
        return;
      }
      case "DeviceRevoked": {
        const d = this.custody(e, `revoked by ${short(hex(a.by))}${reasonText(a.reason)}`);
        if (d !== undefined) d.status = "Revoked";
        return;
      }
      case "DeviceDecommissioned": {
        const d = this.custody(e, `decommissioned by ${short(hex(a.by))}`);
        if (d !== undefined) d.status = "Decommissioned";
        return;
      }
      case "FirmwarePublished":
        this.firmware.set(num(a.firmwareId), {
          id: num(a.firmwareId),
          maker: num(a.maker),
          model: num(a.model),
          version: String(a.version),
          measurement: hex(a.measurement),
          status: "Good",
          sunset: 0,
        });
        return;
      case "FirmwareStatusChanged": {
        const f = this.firmware.get(num(a.firmwareId));
        if (f !== undefined) {
          f.status = FIRMWARE_STATUSES[num(a.status)] ?? "Unknown";
          f.sunset = num(a.sunset);
        }
        return;
      }
      case "DeviceAttested": {
        const d = this.devices.get(hex(a.deviceId));
        if (d === undefined) return;
        d.firmwareId = num(a.firmwareId);
        d.attestedAt = num(a.timestamp);
        d.bootCount = big(a.bootCount);
        d.attestations.push({
          block: e.block,
          time: e.time,
          firmwareId: d.firmwareId,
          firmwareVersion: this.firmware.get(d.firmwareId)?.version ?? null,
          bootCount: d.bootCount.toString(),
          evidenceTime: d.attestedAt,
        });
        return;
      }
      default:
        return;
    }
  }

  // ------------------------------------------------------------------ staking and proofs

  private onStaking(e: IndexedEvent): void {
    const a = e.args;
    const d = this.devices.get(hex(a.deviceId));
    if (d === undefined) return;
    switch (e.name) {
      case "Slashed":
        d.slashed += big(a.bounty) + big(a.loss);
        return;
      case "Staked":
      case "WithdrawalRequested":
      case "Withdrawn":
      default:
        return;
    }
  }

  private onProofs(e: IndexedEvent): void {
    if (e.name !== "IncidentRecorded") return;
    const a = e.args;
    const d = this.devices.get(hex(a.deviceId));
    if (d === undefined) return;
    const kind = nameOf(INCIDENT_KINDS, a.kind);
    d.incidents.push({
      block: e.block,
      time: e.time,
      tx: e.tx,
      incident: hex(a.incident),
      kind,
      slashed: big(a.slashed).toString(),
      beneficiary: hex(a.beneficiary),
    });
    d.custody.push(this.entry(e, `fraud proven (${kind}): ${big(a.slashed).toString()} slashed`));
  }

  // ------------------------------------------------------------------ pool

  private onPool(e: IndexedEvent): void {
    const a = e.args;
    switch (e.name) {
      case "CoverageBought": {
        const target = hex(a.target);
        const serial = num(a.serial);
        this.policies.set(`${target}:${String(serial)}`, {
          target,
          kind: num(a.kind) === 0 ? "device" : "feed",
          serial,
          beneficiary: hex(a.beneficiary),
          amount: big(a.amount),
          premium: big(a.premium),
          start: num(a.start),
          end: num(a.end),
          paid: 0n,
          released: false,
          members: [],
        });
        return;
      }
      case "CoverageMembers": {
        const p = this.policies.get(`${hex(a.target)}:${String(num(a.serial))}`);
        if (p !== undefined) p.members = (a.members as unknown[]).map(hex);
        return;
      }
      case "ClaimPaid": {
        const claim: ClaimEntry = {
          block: e.block,
          time: e.time,
          tx: e.tx,
          target: hex(a.target),
          serial: num(a.serial),
          incident: hex(a.incidentId),
          deviceId: hex(a.deviceId),
          beneficiary: hex(a.beneficiary),
          payout: big(a.payout).toString(),
        };
        this.claims.push(claim);
        const p = this.policies.get(`${claim.target}:${String(claim.serial)}`);
        if (p !== undefined) p.paid += big(a.payout);
        return;
      }
      case "CoverageReleased": {
        const p = this.policies.get(`${hex(a.target)}:${String(num(a.serial))}`);
        if (p !== undefined) p.released = true;
        return;
      }
      case "LossBooked":
        this.recoveries.push({
          block: e.block,
          time: e.time,
          tx: e.tx,
          deviceId: hex(a.deviceId),
          incident: hex(a.incidentId),
          liability: big(a.liability).toString(),
          recovery: big(a.recovery).toString(),
        });
        return;
      default:
        return;
    }
  }

  // ------------------------------------------------------------------ feeds

  private onFeedFactory(e: IndexedEvent): void {
    if (e.name !== "FeedCreated") return;
    const a = e.args;
    const address = hex(a.feed);
    if (this.feeds.has(address)) return;
    this.feeds.set(address, {
      address,
      feedId: hex(a.feedId),
      description: String(a.description),
      owner: hex(a.owner),
      createdBlock: e.block,
      members: new Set(),
      quarantined: new Map(),
      tripped: false,
      tripReason: "None",
      answers: [],
      readings: new Map(),
      rejected: new Map(),
      events: [],
      state: null,
    });
  }

  /** Registers a feed the factory did not create (given by address): its events are then applied. */
  addFeed(address: HexString, feedId: HexString, description: string, owner: HexString): void {
    this.onFeedFactory({
      source: "feedFactory",
      address,
      name: "FeedCreated",
      args: { feed: address, feedId, description, owner },
      block: 0,
      logIndex: 0,
      tx: "0x",
      time: 0,
    });
  }

  private onFeed(e: IndexedEvent): void {
    const f = this.feeds.get(e.address);
    if (f === undefined) return;
    const a = e.args;
    const event = (kind: FeedEventEntry["kind"], summary: string): void => {
      f.events.push({ ...this.entry(e, summary), kind });
    };
    switch (e.name) {
      case "MemberAdded": {
        const id = hex(a.deviceId);
        f.members.add(id);
        event("member", `${short(id)} joined`);
        return;
      }
      case "MemberRemoved": {
        const id = hex(a.deviceId);
        f.members.delete(id);
        f.quarantined.delete(id);
        event("member", `${short(id)} left`);
        return;
      }
      case "ReadingAccepted": {
        const id = hex(a.deviceId);
        const value = big(a.value).toString();
        const sequence = big(a.sequence).toString();
        let series = f.readings.get(id);
        if (series === undefined) {
          series = [];
          f.readings.set(id, series);
        }
        series.push({ time: e.time, block: e.block, value, sequence });
        this.devices.get(id)?.lastReadings.set(f.address, {
          feed: f.address,
          feedName: f.description,
          sequence,
          value,
          block: e.block,
          time: e.time,
        });
        return;
      }
      case "ReadingRejected": {
        const id = hex(a.deviceId);
        f.rejected.set(id, (f.rejected.get(id) ?? 0) + 1);
        return;
      }
      case "AnswerUpdated":
        f.answers.push({
          time: num(a.updatedAt),
          block: e.block,
          value: big(a.current).toString(),
          round: num(a.roundId),
        });
        return;
      case "MemberQuarantined": {
        const id = hex(a.deviceId);
        const anomaly = nameOf(ANOMALY_NAMES, a.anomaly);
        f.quarantined.set(id, anomaly);
        event(
          "quarantine",
          `${short(id)} quarantined: ${anomaly} at sequence ${big(a.sequence).toString()}${a.lockedDown === true ? ", device locked down" : ""}`,
        );
        return;
      }
      case "MemberReadmitted": {
        const id = hex(a.deviceId);
        f.quarantined.delete(id);
        event("readmit", `${short(id)} readmitted by ${short(hex(a.by))}`);
        return;
      }
      case "FeedTripped": {
        f.tripped = true;
        f.tripReason = nameOf(TRIP_REASON_NAMES, a.reason);
        event("trip", `breaker tripped: ${f.tripReason} (${big(a.value).toString()})`);
        return;
      }
      case "FeedReset":
        f.tripped = false;
        f.tripReason = "None";
        event("reset", `breaker reset by ${short(hex(a.by))}`);
        return;
      default:
        return;
    }
  }

  // ------------------------------------------------------------------ accounts

  private onAccountFactory(e: IndexedEvent): void {
    if (e.name !== "AccountCreated") return;
    const rec = this.account(hex(e.args.account));
    rec.operator = hex(e.args.operator);
    // The clone's setup events came first in the transaction: the creation heads its history.
    rec.history.unshift(this.entry(e, `created for operator ${short(rec.operator)}`));
  }

  /** The account's record, made on its first event (its setup, before the factory's AccountCreated). */
  private account(address: HexString): AccountRecord {
    let rec = this.accounts.get(address);
    if (rec === undefined) {
      rec = {
        account: address,
        operator: "0x",
        policy: {
          lowThreshold: null,
          highThreshold: null,
          maxAttestationAge: null,
          changeDelay: null,
          velocityShareBps: null,
          tokens: new Map(),
          counterparties: new Map(),
        },
        history: [],
        spent: new Map(),
        breakerTrips: 0,
        refused: 0,
        distrusted: new Map(),
        locked: false,
        lastTrip: null,
      };
      this.accounts.set(address, rec);
    }
    return rec;
  }

  private onAccount(e: IndexedEvent): void {
    const acct = this.account(e.address);
    const a = e.args;
    const policy = acct.policy;
    switch (e.name) {
      case "AccountInitialized":
        policy.lowThreshold = num(a.lowThreshold);
        policy.highThreshold = num(a.highThreshold);
        return;
      case "ConfigSet": {
        const c = a.config as Readonly<Record<string, unknown>>;
        policy.highThreshold = num(c.highThreshold);
        policy.maxAttestationAge = num(c.maxAttestationAge);
        policy.changeDelay = num(c.changeDelay);
        policy.velocityShareBps = num(c.velocityShareBps);
        return;
      }
      case "TokenLimitsSet": {
        const token = hex(a.token);
        const l = a.limits as Readonly<Record<string, unknown>>;
        if (num(l.period) === 0) policy.tokens.delete(token);
        else {
          policy.tokens.set(token, {
            token,
            periodCap: big(l.periodCap),
            perCallCap: big(l.perCallCap),
            period: num(l.period),
            velocityWindow: num(l.velocityWindow),
          });
        }
        acct.history.push(this.entry(e, `limits of ${short(token)} set`));
        return;
      }
      case "CounterpartyLimitsSet": {
        const token = hex(a.token);
        const counterparty = hex(a.counterparty);
        const l = a.limits as Readonly<Record<string, unknown>>;
        policy.counterparties.set(`${token}:${counterparty}`, {
          token,
          counterparty,
          periodCap: big(l.periodCap),
          perCallCap: big(l.perCallCap),
          allowed: l.allowed === true,
        });
        acct.history.push(
          this.entry(
            e,
            `${short(counterparty)} ${l.allowed === true ? "allowed" : "no longer allowed"} for ${short(token)}`,
          ),
        );
        return;
      }
      case "Spent": {
        const token = hex(a.token);
        acct.spent.set(token, big(a.spentThisPeriod));
        acct.history.push(
          this.entry(e, `spent ${big(a.amount).toString()} to ${short(hex(a.counterparty))}`),
        );
        return;
      }
      case "VelocityBreakerTripped": {
        acct.breakerTrips++;
        acct.locked = true;
        const entry = this.entry(
          e,
          `velocity breaker tripped on ${short(hex(a.token))}: level ${big(a.level).toString()} over capacity ${big(a.capacity).toString()}`,
        );
        acct.lastTrip = entry;
        acct.history.push(entry);
        return;
      }
      case "Unlocked":
        acct.locked = false;
        acct.history.push(this.entry(e, `unlocked by ${short(hex(a.by))}`));
        return;
      case "UserOperationRefused":
        acct.refused++;
        acct.history.push(
          this.entry(e, `operation refused: ${num(a.reason) === 1 ? "Untrusted" : "Locked"}`),
        );
        return;
      case "DeviceSignerDistrusted": {
        const id = hex(a.deviceId);
        acct.distrusted.set(id, num(a.until));
        acct.history.push(
          this.entry(
            e,
            `device signer ${short(id)} distrusted until ${new Date(num(a.until) * 1000).toISOString()}`,
          ),
        );
        return;
      }
      case "DeviceSignerSynced": {
        const id = hex(a.deviceId);
        acct.distrusted.delete(id);
        acct.history.push(this.entry(e, `device signer ${short(id)} synced`));
        return;
      }
      default:
        acct.history.push(this.entry(e, e.name));
        return;
    }
  }
}

/** A bytes32 reason as text: its ASCII when it is a short string, else nothing. */
function reasonText(reason: unknown): string {
  const h = String(reason);
  if (!/^0x[0-9a-fA-F]{64}$/.test(h) || /^0x0+$/.test(h)) return "";
  const bytes = Buffer.from(h.slice(2), "hex");
  const end = bytes.indexOf(0);
  const text = bytes.subarray(0, end === -1 ? bytes.length : end).toString("latin1");
  return /^[\x20-\x7e]+$/.test(text) ? `: ${text}` : `: ${short(h)}`;
}
