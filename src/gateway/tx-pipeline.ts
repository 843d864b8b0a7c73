import {
  isCallException,
  isError,
  type Provider,
  type Signer,
  type TransactionReceipt,
  type TransactionRequest,
  type TransactionResponse,
} from "ethers";
import type { Logger } from "pino";
import { errorMessage, DeviceTrustError } from "../protocol/index.js";
import { decodeFeedError } from "../client/feed-errors.js";
import { GatewayError, SubmissionRejectedError } from "./types.js";

/** One transaction to send: a call with a gas limit (a chunk of readings, a group of batches). */
export interface TxJob {
  /**
   * The same content has the same key in every call: a job whose transaction is still in flight from
   * an earlier call is waited for, never sent again under another nonce.
   */
  readonly key: string;
  /** For logs, e.g. `submitMany(64)`. */
  readonly what: string;
  readonly to: string;
  readonly data: string;
  /** The modelled gas limit. */
  readonly gasLimit: bigint;
  /** After an out-of-gas transaction the node's estimate is asked once: the model learns from it. */
  readonly onEstimate?: (estimate: bigint) => void;
  /** Called once with the job's outcome, also when it settles during a later call. */
  readonly settle?: (outcome: TxOutcome) => void;
}

/** Mined (status 1), or refused for good: a revert, or out of gas even at the node's estimate. */
export type TxOutcome =
  { readonly receipt: TransactionReceipt } | { readonly refusal: SubmissionRejectedError };

export interface TxPipelineOptions {
  /** Signs and sends; its account is the pipeline's alone (its nonces are counted here). */
  readonly signer: Signer;
  readonly provider: Provider;
  /** Transactions sent and not yet mined at most. */
  readonly maxInFlight: number;
  readonly stuckAfterMs: number;
  readonly feeBumpPercent: number;
  readonly maxFeeBumps: number;
  readonly pollMs: number;
  /** The gas limit for the node's estimate (after an out-of-gas transaction). */
  readonly estimatedLimit: (estimate: bigint) => bigint;
  readonly logger: Logger;
}

interface Fees {
  maxFeePerGas?: bigint;
  maxPriorityFeePerGas?: bigint;
  gasPrice?: bigint;
}

/** A transaction sent and not yet settled. */
interface InFlight {
  readonly job: TxJob;
  readonly nonce: number;
  readonly gasLimit: bigint;
  fees: Fees;
  /**
   * Every version signed (the original, the fee bumps). Empty when the send failed without an answer:
   * the node may have it all the same, so it is looked for by nonce and content.
   */
  readonly hashes: string[];
  sentAt: number;
  bumps: number;
  /** A block mined before the first send: where to look for it by nonce. */
  readonly fromBlock: number;
  /** Sent with the node's estimate: out of gas again is final. */
  readonly estimated: boolean;
}

const NONCE_ERROR =
  /nonce (?:too low|has already been used|is too low)|nonce too high|already known|replacement transaction underpriced|replacement fee too low|invalid nonce/i;

/** The node refused a gas limit below the transaction's intrinsic gas (geth, EDR wordings). */
const GAS_TOO_LOW = /intrinsic gas too low|gas too low|requires at least \d+ gas/i;

export function isNonceError(err: unknown): boolean {
  return (
    isError(err, "NONCE_EXPIRED") ||
    isError(err, "REPLACEMENT_UNDERPRICED") ||
    NONCE_ERROR.test(errorMessage(err))
  );
}

/** A final refusal for a revert (decoded when it is a known custom error); undefined for anything else. */
export function asSubmissionRejection(err: unknown): SubmissionRejectedError | undefined {
  if (err instanceof SubmissionRejectedError) return err;
  const decoded = decodeFeedError(err);
  if (decoded !== undefined) {
    return new SubmissionRejectedError(decoded.code, decoded.message, { cause: err });
  }
  if (isCallException(err) || /reverted|revert/i.test(errorMessage(err))) {
    return new SubmissionRejectedError(
      "GATEWAY_REVERTED",
      `the chain reverted the submission without a known custom error (${errorMessage(err)}): the batch is not retried; check the feed and anchor addresses`,
      { cause: err },
    );
  }
  return undefined;
}

/**
 * The hash a send error carries: Hardhat's automine mines a transaction that fails and reports it as
 * an error with its hash. The transaction is on chain: its receipt tells what happened.
 */
