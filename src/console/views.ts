import { explainVerdict } from "../verify/appraise.js";
import type {
  AccountsPage,
  DeviceStatusName,
  FeedPage,
  FeedSummary,
  FleetPage,
  FleetRow,
  HexString,
  InsurancePage,
  PolicyEntry,
  Verdict,
} from "./api.js";
import { VERDICTS } from "./api.js";
import {
  feedTargetOf,
  keyTypeLabel,
  type DeviceRecord,
  type EventIndex,
  type FeedRecord,
  type PolicyRecord,
} from "./event-index.js";
import { rateDevice, rateFeed } from "./rating.js";

/**
 * The console's views, read from the index in memory (pure: the index, the head's time and the trust
 * window in, the API's JSON shapes out). The fleet's verdicts follow the registry's trustReport rule
 * for rule and in its order (DeviceAttestation._verdict), from the events that set each fact.
 */

export interface ViewContext {
  readonly index: EventIndex;
  /** The head block's time: what ages and verdicts are judged at. */
  readonly now: number;
  /** The trust window in seconds. */
  readonly maxAge: number;
}

/** trustReport's verdict from the indexed facts, rule for rule in the contract's order. */
export function verdictOf(ctx: ViewContext, d: DeviceRecord): Verdict {
  if (d.status !== "Active") return "NotActive";
  if (d.firmwareId === 0) return "NeverAttested";
  if (ctx.now - d.attestedAt > ctx.maxAge) return "Stale";
  const f = ctx.index.firmware.get(d.firmwareId);
  if (f?.maker !== d.maker || f.model !== d.model) return "ModelMismatch";
  if (f.status === "Revoked") return "FirmwareRevoked";
  if (f.status === "Deprecated" && ctx.now >= f.sunset) return "FirmwareSunset";
  return "Trusted";
}

function why(
  ctx: ViewContext,
  d: DeviceRecord,
  verdict: Verdict,
  status: DeviceStatusName,
): string {
  if (verdict === "Trusted") return "";
  return explainVerdict(verdict, {
    deviceId: d.id,
    now: BigInt(ctx.now),
    maxAge: BigInt(ctx.maxAge),
    attestedAt: BigInt(d.attestedAt),
    firmwareId: d.firmwareId,
    sunset: BigInt(ctx.index.firmware.get(d.firmwareId)?.sunset ?? 0),
    status,
  });
}

/** A policy in force at `now`: started, not ended, not released, not fully paid. */
function inForce(p: PolicyRecord, now: number): boolean {
  return !p.released && p.start <= now && now <= p.end && p.paid < p.amount;
}

function policyEntry(p: PolicyRecord, now: number): PolicyEntry {
  return {
    target: p.target,
    kind: p.kind,
    serial: p.serial,
    beneficiary: p.beneficiary,
    amount: p.amount.toString(),
    premium: p.premium.toString(),
    start: p.start,
    end: p.end,
    paid: p.paid.toString(),
    released: p.released,
    active: inForce(p, now),
    members: p.members,
  };
}

/**
 * Coverage in force that a device's fraud could be paid from: its own policies, and its share of each
 * feed policy it is a member of (the policy's unpaid amount over its members).
 */
export function coverageOn(ctx: ViewContext, deviceId: HexString): bigint {
  let sum = 0n;
  for (const p of ctx.index.policies.values()) {
    if (!inForce(p, ctx.now)) continue;
    if (p.kind === "device" && p.target === deviceId) sum += p.amount - p.paid;
    else if (p.kind === "feed" && p.members.includes(deviceId)) {
      sum += (p.amount - p.paid) / BigInt(Math.max(1, p.members.length));
    }
  }
  return sum;
}

export function policiesOn(ctx: ViewContext, deviceId: HexString): PolicyEntry[] {
  return [...ctx.index.policies.values()]
    .filter((p) => (p.kind === "device" ? p.target === deviceId : p.members.includes(deviceId)))
    .map((p) => policyEntry(p, ctx.now));
}

