import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { id } from "ethers";
import { pino } from "pino";
import type { Hex, ReadingMessage, SignedBatch, SignedReading } from "../../src/protocol/index.js";
import {
  Gateway,
  GatewayStore,
  SqliteReadingStore,
  startEmbeddedBroker,
  type AnchoredBatches,
  type BatchOutcome,
  type EmbeddedBroker,
  SubmissionRejectedError,
  type GatewayOptions,
  type ReadingOutcome,
  type ReadingSubmitter,
  type SubmittedReadings,
  type SubmittedTx,
} from "../../src/gateway/index.js";
import { DOMAIN, FEED, FakeDirectory } from "../watchtower/helpers.js";

/** Shared helpers of the gateway tests. No describe() here. */

export function slotOf(r: SignedReading): string {
  const m = r.reading;
  return `${m.deviceId.toLowerCase()}:${m.feedId.toLowerCase()}:${m.sequence.toString()}`;
}

/**
 * A submitter that records every reading and batch it is given; `failures` (`anchorFailures`)
 * transient failures come first; `rejectNext` refuses the next submitReadings for good; `gate` (when
 * set) holds every call until resolved. anchorBatches records each group's size in `groups`, and
 * refuses (BatchRejected-like, "InvalidSignature") the batches whose root is in `refuseRoots`.
 */
export class FakeFeeds implements ReadingSubmitter {
  readonly calls: SignedReading[][] = [];
  readonly anchored: SignedBatch[] = [];
  readonly counts = new Map<string, number>();
  failures = 0;
  /** Transient failures of anchorBatch to come. */
  anchorFailures = 0;
  rejectNext = false;
  gate: Promise<void> | undefined;
  /** Sizes of the anchorBatches calls that went through, in order. */
  readonly groups: number[] = [];
  /** Roots (lower case) anchorBatches refuses. */
  readonly refuseRoots = new Set<string>();
  /** Roots refused by anchorBatches. */
  readonly refused: string[] = [];
  /**
   * What the feed makes of each reading of a call that goes through: a reason refuses it (as a
   * ReadingRejected inside a successful submitMany would), null accepts it. Default: all accepted.
   */
  refuseReading: (r: SignedReading) => string | null = () => null;

  async submitReadings(readings: readonly SignedReading[]): Promise<SubmittedReadings> {
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
    return {
      txHash: id(`tx-${String(this.calls.length)}`) as Hex,
      outcomes: readings.map((r): ReadingOutcome => {
        const reason = this.refuseReading(r);
        return reason === null ? { accepted: true } : { accepted: false, reason };
      }),
    };
  }

  async anchorBatch(batch: SignedBatch): Promise<SubmittedTx> {
    if (this.gate !== undefined) await this.gate;
    if (this.anchorFailures > 0) {
      this.anchorFailures--;
      throw new Error("connection reset");
    }
    this.anchored.push(batch);
    return { txHash: id(`anchor-${String(this.anchored.length)}`) as Hex };
  }

  async anchorBatches(batches: readonly SignedBatch[]): Promise<AnchoredBatches> {
    if (this.gate !== undefined) await this.gate;
    if (this.anchorFailures > 0) {
      this.anchorFailures--;
      throw new Error("connection reset");
    }
    this.groups.push(batches.length);
    const outcomes = batches.map((b): BatchOutcome => {
      const root = b.batch.root.toLowerCase();
      if (this.refuseRoots.has(root)) {
        this.refused.push(root);
        return { anchored: false, reason: "InvalidSignature" };
      }
      this.anchored.push(b);
      return { anchored: true };
    });
    return { txHash: id(`anchor-many-${String(this.groups.length)}`) as Hex, outcomes };
  }

