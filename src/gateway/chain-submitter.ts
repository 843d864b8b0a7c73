import { createHash } from "node:crypto";
import {
  isCallException,
  isError,
  type ContractTransaction,
  type Provider,
  type Signer,
  type TransactionReceipt,
  type TransactionRequest,
} from "ethers";
import { pino, type Logger } from "pino";
import {
  DeviceTrustError,
  type Hex,
  readingBatchStructHash,
  type SignedReading,
  type SignedBatch,
} from "../protocol/index.js";
import {
  anomalyName,
  decodeFeedError,
  rejectionName,
  tripReasonName,
} from "../client/feed-errors.js";
import { feedAddressOf, feedAt, readingAnchorAt, type ReadingAnchor } from "../client/feeds.js";
import { FeedEventMetrics } from "./metrics.js";
import {
  GatewayError,
  SubmissionRejectedError,
  type AnchoredBatches,
  type BatchOutcome,
  type ReadingOutcome,
  type ReadingSubmitter,
  type SubmittedReadings,
  type SubmittedTx,
} from "./types.js";

/**
 * The gateway's chain side: verified readings go to their feeds (DeviceFeed.submitMany, one
 * transaction per feed and chunk), device-signed batch roots to the ReadingAnchor. It sends from one
 * account and counts that account's nonces itself (fetched once with "pending", resynchronised after a
 * nonce error), waits for every receipt, and replaces a transaction that stays unmined for
 * `stuckAfterMs` by the same one with higher fees.
 *
 * What is final and what is retried: a revert with a custom error (a tripped feed, a bad batch) or any
 * other revert is a SubmissionRejectedError (the gateway marks the readings rejected); a network error,
 * a nonce that another sender took, or a transaction still unmined after every fee bump is thrown as
 * it is and the gateway retries the batch. Chunks that went through before a transient error are
 * remembered, so the retry does not send them again.
 *
 * Readings a feed skips inside submitMany (an untrusted device, a replayed sequence, a quarantined
 * member) do not revert: they are listed in the result (`rejected`, with the Rejection's name). A
 * reading that showed its member's own anomaly (too frequent, a jump, a spread) quarantines the member:
 * it is not accepted (it does not count in `accepted`), it is listed in `quarantined`, counted in
 * `feed_member_quarantined_total{anomaly}` and logged with what the operator must do (re-attest the
 * device, then readmit it). A feed-wide trip (FeedTripped: MedianJump, Quarantines, QuorumLost) is
 * listed in `tripped` and counted in `feed_tripped_total{reason}`; a tripped feed still takes readings
 * but commits no round until a guardian resets it.
 * A batch that spans several feeds is refused as a whole only when every feed refused its chunk; when
 * some went through, the call succeeds and names the refused chunks in `refused` (and logs them).
 *
 * Batch roots: anchorBatches sends a group in one ReadingAnchor.anchorMany transaction; the anchor
 * skips a batch it would refuse with BatchRejected (read from the receipt: that batch is reported
 * refused, with the Rejection's name) and anchors the others in order. A revert of the whole call is
 * a SubmissionRejectedError, as for anchorBatch (one `anchor` transaction). A batch refused
 * SequenceNotAfter whose exact struct hash the anchor's BatchAnchored log holds for its chain was
 * anchored before (a group resent after a crash between its transaction and the gateway's record):
 * it is reported anchored.
 */
export interface ChainSubmitterOptions {
  /** Pays for every transaction; must have a provider. The only sender of this account. */
  readonly signer: Signer;
  /** The ReadingAnchor, for anchorBatch(es) (without one, anchoring is refused). */
  readonly anchor?: string;
  /** Readings per submitMany transaction at most (default 64). */
  readonly maxPerTx?: number;
  /** Unmined this long, a transaction is replaced with higher fees (default 30000 ms). */
  readonly stuckAfterMs?: number;
  /** Each replacement raises the fees by this percentage (default 25; nodes want at least 10). */
  readonly feeBumpPercent?: number;
  /** Replacements at most; then the wait fails (transient) and the nonce is fetched again (default 3). */
  readonly maxFeeBumps?: number;
  /** How often receipts are polled (default 250 ms). */
  readonly pollMs?: number;
  /** Gas estimate headroom in percent (default 20). */
  readonly gasHeadroomPercent?: number;
  /** Counters of the quarantines and trips read from receipts (default: in a registry of their own). */
  readonly metrics?: FeedEventMetrics;
  readonly logger?: Logger;
}