export function fleetRow(ctx: ViewContext, d: DeviceRecord): FleetRow {
  const verdict = verdictOf(ctx, d);
  const f = d.firmwareId === 0 ? undefined : ctx.index.firmware.get(d.firmwareId);
  const stake = d.stake?.active ?? 0n;
  const provenFrauds = d.incidents.length;
  return {
    deviceId: d.id,
    status: d.status,
    operator: d.operator,
    maker: d.maker,
    makerName: ctx.index.makers.get(d.maker)?.name ?? `maker ${String(d.maker)}`,
    model: d.model,
    firmwareId: d.firmwareId,
    firmwareVersion: f?.version ?? null,
    firmwareStatus: f?.status ?? null,
    attestedAt: d.attestedAt,
    verdict,
    why: why(ctx, d, verdict, d.status),
    stake: stake.toString(),
    pendingWithdrawal: (d.stake?.pending ?? 0n).toString(),
    incidents: provenFrauds,
    lastReadings: [...d.lastReadings.values()].map((r) => ({
      ...r,
      decimals: ctx.index.feeds.get(r.feed)?.state?.decimals ?? 0,
    })),
    rating: rateDevice({
      verdict,
      attestationAge: d.attestedAt === 0 ? 0 : Math.max(0, ctx.now - d.attestedAt),
      maxAge: ctx.maxAge,
      firmwareDeprecated: f?.status === "Deprecated",
      provenFrauds,
      recordedIncidents: d.incidentCount,
      activeStake: stake,
      coverageInForce: coverageOn(ctx, d.id),
    }),
  };
}

export interface FleetQuery {
  readonly offset?: number;
  readonly limit?: number;
  /** A device id or operator address, or a part of one (case-insensitive). */
  readonly q?: string;
  readonly verdict?: Verdict | "";
}

export const FLEET_PAGE_MAX = 500;

/**
 * One page of the fleet. Verdicts are counted over the whole fleet (a cheap pass: no rating, no
 * sentence); rows, with their rating and sentence, only for the page.
 */
export function fleetPage(ctx: ViewContext, query: FleetQuery = {}): FleetPage {
  const offset = Math.max(0, Math.floor(query.offset ?? 0));
  const limit = Math.min(FLEET_PAGE_MAX, Math.max(1, Math.floor(query.limit ?? 100)));
  const q = (query.q ?? "").trim().toLowerCase();
  const wanted = query.verdict ?? "";
  const counts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
  const matching: DeviceRecord[] = [];
  for (const d of ctx.index.deviceOrder) {
    const v = verdictOf(ctx, d);
    counts[v]++;
    if (wanted !== "" && v !== wanted) continue;
    if (q !== "" && !d.id.includes(q) && !d.operator.includes(q)) continue;
    matching.push(d);
  }
  return {
    total: ctx.index.deviceOrder.length,
    matching: matching.length,
    offset,
    limit,
    counts,
    rows: matching.slice(offset, offset + limit).map((d) => fleetRow(ctx, d)),
  };
}

export function deviceDetail(ctx: ViewContext, d: DeviceRecord) {
  return {
    row: fleetRow(ctx, d),
    keyType: keyTypeLabel(d.keyType),
    custody: d.custody,
    attestations: d.attestations,
    incidents: d.incidents,
    coverage: policiesOn(ctx, d.id),
    feeds: ctx.index.feedsOf(d.id).map((f) => f.address),
  };
}

function feedCoverage(ctx: ViewContext, f: FeedRecord): bigint {
  const target = feedTargetOf(f.address);
  let sum = 0n;
  for (const p of ctx.index.policies.values()) {
    if (p.kind === "feed" && p.target === target && inForce(p, ctx.now)) sum += p.amount - p.paid;
  }
  return sum;
}

export function feedSummary(ctx: ViewContext, f: FeedRecord): FeedSummary {
  const last = f.answers[f.answers.length - 1];
  let usable = 0;
  for (const id of f.members) {
    const d = ctx.index.devices.get(id);
    if (d !== undefined && !f.quarantined.has(id) && verdictOf(ctx, d) === "Trusted") usable++;
  }
  return {
    address: f.address,
    feedId: f.feedId,
    description: f.description,
    decimals: f.state?.decimals ?? 0,
    members: f.members.size,
    quarantined: f.quarantined.size,
    tripped: f.tripped,
    latestAnswer: last?.value ?? null,
    latestRound: last?.round ?? 0,
    updatedAt: last?.time ?? 0,
    rating: rateFeed({
      tripped: f.tripped,
      quorum: f.state?.quorum ?? 1,
      members: f.members.size,
      usable,
      quarantined: f.quarantined.size,
      costOfCorruption: f.state?.costOfCorruption ?? 0n,
      coverageInForce: feedCoverage(ctx, f),
      operatorsToControl: f.state?.operatorsToControl ?? 0n,
      answerAge: last === undefined ? Number.POSITIVE_INFINITY : Math.max(0, ctx.now - last.time),
      heartbeat: f.state?.heartbeat ?? 0,
    }),
  };
}

