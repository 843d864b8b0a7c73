import type { Logger } from "pino";
import { DeviceTrustError, errorMessage, type Hex, type SignedBatch } from "../protocol/index.js";
import { FairQueue, deviceKeyOf } from "./admission.js";
import type { GatewayMetrics } from "./metrics.js";
import type { BatchMark, QueuedBatch, QueuedReading, ReadingStore } from "./reading-store.js";
import {
  GatewayError,
  SubmissionRejectedError,
  type AnchoredBatches,
  type ReadingSubmitter,
  type SubmittedReadings,
  type SubmittedTx,
} from "./types.js";

/** Backoff of failed submissions: retried until they succeed or the gateway stops. */
export interface BackoffPolicy {
  /** The first wait, doubled after each failure (default 500 ms). */
  readonly baseDelayMs: number;
  /** The longest wait (default 30000 ms). */
  readonly maxDelayMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseDelayMs: 500, maxDelayMs: 30_000 };

export interface SubmissionOptions {
  readonly store: ReadingStore;
  readonly submitter: ReadingSubmitter;
  readonly batchSize: number;
  readonly batchIntervalMs: number;
  readonly maxBatchesPerTx: number;
  readonly backoff: BackoffPolicy;
  /**
   * Shared stores: how long a reading waits in the store before it is submitted, in ms, so that a
   * device's readings that other instances are still writing can join it in sequence order.
   */
  readonly settleMs: number;
  /**
   * Shared stores: how long a device's reading waits, at most, for the sequences between it and the
   * device's last submitted one (ms): they may still be on their way through another instance (or
   * redelivered after its crash), and the feed refuses a sequence below one it took.
   */
  readonly gapWaitMs: number;
  /** Shared stores: how many pending rows one look at the store takes at most. */
  readonly window: number;
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  /** Called when submissions made room in the queues (the intake may take more). */
  readonly onProgress: () => void;
}

/**
 * The gateway's submission side: the queues of accepted readings (devices in turn, FairQueue) and
 * batches, and one loop that sends them (readings in batches by size and age, batch roots in groups),
 * retries transient failures with exponential backoff, and records what the chain made of each
 * (submitted only when its event says so) in the store before taking the next.
 *
 * With an unshared store (SQLite) the queues are filled by this instance's intake (push, pushBatch)
 * and, at start, from the store's pending rows (load). With a shared store (PostgreSQL), every
 * instance writes what it receives to the store and one instance at a time submits (the store's
 * `lead`: a session lock that passes on by itself when its holder dies); the leader takes its queues
 * from the store before each submission, every device's readings in sequence order whichever instance
 * received them, once they have settled for settleMs; a reading whose device's previous sequence has
 * not been submitted yet waits for it up to gapWaitMs (devices number their readings one by one).
 */
export class Submission {
  private readonly options: SubmissionOptions;
  private readonly store: ReadingStore;
  private readonly metrics: GatewayMetrics;
  private readonly log: Logger;
  private readonly backoff: BackoffPolicy;
  private readonly batchSize: number;
  private readonly batchIntervalMs: number;
  private readonly maxBatchesPerTx: number;
  private queue = new FairQueue<QueuedReading>((q) => deviceKeyOf(q.signed.reading.deviceId));
  private batchQueue: QueuedBatch[] = [];
  private flushing: Promise<void> | undefined;
  private flushAgain = false;
  private stopping = false;
  private wake: (() => void) | undefined;
  private leading = false;
  /** Shared stores: device:feed -> the highest sequence this leader submitted (bounded). */
  private readonly lastSubmitted = new Map<string, bigint>();

  constructor(options: SubmissionOptions) {
    this.options = options;
    this.store = options.store;
    this.metrics = options.metrics;
    this.log = options.log;
    this.backoff = options.backoff;
    this.batchSize = options.batchSize;
    this.batchIntervalMs = options.batchIntervalMs;
    this.maxBatchesPerTx = options.maxBatchesPerTx;
  }

  /** Accepted readings waiting in memory for submission. */
  get queued(): number {
    return this.queue.length;
  }

