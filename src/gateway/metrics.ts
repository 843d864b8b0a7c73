import { Counter, Gauge, Registry } from "prom-client";

/** Why a message was not accepted. */
export type RejectReason =
  | "bad_topic"
  | "malformed"
  | "topic_mismatch"
  | "invalid_signature"
  | "old_key"
  | "unknown_key"
  | "wrong_device"
  | "conflict"
  | "bad_batch"
  | "bad_root"
  | "overlap"
  | "future_timestamp"
  | "oversize"
  | "rate_limited"
  | "not_member"
  | "inactive_device"
  | "stale"
  | "error";

/** What became of a post-quantum key recovery request (recovery_requests_total's result). */
export const RECOVERY_RESULTS = [
  "recovered",
  "recorded",
  "refused",
  "rejected",
  "duplicate",
  "error",
] as const;
export type RecoveryResult = (typeof RECOVERY_RESULTS)[number];

/**
 * The gateway's Prometheus metrics, in a registry of its own. Names: `<prefix>received_total`,
 * `<prefix>verified_total` (accepted and stored), `<prefix>duplicates_total`,
 * `<prefix>rejected_total{reason}`, `<prefix>submitted_total` (readings a feed accepted: its
 * ReadingAccepted event), `<prefix>refused_total{reason}` (readings sent but not accepted: the feed's
 * ReadingRejected reason, MemberQuarantined:<anomaly>, or the code of a submission refused whole),
 * `<prefix>submit_errors_total{kind}` (retried / rejected), `<prefix>queue_depth`,
 * `<prefix>lag_seconds` (age of the oldest reading not yet submitted); batch mode:
 * `<prefix>batches_verified_total` (accepted batches; their readings count in verified_total too),
 * `<prefix>batches_anchored_total`, `<prefix>batch_queue_depth`. Reasons specific to batches:
 * bad_batch (count, sequence or time range does not match the readings), bad_root (the readings'
 * Merkle root is not the signed one), overlap (the batch does not start after the last accepted batch
 * of its device and feed: it overlaps it or comes late, and the anchor takes batches in order).
 * Reasons about the signing key (the feeds and the anchor take only a device's current key): old_key
 * (a key the device held before a rotation: evidence for the watchtower, never a reading to submit),
 * unknown_key (no registered device holds or held it), wrong_device (another device's key). Hostile
 * or broken input: future_timestamp (dated beyond the allowed clock skew), oversize (a payload above
 * its topic kind's limit), rate_limited (beyond the device's rate), not_member (a reading for a feed
 * the device is not a member of), inactive_device (suspended, revoked or decommissioned). Key
 * cache: `<prefix>key_rotations_total` (KeyRotated events applied).
 *
 * Post-quantum key recovery requests (recovery-intake.ts): `<prefix>recovery_requests_total{scheme,result}`,
 * scheme lms, ml-dsa-44 or unknown (not parsed), result one of RECOVERY_RESULTS: recovered (LMS: its
 * recoverKey transaction mined, counted after the receipt), recorded (ML-DSA-44: verified off chain and
 * recorded for governance), refused (LMS: verified, then refused by the chain), rejected (dropped before
 * the chain: its reason in `<prefix>recovery_rejected_total{reason}`, a PqRecoveryError problem such as
 * WrongPqKey, or malformed, oversize, topic_mismatch, rate_limited, recovery_off), duplicate (handled
 * before), error (the chain could not be asked: not acknowledged, the broker redelivers it). A refusal's
 * custom error (PqKeyRecoveryExpired, DeviceRegistryKeyTaken, ...) is in
 * `<prefix>recovery_refused_total{reason}`.
 */
export class GatewayMetrics {
  readonly registry: Registry;
  readonly received: Counter;
  readonly verified: Counter;
  readonly duplicates: Counter;
  readonly rejected: Counter<"reason">;
  readonly submitted: Counter;
  readonly refused: Counter<"reason">;
  readonly submitErrors: Counter<"kind">;
  readonly queueDepth: Gauge;
  readonly lag: Gauge;
  readonly batchesVerified: Counter;
  readonly batchesAnchored: Counter;
  readonly batchQueueDepth: Gauge;
  readonly keyRotations: Counter;
  readonly pruned: Counter<"table">;
  readonly recoveryRequests: Counter<"scheme" | "result">;
  readonly recoveryRejected: Counter<"reason">;
  readonly recoveryRefused: Counter<"reason">;

