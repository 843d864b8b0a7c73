import { type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { handleOpsRequest, startOpsServer, stopOpsServer } from "../service/ops-http.js";
import type { AddressInfo } from "node:net";
import { pino, type Logger } from "pino";
import { ZeroHash } from "ethers";
import {
  errorMessage,
  DeviceTrustError,
  deviceIdOf,
  keyHash,
  readingBatchStructHash,
  readingStructHash,
  type DeviceKey,
  type Domain,
  type Hex,
  type ReadingMessage,
  encodeReadings,
  isBatchedReading,
  isWatchedBatch,
  type Evidence,
  type MessageSource,
  type SignedBatch,
  type SignedReading,
  type WatchedBatch,
  type WatchedMessage,
} from "../protocol/index.js";
import { verifySignedMessage } from "../verify/index.js";
import { batchProblem, batchedReadingAt, leavesOf, type StoredBatch } from "./batch.js";
import { WatchtowerMetrics, type BatchResult, type MessageResult } from "./metrics.js";
import { KeyRetirements, evidenceSignedAt, type RetiredKey } from "./retired-keys.js";
import {
  EvidenceStore,
  type EvidencePruneResult,
  type ProofKind,
  type ProofRecord,
} from "./store.js";
import {
  EVIDENCE_USED,
  KEY_RETIRED,
  ProofRejectedError,
  WatchtowerError,
  type DeviceDirectory,
  type ProofSubmitter,
  type SensorRange,
  type SubmittedProof,
} from "./types.js";
import { ExpiringMap } from "../service/expiring-map.js";
import { RegistryEvents } from "../service/registry-events.js";
import { Retention } from "../service/retention.js";
import { withTimeout } from "../service/timeout.js";
import { LogLimiter, type LogLimit } from "../service/log-limiter.js";

/** How a failed submission is retried: attempts in all, with exponential backoff between them. */
export interface RetryPolicy {
  /** Attempts per run, the first included (default 5). */
  readonly attempts: number;
  /** The first wait, doubled after each failure (default 1000 ms). */
  readonly baseDelayMs: number;
  /** The longest wait (default 30000 ms). */
  readonly maxDelayMs: number;
}

export interface WatchtowerOptions {
  /** The deployment's EIP-712 domain (chain id, DeviceRegistry address): readings are signed under it. */
  readonly domain: Domain;
  /** The stream of signed readings to watch. */
  readonly source: MessageSource;
  /** Registry and proofs-contract lookups (cached here). */
  readonly directory: DeviceDirectory;
  /** Sends the proofs. */
  readonly submitter: ProofSubmitter;
  /** The address that receives the bounties of this watchtower's proofs. */
  readonly beneficiary: Hex;
  /** The SQLite file of evidence and proofs (created if absent; ":memory:" keeps nothing). */
  readonly dbPath: string;
  /** The HTTP server of /health and /metrics; `false` for none. Default: port 9464 on 127.0.0.1. */
  readonly http?: { readonly port: number; readonly host?: string } | false;
  /** A pino logger; default: JSON to stdout at `logLevel`. */
  readonly logger?: Logger;
  readonly logLevel?: string;
  readonly retry?: Partial<RetryPolicy>;
  /** How long a sensor-range answer (or its absence) is trusted, in ms (default 60000). */
  readonly rangeCacheTtlMs?: number;
  /**
   * How long the registry's "no" (a key nobody holds, a device it does not know) is believed, in ms
   * (default 30000): until then such messages cost no chain call.
   */
  readonly negativeCacheTtlMs?: number;
  /**
   * How long the registry's answer that a key is not rotated out is trusted, in ms (default 300000);
   * a KeyRotated event of its device (when the directory watches them) ends it at once. A retirement,
   * once known, is kept: it never changes. Before a proof is sent its keys are asked again.
   */
  readonly keyCacheTtlMs?: number;
  /** How long /health waits for the chain, in ms (default 3000). */
  readonly healthTimeoutMs?: number;
  /** Prefix of the metric names (default "watchtower_"). */
  readonly metricsPrefix?: string;
  /**
   * Messages and batches logged one by one at info level (those not stored), per result and
   * interval (default 10 per result per 60 s); the others are counted in one summary line per result
   * and interval. The metrics count every one.
   */
  readonly messageLog?: Partial<LogLimit>;
  /**
   * Retention, in ms (default: none, the store keeps everything): evidence received longer ago is
   * pruned (EvidenceStore.prune) every `retentionMs / 24` (at most hourly), except what an unfinished
   * proof names and what its claimed time still keeps provable. Set it to at least the proofs
   * contract's evidence window (FraudProofs.evidenceWindow(), 7 days by default, in seconds): older
   * evidence can no longer be proven, so nothing a proof could use is lost.
   */
  readonly retentionMs?: number;
  /**
   * The evidence store's durability (EvidenceStore): NORMAL (default) survives SIGKILL, FULL also a
   * power loss at an fsync per message. Proof decisions are synced either way.
   */
  readonly synchronous?: "NORMAL" | "FULL";
}

export interface HealthReport {
  readonly status: "ok" | "unavailable";
  readonly running: boolean;
  readonly chain: { readonly ok: boolean; readonly error?: string };
  readonly store: { readonly ok: boolean; readonly error?: string };
  readonly readings: number;
  readonly pendingProofs: number;
  readonly lastMessageAt: number | null;
}

const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 30_000 };
const STOPPED = Symbol("stopped");

