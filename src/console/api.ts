/**
 * What the console's server answers on /api (JSON), shared by the server (src/console) and the page
 * (console/). Pure types and a few pure helpers: no Node or DOM imports.
 *
 * Conventions: on-chain integers (amounts, values, sequences) travel as decimal strings, exactly;
 * times are unix seconds as numbers; ids and addresses are lower-case 0x hex.
 */

import {
  TRUST_VERDICTS,
  type DeviceStatusName,
  type FirmwareStatusName,
  type TrustVerdictName,
} from "../verify/enum-names.js";

/** A 0x-prefixed hex string (an id, an address, a hash). */
export type HexString = `0x${string}`;

/** Decimal string of an on-chain integer (may be negative for feed values). */
export type Int = string;

/** IDeviceAttestation.TrustVerdict by name, in enum order. */
export type Verdict = TrustVerdictName;
export const VERDICTS: readonly Verdict[] = TRUST_VERDICTS;

export type { DeviceStatusName, FirmwareStatusName };

/** A–E from the rating's score (A best), F for an untrusted device or a feed that cannot answer. */
export type Grade = "A" | "B" | "C" | "D" | "E" | "F";

/** One deduction of a rating: what it is and how many points it took. */
export interface RatingFactor {
  readonly factor: string;
  readonly points: number;
  readonly detail: string;
}

export interface Rating {
  /** 0..100, 100 best. */
  readonly score: number;
  readonly grade: Grade;
  /** Every deduction, largest first. */
  readonly factors: readonly RatingFactor[];
}

/** The chain and the index, for the header and for live updates. */
export interface Status {
  readonly chainId: string;
  /** The head the index has reached. */
  readonly block: number;
  readonly blockTime: number;
  /** Changes whenever the index took new events or state: a page refetches its view then. */
  readonly version: number;
  readonly events: number;
  readonly devices: number;
  readonly feeds: number;
  /** The window (seconds) trust verdicts are judged with. */
  readonly maxAge: number;
  readonly contracts: Readonly<Record<string, HexString>>;
  /** The pool's asset: its address, symbol and decimals (amounts are in its base units). */
  readonly asset: {
    readonly address: HexString;
    readonly symbol: string;
    readonly decimals: number;
  } | null;
  /** How the page learns of new blocks. */
  readonly live: string;
  /** The last sync's error, when the chain did not answer. */
  readonly error: string | null;
}

/** The last accepted reading of a device in one feed. */
export interface LastReading {
  readonly feed: HexString;
  readonly feedName: string;
  /** The feed's decimals: the value is an integer scaled by 10^decimals (0 until read). */
  readonly decimals: number;
  readonly sequence: Int;
  readonly value: Int;
  readonly block: number;
  readonly time: number;
}

export interface FleetRow {
  readonly deviceId: HexString;
  readonly status: DeviceStatusName;
  readonly operator: HexString;
  readonly maker: number;
  readonly makerName: string;
  readonly model: number;
  readonly firmwareId: number;
  readonly firmwareVersion: string | null;
  readonly firmwareStatus: FirmwareStatusName | null;
  /** Unix seconds of the latest evidence, 0 when never attested. */
  readonly attestedAt: number;
  readonly verdict: Verdict;
  /** One sentence: why not trusted and what to do (empty when trusted). */
  readonly why: string;
  readonly stake: Int;
  readonly pendingWithdrawal: Int;
  readonly incidents: number;
  readonly lastReadings: readonly LastReading[];
  readonly rating: Rating;
}

export interface FleetPage {
  readonly total: number;
  /** Rows matching the query (before paging). */
  readonly matching: number;
  readonly offset: number;
  readonly limit: number;
  /** Over the whole fleet, not only the matching rows. */
  readonly counts: Readonly<Record<Verdict, number>>;
  readonly rows: readonly FleetRow[];
}