  /** Accepted batches waiting to be anchored. */
  get queuedBatches(): number {
    return this.batchQueue.length;
  }

  /** Whether this instance submits now (always with an unshared store; the lead with a shared one). */
  get leads(): boolean {
    return !this.store.shared || this.leading;
  }

  /** The submission in flight, if any. */
  get inFlight(): Promise<void> | undefined {
    return this.flushing;
  }

  /** Queues the store's pending rows (an unshared store's, at start). */
  async load(): Promise<void> {
    if (this.store.shared) return;
    for (const q of await this.store.pending()) this.queue.push(q);
    this.batchQueue.push(...(await this.store.pendingBatches()));
    this.gauges();
  }

  /** Queues an accepted reading (an unshared store; a shared one's leader reads the store). */
  push(q: QueuedReading): void {
    if (this.store.shared) return;
    this.queue.push(q);
    if (this.queue.length >= this.batchSize) this.kick();
  }

  /** Queues an accepted batch. */
  pushBatch(q: QueuedBatch): void {
    if (!this.store.shared) this.batchQueue.push(q);
    this.kick();
  }

  /** Sets the queue gauges (once per write group, not per reading). */
  gauges(): void {
    this.metrics.queueDepth.set(this.queue.length);
    this.metrics.batchQueueDepth.set(this.batchQueue.length);
  }

  /** Submits every queued reading now (tests, shutdown); resolves when the queue is empty or stuck. */
  async flushNow(): Promise<void> {
    await this.flushing;
    await this.flush(true);
  }

  /**
   * Stops: no new submission starts and the queues are emptied (their rows stay pending in the store
   * for the next start); the one in flight, if any, goes on (inFlight) and records its outcome.
   */
  stop(): void {
    this.stopping = true;
    this.abandonQueues();
    this.wake?.();
  }

  /** Empties the in-memory queues; their rows stay pending in the store. */
  abandonQueues(): void {
    this.queue.clear();
    this.batchQueue.splice(0);
    this.gauges();
  }

  /**
   * The rows (sorted by device, feed and sequence) that may go now: per device and feed, from the
   * first one on while each follows the one before it (or the last this leader submitted) by one, or
   * has waited gapWaitMs for the missing ones (a device's first reading under this leader waits
   * gapWaitMs: what came before it is unknown).
   */
  private inSequence(rows: readonly QueuedReading[], now: number): QueuedReading[] {
    const ready: QueuedReading[] = [];
    let slot = "";
    let last: bigint | undefined;
    let held = false;
    for (const q of rows) {
      const r = q.signed.reading;
      const key = `${r.deviceId.toLowerCase()}:${r.feedId.toLowerCase()}`;
      if (key !== slot) {
        slot = key;
        last = this.lastSubmitted.get(key);
        held = false;
      }
      if (held) continue;
      // A device this leader has not submitted for yet: its earlier readings may be on their way.
      const gap = last === undefined || r.sequence > last + 1n;
      if (gap && now - q.receivedAt < this.options.gapWaitMs) {
        held = true;
        continue;
      }
      ready.push(q);
      last = r.sequence;
    }
    return ready;
  }

  /** Remembers the highest sequence submitted per device and feed (shared stores). */
  private submitted(batch: readonly QueuedReading[]): void {
    if (!this.store.shared) return;
    for (const q of batch) {
      const r = q.signed.reading;
      const key = `${r.deviceId.toLowerCase()}:${r.feedId.toLowerCase()}`;
      const top = this.lastSubmitted.get(key);
      if (top !== undefined && top >= r.sequence) continue;
      if (top === undefined && this.lastSubmitted.size >= 1_000_000) this.lastSubmitted.clear();
      this.lastSubmitted.set(key, r.sequence);
    }
  }