/**
 * The watchtower: reads signed readings from a source, verifies each off chain (a canonical signature
 * by a key the registry says belongs to the reading's device), stores the first reading of each
 * (device, feed, sequence) in SQLite, and proves fraud by itself:
 * - equivocation: a valid reading whose (device, feed, sequence) holds another struct hash; one proof
 *   per (device, feed, sequence), even across restarts;
 * - out of bounds: a valid reading outside the sensor range the maker declared for the device's model
 *   (no declared range, no check); one proof per reading.
 * - equivocation inside batches: a verified signed batch (its root rebuilt from its readings, its one
 *   signature by the device's key) whose leaf conflicts with a single signed reading (seen before or
 *   after) or with a leaf of another signed batch of the same device and feed. Each batch is stored
 *   once (its readings, 48 bytes each) with its leaves, in one transaction; a leaf's Merkle proof is
 *   computed only when its conflict is proven. The proof key is the (device, feed, sequence), as for
 *   single readings (the contract counts one incident per conflicting pair, whatever its form), and at
 *   most one proof is decided per incoming batch (its first conflicting leaf);
 * - out of bounds inside batches: a verified signed batch with a leaf outside the declared range is
 *   proven by that leaf (its Merkle proof computed then). The proof key is the reading's, as for a
 *   single reading, so one reading is proven once whether it came alone or in a batch (the contract
 *   counts one incident for both forms); at most one such proof per incoming batch (its first leaf
 *   outside the range), also decided when the batch is seen again, so a crash in between is recovered.
 * Each proof is recorded as pending before it is sent, retried with bounded exponential backoff on
 * transient errors, and resumed at the next start if it did not finish. ProofsEvidenceUsed counts as
 * done. Invalid messages are dropped and counted.
 *
 * Rotated-out keys: FraudProofs counts a key a rotation retired only for evidence dated before the
 * retirement (ProofsKeyRetired), since after it the key may be anyone's (a leaked key is what the
 * rotation answers). A reading or batch signed by such a key and dated at or after its retirement
 * proves nothing against the device: it is kept in the store as evidence that someone still signs with
 * the old key (retiredKeyMessages), logged, counted (result retired_key), and goes no further, so it
 * takes no slot a later reading could conflict with. Before a proof is sent, its keys are asked again
 * (a rotation the watchtower had not heard of): a proof the chain would refuse for a retired key is
 * marked key-retired and not sent.
 */
export class Watchtower {
  readonly metrics: WatchtowerMetrics;
  readonly log: Logger;
  private readonly options: WatchtowerOptions;
  private readonly retry: RetryPolicy;
  private store: EvidenceStore | undefined;
  private server: Server | undefined;
  private intake: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = false;
  private stopSignal: (() => void) | undefined;
  private readonly stopped: Promise<typeof STOPPED>;
  private readonly keyOwners = new Map<Hex, Hex>();
  private readonly models = new Map<Hex, { maker: number; model: number }>();
  private readonly unknownKeys: ExpiringMap<Hex, true>;
  private readonly unknownDevices: ExpiringMap<Hex, true>;
  private readonly ranges = new Map<string, { range: SensorRange | null; at: number }>();
  private readonly retirements: KeyRetirements;
  private readonly registryEvents: RegistryEvents;
  /** How long a key's "not retired" answer is trusted without a KeyRotated event (default 5 minutes). */
  private readonly keyCacheTtlMs: number;
  private lastMessageAt: number | null = null;
  private readonly messageLog: LogLimiter;
  private readonly batchLog: LogLimiter;
  private readonly retention: Retention | undefined;