/** One step of a device's custody chain or history, from its events. */
export interface TimelineEntry {
  readonly block: number;
  readonly time: number;
  readonly tx: HexString;
  /** The event's name, e.g. "DeviceRegistered", "KeyRotated", "CustodyTransferred". */
  readonly event: string;
  /** One line for people. */
  readonly summary: string;
}

export interface AttestationEntry {
  readonly block: number;
  readonly time: number;
  readonly firmwareId: number;
  readonly firmwareVersion: string | null;
  readonly bootCount: Int;
  /** The evidence's own time (unix seconds). */
  readonly evidenceTime: number;
}

export interface IncidentEntry {
  readonly block: number;
  readonly time: number;
  readonly tx: HexString;
  readonly incident: HexString;
  readonly kind: string;
  readonly slashed: Int;
  readonly beneficiary: HexString;
}

export interface PolicyEntry {
  readonly target: HexString;
  readonly kind: "device" | "feed";
  readonly serial: number;
  readonly beneficiary: HexString;
  readonly amount: Int;
  readonly premium: Int;
  readonly start: number;
  readonly end: number;
  readonly paid: Int;
  readonly released: boolean;
  /** In force at the index's head time and not released. */
  readonly active: boolean;
  /** The members of a feed policy (empty for a device policy). */
  readonly members: readonly HexString[];
}

export interface SecurityView {
  readonly valueAtRisk: Int;
  readonly costOfCorruption: Int;
  readonly coverageInForce: Int;
  readonly margin: Int;
  readonly operatorsToControl: Int;
  readonly secure: boolean;
  readonly verdict: string;
}

export interface DevicePage {
  readonly row: FleetRow;
  readonly keyType: string;
  readonly custody: readonly TimelineEntry[];
  readonly attestations: readonly AttestationEntry[];
  readonly incidents: readonly IncidentEntry[];
  readonly coverage: readonly PolicyEntry[];
  /** The device's active stake provable lies forfeit, and the report against no value at risk. */
  readonly security: SecurityView | null;
  /** Why there is no security report (no pool in this deployment), when there is none. */
  readonly securityNote: string | null;
  readonly feeds: readonly HexString[];
}

export interface FeedSummary {
  readonly address: HexString;
  readonly feedId: HexString;
  readonly description: string;
  /** Values are integers scaled by 10^decimals (0 until read). */
  readonly decimals: number;
  readonly members: number;
  readonly quarantined: number;
  readonly tripped: boolean;
  readonly latestAnswer: Int | null;
  readonly latestRound: number;
  readonly updatedAt: number;
  readonly rating: Rating;
}

/** A point of a series: time (unix seconds) and value. */
export interface Point {
  readonly time: number;
  readonly block: number;
  readonly value: Int;
}

export interface MemberView {
  readonly deviceId: HexString;
  readonly operator: HexString;
  readonly verdict: Verdict;
  readonly quarantined: boolean;
  /** Why it was quarantined (the anomaly's name), when it is. */
  readonly anomaly: string | null;
  readonly readings: readonly (Point & { readonly sequence: Int })[];
  readonly rejected: number;
}

export interface FeedEventEntry extends TimelineEntry {
  readonly kind: "trip" | "reset" | "quarantine" | "readmit" | "member";
}

export interface FeedPage {
  readonly summary: FeedSummary;
  readonly decimals: number;
  readonly heartbeat: number;
  readonly quorum: number;
  readonly answers: readonly (Point & { readonly round: number })[];
  readonly members: readonly MemberView[];
  readonly events: readonly FeedEventEntry[];
  readonly tripReason: string;
  readonly security: SecurityView | null;
  /** Why there is no security report, when there is none. */
  readonly securityNote: string | null;
  readonly coverage: readonly PolicyEntry[];
}

export interface SharePricePoint {
  readonly block: number;
  readonly time: number;
  readonly totalAssets: Int;
  readonly totalSupply: Int;
  /** Assets per whole share, as a number for plotting. */
  readonly price: number;
}