/** A reading a feed skipped inside submitMany. */
export interface SkippedReading {
  readonly feedId: Hex;
  readonly deviceId: Hex;
  readonly sequence: bigint;
  readonly reason: string;
}

/** A reading that quarantined its member (MemberQuarantined): not accepted. */
export interface QuarantinedReading {
  readonly feedId: Hex;
  readonly deviceId: Hex;
  readonly sequence: bigint;
  readonly value: bigint;
  /** TooFrequent, Jump or Spread. */
  readonly anomaly: string;
  /** The feed suspended the device in the registry too (its lockdown option). */
  readonly lockedDown: boolean;
}

/** A feed-wide breaker trip (FeedTripped): the feed commits no round until a guardian resets it. */
export interface FeedTrip {
  readonly feedId: Hex;
  /** MedianJump, Quarantines or QuorumLost. */
  readonly reason: string;
  /** The median refused (MedianJump) or the quarantines counted (Quarantines, QuorumLost). */
  readonly value: bigint;
}

/** A feed that refused a whole chunk (a custom error): its readings did not go on chain. */
export interface RefusedChunk {
  readonly feedId: Hex;
  readonly count: number;
  readonly code: string;
  readonly message: string;
}

/** What submitReadings did: `txHash` is the last transaction; every one is in `txHashes`. */
export interface ChainSubmission extends SubmittedReadings {
  readonly txHashes: readonly Hex[];
  readonly accepted: number;
  readonly rejected: readonly SkippedReading[];
  readonly quarantined: readonly QuarantinedReading[];
  readonly tripped: readonly FeedTrip[];
  readonly refused: readonly RefusedChunk[];
  readonly gasUsed: bigint;
}

interface Fees {
  maxFeePerGas?: bigint;
  maxPriorityFeePerGas?: bigint;
  gasPrice?: bigint;
}

interface ChunkResult {
  /** Per reading of the chunk, in order. */
  readonly outcomes: readonly ReadingOutcome[];
  readonly txHash: Hex;
  readonly accepted: number;
  readonly rejected: readonly SkippedReading[];
  readonly quarantined: readonly QuarantinedReading[];
  readonly tripped: readonly FeedTrip[];
  readonly gasUsed: bigint;
}

const MEMO_LIMIT = 4096;
/** ReadingAnchor.Rejection by value. */
const ANCHOR_REJECTIONS = [
  "None",
  "InvalidBatch",
  "InvalidTimes",
  "ZeroRoot",
  "SequenceNotAfter",
  "InvalidSignature",
] as const;
const NONCE_ERROR =
  /nonce (?:too low|has already been used|is too low)|nonce too high|already known|replacement transaction underpriced|replacement fee too low|invalid nonce/i;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isNonceError(err: unknown): boolean {
  return (
    isError(err, "NONCE_EXPIRED") ||
    isError(err, "REPLACEMENT_UNDERPRICED") ||
    NONCE_ERROR.test(message(err))
  );
}

/** A final refusal for a revert (decoded when it is a known custom error); undefined for anything else. */
export function asSubmissionRejection(err: unknown): SubmissionRejectedError | undefined {
  if (err instanceof SubmissionRejectedError) return err;
  const decoded = decodeFeedError(err);
  if (decoded !== undefined) {
    return new SubmissionRejectedError(decoded.code, decoded.message, { cause: err });
  }
  if (isCallException(err) || /reverted|revert/i.test(message(err))) {
    return new SubmissionRejectedError(
      "GATEWAY_REVERTED",
      `the chain reverted the submission without a known custom error (${message(err)}): the batch is not retried; check the feed and anchor addresses`,
      { cause: err },
    );
  }
  return undefined;
}

/** Fees as log fields (decimal strings: JSON has no bigint). */
function feeFields(fees: Fees): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fees)) if (typeof v === "bigint") out[k] = v.toString();
  return out;
}