  constructor(options: WatchtowerOptions) {
    this.options = options;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.metrics = new WatchtowerMetrics(options.metricsPrefix);
    this.log = options.logger ?? pino({ name: "watchtower", level: options.logLevel ?? "info" });
    const limit = options.messageLog === undefined ? {} : { limit: options.messageLog };
    this.messageLog = new LogLimiter(this.log, { event: "message", keyField: "result", ...limit });
    this.batchLog = new LogLimiter(this.log, { event: "batch", keyField: "result", ...limit });
    this.keyCacheTtlMs = options.keyCacheTtlMs ?? 300_000;
    const retentionMs = options.retentionMs;
    if (retentionMs !== undefined && (!Number.isSafeInteger(retentionMs) || retentionMs <= 0)) {
      throw new WatchtowerError(
        "WATCHTOWER_RETENTION",
        `retentionMs must be a positive number of milliseconds (got ${String(retentionMs)}): give at least the proofs contract's evidence window`,
      );
    }
    this.retention =
      retentionMs === undefined
        ? undefined
        : new Retention({
            retentionMs,
            prune: (before) => {
              const p = this.evidence.prune(before);
              return {
                readings: p.readings,
                batches: p.batches,
                batch_leaves: p.batchLeaves,
                retired_key_messages: p.retiredKeyMessages,
              };
            },
            count: (table, n) => {
              this.metrics.pruned.inc({ table }, n);
            },
            log: this.log,
            what: "evidence pruned",
          });
    const negativeTtl = options.negativeCacheTtlMs ?? 30_000;
    this.unknownKeys = new ExpiringMap(negativeTtl, 1_000_000);
    this.unknownDevices = new ExpiringMap(negativeTtl, 1_000_000);
    this.registryEvents = new RegistryEvents(
      options.directory,
      {
        onKeyRotated: (deviceId, kh) => {
          this.onKeyRotated(deviceId, kh);
        },
        onRegistered: (deviceId) => {
          this.unknownDevices.delete(deviceId.toLowerCase() as Hex);
        },
        keyRotationsFallback: `rotations are learned within keyCacheTtlMs (${String(this.keyCacheTtlMs)} ms)`,
        registrationsFallback: "a new device's messages count within negativeCacheTtlMs",
      },
      this.log,
    );
    this.retirements = new KeyRetirements(options.directory, this.keyCacheTtlMs);
    this.stopped = new Promise((resolve) => {
      this.stopSignal = () => {
        resolve(STOPPED);
      };
    });
  }

  /**
   * Opens the store, resumes unfinished proofs, starts the HTTP server and the intake. Resolves once
   * all are running, with the HTTP address (null without a server).
   */
  async start(): Promise<AddressInfo | null> {
    if (this.store !== undefined) {
      throw new WatchtowerError("WATCHTOWER_STARTED", "this watchtower was already started");
    }
    this.store = new EvidenceStore(this.options.dbPath, this.options.synchronous);
    await this.registryEvents.start();
    const unfinished = this.store.unfinishedProofs();
    for (const proof of unfinished) this.launch(proof);
    let address: AddressInfo | null = null;
    const http = this.options.http ?? { port: 9464 };
    if (http !== false) {
      const ops = await startOpsServer(http, (req, res) => this.serve(req, res));
      this.server = ops.server;
      address = ops.address;
    }
    this.intake = this.consume();
    this.retention?.start();
    this.log.info(
      {
        event: "started",
        dbPath: this.options.dbPath,
        beneficiary: this.options.beneficiary,
        resumedProofs: unfinished.length,
        http: address === null ? null : `${address.address}:${String(address.port)}`,
      },
      "watchtower started",
    );
    return address;
  }

  /** Resolves when the source has ended (or intake stopped) and every submission has settled. */
  async drained(): Promise<void> {
    await this.intake;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Graceful stop: no new message is taken, the message in hand is finished, in-flight submissions
   * finish their current attempt (a proof whose retries are cut short stays pending and resumes at the
   * next start), then the HTTP server and the store close.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopSignal?.();
    const pruning = this.retention?.stop();
    this.log.info({ event: "stopping", inFlight: this.inFlight.size }, "watchtower stopping");
    await this.drained();
    await pruning;
    await this.registryEvents.stop();
    await stopOpsServer(this.server);
    this.messageLog.close();
    this.batchLog.close();
    this.store?.close();
    this.log.info({ event: "stopped" }, "watchtower stopped");
  }

  /**
   * Prunes the evidence received more than `retentionMs` ago (see WatchtowerOptions.retentionMs),
   * logs and counts what went; returns it. Runs on the retention timer; callable for tests and tasks.
   */
  async pruneNow(now = Date.now()): Promise<EvidencePruneResult | undefined> {
    if (this.retention === undefined || this.store?.isOpen !== true) return undefined;
    const pruned = await this.retention.run(now);
    return {
      readings: pruned.readings ?? 0,
      batches: pruned.batches ?? 0,
      batchLeaves: pruned.batch_leaves ?? 0,
      retiredKeyMessages: pruned.retired_key_messages ?? 0,
    };
  }

  /** The store (for inspection in tests and tasks); throws before start(). */
  get evidence(): EvidenceStore {
    if (this.store === undefined) {
      throw new WatchtowerError("WATCHTOWER_NOT_STARTED", "start() the watchtower first");
    }
    return this.store;
  }