  constructor(prefix = "gateway_") {
    this.registry = new Registry();
    const registers = [this.registry];
    this.received = new Counter({
      name: `${prefix}received_total`,
      help: "MQTT messages received",
      registers,
    });
    this.verified = new Counter({
      name: `${prefix}verified_total`,
      help: "Readings verified and stored (accepted)",
      registers,
    });
    this.duplicates = new Counter({
      name: `${prefix}duplicates_total`,
      help: "Readings already stored (redeliveries, replays)",
      registers,
    });
    this.rejected = new Counter({
      name: `${prefix}rejected_total`,
      help: "Messages dropped, by reason",
      labelNames: ["reason"],
      registers,
    });
    this.submitted = new Counter({
      name: `${prefix}submitted_total`,
      help: "Readings the feeds accepted (ReadingAccepted)",
      registers,
    });
    this.refused = new Counter({
      name: `${prefix}refused_total`,
      help: "Readings sent to a feed that it did not accept, by reason",
      labelNames: ["reason"],
      registers,
    });
    this.submitErrors = new Counter({
      name: `${prefix}submit_errors_total`,
      help: "Failed submissions: retried (transient) or rejected (final)",
      labelNames: ["kind"],
      registers,
    });
    this.queueDepth = new Gauge({
      name: `${prefix}queue_depth`,
      help: "Accepted readings waiting for submission",
      registers,
    });
    this.lag = new Gauge({
      name: `${prefix}lag_seconds`,
      help: "Age in seconds of the oldest accepted reading not yet submitted",
      registers,
    });
    this.batchesVerified = new Counter({
      name: `${prefix}batches_verified_total`,
      help: "Device-signed batches verified and stored (their readings count in verified_total)",
      registers,
    });
    this.batchesAnchored = new Counter({
      name: `${prefix}batches_anchored_total`,
      help: "Batch roots anchored on chain and confirmed",
      registers,
    });
    this.batchQueueDepth = new Gauge({
      name: `${prefix}batch_queue_depth`,
      help: "Accepted batches waiting to be anchored",
      registers,
    });
    this.keyRotations = new Counter({
      name: `${prefix}key_rotations_total`,
      help: "KeyRotated events applied to the cache of devices' current keys",
      registers,
    });
    this.pruned = new Counter({
      name: `${prefix}pruned_rows_total`,
      help: "Submitted and rejected rows the retention removed from the store, by table",
      labelNames: ["table"],
      registers,
    });
    this.recoveryRequests = new Counter({
      name: `${prefix}recovery_requests_total`,
      help: "Post-quantum key recovery requests, by scheme and what became of them",
      labelNames: ["scheme", "result"],
      registers,
    });
    this.recoveryRejected = new Counter({
      name: `${prefix}recovery_rejected_total`,
      help: "Recovery requests dropped before the chain, by reason (a PqRecoveryError problem, malformed, ...)",
      labelNames: ["reason"],
      registers,
    });
    this.recoveryRefused = new Counter({
      name: `${prefix}recovery_refused_total`,
      help: "Verified LMS recovery requests the chain refused, by custom error",
      labelNames: ["reason"],
      registers,
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * What the chain submitter reads from its feeds' receipts, in a registry of its own (runGateway also
 * registers these on the gateway's, so /metrics serves them): `<prefix>feed_member_quarantined_total{anomaly}`
 * (members a submitted reading quarantined: TooFrequent, Jump, Spread; each needs its operator to re-attest
 * the device and readmit it) and `<prefix>feed_tripped_total{reason}` (feed-wide breaker trips: MedianJump,
 * Quarantines, QuorumLost; each needs a guardian's reset).
 */
export class FeedEventMetrics {
  readonly registry: Registry;
  readonly memberQuarantined: Counter<"anomaly">;
  readonly feedTripped: Counter<"reason">;

  constructor(prefix = "gateway_") {
    this.registry = new Registry();
    const registers = [this.registry];
    this.memberQuarantined = new Counter({
      name: `${prefix}feed_member_quarantined_total`,
      help: "Feed members quarantined by a submitted reading (their own anomaly), by anomaly",
      labelNames: ["anomaly"],
      registers,
    });
    this.feedTripped = new Counter({
      name: `${prefix}feed_tripped_total`,
      help: "Feed-wide circuit breaker trips seen in submissions, by reason",
      labelNames: ["reason"],
      registers,
    });
  }

  /** Registers these counters on `registry` too (e.g. the gateway's, which /metrics serves). */
  registerOn(registry: Registry): void {
    registry.registerMetric(this.memberQuarantined);
    registry.registerMetric(this.feedTripped);
  }
}