function chunkKey(feedId: string, chunk: readonly SignedReading[]): string {
  const h = createHash("sha256").update(feedId.toLowerCase());
  for (const s of chunk) {
    h.update(`|${s.reading.deviceId.toLowerCase()}:${s.reading.sequence.toString()}`);
  }
  return h.digest("hex");
}

export class ChainSubmitter implements ReadingSubmitter {
  private readonly signer: Signer;
  private readonly provider: Provider;
  private readonly anchorAddress: string | undefined;
  private readonly maxPerTx: number;
  private readonly stuckAfterMs: number;
  private readonly feeBumpPercent: bigint;
  private readonly maxFeeBumps: number;
  private readonly pollMs: number;
  private readonly headroom: bigint;
  private readonly log: Logger;
  /** The quarantines and trips seen in receipts. */
  readonly metrics: FeedEventMetrics;
  private nonce: number | undefined;
  private from: string | undefined;
  private readonly feedCode = new Set<string>();
  /** Chunks already on chain (or refused for good), by chunkKey: a retried batch skips them. */
  private readonly done = new Map<string, ChunkResult | SubmissionRejectedError>();

  constructor(options: ChainSubmitterOptions) {
    const provider = options.signer.provider;
    if (provider === null) {
      throw new GatewayError(
        "GATEWAY_NO_PROVIDER",
        "the submitter's signer has no provider: connect it to a network",
      );
    }
    this.signer = options.signer;
    this.provider = provider;
    this.anchorAddress = options.anchor;
    this.maxPerTx = options.maxPerTx ?? 64;
    this.stuckAfterMs = options.stuckAfterMs ?? 30_000;
    this.feeBumpPercent = BigInt(options.feeBumpPercent ?? 25);
    this.maxFeeBumps = options.maxFeeBumps ?? 3;
    this.pollMs = options.pollMs ?? 250;
    this.headroom = BigInt(options.gasHeadroomPercent ?? 20);
    this.log = options.logger ?? pino({ name: "chain-submitter", level: "info" });
    this.metrics = options.metrics ?? new FeedEventMetrics();
    if (this.maxPerTx < 1 || this.feeBumpPercent < 10n) {
      throw new GatewayError(
        "GATEWAY_BAD_OPTIONS",
        "maxPerTx must be at least 1 and feeBumpPercent at least 10 (nodes refuse smaller bumps)",
      );
    }
  }

  /** The next nonce this submitter will use (fetched on first use); for tests and logs. */
  get pendingNonce(): number | undefined {
    return this.nonce;
  }

  async submitReadings(readings: readonly SignedReading[]): Promise<ChainSubmission> {
    const groups = new Map<string, SignedReading[]>();
    const positions = new Map<string, number[]>();
    readings.forEach((r, index) => {
      const feedId = r.reading.feedId.toLowerCase();
      let g = groups.get(feedId);
      let p = positions.get(feedId);
      if (g === undefined || p === undefined) {
        groups.set(feedId, (g = []));
        positions.set(feedId, (p = []));
      }
      g.push(r);
      p.push(index);
    });
    const outcomes: ReadingOutcome[] = readings.map(() => ({
      accepted: false,
      reason: "NotSent",
    }));
    const txHashes: Hex[] = [];
    const rejected: SkippedReading[] = [];
    const quarantined: QuarantinedReading[] = [];
    const tripped: FeedTrip[] = [];
    const refused: RefusedChunk[] = [];
    let accepted = 0;
    let gasUsed = 0n;
    for (const [feedId, group] of groups) {
      for (let i = 0; i < group.length; i += this.maxPerTx) {
        const chunk = group.slice(i, i + this.maxPerTx);
        const at = (positions.get(feedId) ?? []).slice(i, i + this.maxPerTx);
        const outcome = await this.submitChunk(feedId as Hex, chunk);
        if (outcome instanceof SubmissionRejectedError) {
          for (const index of at) outcomes[index] = { accepted: false, reason: outcome.code };
          refused.push({
            feedId: feedId as Hex,
            count: chunk.length,
            code: outcome.code,
            message: outcome.message,
          });
          continue;
        }
        at.forEach((index, k) => {
          outcomes[index] = outcome.outcomes[k] ?? { accepted: false, reason: "NoEvent" };
        });
        txHashes.push(outcome.txHash);
        accepted += outcome.accepted;
        gasUsed += outcome.gasUsed;
        rejected.push(...outcome.rejected);
        quarantined.push(...outcome.quarantined);
        tripped.push(...outcome.tripped);
      }
    }
    const last = txHashes[txHashes.length - 1];
    const first = refused[0];
    if (last === undefined) {
      if (first === undefined) {
        throw new GatewayError("GATEWAY_NOTHING_TO_SUBMIT", "submitReadings got no readings");
      }
      // Every chunk was refused for good: the whole batch is final.
      throw new SubmissionRejectedError(
        first.code,
        refused.length === 1
          ? first.message
          : `${String(refused.length)} chunks refused; the first: ${first.message}`,
      );
    }
    if (refused.length > 0) {
      this.log.warn(
        { event: "chunks_refused", refused: refused.map((r) => ({ ...r })) },
        "some feeds refused their readings; the others went through",
      );
    }
    return {
      txHash: last,
      txHashes,
      outcomes,
      accepted,
      rejected,
      quarantined,
      tripped,
      refused,
      gasUsed,
    };
  }

