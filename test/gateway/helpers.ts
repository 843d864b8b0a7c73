import { id } from "ethers";
import { pino } from "pino";
import type { Hex } from "../../src/protocol/index.js";
import {
  Gateway,
  SubmissionRejectedError,
  type GatewayOptions,
  type ReadingSubmitter,
  type SignedReadingBatch,
  type SubmittedTx,
} from "../../src/gateway/index.js";
import type { SignedReading } from "../../src/watchtower/index.js";
import { DOMAIN, FakeDirectory } from "../watchtower/helpers.js";

/** Shared helpers of the gateway tests. No describe() here. */

export function slotOf(r: SignedReading): string {
  const m = r.reading;
  return `${m.deviceId.toLowerCase()}:${m.feedId.toLowerCase()}:${m.sequence.toString()}`;
}

/**
 * A submitter that records every reading it is given; `failures` transient failures come first;
 * `rejectNext` refuses the next call for good; `gate` (when set) holds every call until resolved.
 */
export class FakeFeeds implements ReadingSubmitter {
  readonly calls: SignedReading[][] = [];
  readonly anchored: SignedReadingBatch[] = [];
  readonly counts = new Map<string, number>();
  failures = 0;
  rejectNext = false;
  gate: Promise<void> | undefined;

  async submitReadings(readings: readonly SignedReading[]): Promise<SubmittedTx> {
    if (this.gate !== undefined) await this.gate;
    if (this.rejectNext) {
      this.rejectNext = false;
      throw new SubmissionRejectedError("FeedStaleReading", "the feed refused the batch");
    }
    if (this.failures > 0) {
      this.failures--;
      throw new Error("connection reset");
    }
    this.calls.push([...readings]);
    for (const r of readings) this.counts.set(slotOf(r), (this.counts.get(slotOf(r)) ?? 0) + 1);
    return { txHash: id(`tx-${String(this.calls.length)}`) as Hex };
  }

  anchorBatch(batch: SignedReadingBatch): Promise<SubmittedTx> {
    this.anchored.push(batch);
    return Promise.resolve({ txHash: id(`anchor-${String(this.anchored.length)}`) as Hex });
  }

  /** Readings submitted more than once. */
  duplicates(): string[] {
    return [...this.counts].filter(([, n]) => n > 1).map(([k]) => k);
  }
}

export function gateway(
  overrides: Partial<GatewayOptions> & Pick<GatewayOptions, "brokerUrl" | "dbPath" | "submitter">,
): Gateway {
  return new Gateway({
    domain: DOMAIN,
    directory: new FakeDirectory(),
    http: false,
    logger: pino({ level: "silent" }),
    backoff: { baseDelayMs: 1, maxDelayMs: 5 },
    batchSize: 8,
    batchIntervalMs: 20,
    ...overrides,
  });
}

/** Polls `predicate` every 5 ms until it holds; fails after `timeoutMs` saying `what`. */
export async function waitFor(
  predicate: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
