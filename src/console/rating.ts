import type { Grade, Rating, RatingFactor, Verdict } from "./api.js";

/**
 * The console's rating of a device and of a feed for insurers, from on-chain facts only (the index's
 * events and the contracts' views): no reputation, no off-chain data. A score from 100 down, each
 * deduction named; the grade from the score. README "Ratings" states the same formula.
 *
 * Device (grade F when its trust verdict is not Trusted: nothing it signs should be relied on):
 *   - attestation age: up to 20 points, 20 × age / window (fresh evidence costs nothing)
 *   - firmware Deprecated (its sunset ahead): 10
 *   - proven frauds (IncidentRecorded, each slashed the device): 30 each
 *   - other recorded incidents (DeviceIncidentRecorded beyond the proven ones): 10 each
 *   - stake against coverage: 30 × (1 − active stake / coverage in force on it), when covered; 30 when
 *     it has no active stake at all (a lie then forfeits nothing)
 * Feed (grade F when its breaker is tripped or fewer trusted, unquarantined members than its quorum
 * remain: it cannot answer):
 *   - cost of corruption against coverage in force: 40 × (1 − cost / coverage), when covered; 40 when
 *     corrupting it costs nothing
 *   - one operator controls the median: 20
 *   - quarantined members: 30 × quarantined / members
 *   - a stale answer (older than two heartbeats): 10
 * Grades: A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, E below.
 */

export interface DeviceRatingInput {
  readonly verdict: Verdict;
  /** Seconds since the latest evidence, and the window the verdict is judged with. */
  readonly attestationAge: number;
  readonly maxAge: number;
  readonly firmwareDeprecated: boolean;
  readonly provenFrauds: number;
  readonly recordedIncidents: number;
  readonly activeStake: bigint;
  readonly coverageInForce: bigint;
}

export interface FeedRatingInput {
  readonly tripped: boolean;
  readonly quorum: number;
  readonly members: number;
  /** Members that are trusted and not quarantined. */
  readonly usable: number;
  readonly quarantined: number;
  readonly costOfCorruption: bigint;
  readonly coverageInForce: bigint;
  readonly operatorsToControl: bigint;
  /** Seconds since the latest answer (Infinity when it never answered) and the heartbeat. */
  readonly answerAge: number;
  readonly heartbeat: number;
}

export function gradeOf(score: number): Grade {
  if (score >= 90) return "A";
  if (score >= 75) return "B";
  if (score >= 60) return "C";
  if (score >= 40) return "D";
  return "E";
}

/** 1 − part / whole in [0, 1], exact enough for points (bigint in, float out). */
function shortfall(part: bigint, whole: bigint): number {
  if (whole <= 0n || part >= whole) return 0;
  if (part <= 0n) return 1;
  return 1 - Number((part * 10_000n) / whole) / 10_000;
}

function rate(factors: RatingFactor[], failed: string | null): Rating {
  const kept = factors.filter((f) => f.points > 0).sort((a, b) => b.points - a.points);
  if (failed !== null) {
    return {
      score: 0,
      grade: "F",
      factors: [{ factor: "cannot be relied on", points: 100, detail: failed }, ...kept],
    };
  }
  const score = Math.max(0, 100 - kept.reduce((sum, f) => sum + f.points, 0));
  return { score, grade: gradeOf(score), factors: kept };
}

export function rateDevice(d: DeviceRatingInput): Rating {
  const factors: RatingFactor[] = [];
  if (d.maxAge > 0 && d.attestationAge > 0) {
    const points = Math.round((20 * Math.min(d.attestationAge, d.maxAge)) / d.maxAge);
    factors.push({
      factor: "attestation age",
      points,
      detail: `last evidence ${String(d.attestationAge)} s old of a ${String(d.maxAge)} s window`,
    });
  }
  if (d.firmwareDeprecated) {
    factors.push({
      factor: "deprecated firmware",
      points: 10,
      detail: "its maker deprecated the firmware it runs",
    });
  }
  if (d.provenFrauds > 0) {
    factors.push({
      factor: "proven frauds",
      points: 30 * d.provenFrauds,
      detail: `${String(d.provenFrauds)} fraud proof${d.provenFrauds === 1 ? "" : "s"} slashed it`,
    });
  }
  const other = Math.max(0, d.recordedIncidents - d.provenFrauds);
  if (other > 0) {
    factors.push({
      factor: "recorded incidents",
      points: 10 * other,
      detail: `${String(other)} incident${other === 1 ? "" : "s"} recorded in the registry`,
    });
  }
  if (d.activeStake === 0n) {
    factors.push({
      factor: "no stake",
      points: 30,
      detail: "no active stake: a provable lie forfeits nothing",
    });
  } else if (d.coverageInForce > d.activeStake) {
    const points = Math.round(30 * shortfall(d.activeStake, d.coverageInForce));
    factors.push({
      factor: "stake below coverage",
      points,
      detail: `active stake ${d.activeStake.toString()} against ${d.coverageInForce.toString()} of coverage in force`,
    });
  }
  const failed = d.verdict === "Trusted" ? null : `trust verdict ${d.verdict}`;
  return rate(factors, failed);
}

export function rateFeed(f: FeedRatingInput): Rating {
  const factors: RatingFactor[] = [];
  if (f.costOfCorruption === 0n) {
    factors.push({
      factor: "free to corrupt",
      points: 40,
      detail: "no active stake backs its median",
    });
  } else if (f.coverageInForce > f.costOfCorruption) {
    factors.push({
      factor: "corruption pays",
      points: Math.round(40 * shortfall(f.costOfCorruption, f.coverageInForce)),
      detail: `cost of corruption ${f.costOfCorruption.toString()} against ${f.coverageInForce.toString()} of coverage in force`,
    });
  }
  if (f.operatorsToControl === 1n) {
    factors.push({
      factor: "one operator",
      points: 20,
      detail: "one operator controls the median",
    });
  }
  if (f.members > 0 && f.quarantined > 0) {
    factors.push({
      factor: "quarantined members",
      points: Math.round((30 * f.quarantined) / f.members),
      detail: `${String(f.quarantined)} of ${String(f.members)} members quarantined`,
    });
  }
  if (f.heartbeat > 0 && f.answerAge > 2 * f.heartbeat) {
    factors.push({
      factor: "stale answer",
      points: 10,
      detail: Number.isFinite(f.answerAge)
        ? `latest answer ${String(f.answerAge)} s old, heartbeat ${String(f.heartbeat)} s`
        : "it never answered",
    });
  }
  let failed: string | null = null;
  if (f.tripped) failed = "its breaker is tripped: no round commits until a guardian resets it";
  else if (f.usable < f.quorum) {
    failed = `${String(f.usable)} trusted, unquarantined members for a quorum of ${String(f.quorum)}`;
  }
  return rate(factors, failed);
}