  async anchorBatch(batch: SignedBatch): Promise<SubmittedTx & { gasUsed: bigint }> {
    const anchor = this.anchorContract();
    const receipt = await this.transact("anchor", () =>
      anchor.anchor.populateTransaction(batch.batch, batch.key, batch.signature),
    );
    return { txHash: receipt.hash as Hex, gasUsed: receipt.gasUsed };
  }

  /**
   * Anchors `batches` in one anchorMany transaction, in the order given. Each outcome says whether
   * the anchor took the batch (BatchAnchored) or skipped it (BatchRejected, with the reason's name).
   */
  async anchorBatches(
    batches: readonly SignedBatch[],
  ): Promise<AnchoredBatches & { gasUsed: bigint }> {
    const anchor = this.anchorContract();
    if (batches.length === 0) {
      throw new GatewayError("GATEWAY_NOTHING_TO_SUBMIT", "anchorBatches got no batches");
    }
    const receipt = await this.transact(`anchorMany(${String(batches.length)})`, () =>
      anchor.anchorMany.populateTransaction(
        batches.map((b) => ({ batch: b.batch, key: b.key, signature: b.signature })),
      ),
    );
    // _anchor emits exactly one of BatchAnchored / BatchRejected per batch, in order.
    const events: { deviceId: string; feedId: string; outcome: BatchOutcome }[] = [];
    const address = (await anchor.getAddress()).toLowerCase();
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== address) continue;
      const parsed = anchor.interface.parseLog(log);
      if (parsed?.name !== "BatchAnchored" && parsed?.name !== "BatchRejected") continue;
      const reason = Number(parsed.name === "BatchRejected" ? parsed.args.getValue("reason") : 0n);
      events.push({
        deviceId: String(parsed.args.getValue("deviceId")).toLowerCase(),
        feedId: String(parsed.args.getValue("feedId")).toLowerCase(),
        outcome:
          parsed.name === "BatchAnchored"
            ? { anchored: true }
            : {
                anchored: false,
                reason: ANCHOR_REJECTIONS[reason] ?? `rejection ${String(reason)}`,
              },
      });
    }
    const outcomes = batches.map((b, i): BatchOutcome => {
      const e = events[i];
      if (
        events.length !== batches.length ||
        e?.deviceId !== b.batch.deviceId.toLowerCase() ||
        e.feedId !== b.batch.feedId.toLowerCase()
      ) {
        throw new GatewayError(
          "GATEWAY_ANCHOR_EVENTS",
          `anchorMany transaction ${receipt.hash} logged ${String(events.length)} outcomes that do not match its ${String(batches.length)} batches: check the anchor address (${address})`,
        );
      }
      return e.outcome;
    });
    for (const [i, o] of outcomes.entries()) {
      const b = batches[i];
      if (o.anchored || o.reason !== "SequenceNotAfter" || b === undefined) continue;
      if (await this.anchoredBefore(anchor, b)) outcomes[i] = { anchored: true };
    }
    const refused = outcomes.filter((o) => !o.anchored).length;
    if (refused > 0) {
      this.log.warn(
        { event: "batches_refused", txHash: receipt.hash, refused, of: batches.length },
        "the anchor skipped some batches (BatchRejected); the others are anchored",
      );
    }
    return { txHash: receipt.hash as Hex, outcomes, gasUsed: receipt.gasUsed };
  }

  /**
   * Whether `signed` is on chain already: a BatchAnchored event of its (device, feed) chain carries its
   * struct hash. A group resent after a crash between its transaction and the gateway's record is
   * refused SequenceNotAfter, yet those batches are anchored (once). False when the node does not
   * answer the log query (the batch is then reported refused).
   */
  private async anchoredBefore(anchor: ReadingAnchor, signed: SignedBatch): Promise<boolean> {
    const b = signed.batch;
    const hash = `0x${readingBatchStructHash(b).toString("hex")}`;
    try {
      const logs = await anchor.queryFilter(anchor.filters.BatchAnchored(b.deviceId, b.feedId));
      const found = logs.some((l) => l.args.batchHash.toLowerCase() === hash);
      if (found) {
        this.log.info(
          {
            event: "already_anchored",
            deviceId: b.deviceId,
            firstSequence: b.firstSequence.toString(),
          },
          "a resent batch was anchored before: it is reported anchored",
        );
      }
      return found;
    } catch (err: unknown) {
      this.log.warn(
        { event: "anchor_lookup_failed", deviceId: b.deviceId, err: message(err) },
        "cannot tell whether a refused batch was anchored before: it is reported refused",
      );
      return false;
    }
  }

  private anchorContract(): ReadingAnchor {
    if (this.anchorAddress === undefined) {
      throw new SubmissionRejectedError(
        "GATEWAY_NO_ANCHOR",
        "no ReadingAnchor address was configured: start the gateway with the anchor (--anchor) to anchor batches",
      );
    }
    return readingAnchorAt(this.anchorAddress, this.signer);
  }

  // ------------------------------------------------------------------ feeds

  private async submitChunk(
    feedId: Hex,
    chunk: readonly SignedReading[],
  ): Promise<ChunkResult | SubmissionRejectedError> {
    const key = chunkKey(feedId, chunk);
    const memo = this.done.get(key);
    if (memo !== undefined) return memo;
    let outcome: ChunkResult | SubmissionRejectedError;
    try {
      outcome = await this.sendChunk(feedId, chunk);
    } catch (err: unknown) {
      if (!(err instanceof SubmissionRejectedError)) throw err;
      outcome = err;
    }
    if (this.done.size >= MEMO_LIMIT) {
      const oldest = this.done.keys().next().value;
      if (oldest !== undefined) this.done.delete(oldest);
    }
    this.done.set(key, outcome);
    return outcome;
  }

  private async sendChunk(feedId: Hex, chunk: readonly SignedReading[]): Promise<ChunkResult> {
    let address: Hex;
    try {
      address = feedAddressOf(feedId);
    } catch (err: unknown) {
      throw new SubmissionRejectedError(
        "GATEWAY_UNKNOWN_FEED",
        `feed id ${feedId} is not a DeviceFeed address: devices must sign readings with the feed's id (feed show prints it)`,
        { cause: err },
      );
    }
    if (!this.feedCode.has(address)) {
      if ((await this.provider.getCode(address)) === "0x") {
        throw new SubmissionRejectedError(
          "GATEWAY_UNKNOWN_FEED",
          `no contract at ${address} (feed id ${feedId}) on this chain: devices must sign readings with a deployed feed's id`,
        );
      }
      this.feedCode.add(address);
    }
    const feed = feedAt(address, this.signer);
    const receipt = await this.transact(`submitMany(${String(chunk.length)})`, () =>
      // A SignedReading is IDeviceFeed.SignedReading field for field.
      feed.submitMany.populateTransaction([...chunk]),
    );
    let accepted = 0;
    const rejected: SkippedReading[] = [];
    const quarantined: QuarantinedReading[] = [];
    const tripped: FeedTrip[] = [];
    // Each reading's event, by device and sequence (a chunk holds one reading per pair).
    const byReading = new Map<string, ReadingOutcome>();
    const slot = (deviceId: unknown, sequence: unknown): string =>
      `${String(deviceId).toLowerCase()}:${String(sequence)}`;
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== address) continue;
      const parsed = feed.interface.parseLog(log);
      if (parsed === null) continue;
      const arg = (name: string): unknown => parsed.args.getValue(name);
      if (parsed.name === "ReadingAccepted") {
        accepted++;
        byReading.set(slot(arg("deviceId"), arg("sequence")), { accepted: true });
      } else if (parsed.name === "ReadingRejected") {
        const skipped: SkippedReading = {
          feedId,
          deviceId: String(arg("deviceId")).toLowerCase() as Hex,
          sequence: arg("sequence") as bigint,
          reason: rejectionName(arg("reason") as bigint),
        };
        rejected.push(skipped);
        byReading.set(slot(skipped.deviceId, skipped.sequence), {
          accepted: false,
          reason: skipped.reason,
        });
      } else if (parsed.name === "MemberQuarantined") {
        const q: QuarantinedReading = {
          feedId,
          deviceId: String(arg("deviceId")).toLowerCase() as Hex,
          sequence: arg("sequence") as bigint,
          value: arg("value") as bigint,
          anomaly: anomalyName(arg("anomaly") as bigint),
          lockedDown: arg("lockedDown") as boolean,
        };
        quarantined.push(q);
        byReading.set(slot(q.deviceId, q.sequence), {
          accepted: false,
          reason: `MemberQuarantined:${q.anomaly}`,
        });
        this.metrics.memberQuarantined.inc({ anomaly: q.anomaly });
        this.log.warn(
          {
            event: "member_quarantined",
            feedId,
            deviceId: q.deviceId,
            anomaly: q.anomaly,
            sequence: q.sequence.toString(),
            lockedDown: q.lockedDown,
            txHash: receipt.hash,
          },
          `device ${q.deviceId} quarantined in feed ${feedId} (${q.anomaly}, reading #${q.sequence.toString()}${q.lockedDown ? ", suspended in the registry too" : ""}): its readings are refused until its operator re-attests the device and readmits it (feed readmit)`,
        );
      } else if (parsed.name === "FeedTripped") {
        const trip: FeedTrip = {
          feedId,
          reason: tripReasonName(arg("reason") as bigint),
          value: arg("value") as bigint,
        };
        tripped.push(trip);
        this.metrics.feedTripped.inc({ reason: trip.reason });
        this.log.warn(
          {
            event: "feed_tripped",
            feedId,
            reason: trip.reason,
            value: trip.value.toString(),
            txHash: receipt.hash,
          },
          `feed ${feedId} tripped its circuit breaker (${trip.reason}): it takes readings but commits no round until a guardian resets it`,
        );
      }
    }
    return {
      txHash: receipt.hash as Hex,
      // A reading with no event of its own was not accepted (the feed emits one for each).
      outcomes: chunk.map(
        (r): ReadingOutcome =>
          byReading.get(slot(r.reading.deviceId, r.reading.sequence)) ?? {
            accepted: false,
            reason: "NoEvent",
          },
      ),
      accepted,
      rejected,
      quarantined,
      tripped,
      gasUsed: receipt.gasUsed,
    };
  }

  // ------------------------------------------------------------------ transactions

  private async sender(): Promise<string> {
    this.from ??= await this.signer.getAddress();
    return this.from;
  }

  private async nextNonce(): Promise<number> {
    this.nonce ??= await this.provider.getTransactionCount(await this.sender(), "pending");
    return this.nonce;
  }

  private async fees(): Promise<Fees> {
    const data = await this.provider.getFeeData();
    if (data.maxFeePerGas !== null && data.maxPriorityFeePerGas !== null) {
      return { maxFeePerGas: data.maxFeePerGas, maxPriorityFeePerGas: data.maxPriorityFeePerGas };
    }
    if (data.gasPrice !== null) return { gasPrice: data.gasPrice };
    throw new GatewayError("GATEWAY_NO_FEES", "the node returned no fee data");
  }

  private bump(fees: Fees): Fees {
    const up = (v: bigint | undefined): bigint | undefined =>
      v === undefined ? undefined : (v * (100n + this.feeBumpPercent) + 99n) / 100n;
    const out: Fees = {};
    const maxFee = up(fees.maxFeePerGas);
    const tip = up(fees.maxPriorityFeePerGas);
    const price = up(fees.gasPrice);
    if (maxFee !== undefined) out.maxFeePerGas = maxFee;
    if (tip !== undefined) out.maxPriorityFeePerGas = tip;
    if (price !== undefined) out.gasPrice = price;
    return out;
  }

  /**
   * Builds, estimates, signs and sends one transaction with the next nonce, then waits for its receipt
   * (replacing it with higher fees while it stays unmined). A nonce error resynchronises the nonce and
   * tries once more; a revert throws SubmissionRejectedError; anything else is rethrown (transient).
   */
  private async transact(
    what: string,
    populate: () => Promise<ContractTransaction>,
  ): Promise<TransactionReceipt> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.transactOnce(what, populate);
      } catch (err: unknown) {
        const rejection = asSubmissionRejection(err);
        if (rejection !== undefined && !isNonceError(err)) throw rejection;
        if (isNonceError(err)) {
          this.log.warn(
            { event: "nonce_resync", nonce: this.nonce, err: message(err) },
            "nonce refused: fetching it again",
          );
          this.nonce = undefined;
          if (attempt === 0) continue;
        }
        throw err;
      }
    }
  }

  private async transactOnce(
    what: string,
    populate: () => Promise<ContractTransaction>,
  ): Promise<TransactionReceipt> {
    const from = await this.sender();
    const tx = await populate();
    // Estimation runs the call: a revert (custom error) surfaces here, before a nonce is spent.
    const estimate = await this.provider.estimateGas({ ...tx, from });
    const nonce = await this.nextNonce();
    let fees = await this.fees();
    const request: TransactionRequest = {
      to: tx.to,
      data: tx.data,
      from,
      nonce,
      gasLimit: (estimate * (100n + this.headroom)) / 100n,
    };
    const hashes: string[] = [];
    hashes.push((await this.signer.sendTransaction({ ...request, ...fees })).hash);
    this.nonce = nonce + 1;
    this.log.debug(
      { event: "tx_sent", what, nonce, txHash: hashes[0], ...feeFields(fees) },
      "transaction sent",
    );
    let sentAt = Date.now();
    let bumps = 0;
    for (;;) {
      for (const hash of hashes) {
        const receipt = await this.provider.getTransactionReceipt(hash);
        if (receipt !== null) {
          if (receipt.status !== 1) {
            throw new SubmissionRejectedError(
              "GATEWAY_TX_REVERTED",
              `${what} transaction ${receipt.hash} reverted on chain (it passed estimation: the state changed in between): the batch is not retried`,
            );
          }
          return receipt;
        }
      }
      if (Date.now() - sentAt >= this.stuckAfterMs) {
        if (bumps >= this.maxFeeBumps) {
          // Give up on this nonce: the next attempt asks the node for the pending count again.
          this.nonce = undefined;
          throw new DeviceTrustError(
            "GATEWAY_TX_STUCK",
            `${what} transaction with nonce ${String(nonce)} is unmined after ${String(bumps)} fee bumps: it is retried; check the node and the account's balance`,
          );
        }
        fees = this.bump(fees);
        bumps++;
        try {
          const replacement = await this.signer.sendTransaction({ ...request, ...fees });
          hashes.push(replacement.hash);
          this.log.warn(
            {
              event: "tx_replaced",
              what,
              nonce,
              bumps,
              txHash: replacement.hash,
              ...feeFields(fees),
            },
            "transaction unmined: replaced with higher fees",
          );
        } catch (err: unknown) {
          // The original was mined meanwhile (nonce too low): the receipt loop finds it.
          if (!isNonceError(err)) throw err;
        }
        sentAt = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
    }
  }
}