function transactionHashOf(err: unknown): string | undefined {
  // Hardhat's ProviderError carries it in `data` (EDR mined the failed transaction); others at the top.
  for (const holder of [err, (err as { data?: unknown } | null)?.data]) {
    if (typeof holder !== "object" || holder === null || !("transactionHash" in holder)) continue;
    const hash = holder.transactionHash;
    if (typeof hash === "string" && /^0x[0-9a-fA-F]{64}$/.test(hash)) return hash;
  }
  return undefined;
}

/** Fees as log fields (decimal strings: JSON has no bigint). */
function feeFields(fees: Fees): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fees)) if (typeof v === "bigint") out[k] = v.toString();
  return out;
}

function sameCall(tx: TransactionResponse, e: InFlight): boolean {
  return tx.to?.toLowerCase() === e.job.to.toLowerCase() && tx.data === e.job.data;
}

/**
 * Sends transactions from one account with several in flight: each job gets the next nonce (counted
 * here: fetched once with "pending", fetched again after a nonce error or a send that got no answer),
 * up to `maxInFlight` go out back to back, and their receipts are polled together (one
 * eth_getTransactionCount a round tells which nonces were mined; only those receipts are fetched).
 *
 * Guarantees, across calls (the state lives in the pipeline, not in a call):
 * - A job is never sent twice under two nonces while its transaction may still be mined: a job that
 *   is in flight when a call fails stays in flight, and the next call waits for it (replacing it with
 *   higher fees while it stays unmined for `stuckAfterMs`; after `maxFeeBumps` the call fails with
 *   GATEWAY_TX_STUCK and the next call goes on with it).
 * - A send that fails without an answer (the node may have taken it) is remembered by its nonce and
 *   content. Before anything else is sent, the next round settles it: mined with that content (its
 *   receipt is found by nonce in the blocks since) counts as sent; absent from the node's pending
 *   count, it was never taken and goes out again; its nonce is reused, so no gap is left behind.
 * - A nonce another sender took (nonce too low, or mined with other content) resynchronises the
 *   count from the node's pending nonce; the job goes out again.
 * - A mined transaction with status 0 that used (almost) all its gas ran out of it: the job is sent
 *   again once with the node's estimate (the model learns through `onEstimate`). Any other status 0
 *   is the job's final refusal, decoded by replaying the call on the state after its block.
 * A call fails (transient) when a send fails: jobs that settled are reported (`settle`), the others
 * go out in a later call. After a failure no further job is sent in that call, so later nonces are
 * never used past a hole.
 */
export class TxPipeline {
  private readonly o: TxPipelineOptions;
  private readonly log: Logger;
  private readonly feeBump: bigint;
  private nonce: number | undefined;
  private from: string | undefined;
  /** Sent and not yet settled, by job key, in nonce order of sending. */
  private readonly inFlight = new Map<string, InFlight>();
  /** Jobs whose transaction ran out of gas: their next send asks the node for an estimate. */
  private readonly needsEstimate = new Set<string>();

  constructor(options: TxPipelineOptions) {
    if (options.maxInFlight < 1 || options.feeBumpPercent < 10) {
      throw new GatewayError(
        "GATEWAY_BAD_OPTIONS",
        "maxInFlight must be at least 1 and feeBumpPercent at least 10 (nodes refuse smaller bumps)",
      );
    }
    this.o = options;
    this.log = options.logger;
    this.feeBump = BigInt(options.feeBumpPercent);
  }

  /** The next nonce to use, if known (undefined until fetched, or after a resync was called for). */
  get pendingNonce(): number | undefined {
    return this.nonce;
  }