  /**
   * Shared stores: takes the lead if free and, leading, the queues afresh from the store (pending rows
   * in acceptance order, each device's in sequence order, settled ones only). False: not leading, or
   * the store did not answer (the next tick tries again).
   */
  private async refill(): Promise<boolean> {
    try {
      const leads = await this.store.lead();
      if (leads !== this.leading) {
        this.leading = leads;
        this.log.info(
          { event: leads ? "lead_taken" : "lead_lost" },
          leads ? "this instance submits for the shared store" : "another instance submits now",
        );
      }
      if (!leads) {
        this.abandonQueues();
        return false;
      }
      const now = Date.now();
      const settledBy = now - this.options.settleMs;
      const rows = (await this.store.pending(this.options.window)).filter(
        (q) => q.receivedAt <= settledBy,
      );
      rows.sort(bySequence);
      const ready = this.inSequence(rows, now);
      const queue = new FairQueue<QueuedReading>((q) => deviceKeyOf(q.signed.reading.deviceId));
      for (const q of ready) queue.push(q);
      this.queue = queue;
      const batches = (await this.store.pendingBatches(this.options.window)).filter(
        (q) => q.receivedAt <= settledBy,
      );
      batches.sort(byBatchSequence);
      this.batchQueue = batches;
      this.gauges();
      return true;
    } catch (err: unknown) {
      this.log.warn(
        { event: "store_unavailable", err: errorMessage(err) },
        "cannot read the shared store's pending rows; trying again at the next tick",
      );
      return false;
    }
  }

  /** Starts the submission loop unless it runs (then it looks again when done). */
  kick(): void {
    if (this.flushing !== undefined) {
      this.flushAgain = true;
      return;
    }
    if (this.stopping) return;
    this.flushing = this.flush(false).finally(() => {
      this.flushing = undefined;
      if (this.flushAgain) {
        this.flushAgain = false;
        this.kick();
      }
    });
  }

  /**
   * Sends full batches of readings, and a partial one once its oldest reading is due (or when
   * `all`); then anchors the queued device-signed batches in groups of maxBatchesPerTx (in order,
   * one transaction per group).
   */
  private async flush(all: boolean): Promise<void> {
    for (;;) {
      if (this.store.shared && !(await this.refill())) return;
      const oldestAt = this.queue.oldest();
      if (oldestAt === undefined) break;
      const due = Date.now() - oldestAt >= this.batchIntervalMs;
      if (this.queue.length < this.batchSize && !due && !all) break;
      // Devices in turn: one device's backlog never holds back another's readings.
      const batch = this.queue.peek(this.batchSize);
      const ids = batch.map((q) => q.id);
      const done = await this.submit(
        "readings",
        batch.length,
        () => this.options.submitter.submitReadings(batch.map((q) => q.signed)),
        async (status, tx, error, result) => {
          if (status === "rejected" || result === undefined || tx === null) {
            await this.store.markAll(ids, "rejected", tx, error);
            this.countRefused(error?.split(": ")[0] ?? "unknown", batch.length);
          } else await this.markReadings(batch, tx, result);
        },
        all,
      );
      if (!done) break;
      this.submitted(batch);
      this.queue.remove(batch);
      this.metrics.queueDepth.set(this.queue.length);
      this.options.onProgress();
    }
    const perTx = this.options.submitter.anchorBatches === undefined ? 1 : this.maxBatchesPerTx;
    for (;;) {
      if (this.store.shared && !(await this.refill())) return;
      if (this.batchQueue.length === 0) break;
      const group = this.batchQueue.slice(0, perTx);
      const done = await this.submit(
        "batches",
        group.length,
        () => this.anchorGroup(group.map((q) => q.signed)),
        (status, tx, error, result) => this.markBatches(group, status, tx, error, result),
        all,
      );
      if (!done) break;
      this.batchQueue.splice(0, group.length);
      this.metrics.batchQueueDepth.set(this.batchQueue.length);
      this.options.onProgress();
    }
    const oldest = this.queue.oldest();
    this.metrics.lag.set(oldest === undefined ? 0 : (Date.now() - oldest) / 1000);
  }