export function feedDetail(
  ctx: ViewContext,
  f: FeedRecord,
): Omit<FeedPage, "security" | "securityNote"> {
  const target = feedTargetOf(f.address);
  const ids = new Set([...f.members, ...f.readings.keys()]);
  return {
    summary: feedSummary(ctx, f),
    decimals: f.state?.decimals ?? 0,
    heartbeat: f.state?.heartbeat ?? 0,
    quorum: f.state?.quorum ?? 0,
    answers: f.answers,
    members: [...ids].map((id) => {
      const d = ctx.index.devices.get(id);
      return {
        deviceId: id,
        operator: d?.operator ?? "0x",
        verdict: d === undefined ? "NotActive" : verdictOf(ctx, d),
        quarantined: f.quarantined.has(id),
        anomaly: f.quarantined.get(id) ?? null,
        readings: f.readings.get(id) ?? [],
        rejected: f.rejected.get(id) ?? 0,
      };
    }),
    events: f.events,
    tripReason: f.tripReason,
    coverage: [...ctx.index.policies.values()]
      .filter((p) => p.kind === "feed" && p.target === target)
      .map((p) => policyEntry(p, ctx.now)),
  };
}

export function insuranceDetail(ctx: ViewContext, pool: HexString): InsurancePage {
  const t = ctx.index.pool;
  const totalAssets = t?.totalAssets ?? 0n;
  const locked = t?.lockedCapital ?? 0n;
  let claimsPaid = 0n;
  for (const c of ctx.index.claims) claimsPaid += BigInt(c.payout);
  let recovered = 0n;
  for (const r of ctx.index.recoveries) recovered += BigInt(r.recovery);
  return {
    pool,
    shareDecimals: t?.shareDecimals ?? 0,
    totalAssets: totalAssets.toString(),
    totalSupply: (t?.totalSupply ?? 0n).toString(),
    lockedCapital: locked.toString(),
    freeCapital: (t?.freeCapital ?? 0n).toString(),
    liabilities: (t?.liabilities ?? 0n).toString(),
    utilizationBps: totalAssets === 0n ? 0 : Number((locked * 10_000n) / totalAssets),
    sharePrice: ctx.index.sharePrice,
    policies: [...ctx.index.policies.values()].map((p) => policyEntry(p, ctx.now)),
    claims: ctx.index.claims,
    recoveries: ctx.index.recoveries,
    claimsPaid: claimsPaid.toString(),
    recovered: recovered.toString(),
  };
}

export function accountsDetail(ctx: ViewContext, factory: HexString | null): AccountsPage {
  return {
    factory,
    accounts: [...ctx.index.accounts.values()].map((a) => {
      const reasons: string[] = [];
      if (a.locked) {
        reasons.push(
          a.lastTrip === null
            ? "its velocity breaker is locked"
            : `its velocity breaker is locked since block ${String(a.lastTrip.block)}: ${a.lastTrip.summary}; the operator unlocks it`,
        );
      }
      // A distrust lasts until its time; the account asks the registry again after it.
      const distrusted = [...a.distrusted].filter(([, until]) => until > ctx.now).map(([id]) => id);
      if (distrusted.length > 0) {
        reasons.push(
          `frozen for ${String(distrusted.length)} device signer${distrusted.length === 1 ? "" : "s"} the registry no longer trusts (${distrusted.join(", ")}): operations they sign are refused; the operator's key still works`,
        );
      }
      return {
        account: a.account,
        operator: a.operator,
        policy: {
          lowThreshold: a.policy.lowThreshold,
          highThreshold: a.policy.highThreshold,
          maxAttestationAge: a.policy.maxAttestationAge,
          changeDelay: a.policy.changeDelay,
          velocityShareBps: a.policy.velocityShareBps,
          tokens: [...a.policy.tokens.values()].map((t) => ({
            ...t,
            periodCap: t.periodCap.toString(),
            perCallCap: t.perCallCap.toString(),
          })),
          counterparties: [...a.policy.counterparties.values()].map((c) => ({
            ...c,
            periodCap: c.periodCap.toString(),
            perCallCap: c.perCallCap.toString(),
          })),
        },
        locked: a.locked,
        why: reasons.join("; "),
        spent: [...a.spent].map(([token, v]) => ({ token, spentThisPeriod: v.toString() })),
        breakerTrips: a.breakerTrips,
        refused: a.refused,
        distrusted,
        history: a.history,
      };
    }),
  };
}