  /** Transactions sent and not yet settled (also those of failed calls). */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * Sends `jobs` in order, up to maxInFlight at a time, and waits for every one to settle. Returns
   * each job's outcome by key; throws (transient) when some job could not be sent or settled.
   */
  async run(jobs: readonly TxJob[]): Promise<Map<string, TxOutcome>> {
    const results = new Map<string, TxOutcome>();
    const byKey = new Map(jobs.map((j) => [j.key, j]));
    const order = new Map(jobs.map((j, i) => [j.key, i]));
    const settle = (job: TxJob, outcome: TxOutcome): void => {
      const mine = byKey.get(job.key);
      (mine ?? job).settle?.(outcome);
      if (mine !== undefined) results.set(job.key, outcome);
    };
    const queue: TxJob[] = [];
    const enqueue = (job: TxJob): void => {
      const mine = byKey.get(job.key);
      if (mine === undefined || results.has(mine.key) || queue.includes(mine)) return;
      // In the caller's order: a chunk that goes out again goes before those that follow it.
      const at = queue.findIndex((q) => (order.get(q.key) ?? 0) > (order.get(mine.key) ?? 0));
      queue.splice(at < 0 ? queue.length : at, 0, mine);
    };
    for (const e of this.inFlight.values()) e.bumps = 0;
    // What earlier calls left in flight is settled first: a job that never reached the node goes out
    // again before any job that follows it, with the nonce it left unused.
    if (this.inFlight.size > 0) await this.poll(settle, () => undefined);
    for (const job of jobs) if (!this.inFlight.has(job.key)) enqueue(job);
    let failure: unknown;
    let context: { fees: Fees; fromBlock: number } | undefined;
    for (;;) {
      while (failure === undefined && this.inFlight.size < this.o.maxInFlight) {
        const job = queue[0];
        if (job === undefined) break;
        try {
          context ??= {
            fees: await this.fees(),
            fromBlock: await this.o.provider.getBlockNumber(),
          };
          const refusal = await this.send(job, context.fees, context.fromBlock);
          queue.shift();
          if (refusal !== undefined) settle(job, { refusal });
        } catch (err: unknown) {
          failure = err;
        }
      }
      if (results.size === jobs.length) break;
      if (this.inFlight.size === 0 && (queue.length === 0 || failure !== undefined)) break;
      const moved = await this.poll(settle, enqueue);
      if (!moved) await new Promise((resolve) => setTimeout(resolve, this.o.pollMs));
    }
    if (results.size < jobs.length) {
      // A send error that reads like a revert is no refusal of the job: it did not go out.
      if (failure instanceof Error && asSubmissionRejection(failure) === undefined) throw failure;
      throw new DeviceTrustError(
        "GATEWAY_SEND_FAILED",
        `${String(jobs.length - results.size)} of ${String(jobs.length)} transactions did not go through (${failure === undefined ? "not sent" : errorMessage(failure)}): they are retried`,
        { cause: failure },
      );
    }
    return results;
  }

  // ------------------------------------------------------------------ sending

  private async sender(): Promise<string> {
    this.from ??= await this.o.signer.getAddress();
    return this.from;
  }

  private async nextNonce(): Promise<number> {
    this.nonce ??= await this.o.provider.getTransactionCount(await this.sender(), "pending");
    return this.nonce;
  }

  private async fees(): Promise<Fees> {
    const data = await this.o.provider.getFeeData();
    if (data.maxFeePerGas !== null && data.maxPriorityFeePerGas !== null) {
      return { maxFeePerGas: data.maxFeePerGas, maxPriorityFeePerGas: data.maxPriorityFeePerGas };
    }
    if (data.gasPrice !== null) return { gasPrice: data.gasPrice };
    throw new GatewayError("GATEWAY_NO_FEES", "the node returned no fee data");
  }

