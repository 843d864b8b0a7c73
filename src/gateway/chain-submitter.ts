import { createHash } from "node:crypto";
import type { Provider, Signer, TransactionReceipt } from "ethers";
import { pino, type Logger } from "pino";
import {
  deviceKey,
  errorMessage,
  KeyType,
  type Hex,
  readingBatchStructHash,
  type SignedReading,
  type SignedBatch,
} from "../protocol/index.js";
import { anomalyName, rejectionName, tripReasonName } from "../client/feed-errors.js";
import { feedAddressOf, readingAnchorAt, type ReadingAnchor } from "../client/feeds.js";
import { DeviceFeed__factory } from "../../types/ethers-contracts/index.js";
import {
  GasModel,
  MAX_GAS_PER_TX,
  MEASURED_GAS,
  hasP256Precompile,
  type GasFigures,
  type GasItem,
  type GasKind,
  type GasLimit,
} from "./gas-model.js";
import { FeedEventMetrics } from "./metrics.js";
import { evictOldest } from "../service/expiring-map.js";
import { TxPipeline, type TxJob, type TxOutcome } from "./tx-pipeline.js";
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
 * transaction per feed and chunk of maxPerTx), device-signed batch roots to the ReadingAnchor. It
 * sends from one account through a TxPipeline (src/gateway/tx-pipeline.ts): the chunks of one
 * submitReadings go out back to back with consecutive nonces, up to `maxInFlight` at a time, and
 * their receipts are awaited together; a transaction unmined for `stuckAfterMs` is replaced by the
 * same one with higher fees.
 *
 * Gas: each limit comes from a measured model (src/gateway/gas-model.ts: a fixed part, a part per
 * reading or batch by curve, a round, the P-256 precompile asked once), not from an eth_estimateGas
 * per transaction. A transaction that runs out of gas anyway goes out once more with the node's
 * estimate, and the model raises its per-reading (or per-batch) figure by the shortfall.
 *
 * What is final and what is retried: a mined transaction that reverted (not out of gas) is its
 * chunk's final refusal (SubmissionRejectedError, decoded from the call replayed on the block's
 * state): its readings are refused with the code, the other chunks stand. A network error, a nonce
 * that another sender took, or a transaction still unmined after every fee bump fails the call
 * (transient) and the gateway retries the batch. Chunks settled before that are remembered, so the
 * retry does not send them again; a chunk whose transaction is still in flight is waited for, not sent
 * again (see TxPipeline for a send that fails midway through the chunks).
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
  /**
   * Transactions in flight at most (default 8): the chunks of one submitReadings (several feeds, or
   * more than maxPerTx readings) go out back to back, then their receipts are awaited together.
   */
  readonly maxInFlight?: number;
  /** Unmined this long, a transaction is replaced with higher fees (default 30000 ms). */
  readonly stuckAfterMs?: number;
  /** Each replacement raises the fees by this percentage (default 25; nodes want at least 10). */
  readonly feeBumpPercent?: number;
  /**
   * Replacements at most in one call; then the call fails (transient) and the next one goes on
   * waiting for (and replacing) the same transaction (default 3).
   */
  readonly maxFeeBumps?: number;
  /** How often receipts are polled (default 250 ms). */
  readonly pollMs?: number;
  /** Headroom over the gas model, and over the node's estimate when it is asked, in percent (default 25). */
  readonly gasHeadroomPercent?: number;
  /** The gas model's measured figures (default MEASURED_GAS). */
  readonly gasFigures?: GasFigures;
  /** Whether the chain has the P-256 precompile (default: asked once, with an eth_call to 0x100). */
  readonly p256Precompile?: boolean;
  /** A modelled gas limit at most (default 16,777,216: EIP-7825's cap per transaction). */
  readonly maxGasPerTx?: bigint;
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
/** Slots and chain cursors known to be written, at most (forgetting them only costs headroom). */
const SEEN_LIMIT = 100_000;
/** ReadingAnchor.Rejection by value. */
const ANCHOR_REJECTIONS = [
  "None",
  "InvalidBatch",
  "InvalidTimes",
  "ZeroRoot",
  "SequenceNotAfter",
  "InvalidSignature",
] as const;
const FEED = DeviceFeed__factory.createInterface();

function chunkKey(feedId: string, chunk: readonly SignedReading[]): string {
  const h = createHash("sha256").update(feedId.toLowerCase());
  for (const s of chunk) {
    h.update(`|${s.reading.deviceId.toLowerCase()}:${s.reading.sequence.toString()}`);
  }
  return h.digest("hex");
}