  /** Roots anchored more than once. */
  anchoredTwice(): string[] {
    const seen = new Map<string, number>();
    for (const b of this.anchored) {
      const root = b.batch.root.toLowerCase();
      seen.set(root, (seen.get(root) ?? 0) + 1);
    }
    return [...seen].filter(([, n]) => n > 1).map(([k]) => k);
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
  predicate: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Call inside a describe(): runs an embedded aedes broker on a free loopback port for each test
 * (beforeEach / afterEach) and returns a getter for the current one.
 */
export function brokerPerTest(): () => EmbeddedBroker {
  let broker: EmbeddedBroker | undefined;
  beforeEach(async function () {
    broker = await startEmbeddedBroker({ port: 0 });
  });
  afterEach(async function () {
    await broker?.close();
    broker = undefined;
  });
  return () => {
    if (broker === undefined) throw new Error("brokerPerTest: no test is running");
    return broker;
  };
}

/** `count` unsigned readings of FEED for a batch, sequences from `from`, one second apart. */
export function batchOf(count: number, from = 1n): Omit<ReadingMessage, "deviceId">[] {
  return Array.from({ length: count }, (_, i) => ({
    feedId: FEED,
    sequence: from + BigInt(i),
    timestamp: 1_700_000_000n + from + BigInt(i),
    value: BigInt((i * 37) % 101) - 50n,
  }));
}

/** What the feed said of each reading, without the transaction that carried it. */
export function verdicts(
  outcomes: readonly ({ accepted: boolean; reason?: string } & { txHash?: unknown })[],
): { accepted: boolean; reason?: string }[] {
  return outcomes.map(({ txHash: _tx, ...verdict }) => verdict);
}

/**
 * Writes readings straight into a gateway store at `dbPath` (created if absent), in one transaction,
 * without a gateway: `submitted` rows first, then `rejected`, then `pending` ones, sequences from 1,
 * all of `template`'s device and feed and with its key and signature (so only a test that never
 * verifies them may submit them). Returns the readings left pending, as the gateway reloads them.
 */
export function fillStore(
  dbPath: string,
  counts: { readonly submitted: number; readonly rejected: number; readonly pending: number },
  template: SignedReading,
): SignedReading[] {
  new GatewayStore(dbPath, "NORMAL", 0).close(); // the schema
  const db = new DatabaseSync(dbPath);
  const insert = db.prepare(
    `INSERT INTO readings (device_id, feed_id, sequence, struct_hash, timestamp, value, key_type, key,
     signature, received_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const r = template.reading;
  const pending: SignedReading[] = [];
  const total = counts.submitted + counts.rejected + counts.pending;
  db.exec("BEGIN");
  for (let i = 1; i <= total; i++) {
    const status =
      i <= counts.submitted
        ? "submitted"
        : i <= counts.submitted + counts.rejected
          ? "rejected"
          : "pending";
    const sequence = BigInt(i);
    insert.run(
      r.deviceId.toLowerCase(),
      r.feedId.toLowerCase(),
      sequence.toString(),
      id(`reading-${String(i)}`),
      r.timestamp.toString(),
      r.value.toString(),
      template.key.keyType,
      template.key.key.toLowerCase(),
      template.signature.toLowerCase(),
      Date.now(),
      status,
    );
    if (status === "pending") pending.push({ ...template, reading: { ...r, sequence } });
  }
  db.exec("COMMIT");
  db.close();
  return pending;
}

/**
 * A submitter that takes `delayMs` per call, then records the call in `feeds` (a FakeFeeds): a chain
 * whose transactions are slow to confirm.
 */
export function slowSubmitter(feeds: FakeFeeds, delayMs: number): ReadingSubmitter {
  const later = async <T>(call: () => Promise<T>): Promise<T> => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return call();
  };
  return {
    submitReadings: (readings) => later(() => feeds.submitReadings(readings)),
    anchorBatch: (batch) => later(() => feeds.anchorBatch(batch)),
    anchorBatches: (batches) => later(() => feeds.anchorBatches(batches)),
  };
}

/** A fresh folder under the system temp folder for each test (`prefix` names it), removed after it. */
export function tempFolderPerTest(prefix: string): () => string {
  let dir: string | undefined;
  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async function () {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });
  return () => {
    if (dir === undefined) throw new Error("tempFolderPerTest: no test is running");
    return dir;
  };
}

/** A gateway's SQLite store itself (synchronous: recounts and inspections). */
export function sqliteOf(g: Gateway): GatewayStore {
  const store = g.readings;
  if (!(store instanceof SqliteReadingStore)) throw new Error("this gateway's store is not SQLite");
  return store.sqlite;
}