  /**
   * Records each reading of a submission that went through as its feed's event says: submitted when
   * accepted, rejected with the feed's reason otherwise (never submitted on the transaction's success
   * alone). Refusals are counted by reason and logged once per transaction.
   */
  private async markReadings(
    batch: readonly QueuedReading[],
    tx: Hex,
    result: SubmittedReadings,
  ): Promise<void> {
    const refused = new Map<string, number>();
    const entries = batch.map((q, i) => {
      const o = result.outcomes[i];
      if (o?.accepted === true) return { id: q.id, rejected: null, txHash: o.txHash };
      const reason = o === undefined ? "NoOutcome" : o.reason;
      refused.set(reason, (refused.get(reason) ?? 0) + 1);
      return { id: q.id, rejected: reason, txHash: o?.txHash };
    });
    await this.store.markOutcomes(entries, tx);
    const refusedCount = [...refused.values()].reduce((a, b) => a + b, 0);
    this.metrics.submitted.inc(batch.length - refusedCount);
    if (refusedCount === 0) return;
    for (const [reason, n] of refused) this.countRefused(reason, n);
    this.log.warn(
      { event: "readings_refused", txHash: tx, refused: Object.fromEntries(refused) },
      `the feeds refused ${String(refusedCount)} of ${String(batch.length)} readings in ${tx} (marked rejected with the reason; the others are accepted)`,
    );
  }

  private countRefused(reason: string, n: number): void {
    this.metrics.refused.inc({ reason }, n);
  }

  /** Anchors a group of batches in one transaction (one batch when anchorBatches is missing). */
  private async anchorGroup(batches: readonly SignedBatch[]): Promise<AnchoredBatches> {
    const submitter = this.options.submitter;
    if (submitter.anchorBatches !== undefined) return submitter.anchorBatches(batches);
    const [only] = batches;
    if (only === undefined || batches.length > 1) {
      throw new GatewayError(
        "GATEWAY_BAD_GROUP",
        "a submitter without anchorBatches takes one batch per call: this is a gateway bug, report it",
      );
    }
    const tx = await submitter.anchorBatch(only);
    return { txHash: tx.txHash, outcomes: [{ anchored: true }] };
  }

  /**
   * Records a group's outcome in one SQLite transaction: every batch rejected when the whole call was
   * refused; otherwise each one submitted or, when the anchor refused it (BatchRejected), rejected
   * with its reason. A batch the result names no outcome for went through with the transaction.
   */
  private async markBatches(
    group: readonly QueuedBatch[],
    status: "submitted" | "rejected",
    tx: Hex | null,
    error: string | null,
    result: AnchoredBatches | undefined,
  ): Promise<void> {
    const refused: { id: number; reason: string }[] = [];
    const marks: BatchMark[] = group.map((q, i) => {
      const outcome = result?.outcomes[i];
      if (status === "rejected") return { id: q.id, status: "rejected", txHash: null, error };
      if (outcome === undefined || outcome.anchored) {
        return { id: q.id, status: "submitted", txHash: tx, error: null };
      }
      refused.push({ id: q.id, reason: outcome.reason });
      return {
        id: q.id,
        status: "rejected",
        txHash: tx,
        error: `BatchRejected: ${outcome.reason}`,
      };
    });
    await this.store.markBatches(marks);
    if (status === "rejected") return;
    this.metrics.batchesAnchored.inc(group.length - refused.length);
    if (refused.length > 0) {
      this.metrics.submitErrors.inc({ kind: "rejected" }, refused.length);
      this.log.error(
        { event: "batches_refused", txHash: tx, refused },
        "the anchor refused some batches for good (they are marked rejected); the others are anchored",
      );
    }
  }