  private bump(fees: Fees): Fees {
    const up = (v: bigint | undefined): bigint | undefined =>
      v === undefined ? undefined : (v * (100n + this.feeBump) + 99n) / 100n;
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
   * Sends `job` with the next nonce and records it in flight. A job whose last transaction ran out of
   * gas is estimated first: a revert there is its refusal (returned). A nonce error resynchronises
   * the nonce and tries once more; any other error is thrown, the job recorded in flight without a
   * hash when the node may have taken it.
   */
  private async send(
    job: TxJob,
    fees: Fees,
    fromBlock: number,
  ): Promise<SubmissionRejectedError | undefined> {
    const from = await this.sender();
    let gasLimit = job.gasLimit;
    const estimated = this.needsEstimate.has(job.key);
    if (estimated) {
      let estimate: bigint;
      try {
        estimate = await this.o.provider.estimateGas({ from, to: job.to, data: job.data });
      } catch (err: unknown) {
        const refusal = asSubmissionRejection(err);
        if (refusal === undefined || isNonceError(err)) throw err;
        this.needsEstimate.delete(job.key);
        return refusal;
      }
      this.needsEstimate.delete(job.key);
      job.onEstimate?.(estimate);
      const limit = this.o.estimatedLimit(estimate);
      if (limit > gasLimit) gasLimit = limit;
      this.log.info(
        {
          event: "gas_estimated",
          what: job.what,
          estimate: estimate.toString(),
          gasLimit: gasLimit.toString(),
        },
        "sending again with the node's gas estimate",
      );
    }
    for (let attempt = 0; ; attempt++) {
      const nonce = await this.nextNonce();
      const track = (hashes: string[]): void => {
        this.inFlight.set(job.key, {
          job,
          nonce,
          gasLimit,
          fees,
          hashes,
          sentAt: Date.now(),
          bumps: 0,
          fromBlock,
          estimated,
        });
      };
      const request: TransactionRequest = {
        to: job.to,
        data: job.data,
        from,
        nonce,
        gasLimit,
        ...fees,
      };
      try {
        const sent = await this.o.signer.sendTransaction(request);
        track([sent.hash]);
        this.nonce = nonce + 1;
        this.log.debug(
          {
            event: "tx_sent",
            what: job.what,
            nonce,
            txHash: sent.hash,
            gasLimit: gasLimit.toString(),
            ...feeFields(fees),
          },
          "transaction sent",
        );
        return undefined;
      } catch (err: unknown) {
        const hash = transactionHashOf(err);
        if (hash !== undefined) {
          track([hash]);
          this.nonce = nonce + 1;
          return undefined;
        }
        if (!estimated && GAS_TOO_LOW.test(errorMessage(err))) {
          // Not even the intrinsic gas: the model is far off. Once more, with the node's estimate.
          this.log.warn(
            { event: "out_of_gas", what: job.what, gasLimit: gasLimit.toString() },
            "the node refused the gas model's limit as too low: it is sent again with the node's estimate, and the model learns",
          );
          this.needsEstimate.add(job.key);
          return this.send(job, fees, fromBlock);
        }
        if (isNonceError(err)) {
          this.log.warn(
            { event: "nonce_resync", nonce, err: errorMessage(err) },
            "nonce refused: fetching it again",
          );
          this.nonce = undefined;
          if (attempt === 0) continue;
          throw err;
        }
        // No answer: the node may have the transaction. It stays in flight by nonce and content
        // (the next round settles it), and the count restarts from the node's pending nonce.
        track([]);
        this.nonce = undefined;
        this.log.warn(
          { event: "tx_send_failed", what: job.what, nonce, err: errorMessage(err) },
          "a transaction could not be sent: the node is asked whether it has it before anything else goes out",
        );
        throw err;
      }
    }
  }

  // ------------------------------------------------------------------ settling

  /**
   * One round over what is in flight, in nonce order: settles the mined ones (`settle`), hands back
   * the jobs to send again (`resend`), replaces the stuck ones. Returns whether anything settled.
   */
  private async poll(
    settle: (job: TxJob, outcome: TxOutcome) => void,
    resend: (job: TxJob) => void,
  ): Promise<boolean> {
    const from = await this.sender();
    const latest = await this.o.provider.getTransactionCount(from, "latest");
    let pending: number | undefined;
    let moved = false;
    let stuck: DeviceTrustError | undefined;
    const entries = [...this.inFlight.values()].sort((a, b) => a.nonce - b.nonce);
    for (const e of entries) {
      if (e.nonce < latest) {
        const receipt = await this.minedReceipt(e, from);
        if (receipt === undefined) continue;
        this.inFlight.delete(e.job.key);
        moved = true;
        if (receipt === null) {
          this.nonce = undefined;
          this.log.warn(
            { event: "nonce_taken", what: e.job.what, nonce: e.nonce },
            "another transaction took this nonce: the job is sent again with a fresh one",
          );
          resend(e.job);
          continue;
        }
        const outcome = await this.judge(e, receipt, from);
        if (outcome === undefined) resend(e.job);
        else settle(e.job, outcome);
        continue;
      }
      if (e.hashes.length === 0) {
        pending ??= await this.o.provider.getTransactionCount(from, "pending");
        if (pending <= e.nonce) {
          // The node never took it: its nonce is free, and the job goes out again.
          this.inFlight.delete(e.job.key);
          this.nonce = undefined;
          moved = true;
          this.log.info(
            { event: "tx_not_sent", what: e.job.what, nonce: e.nonce },
            "a transaction whose send failed never reached the node: it is sent again",
          );
          resend(e.job);
          continue;
        }
      }
      if (Date.now() - e.sentAt < this.o.stuckAfterMs) continue;
      if (e.bumps >= this.o.maxFeeBumps) {
        stuck ??= new DeviceTrustError(
          "GATEWAY_TX_STUCK",
          `${e.job.what} transaction with nonce ${String(e.nonce)} is unmined after ${String(e.bumps)} fee bumps: it stays in flight and the submission is retried; check the node and the account's balance`,
        );
        continue;
      }
      await this.replace(e);
    }
    if (stuck !== undefined) throw stuck;
    return moved;
  }

  /**
   * The receipt of `e`, whose nonce is mined: by a hash it was sent under, else found by nonce in the
   * blocks since it was sent (a send whose answer was lost, a replacement likewise). null when
   * another transaction took the nonce; undefined when the node does not show it yet.
   */
  private async minedReceipt(
    e: InFlight,
    from: string,
  ): Promise<TransactionReceipt | null | undefined> {
    for (const hash of e.hashes) {
      const receipt = await this.o.provider.getTransactionReceipt(hash);
      if (receipt !== null) return receipt;
    }
    const last = await this.o.provider.getBlockNumber();
    for (let b = e.fromBlock + 1; b <= last; b++) {
      const block = await this.o.provider.getBlock(b, true);
      if (block === null) return undefined;
      const tx = block.prefetchedTransactions.find(
        (t) => t.nonce === e.nonce && t.from.toLowerCase() === from.toLowerCase(),
      );
      if (tx === undefined) continue;
      if (!sameCall(tx, e)) return null;
      return (await this.o.provider.getTransactionReceipt(tx.hash)) ?? undefined;
    }
    // Mined, yet in no block since the send: the nonce was used before this transaction went out.
    return null;
  }

  /** Mined: status 1 is the outcome; out of gas goes out again (undefined); any other revert is final. */
  private async judge(
    e: InFlight,
    receipt: TransactionReceipt,
    from: string,
  ): Promise<TxOutcome | undefined> {
    if (receipt.status === 1) return { receipt };
    // Out of gas takes all the gas of the frame that ran out: (almost) all the transaction's, since a
    // call passes on at most 63/64 of what is left.
    if (receipt.gasUsed * 64n >= e.gasLimit * 63n) {
      if (!e.estimated) {
        this.needsEstimate.add(e.job.key);
        this.log.warn(
          {
            event: "out_of_gas",
            what: e.job.what,
            txHash: receipt.hash,
            gasLimit: e.gasLimit.toString(),
          },
          "a transaction ran out of gas under the gas model: it is sent again with the node's estimate, and the model learns",
        );
        return undefined;
      }
      return {
        refusal: new SubmissionRejectedError(
          "GATEWAY_OUT_OF_GAS",
          `${e.job.what} transaction ${receipt.hash} ran out of gas with the node's own estimate (${e.gasLimit.toString()} gas): it is not sent again; check the chain's gas limits`,
        ),
      };
    }
    try {
      await this.o.provider.call({
        from,
        to: e.job.to,
        data: e.job.data,
        blockTag: receipt.blockNumber,
      });
    } catch (err: unknown) {
      const refusal = asSubmissionRejection(err);
      if (refusal !== undefined) return { refusal };
    }
    return {
      refusal: new SubmissionRejectedError(
        "GATEWAY_TX_REVERTED",
        `${e.job.what} transaction ${receipt.hash} reverted on chain (the state changed before it was mined): it is not sent again`,
      ),
    };
  }

  /** Sends `e` again with its nonce and higher fees. */
  private async replace(e: InFlight): Promise<void> {
    e.fees = this.bump(e.fees);
    e.bumps++;
    try {
      const replacement = await this.o.signer.sendTransaction({
        to: e.job.to,
        data: e.job.data,
        from: await this.sender(),
        nonce: e.nonce,
        gasLimit: e.gasLimit,
        ...e.fees,
      });
      e.hashes.push(replacement.hash);
      this.log.warn(
        {
          event: "tx_replaced",
          what: e.job.what,
          nonce: e.nonce,
          bumps: e.bumps,
          txHash: replacement.hash,
          ...feeFields(e.fees),
        },
        "transaction unmined: replaced with higher fees",
      );
    } catch (err: unknown) {
      // The original was mined meanwhile (nonce too low): the next round finds it.
      if (!isNonceError(err)) throw err;
    }
    e.sentAt = Date.now();
  }
}