function jobKey(to: string, data: string): string {
  return createHash("sha256").update(to.toLowerCase()).update(data).digest("hex");
}

/** One submitMany transaction's worth of a submitReadings call. */
interface Chunk {
  readonly feedId: Hex;
  readonly readings: readonly SignedReading[];
  /** Each reading's index in the call. */
  readonly at: readonly number[];
  readonly key: string;
}

export class ChainSubmitter implements ReadingSubmitter {
  private readonly signer: Signer;
  private readonly provider: Provider;
  private readonly anchorAddress: string | undefined;
  private readonly maxPerTx: number;
  private readonly maxInFlight: number;
  private readonly log: Logger;
  private readonly pipeline: TxPipeline;
  /** The gas model the limits come from (it learns after an out-of-gas transaction). */
  readonly gasModel: GasModel;
  /** The quarantines and trips seen in receipts. */
  readonly metrics: FeedEventMetrics;
  private p256Precompile: boolean | undefined;
  private readonly feedCode = new Set<string>();
  /** Chunks already on chain (or refused for good), by chunkKey: a retried batch skips them. */
  private readonly done = new Map<string, ChunkResult | SubmissionRejectedError>();
  /** Feed slots (`feed:device`) holding a reading: a member's next reading is no first one. */
  private readonly writtenSlots = new Set<string>();
  /** Anchor chains (`device:feed`) with a cursor: their next batch is no first one. */
  private readonly anchoredChains = new Set<string>();

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
    this.maxInFlight = options.maxInFlight ?? 8;
    this.log = options.logger ?? pino({ name: "chain-submitter", level: "info" });
    this.metrics = options.metrics ?? new FeedEventMetrics();
    this.p256Precompile = options.p256Precompile;
    const headroom = options.gasHeadroomPercent ?? 25;
    if (this.maxPerTx < 1 || headroom < 0) {
      throw new GatewayError(
        "GATEWAY_BAD_OPTIONS",
        "maxPerTx must be at least 1 and gasHeadroomPercent at least 0",
      );
    }
    this.gasModel = new GasModel(
      options.gasFigures ?? MEASURED_GAS,
      headroom,
      options.maxGasPerTx ?? MAX_GAS_PER_TX,
    );
    this.pipeline = new TxPipeline({
      signer: options.signer,
      provider,
      maxInFlight: this.maxInFlight,
      stuckAfterMs: options.stuckAfterMs ?? 30_000,
      feeBumpPercent: options.feeBumpPercent ?? 25,
      maxFeeBumps: options.maxFeeBumps ?? 3,
      pollMs: options.pollMs ?? 250,
      estimatedLimit: (estimate) => this.gasModel.estimated(estimate),
      logger: this.log,
    });
  }

  /** The next nonce this submitter will use (fetched on first use); for tests and logs. */
  get pendingNonce(): number | undefined {
    return this.pipeline.pendingNonce;
  }

  /** Readings one submitReadings sends in flight together at most: maxPerTx x maxInFlight. */
  get readingsInFlight(): number {
    return this.maxPerTx * this.maxInFlight;
  }

  async submitReadings(readings: readonly SignedReading[]): Promise<ChainSubmission> {
    const chunks = this.chunks(readings);
    const jobs: TxJob[] = [];
    const queued = new Set<string>();
    for (const c of chunks) {
      if (this.done.has(c.key) || queued.has(c.key)) continue;
      try {
        jobs.push(await this.chunkJob(c));
        queued.add(c.key);
      } catch (err: unknown) {
        if (!(err instanceof SubmissionRejectedError)) throw err;
        this.remember(c.key, err);
      }
    }
    if (jobs.length > 0) await this.pipeline.run(jobs);
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
    for (const c of chunks) {
      const outcome = this.done.get(c.key);
      if (outcome === undefined) {
        throw new GatewayError(
          "GATEWAY_CHUNK_LOST",
          `a chunk of feed ${c.feedId} has no outcome after its transaction settled: this is a submitter bug, report it (the batch is retried)`,
        );
      }
      if (outcome instanceof SubmissionRejectedError) {
        for (const index of c.at) outcomes[index] = { accepted: false, reason: outcome.code };
        refused.push({
          feedId: c.feedId,
          count: c.readings.length,
          code: outcome.code,
          message: outcome.message,
        });
        continue;
      }
      c.at.forEach((index, k) => {
        outcomes[index] = {
          ...(outcome.outcomes[k] ?? { accepted: false, reason: "NoEvent" }),
          txHash: outcome.txHash,
        };
      });
      txHashes.push(outcome.txHash);
      accepted += outcome.accepted;
      gasUsed += outcome.gasUsed;
      rejected.push(...outcome.rejected);
      quarantined.push(...outcome.quarantined);
      tripped.push(...outcome.tripped);
    }
    await this.acceptedBefore(readings, outcomes);
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
    const receipt = await this.anchorTransaction(
      "anchor",
      anchor,
      anchor.interface.encodeFunctionData("anchor", [batch.batch, batch.key, batch.signature]),
      [batch],
    );
    this.sawChain(batch.batch.deviceId, batch.batch.feedId);
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
    const receipt = await this.anchorTransaction(
      `anchorMany(${String(batches.length)})`,
      anchor,
      anchor.interface.encodeFunctionData("anchorMany", [
        batches.map((b) => ({ batch: b.batch, key: b.key, signature: b.signature })),
      ]),
      batches,
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
      if (o.anchored && b !== undefined) this.sawChain(b.batch.deviceId, b.batch.feedId);
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
        { event: "anchor_lookup_failed", deviceId: b.deviceId, err: errorMessage(err) },
        "cannot tell whether a refused batch was anchored before: it is reported refused",
      );
      return false;
    }
  }

  /**
   * Readings the feed refused as SequenceNotIncreasing that are on chain already: resent after a
   * crash between their transaction and the gateway's record (by this instance, or another sharing its
   * store). A ReadingAccepted event of the device in the feed with the reading's sequence and value
   * points to a transaction; the reading counts as accepted there only when that transaction's
   * submit/submitMany call carries this very reading (same timestamp and signature: another reading
   * of the same sequence and value is not this one). Its outcome becomes accepted, with that
   * transaction. One log query per device and feed; when the node does not answer, or the call cannot
   * be read (sent through another contract), the reading stays refused.
   */
  private async acceptedBefore(
    readings: readonly SignedReading[],
    outcomes: ReadingOutcome[],
  ): Promise<void> {
    const refused = new Map<string, number[]>();
    outcomes.forEach((o, i) => {
      const r = readings[i]?.reading;
      if (o.accepted || o.reason !== "SequenceNotIncreasing" || r === undefined) return;
      const key = `${r.feedId.toLowerCase()}:${r.deviceId.toLowerCase()}`;
      refused.set(key, [...(refused.get(key) ?? []), i]);
    });
    const calls = new Map<string, Promise<readonly SignedReading[]>>();
    for (const [key, indexes] of refused) {
      const [feedId, deviceId] = key.split(":") as [Hex, Hex];
      try {
        const feed = DeviceFeed__factory.connect(feedAddressOf(feedId), this.provider);
        const logs = await feed.queryFilter(feed.filters.ReadingAccepted(deviceId));
        const onChain = new Map(
          logs.map((l) => [`${l.args.sequence.toString()}:${l.args.value.toString()}`, l]),
        );
        let found = 0;
        for (const i of indexes) {
          const signed = readings[i];
          if (signed === undefined) continue;
          const r = signed.reading;
          const log = onChain.get(`${r.sequence.toString()}:${r.value.toString()}`);
          if (log === undefined) continue;
          let carried = calls.get(log.transactionHash);
          if (carried === undefined) {
            carried = this.readingsOfCall(log.transactionHash);
            calls.set(log.transactionHash, carried);
          }
          if (!(await carried).some((c) => sameReading(c, signed))) continue;
          outcomes[i] = { accepted: true, txHash: log.transactionHash as Hex };
          found++;
        }
        if (found > 0) {
          this.log.info(
            { event: "already_accepted", feedId, deviceId, readings: found },
            "resent readings were accepted before: they are reported accepted",
          );
        }
      } catch (err: unknown) {
        this.log.warn(
          { event: "reading_lookup_failed", feedId, deviceId, err: errorMessage(err) },
          "cannot tell whether refused readings were accepted before: they are reported refused",
        );
      }
    }
  }

  /** The readings a feed transaction's submit/submitMany call carried (none for another call). */
  private async readingsOfCall(txHash: string): Promise<readonly SignedReading[]> {
    const tx = await this.provider.getTransaction(txHash);
    if (tx === null) return [];
    const call = FEED.parseTransaction({ data: tx.data });
    const toSigned = (x: {
      reading: {
        deviceId: string;
        feedId: string;
        sequence: bigint;
        timestamp: bigint;
        value: bigint;
      };
      key: { keyType: bigint; key: string };
      signature: string;
    }): SignedReading => ({
      reading: {
        deviceId: x.reading.deviceId as Hex,
        feedId: x.reading.feedId as Hex,
        sequence: x.reading.sequence,
        timestamp: x.reading.timestamp,
        value: x.reading.value,
      },
      key: deviceKey(Number(x.key.keyType) === 1 ? KeyType.Secp256k1 : KeyType.P256, x.key.key),
      signature: x.signature as Hex,
    });
    if (call?.name === "submitMany") {
      return (call.args[0] as Parameters<typeof toSigned>[0][]).map(toSigned);
    }
    if (call?.name === "submit") {
      const [reading, key, signature] = call.args as unknown as [
        Parameters<typeof toSigned>[0]["reading"],
        Parameters<typeof toSigned>[0]["key"],
        string,
      ];
      return [toSigned({ reading, key, signature })];
    }
    return [];
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

  /** The readings grouped per feed (in order of first appearance), in chunks of maxPerTx. */
  private chunks(readings: readonly SignedReading[]): Chunk[] {
    const groups = new Map<string, { readings: SignedReading[]; at: number[] }>();
    readings.forEach((r, index) => {
      const feedId = r.reading.feedId.toLowerCase();
      let g = groups.get(feedId);
      if (g === undefined) groups.set(feedId, (g = { readings: [], at: [] }));
      g.readings.push(r);
      g.at.push(index);
    });
    const chunks: Chunk[] = [];
    for (const [feedId, g] of groups) {
      for (let i = 0; i < g.readings.length; i += this.maxPerTx) {
        const part = g.readings.slice(i, i + this.maxPerTx);
        chunks.push({
          feedId: feedId as Hex,
          readings: part,
          at: g.at.slice(i, i + this.maxPerTx),
          key: chunkKey(feedId, part),
        });
      }
    }
    return chunks;
  }

  private remember(key: string, outcome: ChunkResult | SubmissionRejectedError): void {
    if (!this.done.has(key)) evictOldest(this.done, MEMO_LIMIT);
    this.done.set(key, outcome);
  }

  /** The submitMany transaction of `c`, its gas from the model; refuses a feed id with no feed. */
  private async chunkJob(c: Chunk): Promise<TxJob> {
    let address: Hex;
    try {
      address = feedAddressOf(c.feedId);
    } catch (err: unknown) {
      throw new SubmissionRejectedError(
        "GATEWAY_UNKNOWN_FEED",
        `feed id ${c.feedId} is not a DeviceFeed address: devices must sign readings with the feed's id (feed show prints it)`,
        { cause: err },
      );
    }
    if (!this.feedCode.has(address)) {
      if ((await this.provider.getCode(address)) === "0x") {
        throw new SubmissionRejectedError(
          "GATEWAY_UNKNOWN_FEED",
          `no contract at ${address} (feed id ${c.feedId}) on this chain: devices must sign readings with a deployed feed's id`,
        );
      }
      this.feedCode.add(address);
    }
    // A member's first reading writes a zero slot; a second one in the same chunk does not.
    const counted = new Set<string>();
    const items = c.readings.map((r): GasItem => {
      const slot = `${address}:${r.reading.deviceId.toLowerCase()}`;
      const first = !this.writtenSlots.has(slot) && !counted.has(slot);
      counted.add(slot);
      return { key: r.key, first };
    });
    const gas = this.gasModel.submitMany(items, await this.precompile());
    const n = c.readings.length;
    return {
      key: c.key,
      what: `submitMany(${String(n)})`,
      to: address,
      // A SignedReading is IDeviceFeed.SignedReading field for field.
      data: FEED.encodeFunctionData("submitMany", [[...c.readings]]),
      gasLimit: gas.limit,
      onEstimate: (estimate) => {
        this.learn("reading", n, gas, estimate);
      },
      settle: (outcome) => {
        this.remember(
          c.key,
          "refusal" in outcome
            ? outcome.refusal
            : this.chunkResult(c.feedId, address, c.readings, outcome.receipt),
        );
      },
    };
  }

  /** What the feed's events in `receipt` say of each reading of `chunk`. */
  private chunkResult(
    feedId: Hex,
    address: Hex,
    chunk: readonly SignedReading[],
    receipt: TransactionReceipt,
  ): ChunkResult {
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
      const parsed = FEED.parseLog(log);
      if (parsed === null) continue;
      const arg = (name: string): unknown => parsed.args.getValue(name);
      if (parsed.name === "ReadingAccepted") {
        accepted++;
        byReading.set(slot(arg("deviceId"), arg("sequence")), { accepted: true });
        this.sawSlot(address, arg("deviceId"));
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
        this.sawSlot(address, q.deviceId);
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

  // ------------------------------------------------------------------ gas and transactions

  private sawSlot(address: Hex, deviceId: unknown): void {
    const slot = `${address}:${String(deviceId).toLowerCase()}`;
    if (!this.writtenSlots.has(slot)) evictOldest(this.writtenSlots, SEEN_LIMIT);
    this.writtenSlots.add(slot);
  }

  private sawChain(deviceId: Hex, feedId: Hex): void {
    const chain = `${deviceId.toLowerCase()}:${feedId.toLowerCase()}`;
    if (!this.anchoredChains.has(chain)) evictOldest(this.anchoredChains, SEEN_LIMIT);
    this.anchoredChains.add(chain);
  }

  /** Whether the chain verifies P-256 with a precompile: asked once (again after a failed ask). */
  private async precompile(): Promise<boolean> {
    if (this.p256Precompile !== undefined) return this.p256Precompile;
    try {
      this.p256Precompile = await hasP256Precompile(this.provider);
    } catch (err: unknown) {
      this.log.warn(
        { event: "p256_probe_failed", err: errorMessage(err) },
        "cannot tell whether the chain has the P-256 precompile: gas is counted for the Solidity verifier",
      );
      return false;
    }
    this.log.info(
      { event: "p256_precompile", present: this.p256Precompile },
      this.p256Precompile
        ? "the chain has the P-256 precompile"
        : "the chain has no P-256 precompile: a P-256 signature costs ~250,000 gas more",
    );
    return this.p256Precompile;
  }

  /** An out-of-gas transaction was estimated: the model carries the shortfall from now on. */
  private learn(kind: GasKind, count: number, gas: GasLimit, estimate: bigint): void {
    const added = this.gasModel.learn(kind, count, gas.raw, estimate);
    if (added === 0) return;
    this.log.warn(
      {
        event: "gas_model_raised",
        kind,
        added,
        learned: this.gasModel.learned[kind],
        estimate: estimate.toString(),
        modelled: gas.raw.toString(),
      },
      `the gas model was short by ${String(added)} gas per ${kind}: it counts that much more from now on`,
    );
  }

  /** One anchor or anchorMany transaction of `batches`; its mined receipt, or its refusal thrown. */
  private async anchorTransaction(
    what: string,
    anchor: ReadingAnchor,
    data: string,
    batches: readonly SignedBatch[],
  ): Promise<TransactionReceipt> {
    const to = (await anchor.getAddress()).toLowerCase();
    const counted = new Set<string>();
    const items = batches.map((b): GasItem => {
      const chain = `${b.batch.deviceId.toLowerCase()}:${b.batch.feedId.toLowerCase()}`;
      const first = !this.anchoredChains.has(chain) && !counted.has(chain);
      counted.add(chain);
      return { key: b.key, first };
    });
    const gas = this.gasModel.anchorMany(items, await this.precompile());
    const key = jobKey(to, data);
    const results = await this.pipeline.run([
      {
        key,
        what,
        to,
        data,
        gasLimit: gas.limit,
        onEstimate: (estimate) => {
          this.learn("batch", batches.length, gas, estimate);
        },
      },
    ]);
    const outcome: TxOutcome | undefined = results.get(key);
    if (outcome === undefined) {
      throw new GatewayError(
        "GATEWAY_CHUNK_LOST",
        `${what} has no outcome after its transaction settled: this is a submitter bug, report it (the group is retried)`,
      );
    }
    if ("refusal" in outcome) throw outcome.refusal;
    return outcome.receipt;
  }
}

/** The same signed reading: device, feed, sequence, timestamp, value and signature. */
function sameReading(a: SignedReading, b: SignedReading): boolean {
  const x = a.reading;
  const y = b.reading;
  return (
    x.deviceId.toLowerCase() === y.deviceId.toLowerCase() &&
    x.feedId.toLowerCase() === y.feedId.toLowerCase() &&
    x.sequence === y.sequence &&
    x.timestamp === y.timestamp &&
    x.value === y.value &&
    a.signature.toLowerCase() === b.signature.toLowerCase()
  );
}