export interface ClaimEntry {
  readonly block: number;
  readonly time: number;
  readonly tx: HexString;
  readonly target: HexString;
  readonly serial: number;
  readonly incident: HexString;
  readonly deviceId: HexString;
  readonly beneficiary: HexString;
  readonly payout: Int;
}

export interface RecoveryEntry {
  readonly block: number;
  readonly time: number;
  readonly tx: HexString;
  readonly deviceId: HexString;
  readonly incident: HexString;
  readonly liability: Int;
  readonly recovery: Int;
}

export interface InsurancePage {
  readonly pool: HexString;
  /** The pool's shares' decimals (amounts of assets use Status.asset's). */
  readonly shareDecimals: number;
  readonly totalAssets: Int;
  readonly totalSupply: Int;
  readonly lockedCapital: Int;
  readonly freeCapital: Int;
  readonly liabilities: Int;
  /** lockedCapital / totalAssets in basis points. */
  readonly utilizationBps: number;
  readonly sharePrice: readonly SharePricePoint[];
  readonly policies: readonly PolicyEntry[];
  readonly claims: readonly ClaimEntry[];
  readonly recoveries: readonly RecoveryEntry[];
  readonly claimsPaid: Int;
  readonly recovered: Int;
}

/** A machine account's spending policy (DeviceAccount), as its events set it. */
export interface AccountPolicyView {
  /** Signer weight a device-signed operation needs (inside the policy), and the operator's (outside it). */
  readonly lowThreshold: number | null;
  readonly highThreshold: number | null;
  /** Seconds: how fresh a device signer's attestation must be. */
  readonly maxAttestationAge: number | null;
  /** Seconds a policy change waits before it applies. */
  readonly changeDelay: number | null;
  /** The velocity breaker's capacity, in basis points of the period cap. */
  readonly velocityShareBps: number | null;
  readonly tokens: readonly {
    readonly token: HexString;
    readonly periodCap: Int;
    readonly perCallCap: Int;
    /** Seconds per spending window. */
    readonly period: number;
    /** Seconds over which the breaker's bucket drains (0: breaker off). */
    readonly velocityWindow: number;
  }[];
  readonly counterparties: readonly {
    readonly token: HexString;
    readonly counterparty: HexString;
    readonly periodCap: Int;
    readonly perCallCap: Int;
    readonly allowed: boolean;
  }[];
}

export interface AccountRow {
  readonly account: HexString;
  readonly operator: HexString;
  readonly policy: AccountPolicyView;
  readonly locked: boolean;
  /** Why it is frozen (the events that froze it), empty when it is not. */
  readonly why: string;
  readonly spent: readonly { readonly token: HexString; readonly spentThisPeriod: Int }[];
  readonly breakerTrips: number;
  readonly refused: number;
  readonly distrusted: readonly HexString[];
  readonly history: readonly TimelineEntry[];
}

export interface AccountsPage {
  readonly factory: HexString | null;
  readonly accounts: readonly AccountRow[];
}

/** A service's /health and the figures of its /metrics the console shows. */
export interface ServiceView {
  readonly name: "gateway" | "watchtower";
  readonly url: string;
  /** null when the service could not be reached. */
  readonly healthy: boolean | null;
  readonly error: string | null;
  /** Metric name (with labels) to value, only the ones the view shows. */
  readonly figures: Readonly<Record<string, number>>;
}

export interface OpsPage {
  readonly services: readonly ServiceView[];
}

/** An error answer: { error } with status 4xx/5xx. */
export interface ApiError {
  readonly error: string;
}

/** Formats a base-unit amount with `decimals` (exact: string arithmetic, no float). */
export function formatUnits(value: Int, decimals: number, fractionDigits = 2): string {
  const negative = value.startsWith("-");
  const digits = (negative ? value.slice(1) : value).padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).slice(0, fractionDigits);
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}${grouped}${fractionDigits > 0 && decimals > 0 ? `.${fraction.padEnd(fractionDigits, "0")}` : ""}`;
}