  async health(): Promise<HealthReport> {
    let chain: HealthReport["chain"] = { ok: true };
    let store: HealthReport["store"] = { ok: true };
    try {
      const ms = this.options.healthTimeoutMs ?? 3000;
      await withTimeout(
        this.options.directory.ping(),
        ms,
        `the chain did not answer within ${String(ms)} ms`,
      );
    } catch (err: unknown) {
      chain = { ok: false, error: errorMessage(err) };
    }
    let readings = 0;
    let pendingProofs = 0;
    try {
      const s = this.evidence;
      s.check();
      readings = s.readingCount();
      pendingProofs = s.unfinishedProofCount();
    } catch (err: unknown) {
      store = { ok: false, error: errorMessage(err) };
    }
    return {
      status: chain.ok && store.ok ? "ok" : "unavailable",
      running: this.store !== undefined && !this.stopping,
      chain,
      store,
      readings,
      pendingProofs,
      lastMessageAt: this.lastMessageAt,
    };
  }

  // ------------------------------------------------------------------ HTTP

  private serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return handleOpsRequest(
      {
        health: () => this.health(),
        metrics: this.metrics,
        onError: (err: unknown) => {
          this.log.error({ event: "http_error", err: errorMessage(err) }, "HTTP handler failed");
        },
      },
      req,
      res,
    );
  }

  // ------------------------------------------------------------------ intake

  private async consume(): Promise<void> {
    const iterator = this.options.source[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), this.stopped]);
        if (next === STOPPED || next.done === true) break;
        const m = next.value;
        if (isWatchedBatch(m)) await this.handleBatch(m);
        else await this.handle(m);
        // The source acknowledges this message when the next is asked for, or its gateway waits for
        // it to be durable: commit it first.
        if (this.options.source.acknowledges === true || (!isWatchedBatch(m) && m.durable)) {
          this.store?.commitGroup();
        }
        if (!isWatchedBatch(m)) m.durable?.();
      }
    } catch (err: unknown) {
      this.log.error(
        { event: "source_failed", err: errorMessage(err) },
        "the message source failed",
      );
    } finally {
      if (this.stopping) {
        // The source may be blocked in next(): ask it to end without waiting for it.
        iterator.return?.().catch(() => undefined);
      }
      this.log.info({ event: "intake_ended" }, "no more messages are taken");
    }
  }

  /**
   * Counts a message by result and logs it: stored and duplicate ones at debug level, the others at
   * info level, the first few per result and interval (messageLog).
   */
  private count(result: MessageResult, m: WatchedMessage, extra: object = {}): void {
    this.metrics.messages.inc({ result });
    const quiet = result === "stored" || result === "duplicate";
    // Most messages are stored: their debug line is not built unless it is written.
    if (quiet && !this.log.isLevelEnabled("debug")) return;
    const fields = {
      event: "message",
      result,
      deviceId: m.reading.deviceId,
      feedId: m.reading.feedId,
      sequence: m.reading.sequence.toString(),
      ...(m.origin === undefined ? {} : { origin: m.origin }),
      ...extra,
    };
    if (quiet) this.log.debug(fields, `message ${result}`);
    else this.messageLog.info(result, fields, `message ${result}`);
  }

  /** Verifies, stores and judges one message. Never throws: a failure is logged and counted. */
  async handle(m: WatchedMessage): Promise<void> {
    const now = Date.now();
    this.lastMessageAt = now;
    this.metrics.lastMessage.set(now / 1000);
    let hash: Hex;
    try {
      // keccak in WebAssembly (src/protocol/hash.ts): ethers' TypedDataEncoder was a sixth of the cost.
      hash = `0x${readingStructHash(m.reading).toString("hex")}`;
    } catch (err: unknown) {
      this.metrics.messages.inc({ result: "malformed" });
      this.messageLog.info(
        "malformed",
        { event: "message", result: "malformed", err: errorMessage(err) },
        "malformed",
      );
      return;
    }
    try {
      const verdict =
        m.verified === true
          ? "valid"
          : verifySignedMessage(
              this.options.domain,
              { kind: "Reading", message: m.reading, key: m.key, signature: m.signature },
              { currentKeyHash: keyHash(m.key) },
            );
      if (verdict !== "valid") {
        this.count("invalid_signature", m, { verdict });
        return;
      }
      if (!(await this.ownsKey(m.reading.deviceId, m.key))) {
        this.count("wrong_device", m, { keyHash: keyHash(m.key) });
        return;
      }
      if (!(await this.isRegistered(m.reading.deviceId))) {
        this.count("unknown_device", m);
        return;
      }
      const retired = await this.retirements.refusing(
        m.reading.deviceId,
        m.key,
        m.reading.timestamp,
      );
      if (retired !== undefined) {
        this.count("retired_key", m, retiredFields(retired));
        this.keepRetiredKeyMessage(hash, m.reading.deviceId, m, retired, now);
        return;
      }
      const { inserted, first } = this.evidence.putFirst(m, hash, now);
      if (inserted) {
        this.count("stored", m);
        this.checkAgainstBatch(m, hash);
      } else if (first.structHash === hash) {
        this.count("duplicate", m);
        // Checked again: a conflict with a batch leaf cut short by a crash is found at redelivery.
        this.checkAgainstBatch(m, hash);
        return;
      } else {
        this.count("conflict", m, { first: first.structHash, second: hash });
        this.detected("equivocation", slotKey(m), [first.signed, m]);
      }
      await this.checkBounds(m, hash);
    } catch (err: unknown) {
      this.count("error", m, { err: errorMessage(err) });
    }
  }

  /** A single reading whose slot holds a batch leaf with other content: a batch equivocation. */
  private checkAgainstBatch(m: SignedReading, hash: Hex): void {
    const r = m.reading;
    const store = this.evidence;
    const leaf = store.batchLeaf(r.deviceId, r.feedId, r.sequence);
    if (leaf === undefined || leaf.structHash === hash) return;
    const proofKey = slotKey(m);
    this.log.info(
      {
        event: "message",
        result: "conflict",
        deviceId: r.deviceId,
        feedId: r.feedId,
        sequence: r.sequence.toString(),
        batchLeaf: leaf.structHash,
        reading: hash,
      },
      "reading conflicts with a batch leaf",
    );
    if (store.proof(proofKey) !== undefined) return;
    const batched = batchedReadingAt(store.batch(leaf.batchId), leaf.leafIndex);
    this.detected("batch-equivocation", proofKey, [batched, m]);
  }

  /** Counts a batch by result and logs it, as count() does for single messages. */
  private countBatch(result: BatchResult, m: WatchedBatch, extra: object = {}): void {
    this.metrics.batches.inc({ result });
    const b = m.signed.batch;
    const fields = {
      event: "batch",
      result,
      deviceId: b.deviceId,
      feedId: b.feedId,
      firstSequence: b.firstSequence.toString(),
      lastSequence: b.lastSequence.toString(),
      count: b.count.toString(),
      ...(m.origin === undefined ? {} : { origin: m.origin }),
      ...extra,
    };
    if (result === "stored" || result === "duplicate") this.log.debug(fields, `batch ${result}`);
    else this.batchLog.info(result, fields, `batch ${result}`);
  }

  /**
   * Verifies, stores and judges one signed batch: its readings must rebuild its root, its signature be
   * the device's; then the batch and its leaves are written in one transaction, which also decides the
   * proof of its first conflicting leaf. Never throws: a failure is logged and counted.
   */
  async handleBatch(m: WatchedBatch): Promise<void> {
    const now = Date.now();
    this.lastMessageAt = now;
    this.metrics.lastMessage.set(now / 1000);
    const { batch, key, signature } = m.signed;
    let stored: StoredBatch;
    let readings: readonly ReadingMessage[];
    let hash: Hex;
    try {
      hash = `0x${readingBatchStructHash(batch).toString("hex")}`;
      readings = m.readings();
      stored = { batch, key, signature, readings: encodeReadings(readings) };
    } catch (err: unknown) {
      this.countBatch("malformed", m, { err: errorMessage(err) });
      return;
    }
    try {
      const problem = batchProblem(stored);
      if (problem !== null) {
        this.countBatch(problem, m);
        return;
      }
      const verdict = verifySignedMessage(
        this.options.domain,
        { kind: "ReadingBatch", message: batch, key, signature },
        { currentKeyHash: keyHash(key) },
      );
      if (verdict !== "valid") {
        this.countBatch("invalid_signature", m, { verdict });
        return;
      }
      if (!(await this.ownsKey(batch.deviceId, key))) {
        this.countBatch("wrong_device", m, { keyHash: keyHash(key) });
        return;
      }
      if (!(await this.isRegistered(batch.deviceId))) {
        this.countBatch("unknown_device", m);
        return;
      }
      // A verified batch's toTimestamp is its latest reading's (batchProblem): the time it claims.
      const retired = await this.retirements.refusing(batch.deviceId, key, batch.toTimestamp);
      if (retired !== undefined) {
        this.countBatch("retired_key", m, retiredFields(retired));
        this.keepRetiredKeyMessage(hash, batch.deviceId, m.signed, retired, now);
        return;
      }
      const leaves = leavesOf(stored);
      const store = this.evidence;
      const { inserted, conflicts, record } = store.transaction(() => {
        const put = store.putBatch(stored, hash, leaves, now);
        const c = put.conflicts[0];
        if (c === undefined) return { ...put, record: undefined };
        const proofKey = slotKey({ reading: { ...batch, sequence: c.sequence } });
        if (store.proof(proofKey) !== undefined) return { ...put, record: undefined };
        const leaf = batchedReadingAt(stored, c.index);
        const decided =
          c.against.kind === "single"
            ? this.decide("batch-equivocation", proofKey, [leaf, c.against.first.signed])
            : this.decide("batch-pair-equivocation", proofKey, [
                batchedReadingAt(store.batch(c.against.leaf.batchId), c.against.leaf.leafIndex),
                leaf,
              ]);
        return { ...put, record: decided };
      });
      if (conflicts.length > 0) {
        const first = conflicts[0];
        this.countBatch("conflict", m, {
          conflicts: conflicts.length,
          sequence: first?.sequence.toString(),
          against: first?.against.kind,
        });
      } else this.countBatch(inserted ? "stored" : "duplicate", m);
      if (record !== undefined) this.launch(record);
      await this.checkBatchBounds(stored, readings, leaves);
    } catch (err: unknown) {
      this.countBatch("error", m, { err: errorMessage(err) });
    }
  }

  /** Whether the registry says the signing key is (or was) the device's. */
  private async ownsKey(device: Hex, key: DeviceKey): Promise<boolean> {
    const deviceId = device.toLowerCase() as Hex;
    // A device's first key hashes to its id: no need to ask the chain.
    if (deviceIdOf(key) === deviceId) return true;
    const kh = keyHash(key);
    let owner = this.keyOwners.get(kh);
    if (owner === undefined) {
      // An unknown key may be registered later: "nobody" is believed for negativeCacheTtlMs only.
      if (this.unknownKeys.get(kh) === true) return false;
      owner = (await this.options.directory.keyOwner(kh)).toLowerCase() as Hex;
      // A key's owner never changes once set.
      if (owner !== ZeroHash) this.keyOwners.set(kh, owner);
      else this.unknownKeys.set(kh, true);
    }
    return owner === deviceId;
  }

  /**
   * Whether the registry knows the device (its model is cached once known). Messages of a device it
   * does not know prove nothing (FraudProofs needs the device's key in the registry) and are not
   * stored: a flood of unregistered keys fills no database. A "no" holds for negativeCacheTtlMs, so
   * such a flood costs one chain call per device and period, not one per message.
   */
  private async isRegistered(device: Hex): Promise<boolean> {
    const deviceId = device.toLowerCase() as Hex;
    if (this.models.has(deviceId)) return true;
    if (this.unknownDevices.get(deviceId) === true) return false;
    const model = await this.options.directory.deviceModel(deviceId);
    if (model.maker === 0) {
      this.unknownDevices.set(deviceId, true);
      return false;
    }
    this.models.set(deviceId, model);
    return true;
  }

  /**
   * Keeps a message whose key was retired by its date (once per message) and, the first time, says
   * so at warn level: the device's old key still signs.
   */
  private keepRetiredKeyMessage(
    messageHash: Hex,
    deviceId: Hex,
    message: SignedReading | SignedBatch,
    retired: RetiredKey,
    now: number,
  ): void {
    const device = deviceId.toLowerCase() as Hex;
    const kept = this.evidence.addRetiredKeyMessage(
      messageHash,
      { deviceId: device, ...retired, message },
      now,
    );
    if (!kept) return;
    this.log.warn(
      { event: "retired_key_message", deviceId: device, messageHash, ...retiredFields(retired) },
      "a key rotated out before this message's time signed it: no proof applies; if the operator did not sign it, the old key has leaked",
    );
  }

  /** A KeyRotated event: what was known of the device's keys being current is stale. */
  private onKeyRotated(deviceId: Hex, newKeyHash: Hex): void {
    this.retirements.onRotation(deviceId);
    this.log.debug({ event: "key_rotated", deviceId, keyHash: newKeyHash }, "device key rotated");
  }

  private async rangeOf(deviceId: Hex): Promise<SensorRange | null> {
    let model = this.models.get(deviceId);
    if (model === undefined) {
      model = await this.options.directory.deviceModel(deviceId);
      if (model.maker === 0) return null; // not registered (yet): nothing declared for it
      this.models.set(deviceId, model);
    }
    const key = `${String(model.maker)}/${String(model.model)}`;
    const cached = this.ranges.get(key);
    const ttl = this.options.rangeCacheTtlMs ?? 60_000;
    if (cached !== undefined && Date.now() - cached.at < ttl) return cached.range;
    const range = await this.options.directory.sensorRange(model.maker, model.model);
    this.ranges.set(key, { range, at: Date.now() });
    return range;
  }

  private async checkBounds(m: SignedReading, hash: Hex): Promise<void> {
    const range = await this.rangeOf(m.reading.deviceId.toLowerCase() as Hex);
    if (range === null || !outside(range, m.reading.value)) return;
    this.logOutOfBounds(m.reading, range);
    this.detected("out-of-bounds", boundsKey(hash), [m]);
  }

  /**
   * The first leaf of a verified batch outside its model's declared range, unless that reading's proof
   * was decided before (alone or in a batch): its evidence, with the Merkle proof built only now.
   */
  private async checkBatchBounds(
    stored: StoredBatch,
    readings: readonly ReadingMessage[],
    leaves: Buffer,
  ): Promise<void> {
    const range = await this.rangeOf(stored.batch.deviceId.toLowerCase() as Hex);
    if (range === null) return;
    const index = readings.findIndex((r) => outside(range, r.value));
    const reading = readings[index];
    if (reading === undefined) return;
    const proofKey = boundsKey(`0x${leaves.toString("hex", index * 32, index * 32 + 32)}`);
    if (this.evidence.proof(proofKey) !== undefined) return;
    this.logOutOfBounds(reading, range, { batchRoot: stored.batch.root, leafIndex: index });
    this.detected("batch-out-of-bounds", proofKey, [batchedReadingAt(stored, index)]);
  }

  private logOutOfBounds(r: ReadingMessage, range: SensorRange, extra: object = {}): void {
    this.log.warn(
      {
        event: "out_of_bounds",
        deviceId: r.deviceId,
        sequence: r.sequence.toString(),
        value: r.value.toString(),
        min: range.min.toString(),
        max: range.max.toString(),
        ...extra,
      },
      "reading outside its sensor's declared range",
    );
  }

  // ------------------------------------------------------------------ proofs

  /** Records a detection and launches its proof, unless this proof was decided before. */
  private detected(kind: ProofKind, proofKey: string, evidence: readonly Evidence[]): void {
    const record = this.decide(kind, proofKey, evidence);
    if (record !== undefined) this.launch(record);
  }

  /** Records the decision to prove (pending); undefined when this proof was decided before. */
  private decide(
    kind: ProofKind,
    proofKey: string,
    evidence: readonly Evidence[],
  ): ProofRecord | undefined {
    const first = evidence[0];
    if (first === undefined) return undefined;
    const deviceId = first.reading.deviceId.toLowerCase() as Hex;
    if (!this.evidence.addProof(proofKey, kind, deviceId, evidence)) {
      this.log.debug({ event: "already_decided", proofKey }, "proof already decided");
      return undefined;
    }
    if (kind === "out-of-bounds" || kind === "batch-out-of-bounds") this.metrics.outOfBounds.inc();
    else this.metrics.equivocations.inc();
    if (kind === "batch-equivocation" || kind === "batch-pair-equivocation") {
      this.metrics.batchEquivocations.inc();
    }
    if (kind === "batch-out-of-bounds") this.metrics.batchOutOfBounds.inc();
    this.log.warn({ event: "fraud_detected", kind, proofKey, deviceId }, `${kind} detected`);
    return this.evidence.proof(proofKey);
  }

  private launch(record: ProofRecord): void {
    const p = this.submit(record).catch((err: unknown) => {
      this.log.error(
        { event: "submit_crashed", err: errorMessage(err) },
        "proof submission crashed",
      );
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private send(record: ProofRecord): Promise<SubmittedProof> {
    const { beneficiary, submitter } = this.options;
    const [a, b] = record.evidence;
    const malformed = (): WatchtowerError =>
      new WatchtowerError(
        "WATCHTOWER_NO_EVIDENCE",
        `the evidence of ${record.kind} proof ${record.proofKey} does not fit its kind: the store is damaged; delete this proof's row to drop it`,
      );
    if (a === undefined) throw malformed();
    switch (record.kind) {
      case "equivocation":
        if (b === undefined || isBatchedReading(a) || isBatchedReading(b)) throw malformed();
        return submitter.proveEquivocation(a, b, beneficiary);
      case "batch-equivocation":
        if (b === undefined || !isBatchedReading(a) || isBatchedReading(b)) throw malformed();
        return submitter.proveBatchEquivocation(a, b, beneficiary);
      case "batch-pair-equivocation":
        if (b === undefined || !isBatchedReading(a) || !isBatchedReading(b)) throw malformed();
        return submitter.proveBatchPairEquivocation(a, b, beneficiary);
      case "out-of-bounds":
        if (isBatchedReading(a)) throw malformed();
        return submitter.proveOutOfBounds(a, beneficiary);
      case "batch-out-of-bounds":
        if (!isBatchedReading(a)) throw malformed();
        return submitter.proveBatchOutOfBounds(a, beneficiary);
    }
  }

  private async submit(record: ProofRecord): Promise<void> {
    const store = this.evidence;
    const key = record.proofKey;
    let attempts = record.attempts;
    for (let i = 0; i < this.retry.attempts; i++) {
      attempts++;
      try {
        // Asked again now (a lookup error is retried like a failed send): the chain refuses a proof
        // whose key was rotated out by its evidence's date.
        const refused = await this.retirements.refusingEvidence(record.evidence);
        if (refused !== undefined) {
          this.keyRetired(record, attempts, refused.piece, refused.retired);
          return;
        }
        const done = await this.send(record);
        store.updateProof(key, {
          status: "submitted",
          attempts,
          incident: done.incident,
          txHash: done.txHash,
        });
        this.metrics.proofs.inc({ result: "submitted" });
        this.log.info(
          { event: "proof_submitted", proofKey: key, kind: record.kind, ...done },
          "proof accepted",
        );
        return;
      } catch (err: unknown) {
        if (err instanceof ProofRejectedError && err.code === KEY_RETIRED) {
          // A rotation landed after the check above: the contract names the key and the dates.
          const [, kh, retiredAt, signedAt] = err.args;
          const ofKey = record.evidence.filter(
            (e) => keyHash(e.key).toLowerCase() === String(kh).toLowerCase(),
          );
          const piece = ofKey.find((e) => evidenceSignedAt(e) === signedAt) ?? ofKey[0];
          if (
            piece !== undefined &&
            typeof retiredAt === "bigint" &&
            typeof signedAt === "bigint"
          ) {
            this.keyRetired(record, attempts, piece, {
              keyHash: String(kh).toLowerCase() as Hex,
              retiredAt,
              signedAt,
            });
            return;
          }
        }
        if (err instanceof ProofRejectedError) {
          const used = err.code === EVIDENCE_USED;
          store.updateProof(key, {
            status: used ? "already-proven" : "rejected",
            attempts,
            error: err.message,
          });
          this.metrics.proofs.inc({ result: used ? "already_proven" : "rejected" });
          this.log[used ? "info" : "error"](
            {
              event: used ? "proof_already_proven" : "proof_rejected",
              proofKey: key,
              code: err.code,
            },
            err.message,
          );
          return;
        }
        const last = i === this.retry.attempts - 1 || this.stopping;
        const reason =
          err instanceof DeviceTrustError ? `${err.code}: ${err.message}` : errorMessage(err);
        if (last) {
          // Stopped: stays pending for the next start; out of attempts: failed (also resumed then).
          store.updateProof(key, {
            status: this.stopping ? "pending" : "failed",
            attempts,
            error: reason,
          });
          if (!this.stopping) this.metrics.proofs.inc({ result: "failed" });
          this.log.error(
            {
              event: "proof_failed",
              proofKey: key,
              attempts,
              err: reason,
              stopping: this.stopping,
            },
            "proof not submitted: retried at the next start",
          );
          return;
        }
        this.metrics.proofs.inc({ result: "retried" });
        const delay = Math.min(this.retry.baseDelayMs * 2 ** i, this.retry.maxDelayMs);
        this.log.warn(
          { event: "proof_retry", proofKey: key, attempts, delayMs: delay, err: reason },
          "proof submission failed; retrying",
        );
        await this.sleep(delay);
      }
    }
  }

  /**
   * A decided proof that the chain refuses (or would): `piece` was signed by a key rotated out by its
   * date. Marked key-retired (final, not sent again), the piece kept as a retired-key message.
   */
  private keyRetired(
    record: ProofRecord,
    attempts: number,
    piece: Evidence,
    retired: RetiredKey,
  ): void {
    const signed: SignedReading | SignedBatch = isBatchedReading(piece)
      ? { batch: piece.batch, key: piece.key, signature: piece.signature }
      : piece;
    const messageHash: Hex = isBatchedReading(piece)
      ? `0x${readingBatchStructHash(piece.batch).toString("hex")}`
      : `0x${readingStructHash(piece.reading).toString("hex")}`;
    this.keepRetiredKeyMessage(messageHash, piece.reading.deviceId, signed, retired, Date.now());
    const reason = `${KEY_RETIRED}: key ${retired.keyHash} was rotated out at ${retired.retiredAt.toString()}, at or before the evidence's time ${retired.signedAt.toString()}: no proof applies`;
    this.evidence.updateProof(record.proofKey, { status: "key-retired", attempts, error: reason });
    this.metrics.proofs.inc({ result: "key_retired" });
    this.log.warn(
      {
        event: "proof_key_retired",
        proofKey: record.proofKey,
        kind: record.kind,
        ...retiredFields(retired),
      },
      "proof not sent: a key of its evidence was rotated out by the evidence's time",
    );
  }

  /** Waits `ms`, or less if the watchtower stops meanwhile. */
  private async sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
      this.stopped,
    ]);
    clearTimeout(timer);
  }
}

/** A retirement as log fields (bigints as decimal strings). */
function retiredFields(r: RetiredKey): Record<string, string> {
  return {
    keyHash: r.keyHash,
    retiredAt: r.retiredAt.toString(),
    signedAt: r.signedAt.toString(),
  };
}

/** Whether `value` lies outside the declared (inclusive) range. */
function outside(range: SensorRange, value: bigint): boolean {
  return value < range.min || value > range.max;
}

/**
 * The proof key of an out-of-bounds reading (alone or as a batch leaf), by its struct hash: the
 * contract's incident id is that hash too, so each reading is proven once in either form.
 */
function boundsKey(structHash: Hex): string {
  return `out-of-bounds:${structHash.toLowerCase()}`;
}

/** The proof key of an equivocation (in any form): one proof per (device, feed, sequence). */
function slotKey(m: {
  readonly reading: { readonly deviceId: Hex; readonly feedId: Hex; readonly sequence: bigint };
}): string {
  const r = m.reading;
  return `equivocation:${r.deviceId.toLowerCase()}:${r.feedId.toLowerCase()}:${r.sequence.toString()}`;
}
