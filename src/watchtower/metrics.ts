import { Counter, Gauge, Registry } from "prom-client";

/**
 * Why a message was counted: what the watchtower did with it. retired_key: signed by a key a rotation
 * retired at or before the message's timestamp (no proof applies; kept as evidence of a leaked key).
 */
export type MessageResult =
  | "stored"
  | "duplicate"
  | "conflict"
  | "invalid_signature"
  | "wrong_device"
  | "unknown_device"
  | "retired_key"
  | "malformed"
  | "error";

/** What the watchtower did with a signed batch. */
export type BatchResult =
  | "stored"
  | "duplicate"
  | "conflict"
  | "invalid_signature"
  | "wrong_device"
  | "unknown_device"
  | "retired_key"
  | "bad_batch"
  | "bad_root"
  | "malformed"
  | "error";

/** key_retired: not sent (or refused with ProofsKeyRetired): a key of its evidence was rotated out by then. */
export type ProofResult =
  "submitted" | "already_proven" | "key_retired" | "rejected" | "failed" | "retried";

/**
 * The watchtower's Prometheus metrics, in a registry of its own (two watchtowers in one process, as in
 * tests, do not collide). Names: `<prefix>messages_total{result}`, `<prefix>equivocations_total`,
 * `<prefix>out_of_bounds_total`, `<prefix>batches_total{result}`, `<prefix>batch_equivocations_total`
 * (the batch proofs among the equivocations), `<prefix>batch_out_of_bounds_total` (the batch leaves among
 * the out-of-bounds readings), `<prefix>proofs_submitted_total{result}`,
 * `<prefix>last_message_timestamp` (unix seconds of the last message received),
 * `<prefix>pruned_rows_total{table}` (rows retention deleted: readings, batches, batch_leaves,
 * retired_key_messages).
 */
export class WatchtowerMetrics {
  readonly registry: Registry;
  readonly messages: Counter<"result">;
  readonly equivocations: Counter;
  readonly outOfBounds: Counter;
  readonly batches: Counter<"result">;
  readonly batchEquivocations: Counter;
  readonly batchOutOfBounds: Counter;
  readonly proofs: Counter<"result">;
  readonly lastMessage: Gauge;
  readonly pruned: Counter<"table">;

  constructor(prefix = "watchtower_") {
    this.registry = new Registry();
    const registers = [this.registry];
    this.messages = new Counter({
      name: `${prefix}messages_total`,
      help: "Signed messages received, by what was done with them",
      labelNames: ["result"],
      registers,
    });
    this.equivocations = new Counter({
      name: `${prefix}equivocations_total`,
      help: "Equivocations detected (a device signed two different readings for one feed and sequence)",
      registers,
    });
    this.outOfBounds = new Counter({
      name: `${prefix}out_of_bounds_total`,
      help: "Signed readings detected outside the range declared for the device's model",
      registers,
    });
    this.batches = new Counter({
      name: `${prefix}batches_total`,
      help: "Signed reading batches received, by what was done with them",
      labelNames: ["result"],
      registers,
    });
    this.batchEquivocations = new Counter({
      name: `${prefix}batch_equivocations_total`,
      help: "Equivocations detected inside signed batches (a batch leaf against a reading or another batch's leaf)",
      registers,
    });
    this.batchOutOfBounds = new Counter({
      name: `${prefix}batch_out_of_bounds_total`,
      help: "Batch leaves detected outside the range declared for the device's model (among out_of_bounds_total)",
      registers,
    });
    this.proofs = new Counter({
      name: `${prefix}proofs_submitted_total`,
      help: "Fraud proof submissions, by outcome",
      labelNames: ["result"],
      registers,
    });
    this.lastMessage = new Gauge({
      name: `${prefix}last_message_timestamp`,
      help: "Unix time in seconds of the last message received",
      registers,
    });
    this.pruned = new Counter({
      name: `${prefix}pruned_rows_total`,
      help: "Store rows deleted by retention (evidence older than the retention window), by table",
      labelNames: ["table"],
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
