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
  const byResult = figures.byLabel(`${p}proofs_submitted_total`, "result");
  const known = new Set<string>(Object.values(PROOF_RESULTS));
  const outcome = (result: string): number => byResult.find((r) => r.label === result)?.count ?? 0;
  const lastMessageMs = figures.value("health.lastMessageAt");
  const messages = figures.byLabel(`${p}messages_total`, "result");
  return {
    pendingProofs: figures.value("health.pendingProofs"),
    proofs: {
      submitted: outcome(PROOF_RESULTS.submitted),
      alreadyProven: outcome(PROOF_RESULTS.alreadyProven),
      rejected: outcome(PROOF_RESULTS.rejected),
      failed: outcome(PROOF_RESULTS.failed),
      retried: outcome(PROOF_RESULTS.retried),
      keyRetired: outcome(PROOF_RESULTS.keyRetired),
      other: byResult.filter((r) => !known.has(r.label)),
    },
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
