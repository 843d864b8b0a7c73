/**
 * What the Operations view shows of a gateway and of a watchtower, read from their figures
 * (src/gateway/metrics.ts, src/watchtower/metrics.ts, and their /health). Pure: the view only draws it.
 */
import { reasonRows, type Figures, type LabelCount, type ReasonRow } from "./metrics.js";

/**
 * `<counter without _total>_per_second`, as the console's server measures it between two of its probes
 * (src/console/ops.ts, summed over the counter's labels): undefined until the second probe.
 */
function rate(figures: Figures, counter: string): number | undefined {
  return figures.value(`${counter.replace(/_total$/, "")}_per_second`);
}

/**
 * A `result` counter's known results by field (a missing one counted 0), and the rows of the results
 * this page does not know of (`other`).
 */
function outcomes<K extends string>(
  rows: readonly LabelCount[],
  known: Readonly<Record<K, string>>,
): Record<K, number> & { readonly other: readonly LabelCount[] } {
  const counts = {} as Record<K, number>;
  for (const field of Object.keys(known) as K[]) {
    counts[field] = rows.find((r) => r.label === known[field])?.count ?? 0;
  }
  const values = new Set<string>(Object.values(known));
  return { ...counts, other: rows.filter((r) => !values.has(r.label)) };
}

export interface GatewaySummary {
  /** Per second (the server's `_per_second` figures); undefined until its second probe. */
  readonly receivedRate: number | undefined;
  readonly verifiedRate: number | undefined;
  readonly submittedRate: number | undefined;
  /** Accepted readings waiting for submission. */
  readonly queue: number | undefined;
  /** Accepted batches waiting to be anchored. */
  readonly batchQueue: number | undefined;
  /** Age (s) of the oldest accepted reading not yet submitted. */
  readonly lag: number | undefined;
  readonly received: number | undefined;
  readonly verified: number | undefined;
  readonly submitted: number | undefined;
  readonly duplicates: number | undefined;
  /** Dropped at intake and refused by the feeds, by reason, largest first. */
  readonly reasons: readonly ReasonRow[];
  readonly rejected: number;
  readonly refused: number;
  /** Failed submissions by kind (retried, rejected). */
  readonly submitErrors: readonly LabelCount[];
  readonly batchesVerified: number | undefined;
  readonly batchesAnchored: number | undefined;
  /** Feed members quarantined by a submitted reading, by anomaly. */
  readonly quarantines: readonly LabelCount[];
  /** Feed-wide breaker trips, by reason. */
  readonly trips: readonly LabelCount[];
  /** Post-quantum key recovery requests; null when the gateway counted none. */
  readonly recovery: RecoverySummary | null;
}

/**
 * What became of the gateway's key recovery requests (recovery_requests_total{result}, summed over
 * schemes); a missing one counted 0.
 */
export interface RecoveryOutcomes {
  /** LMS: its recoverKey transaction mined. */
  readonly recovered: number;
  /** ML-DSA-44: verified off chain and recorded for governance. */
  readonly recorded: number;
  /** LMS: verified, then refused by the chain. */
  readonly refused: number;
  /** Dropped before the chain. */
  readonly rejected: number;
  /** Handled before. */
  readonly duplicate: number;
  /** The chain could not be asked (the broker redelivers it). */
  readonly error: number;
  /** Results this page does not know of. */
  readonly other: readonly LabelCount[];
}

/** src/gateway/metrics.ts's RECOVERY_RESULTS (the page cannot import prom-client's module). */
const RECOVERY_RESULTS = {
  recovered: "recovered",
  recorded: "recorded",
  refused: "refused",
  rejected: "rejected",
  duplicate: "duplicate",
  error: "error",
} as const;

export interface RecoverySummary {
  /** Requests counted, whatever became of them. */
  readonly requests: number;
  readonly outcomes: RecoveryOutcomes;
  /** Requests by scheme (lms, ml-dsa-44; unknown: not parsed), largest first. */
  readonly schemes: readonly LabelCount[];
  /**
   * Dropped before the chain (recovery_rejected_total) and refused by it (recovery_refused_total), by
   * reason, largest first; zeros left out.
   */
  readonly reasons: readonly ReasonRow[];
  /** Requests dropped as recovery_off: the gateway runs without --pq-key-recovery. */
  readonly off: number;
}

/**
 * The key recovery requests a gateway counted (`<prefix>recovery_*`, recovery-intake.ts); null when it
 * counted none (a gateway without --pq-key-recovery that got no request).
 */