  /**
   * Sends one submission (a batch of readings, or a group of batch roots to anchor), retrying transient
   * failures with backoff until it goes through or the gateway stops (then it stays pending: false).
   * `mark` records the outcome in SQLite: submitted, or rejected after a final refusal (true).
   */
  private async submit<T extends SubmittedTx>(
    what: "readings" | "batches",
    count: number,
    send: () => Promise<T>,
    mark: (
      status: "submitted" | "rejected",
      tx: Hex | null,
      error: string | null,
      result: T | undefined,
    ) => Promise<void>,
    once: boolean,
  ): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      let outcome: { tx: T } | { refused: SubmissionRejectedError };
      try {
        outcome = { tx: await send() };
      } catch (err: unknown) {
        if (err instanceof SubmissionRejectedError) outcome = { refused: err };
        else {
          this.metrics.submitErrors.inc({ kind: "retried" });
          const reason =
            err instanceof DeviceTrustError ? `${err.code}: ${err.message}` : errorMessage(err);
          if (once || this.stopping) {
            this.log.warn(
              { event: "submission_deferred", what, count, err: reason },
              "submission failed: it stays pending for the next start",
            );
            return false;
          }
          const delay = this.delayOf(attempt);
          this.log.warn(
            { event: "submission_retry", what, attempt: attempt + 1, delayMs: delay, err: reason },
            "submission failed; retrying",
          );
          await this.sleep(delay);
          continue;
        }
      }
      // The chain has answered: what it said is recorded, retried until the store takes it (never
      // sent again meanwhile). A stop before then leaves the rows pending, as a crash would.
      if ("tx" in outcome) {
        const tx = outcome.tx;
        if (!(await this.record(() => mark("submitted", tx.txHash, null, tx)))) return false;
        this.log.debug({ event: "submitted", what, count, txHash: tx.txHash }, `${what} submitted`);
        return true;
      }
      const err = outcome.refused;
      if (
        !(await this.record(() => mark("rejected", null, `${err.code}: ${err.message}`, undefined)))
      ) {
        return false;
      }
      this.metrics.submitErrors.inc({ kind: "rejected" });
      this.log.error({ event: "submission_rejected", what, code: err.code, count }, err.message);
      return true;
    }
  }

  /** Runs a store write until it succeeds (backoff between tries); false when stopping first. */
  private async record(write: () => Promise<void>): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await write();
        return true;
      } catch (err: unknown) {
        this.metrics.submitErrors.inc({ kind: "store" });
        if (this.stopping) return false;
        const delay = this.delayOf(attempt);
        this.log.error(
          { event: "store_retry", attempt: attempt + 1, delayMs: delay, err: errorMessage(err) },
          "cannot record a submission's outcome in the store; retrying (the chain's answer is kept in memory)",
        );
        await this.sleep(delay);
      }
    }
  }

  private delayOf(attempt: number): number {
    return Math.min(this.backoff.baseDelayMs * 2 ** attempt, this.backoff.maxDelayMs);
  }

  private async sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.wake = undefined;
  }
}

/** By device, feed and sequence: each device's readings (and batches) in the order its feed takes. */
function bySequence(a: QueuedReading, b: QueuedReading): number {
  const x = a.signed.reading;
  const y = b.signed.reading;
  return compareSlots(x.deviceId, x.feedId, x.sequence, y.deviceId, y.feedId, y.sequence);
}

function byBatchSequence(a: QueuedBatch, b: QueuedBatch): number {
  const x = a.signed.batch;
  const y = b.signed.batch;
  return compareSlots(x.deviceId, x.feedId, x.firstSequence, y.deviceId, y.feedId, y.firstSequence);
}

function compareSlots(d1: Hex, f1: Hex, s1: bigint, d2: Hex, f2: Hex, s2: bigint): number {
  const device = d1.toLowerCase().localeCompare(d2.toLowerCase());
  if (device !== 0) return device;
  const feed = f1.toLowerCase().localeCompare(f2.toLowerCase());
  if (feed !== 0) return feed;
  return s1 < s2 ? -1 : s1 > s2 ? 1 : 0;
}

/** Whether `work` settles (resolved or rejected) by `deadline` (a Date.now() value). */
export async function settlesBy(
  work: Promise<unknown> | undefined,
  deadline: number,
): Promise<boolean> {
  if (work === undefined) return true;
  let timer: NodeJS.Timeout | undefined;
  const settled = work.then(
    () => true,
    () => true,
  );
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(
      () => {
        resolve(false);
      },
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