export function recoverySummary(figures: Figures, prefix = "gateway_"): RecoverySummary | null {
  const name = `${prefix}recovery_requests_total`;
  const requests = figures.total(name) ?? 0;
  const reasons = reasonRows(figures, `${prefix}recovery_`);
  if (requests === 0 && reasons.length === 0) return null;
  return {
    requests,
    outcomes: outcomes(figures.byLabel(name, "result"), RECOVERY_RESULTS),
    schemes: figures.byLabel(name, "scheme"),
    reasons,
    off: reasons.find((r) => r.stage === "rejected" && r.label === "recovery_off")?.count ?? 0,
  };
}

export function gatewaySummary(figures: Figures): GatewaySummary {
  const p = "gateway_";
  const reasons = reasonRows(figures, p);
  const sum = (stage: ReasonRow["stage"]): number =>
    reasons.filter((r) => r.stage === stage).reduce((total, r) => total + r.count, 0);
  // /health repeats a few gauges: read both (the metric first), so neither is left "not summarized".
  const queuedHealth = figures.value("health.queued");
  const submittedHealth = figures.value("health.submitted");
  const batchesHealth = figures.value("health.queuedBatches");
  return {
    receivedRate: rate(figures, `${p}received_total`),
    verifiedRate: rate(figures, `${p}verified_total`),
    submittedRate: rate(figures, `${p}submitted_total`),
    queue: figures.value(`${p}queue_depth`) ?? queuedHealth,
    batchQueue: figures.value(`${p}batch_queue_depth`) ?? batchesHealth,
    lag: figures.value(`${p}lag_seconds`),
    received: figures.value(`${p}received_total`),
    verified: figures.value(`${p}verified_total`),
    submitted: figures.value(`${p}submitted_total`) ?? submittedHealth,
    duplicates: figures.value(`${p}duplicates_total`),
    reasons,
    rejected: sum("rejected"),
    refused: sum("refused"),
    submitErrors: figures.byLabel(`${p}submit_errors_total`, "kind"),
    batchesVerified: figures.value(`${p}batches_verified_total`),
    batchesAnchored: figures.value(`${p}batches_anchored_total`),
    quarantines: figures.byLabel(`${p}feed_member_quarantined_total`, "anomaly"),
    trips: figures.byLabel(`${p}feed_tripped_total`, "reason"),
    recovery: recoverySummary(figures, p),
  };
}

/** The watchtower's fraud proof outcomes (proofs_submitted_total{result}); a missing one counted 0. */
export interface ProofOutcomes {
  readonly submitted: number;
  readonly alreadyProven: number;
  readonly rejected: number;
  readonly failed: number;
  readonly retried: number;
  readonly keyRetired: number;
  /** Results this page does not know of. */
  readonly other: readonly LabelCount[];
}

const PROOF_RESULTS = {
  submitted: "submitted",
  alreadyProven: "already_proven",
  rejected: "rejected",
  failed: "failed",
  retried: "retried",
  keyRetired: "key_retired",
} as const;

export interface WatchtowerSummary {
  /** Fraud proofs found and not finished yet (/health). */
  readonly pendingProofs: number | undefined;
  readonly proofs: ProofOutcomes;
  readonly equivocations: number | undefined;
  /** Of which inside signed batches. */
  readonly batchEquivocations: number | undefined;
  readonly outOfBounds: number | undefined;
  readonly batchOutOfBounds: number | undefined;
  /** Signed messages by what was done with them, largest first. */
  readonly messages: readonly LabelCount[];
  readonly messageTotal: number | undefined;
  /** Messages per second (the server's); undefined until its second probe. */
  readonly messageRate: number | undefined;
  /** Signed batches by result, largest first. */
  readonly batches: readonly LabelCount[];
  /** Readings in the evidence store (/health). */
  readonly readings: number | undefined;
  /** Unix seconds of the last message received; 0 or undefined: none yet. */
  readonly lastMessage: number | undefined;
}

export function watchtowerSummary(figures: Figures): WatchtowerSummary {
  const p = "watchtower_";
  const lastMessageMs = figures.value("health.lastMessageAt");
  const messages = figures.byLabel(`${p}messages_total`, "result");
  return {
    pendingProofs: figures.value("health.pendingProofs"),
    proofs: outcomes(figures.byLabel(`${p}proofs_submitted_total`, "result"), PROOF_RESULTS),
    equivocations: figures.value(`${p}equivocations_total`),
    batchEquivocations: figures.value(`${p}batch_equivocations_total`),
    outOfBounds: figures.value(`${p}out_of_bounds_total`),
    batchOutOfBounds: figures.value(`${p}batch_out_of_bounds_total`),
    messages,
    messageTotal: messages.length === 0 ? undefined : messages.reduce((sum, m) => sum + m.count, 0),
    messageRate: rate(figures, `${p}messages_total`),
    batches: figures.byLabel(`${p}batches_total`, "result"),
    readings: figures.value("health.readings"),
    lastMessage:
      figures.value(`${p}last_message_timestamp`) ??
      (lastMessageMs === undefined ? undefined : lastMessageMs / 1000),
  };
}
