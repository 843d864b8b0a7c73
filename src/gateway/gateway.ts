import { type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { IClientOptions } from "mqtt";
import { pino, type Logger } from "pino";
import {
  errorMessage,
  BATCH_HEADER_LENGTH,
  BATCH_READING_LENGTH,
  type DeviceKey,
  type Domain,
  type Hex,
  type SignedReading,
  batchReadings,
  checkBatch,
  decodeBatch,
  type DecodedBatch,
  readingBatchStructHash,
  readingDigester,
  readingStructHash,
  BATCH_FILTER,
  READING_FILTER,
  RECOVERY_FILTER,
  decodeReading,
  parseRecoveryTopic,
  parseTopic,
  readingSubscription,
} from "../protocol/index.js";
import {
  checkDeviceSignature,
  type SignatureVerdict,
  type VerifyPoolOptions,
} from "../verify/index.js";
import { handleOpsRequest, startOpsServer, stopOpsServer } from "../service/ops-http.js";
import { RegistryEvents } from "../service/registry-events.js";
import { LogLimiter, type LogLimit } from "../service/log-limiter.js";
import { Retention } from "../service/retention.js";
import { withTimeout } from "../service/timeout.js";
import type { RateLimit } from "./admission.js";
import { DeviceGate } from "./device-gate.js";
import { GatewayMetrics, type RejectReason } from "./metrics.js";
import { MqttIntake } from "./mqtt-intake.js";
import {
  PqRecoveryIntake,
  dropRecoveryOff,
  type PendingRecovery,
  type PqRecoveryOptions,
} from "./recovery-intake.js";
import type { PruneResult, ReadingStore, StoreWrite, StoreWriteResult } from "./reading-store.js";
import { SignatureChecks } from "./signature-checks.js";
import { SqliteReadingStore } from "./sqlite-reading-store.js";
import { WriteGroups } from "./write-groups.js";
import { DEFAULT_BACKOFF, settlesBy, Submission, type BackoffPolicy } from "./submission.js";
import {
  GatewayError,
  type BatchSink,
  type KeyDirectory,
  type MessageSink,
  type ReadingSubmitter,
} from "./types.js";

export type { BackoffPolicy } from "./submission.js";

export interface GatewayOptions {
  /** The deployment's EIP-712 domain (chain id, DeviceRegistry address). */
  readonly domain: Domain;
  /** Registry lookups: who owns a key, each device's current key, key rotations (cached). */
  readonly directory: KeyDirectory;
  /** Where verified readings go; called one batch at a time. */
  readonly submitter: ReadingSubmitter;
  /**
   * The SQLite queue (created if absent). Restart on the same file to resume. Ignored when `store`
   * is given.
   */
  readonly dbPath: string;
  /**
   * An opened store to use instead of the SQLite file at dbPath: a PostgreSQL store (pg-store.ts)
   * shared with other gateway instances. The gateway closes it when it stops.
   */
  readonly store?: ReadingStore;
  /**
   * Shared stores: how long a reading waits in the store before it is submitted, in ms (default 250),
   * so that a device's readings other instances are still writing join it in sequence order.
   */
  readonly settleMs?: number;
  /**
   * Shared stores: how long a reading waits at most for its device's missing earlier sequences, in
   * ms (default 2000): they may still be on their way through another instance.
   */
  readonly gapWaitMs?: number;
  /** The broker, e.g. mqtt://127.0.0.1:1883. */
  readonly brokerUrl: string;
  /**
   * The MQTT client id: keep it across restarts (the broker keeps the session and the QoS 1 messages
   * that arrive while the gateway is down). Default "devicetrust-gateway".
   */
  readonly clientId?: string;
  /** Share the subscription with other gateways of this group ($share/<group>/...). */
  readonly sharedGroup?: string;
  /** Extra mqtt client options (credentials, TLS). */
  readonly mqtt?: IClientOptions;
  /** Readings per submission (default 64). */
  readonly batchSize?: number;
  /** A partial batch goes once its oldest reading waited this long (default 1000 ms). */
  readonly batchIntervalMs?: number;
  /**
   * Accepted readings waiting for submission at most; when reached (counting the messages in
   * flight), the gateway stops reading from the broker (TCP backpressure) until submissions catch up.
   * Default 10000.
   */
  readonly maxQueue?: number;
  readonly backoff?: Partial<BackoffPolicy>;
  /**
   * Accepted batches waiting to be anchored at most (default 1000); like maxQueue, a full batch
   * queue pauses the intake.
   */
  readonly maxBatchQueue?: number;
  /**
   * Device-signed batches anchored in one transaction at most (default 32), when the submitter has
   * anchorBatches; otherwise one per transaction.
   */
  readonly maxBatchesPerTx?: number;
  /**
   * Messages taken from the broker and not yet acknowledged at most (default 256). Within this
   * window the gateway reads on while earlier messages are verified, and the writes of those that
   * arrived together go to SQLite in one transaction; acknowledgements are sent in arrival order
   * once the message is persisted (or dropped).
   */
  readonly maxInFlight?: number;
  /**
   * Worker threads that verify signatures (default 0: on the gateway's thread). With n > 0 a
   * VerifyPool starts at open() and stops at stop(), after the messages in hand are settled; the
   * messages of one read from the broker go to the workers together (one batch), and the gateway's
   * thread keeps MQTT, decoding and storage. Verdicts are the same. A pool error that is no verdict (a
   * worker that died on the batch each time it was sent, a pool past its maxPending) leaves the
   * message unacknowledged: the broker redelivers it. Default 0: on the 2-core bench machine, end to
   * end over Mosquitto (bench/results.json, gateway.mqtt.p256.single.workers0/1/2), 1 worker gained
   * up to ~1.4x over inline in some runs and nothing in others (Mosquitto, the device simulator and
   * other work share those 2 cores), and with the broker's persistence on the broker, not
   * verification, sets the rate; give 1 or more where the gateway has cores of its own.
   */
  readonly verifyWorkers?: number;
  /** The pool's other options (batch size, retries, maxPending, a test's worker script). */
  readonly verifyPool?: Omit<VerifyPoolOptions, "workers">;
  /** Writes grouped into one SQLite transaction at most (default 512). */
  readonly persistGroupSize?: number;
  /**
   * How long a write waits for others to join its transaction, in ms. Default 0: until the event
   * loop has handled what already arrived (setImmediate), which adds no latency to a lone message.
   */
  readonly persistDelayMs?: number;
  /** Every well-formed message is handed here (awaited) before it is acknowledged: a watchtower. */
  readonly sink?: MessageSink;
  /**
   * True when the sink calls each message's `durable` once it has committed it (a watchtower in this
   * process through WatchtowerLink or SinkSource): the gateway then acknowledges a conflict only after
   * the watchtower holds the pair durably. Default false (a sink that never calls it would stall).
   */
  readonly sinkCommits?: boolean;
  /**
   * Every well-formed batch message is handed here (awaited) before it is acknowledged. A watchtower
   * takes signed readings only (WatchedMessage), so batches have a sink of their own.
   */
  readonly batchSink?: BatchSink;
  /** /health and /metrics; `false` for none. Default port 9465 on 127.0.0.1. */
  readonly http?: { readonly port: number; readonly host?: string } | false;
  readonly logger?: Logger;
  readonly logLevel?: string;
  readonly metricsPrefix?: string;
  /** SQLite durability: NORMAL (default) survives SIGKILL, FULL also a power loss. */
  readonly synchronous?: "NORMAL" | "FULL";
  /** How long /health waits for the chain, in ms (default 3000). */
  readonly healthTimeoutMs?: number;
  /**
   * How long stop() may take, in ms (default 10000): past it the gateway closes even if the
   * submission in flight has not returned (its rows stay pending, as after a crash).
   */
  readonly stopTimeoutMs?: number;
  /**
   * Rejected messages logged one by one, per reason and interval (default 10 per reason per 60 s);
   * the others are counted in one summary line per reason and interval. metrics.rejected counts all.
   */
  readonly rejectLog?: Partial<LogLimit>;
  /**
   * How long the registry's answer to "which is this device's current key" is trusted, in ms (default
   * 300000). A KeyRotated event (when the directory watches them) updates it at once, and a message
   * signed by another key of the device makes the gateway ask again before deciding; this bounds how
   * long a missed event can go unnoticed.
   */
  readonly keyCacheTtlMs?: number;
  /**
   * How long a "no" from the chain is believed, in ms (default 30000): a key no device holds, an
   * unregistered or inactive device, a device that is not a member of the feed it reports to. Such
   * messages cost a map lookup, not a chain call, until it expires (a DeviceRegistered event clears it
   * at once when the directory follows them).
   */
  readonly negativeCacheTtlMs?: number;
  /** Readings dated more than this ahead of the gateway's clock are refused (default 30000 ms). */
  readonly maxClockSkewMs?: number;
  /**
   * The clock a message's date is compared with, in ms (default Date.now). `gateway start` gives
   * the chain's clock when it is ahead of this machine's (a development chain whose time was moved):
   * the feeds judge dates by block time. With `recheck`, a message that looks dated in the future
   * makes the gateway read the clock afresh once (the chain's time may have jumped) before refusing.
   */
  readonly clock?: { readonly now: () => number; readonly recheck?: () => Promise<number> };
  /**
   * Retention, in ms (default: none, the store keeps everything). Submitted and rejected rows received
   * longer ago are pruned every `retentionMs / 24` (at most hourly; pending rows never are), and
   * readings and batches dated before the window are refused as stale, so that a replay cannot fill a
   * pruned slot again. Give at least the feeds' maximum reading age and the proofs contract's
   * evidence window (FraudProofs.evidenceWindow(), 7 days by default): the feeds refuse older
   * readings anyway, and no proof can use them.
   */
  readonly retentionMs?: number;
  /** The largest single-reading payload accepted, in bytes (default 4096). */
  readonly maxReadingBytes?: number;
  /** The largest batch payload accepted, in bytes (default: a batch of 4,096 readings). */
  readonly maxBatchBytes?: number;
  /**
   * Each device's allowance of new messages (default 20 a second, bursts of 200), or false for none.
   * Only verified messages of the device's current key with a sequence above the last it had
   * accepted count: nobody can spend a device's allowance by replaying its old messages.
   */
  readonly deviceRate?: RateLimit | false;
  /**
   * Post-quantum key recovery requests (`dt/devicetrust/recovery/<deviceId>`, recovery-intake.ts): LMS
   * ones verified and sent to PqKeyRecovery from its account, ML-DSA-44 ones verified and recorded for
   * governance (GET /recoveries lists those pending). Default none: such messages are dropped as
   * recovery_off.
   */
  readonly pqRecovery?: PqRecoveryOptions;
}

export interface GatewayHealth {
  readonly status: "ok" | "unavailable";
  readonly running: boolean;
  readonly mqtt: { readonly connected: boolean };
  readonly chain: { readonly ok: boolean; readonly error?: string };
  readonly store: { readonly ok: boolean; readonly error?: string };
  readonly queued: number;
  readonly submitted: number;
  readonly queuedBatches: number;
  /** A shared store's: whether this instance submits now. */
  readonly leads?: boolean;
}

/** What happened to one message. */
export type Outcome = "accepted" | "duplicate" | RejectReason;

const DEFAULT_KEY_CACHE_TTL_MS = 300_000;
const DEFAULT_NEGATIVE_TTL_MS = 30_000;
const DEFAULT_MAX_SKEW_MS = 30_000;
const DEFAULT_MAX_READING_BYTES = 4096;
const DEFAULT_MAX_BATCH_READINGS = 4096;
const DEFAULT_DEVICE_RATE: RateLimit = { perSecond: 20, burst: 200 };

/**
 * The MQTT gateway, composed of its intake (mqtt-intake.ts: the broker session, backpressure and
 * PUBACKs in order), what it knows of the registry (device-gate.ts: key roles, activity, membership,
 * allowances), its store (reading-store.ts: SQLite or a shared PostgreSQL, written in groups here) and
 * its submission loop (submission.ts). For each message on `dt/devicetrust/+/+/reading` (QoS 1, manual acknowledgement):
 * decode, mirror to the sink (watchtower), verify (a canonical signature under the domain, by the
 * device's current key), deduplicate on (device, feed, sequence) and persist to SQLite, and only then
 * acknowledge. Dropped messages are acknowledged too (a redelivery would not make them valid) and
 * counted by reason. Accepted readings queue in memory (bounded) and in SQLite; a single submitter
 * loop sends them in batches (by size and age), retries with exponential backoff, and marks them
 * submitted in SQLite. A restart resumes the pending ones.
 *
 * Batch mode (`dt/devicetrust/+/+/batch`, batch.ts): one device signature over a ReadingBatch whose
 * root is the Merkle root of the readings in the message. The gateway checks the ranges and the root,
 * the one signature, deduplicates on (device, feed, root) and refuses a batch that does not start
 * after the device's last accepted one for the feed (the anchor's order),
 * stores the batch with its readings in one row, acknowledges, and anchors the root once, with the
 * same restart discipline as readings. Pending batches go in groups of up to maxBatchesPerTx, in
 * acceptance order (so each device's batches for a feed stay in sequence order within and across
 * groups), one transaction per group (`submitter.anchorBatches`, ReadingAnchor.anchorMany): the
 * batches the anchor took are marked submitted, those it refused rejected (final, never resent), all
 * in the SQLite transaction that follows the call; a transient error resends the whole group.
 *
 * Keys: the feeds and the anchor accept only a device's current key (DeviceRegistry
 * isValidDeviceSignature), so the gateway accepts only that key too: a message signed by a key the
 * device held before a rotation (maybe the compromised key the rotation retired) takes no sequence and
 * no batch range, is neither stored nor submitted, and is dropped as old_key; otherwise it would take
 * the sequence of the device's real reading, which would then be dropped as a conflict. The gateway
 * learns each device's current key from the registry (once, then cached for keyCacheTtlMs), follows
 * KeyRotated events when the directory watches them, and asks again once before calling a key of the
 * device old, so a rotation it has not heard of yet is not mistaken for an old key. Like every
 * well-formed message, an old-key one still reaches the watchtower through the sink, as evidence only
 * (FraudProofs takes a key the device held before only for evidence dated before its rotation, so a
 * backdated conflict with a current-key reading may be provable there; one dated after the rotation
 * is not, and the watchtower keeps it as a sign the old key leaked). Keys no device holds are dropped
 * as unknown_key, keys of other devices as wrong_device.
 *
 * Post-quantum key recovery (`dt/devicetrust/recovery/<deviceId>`, with GatewayOptions.pqRecovery):
 * see recovery-intake.ts. A request is verified against the chain before anything is sent; an LMS one
 * is carried out on chain, an ML-DSA-44 one recorded for governance (GET /recoveries).
 *
 * Throughput: messages that arrive together are verified one by one but written in one SQLite
 * transaction (see maxInFlight and persistDelayMs); each acknowledgement still waits for its commit.
 * A helper thread checkpoints the WAL (store.ts), so the fsyncs of checkpoints stay off this thread.
 *
 * Memory: per device the gateway keeps a key-to-device cache entry (and node:crypto keeps a P-256
 * KeyObject, src/verify); deduplication lives in SQLite, the queues and the in-flight window are
 * bounded. Node's young generation, though, grows to ~150 MiB under this allocation rate before it
 * is collected: run the gateway with NODE_OPTIONS=--max-semi-space-size=8 to keep it near 24 MiB
 * (src/bench/gateway.ts measures both; the rate does not change measurably).
 *
 * Delivery: the broker redelivers any message the gateway had not acknowledged (persistent session,
 * fixed client id), and the (device, feed, sequence) key makes the redelivery a duplicate: accepted
 * readings are never lost. A reading is marked submitted in the transaction after its submission
 * returned; a crash between the two resubmits that one batch at the next start, which the feed rejects
 * as a non-increasing sequence (so no reading ever counts twice on chain).
 */
export class Gateway {
  readonly metrics: GatewayMetrics;
  readonly log: Logger;
  private readonly options: GatewayOptions;
  private readonly maxQueue: number;
  private readonly maxBatchQueue: number;
  private readonly persistGroupSize: number;
  private readonly persistDelayMs: number;
  private writes: WriteGroups | undefined;
  private readonly digestOf: (structHash: Buffer) => Hex;
  private readonly gate: DeviceGate;
  private store: ReadingStore | undefined;
  private checks: SignatureChecks | undefined;
  private intake: MqttIntake | undefined;
  private recoveries: PqRecoveryIntake | undefined;
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly retention: Retention | undefined;
  private readonly maxSkewSeconds: bigint;
  private readonly maxReadingBytes: number;
  private readonly maxBatchBytes: number;
  private readonly registryEvents: RegistryEvents;
  private stopping = false;
  private readonly stopTimeoutMs: number;
  private readonly rejectLog: LogLimiter;
  /** The chain ping of the /health requests in progress (they share one). */
  private pinging: Promise<void> | undefined;
  private readonly settings: {
    readonly batchSize: number;
    readonly batchIntervalMs: number;
    readonly maxBatchesPerTx: number;
    readonly maxInFlight: number;
    readonly backoff: BackoffPolicy;
  };
  private submitter: Submission | undefined;

  constructor(options: GatewayOptions) {
    this.options = options;
    const batchSize = options.batchSize ?? 64;
    this.maxQueue = options.maxQueue ?? 10_000;
    this.maxBatchQueue = options.maxBatchQueue ?? 1000;
    const maxBatchesPerTx = options.maxBatchesPerTx ?? 32;
    const maxInFlight = options.maxInFlight ?? 256;
    this.persistGroupSize = options.persistGroupSize ?? 512;
    this.persistDelayMs = options.persistDelayMs ?? 0;
    this.maxSkewSeconds = BigInt(Math.ceil((options.maxClockSkewMs ?? DEFAULT_MAX_SKEW_MS) / 1000));
    this.maxReadingBytes = options.maxReadingBytes ?? DEFAULT_MAX_READING_BYTES;
    this.maxBatchBytes =
      options.maxBatchBytes ??
      BATCH_HEADER_LENGTH + DEFAULT_MAX_BATCH_READINGS * BATCH_READING_LENGTH;
    if (batchSize < 1 || this.maxQueue < batchSize) {
      throw new GatewayError(
        "GATEWAY_BAD_OPTIONS",
        "batchSize must be at least 1 and maxQueue at least batchSize: fix the options",
      );
    }
    if (
      this.maxBatchQueue < 1 ||
      maxBatchesPerTx < 1 ||
      maxInFlight < 1 ||
      this.persistGroupSize < 1
    ) {
      throw new GatewayError(
        "GATEWAY_BAD_OPTIONS",
        "maxBatchQueue, maxBatchesPerTx, maxInFlight and persistGroupSize must be at least 1: fix the options",
      );
    }
    const retentionMs = options.retentionMs;
    if (retentionMs !== undefined && (!Number.isSafeInteger(retentionMs) || retentionMs <= 0)) {
      throw new GatewayError(
        "GATEWAY_BAD_OPTIONS",
        `retentionMs must be a positive number of milliseconds (got ${String(retentionMs)}): give at least the evidence window`,
      );
    }
    this.settings = {
      batchSize,
      batchIntervalMs: options.batchIntervalMs ?? 1000,
      maxBatchesPerTx,
      maxInFlight,
      backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
    };
    this.digestOf = readingDigester(options.domain);
    this.metrics = new GatewayMetrics(options.metricsPrefix);
    this.log = options.logger ?? pino({ name: "gateway", level: options.logLevel ?? "info" });
    const keyCacheTtlMs = options.keyCacheTtlMs ?? DEFAULT_KEY_CACHE_TTL_MS;
    this.gate = new DeviceGate({
      directory: options.directory,
      keyCacheTtlMs,
      negativeCacheTtlMs: options.negativeCacheTtlMs ?? DEFAULT_NEGATIVE_TTL_MS,
      deviceRate: options.deviceRate ?? DEFAULT_DEVICE_RATE,
      metrics: this.metrics,
      log: this.log,
    });
    this.registryEvents = new RegistryEvents(
      options.directory,
      {
        onKeyRotated: (deviceId, kh) => {
          this.gate.onKeyRotated(deviceId, kh);
        },
        onRegistered: (deviceId) => {
          this.gate.onRegistered(deviceId);
        },
        keyRotationsFallback: `rotations are learned within keyCacheTtlMs (${String(keyCacheTtlMs)} ms)`,
        registrationsFallback: "a new device is admitted within negativeCacheTtlMs",
      },
      this.log,
    );
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.retention =
      retentionMs === undefined
        ? undefined
        : new Retention({
            retentionMs,
            prune: async (before) => ({ ...(await this.readings.prune(before)) }),
            count: (table, n) => {
              this.metrics.pruned.inc({ table }, n);
            },
            log: this.log,
            what: "store pruned",
          });
    this.rejectLog = new LogLimiter(this.log, {
      event: "rejected",
      keyField: "reason",
      ...(options.rejectLog === undefined ? {} : { limit: options.rejectLog }),
    });
  }

  /**
   * Opens the store (reloading pending readings), starts the HTTP server, connects to the broker and
   * subscribes. Resolves with the HTTP address (null without a server).
   */
  async start(): Promise<AddressInfo | null> {
    if (this.intake !== undefined || this.stopping) {
      throw new GatewayError("GATEWAY_STARTED", "this gateway was already started");
    }
    // Recovery requests are subscribed to without a PqKeyRecovery too: dropped as recovery_off, they
    // are counted and logged, where unsubscribed the broker would discard them unseen.
    const filters = [READING_FILTER, BATCH_FILTER, RECOVERY_FILTER].map((f) =>
      readingSubscription(this.options.sharedGroup, f),
    );
    await this.open();
    await this.registryEvents.start();
    let address: AddressInfo | null = null;
    const http = this.options.http ?? { port: 9465 };
    if (http !== false) {
      const ops = await startOpsServer(http, (req, res) => this.serve(req, res));
      this.server = ops.server;
      address = ops.address;
    }
    this.retention?.start();
    this.timer = setInterval(
      () => {
        this.submitter?.kick();
      },
      Math.max(10, Math.floor(this.settings.batchIntervalMs / 2)),
    );
    const intake = new MqttIntake({
      brokerUrl: this.options.brokerUrl,
      clientId: this.options.clientId ?? "devicetrust-gateway",
      mqtt: this.options.mqtt satisfies IClientOptions | undefined,
      filters,
      maxInFlight: this.settings.maxInFlight,
      hasRoom: (inFlight) => this.hasRoom(inFlight),
      onFull: () => {
        this.submitter?.kick();
      },
      handle: (topic, payload) => this.onMessage(topic, payload),
      log: this.log,
    });
    this.intake = intake;
    try {
      await intake.start();
    } catch (err: unknown) {
      await this.stop();
      throw err;
    }
    this.submitter?.kick();
    this.log.info(
      {
        event: "started",
        store: this.store?.kind,
        dbPath: this.options.store === undefined ? this.options.dbPath : undefined,
        broker: this.options.brokerUrl,
        subscription: filters,
        resumed: this.queued,
        resumedBatches: this.queuedBatches,
        http: address === null ? null : `${address.address}:${String(address.port)}`,
      },
      "gateway started",
    );
    return address;
  }

  /**
   * Opens the store and reloads its pending readings into the queue (start() does it; call it alone
   * to use accept() without a broker, as a benchmark does).
   */
  async open(): Promise<void> {
    if (this.store !== undefined) return;
    const workers = this.options.verifyWorkers ?? 0;
    if (!Number.isSafeInteger(workers) || workers < 0) {
      throw new GatewayError(
        "GATEWAY_BAD_OPTIONS",
        `verifyWorkers must be a whole number >= 0, got ${String(workers)}: fix the options`,
      );
    }
    // Before the store: threads that cannot start leave nothing open behind them.
    const checks = (this.checks ??= await SignatureChecks.start({
      workers,
      ...(this.options.verifyPool === undefined ? {} : { pool: this.options.verifyPool }),
    }));
    let store: ReadingStore;
    try {
      store =
        this.options.store ?? new SqliteReadingStore(this.options.dbPath, this.options.synchronous);
    } catch (err: unknown) {
      this.checks = undefined;
      await checks.close();
      throw err;
    }
    this.store = store;
    this.writes = new WriteGroups({
      store,
      groupSize: this.persistGroupSize,
      delayMs: this.persistDelayMs,
      afterCommit: () => {
        this.submitter?.gauges();
      },
    });
    const submitter = new Submission({
      store,
      submitter: this.options.submitter,
      batchSize: this.settings.batchSize,
      batchIntervalMs: this.settings.batchIntervalMs,
      maxBatchesPerTx: this.settings.maxBatchesPerTx,
      backoff: this.settings.backoff,
      settleMs: this.options.settleMs ?? 250,
      gapWaitMs: this.options.gapWaitMs ?? 2000,
      window: Math.max(this.settings.batchSize * 8, 1024),
      metrics: this.metrics,
      log: this.log,
      onProgress: () => {
        this.intake?.wake();
      },
    });
    this.submitter = submitter;
    await submitter.load();
    if (this.options.pqRecovery !== undefined && this.recoveries === undefined) {
      const recoveries = new PqRecoveryIntake(this.options.pqRecovery, {
        domain: this.options.domain,
        metrics: this.metrics,
        log: this.log,
        rejectLog: this.rejectLog,
      });
      await recoveries.open();
      this.recoveries = recoveries;
    }
  }

  /** The post-quantum recovery intake (undefined without GatewayOptions.pqRecovery, or before open()). */
  get recoveryIntake(): PqRecoveryIntake | undefined {
    return this.recoveries;
  }

  /** The store (for inspection); throws before start(). */
  get readings(): ReadingStore {
    if (this.store === undefined) {
      throw new GatewayError("GATEWAY_NOT_STARTED", "start() the gateway first");
    }
    return this.store;
  }

  /** Verify worker threads running now: verifyWorkers after open(), 0 inline and after stop(). */
  get verifyThreads(): number {
    return this.checks?.runningWorkers ?? 0;
  }

  /** Accepted readings waiting in memory for submission. */
  get queued(): number {
    return this.submitter?.queued ?? 0;
  }

  /** Accepted batches waiting to be anchored. */
  get queuedBatches(): number {
    return this.submitter?.queuedBatches ?? 0;
  }

  /**
   * Graceful stop, bounded by stopTimeoutMs. The intake stops first: the broker connection closes
   * (messages not yet acknowledged stay with the broker, which redelivers them to the next start) and
   * the messages in hand finish and are persisted. The submission in flight, if any, is awaited and
   * its outcome recorded; the queues are emptied so that none follows it: what was queued stays
   * pending in the store and the next start resumes it. Then the HTTP server and the store close.
   * Past stopTimeoutMs the gateway closes whatever is still running: a submission that returns later
   * cannot be recorded, so its rows stay pending and are sent again at the next start, as after a
   * crash (see Delivery above).
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const startedAt = Date.now();
    const deadline = startedAt + this.stopTimeoutMs;
    this.log.info(
      { event: "stopping", queued: this.queued, queuedBatches: this.queuedBatches },
      "gateway stopping",
    );
    if (this.timer !== undefined) clearInterval(this.timer);
    // The loop takes its next submission from the head of the queues: emptied, it ends once the
    // submission in flight returns. The rows are pending in the store: the next start reloads them.
    this.submitter?.stop();
    const steps: string[] = [];
    const step = async (what: string, work: Promise<unknown> | undefined): Promise<void> => {
      if (!(await settlesBy(work, deadline))) steps.push(what);
    };
    if (this.intake !== undefined) {
      await step("mqtt", this.intake.close());
      await step("messages in hand", this.intake.settle());
    }
    await step("writes", this.writes?.flush());
    await step("recovery records", this.recoveries?.close());
    // The messages in hand have their verdicts: nothing waits on the workers any more.
    await step("verify pool", this.checks?.close());
    // Nor what the messages in hand queued meanwhile.
    this.submitter?.abandonQueues();
    await step("submission in flight", this.submitter?.inFlight);
    await step("prune", this.retention?.stop());
    await step("http", stopOpsServer(this.server));
    await step("key rotations", this.registryEvents.stop());
    this.rejectLog.close();
    // The tallies cost no query: what the next start resumes.
    const left = this.store?.isOpen === true ? this.store : undefined;
    const fields = {
      pending: left?.counts().pending ?? 0,
      pendingBatches: left?.batchCounts().pending ?? 0,
      ms: Date.now() - startedAt,
    };
    // The store closes whatever the deadline (its rows must be released), in at most 2 s more.
    if (this.store !== undefined && !(await settlesBy(this.store.close(), Date.now() + 2000))) {
      steps.push("store");
    }
    if (steps.length > 0) {
      this.log.warn(
        { event: "stopped", ...fields, cutShort: steps },
        `gateway stopped after stopTimeoutMs (${String(this.stopTimeoutMs)} ms) with ${steps.join(", ")} unfinished: their rows stay pending for the next start`,
      );
    } else {
      this.log.info({ event: "stopped", ...fields }, "gateway stopped");
    }
  }

  /**
   * Prunes the store's submitted and rejected rows received more than retentionMs ago; logs and
   * counts what went. Runs on the retention timer; callable for tests and tasks. Undefined without
   * retention.
   */
  async pruneNow(now = Date.now()): Promise<PruneResult | undefined> {
    if (this.retention === undefined || this.store?.isOpen !== true) return undefined;
    const pruned = await this.retention.run(now);
    return { readings: pruned.readings ?? 0, batches: pruned.batches ?? 0 };
  }

  /** Submits every queued reading now (tests, shutdown); resolves when the queue is empty or stuck. */
  async flushNow(): Promise<void> {
    await this.submitter?.flushNow();
  }

  /**
   * The health report, in constant time whatever the store holds: the counts are the store's running
   * tallies (no query), the chain is asked once for all the requests in progress and waited for at
   * most healthTimeoutMs.
   */
  async health(): Promise<GatewayHealth> {
    let chain: GatewayHealth["chain"] = { ok: true };
    let store: GatewayHealth["store"] = { ok: true };
    const timeoutMs = this.options.healthTimeoutMs ?? 3000;
    try {
      // Requests that overlap share one ping, until it answers or times out (then the next asks again).
      let shared = this.pinging;
      if (shared === undefined) {
        const fresh = this.options.directory.ping().finally(() => {
          if (this.pinging === fresh) this.pinging = undefined;
        });
        this.pinging = fresh;
        shared = fresh;
      }
      await withTimeout(shared, timeoutMs, "the chain did not answer in time", () => {
        if (this.pinging === shared) this.pinging = undefined;
      });
    } catch (err: unknown) {
      chain = { ok: false, error: errorMessage(err) };
    }
    let submitted = 0;
    try {
      await withTimeout(this.readings.check(), timeoutMs, "the store did not answer in time");
      submitted = this.readings.counts().submitted;
    } catch (err: unknown) {
      store = { ok: false, error: errorMessage(err) };
    }
    const connected = this.intake?.connected === true;
    return {
      status: chain.ok && store.ok && connected ? "ok" : "unavailable",
      running: this.store !== undefined && !this.stopping,
      mqtt: { connected },
      chain,
      store,
      queued: this.queued,
      submitted,
      queuedBatches: this.queuedBatches,
      ...(this.store?.shared === true ? { leads: this.submitter?.leads === true } : {}),
    };
  }

  // ------------------------------------------------------------------ intake

  /**
   * Whether the queues have room for `inFlight` more messages: the in-memory queues with a store of
   * this instance's own, the store's pending rows (as last counted) with a shared one.
   */
  private hasRoom(inFlight: number): boolean {
    const store = this.store;
    const pending = store?.shared === true ? store.counts().pending : this.queued;
    const batches = store?.shared === true ? store.batchCounts().pending : this.queuedBatches;
    return pending + inFlight < this.maxQueue && batches + inFlight < this.maxBatchQueue;
  }

  /** Handles one MQTT message; resolves true when it may be acknowledged. */
  async onMessage(topic: string, payload: Buffer): Promise<boolean> {
    this.metrics.received.inc();
    const recovery = parseRecoveryTopic(topic);
    if (recovery !== null) {
      if (this.recoveries === undefined)
        return dropRecoveryOff(this.metrics, this.rejectLog, topic);
      return this.recoveries.handle(topic, recovery.deviceId, payload);
    }
    const slot = parseTopic(topic);
    if (slot === null) return this.drop("bad_topic", { topic });
    const limit = slot.kind === "batch" ? this.maxBatchBytes : this.maxReadingBytes;
    if (payload.length > limit)
      return this.drop("oversize", { topic, bytes: payload.length, limit });
    if (slot.kind === "batch") return this.onBatchMessage(topic, slot, payload);
    let signed: SignedReading;
    try {
      signed = decodeReading(payload);
    } catch (err: unknown) {
      return this.drop("malformed", { topic, err: errorMessage(err) });
    }
    const r = signed.reading;
    if (r.feedId.toLowerCase() !== slot.feedId || r.deviceId.toLowerCase() !== slot.deviceId) {
      return this.drop("topic_mismatch", { topic });
    }
    const outcome = await this.accept(signed, Date.now(), topic);
    if (outcome === "accepted" || outcome === "duplicate") return true;
    return this.drop(outcome, {
      topic,
      sequence: r.sequence.toString(),
      ...(outcome === "old_key" ? { keyHash: this.gate.hashOfKey(signed.key) } : {}),
    });
  }

  private async onBatchMessage(
    topic: string,
    slot: { readonly feedId: Hex; readonly deviceId: Hex },
    payload: Buffer,
  ): Promise<boolean> {
    let decoded: DecodedBatch;
    try {
      decoded = decodeBatch(payload);
    } catch (err: unknown) {
      return this.drop("malformed", { topic, err: errorMessage(err) });
    }
    const b = decoded.batch;
    if (b.feedId !== slot.feedId || b.deviceId !== slot.deviceId) {
      return this.drop("topic_mismatch", { topic });
    }
    if (this.options.batchSink !== undefined) {
      await this.options.batchSink({
        signed: { batch: b, key: decoded.key, signature: decoded.signature },
        readings: () => batchReadings(decoded),
        origin: topic,
      });
    }
    const outcome = await this.acceptBatch(decoded);
    if (outcome === "accepted" || outcome === "duplicate") return true;
    return this.drop(outcome, {
      topic,
      firstSequence: b.firstSequence.toString(),
      lastSequence: b.lastSequence.toString(),
      ...(outcome === "old_key" ? { keyHash: this.gate.hashOfKey(decoded.key) } : {}),
    });
  }

  /**
   * Verifies, deduplicates and persists one signed reading (the whole pipeline without MQTT).
   * "accepted" means it is stored and queued for submission. Calls that overlap (not awaited one by
   * one) share SQLite transactions.
   */
  async accept(signed: SignedReading, receivedAt = Date.now(), origin?: string): Promise<Outcome> {
    const r = signed.reading;
    let hash: Buffer;
    try {
      hash = readingStructHash(r);
    } catch {
      return "malformed";
    }
    const verdict = await this.verdictOf(signed.key, this.digestOf(hash), signed.signature);
    // Every well-formed message from the wire, old-key ones included, goes to the watchtower: for it
    // it is evidence. A signature checked here is not checked again there (same domain, same thread).
    if (origin !== undefined && this.options.sink !== undefined && verdict !== "malformed") {
      await this.options.sink({
        ...signed,
        origin,
        ...(verdict === "valid" ? { verified: true } : {}),
      });
    }
    if (verdict === "malformed") return "malformed";
    if (verdict !== "valid") return "invalid_signature";
    if (await this.datedAhead(r.timestamp, receivedAt)) return "future_timestamp";
    if (this.stale(r.timestamp, receivedAt)) return "stale";
    const role = await this.gate.keyRole(r.deviceId, signed.key);
    if (role !== "current") return role;
    const admitted = await this.gate.admit(r.deviceId, r.feedId, r.sequence, r.sequence, true);
    if (admitted !== null) return admitted;
    const structHash: Hex = `0x${hash.toString("hex")}`;
    const put = await this.persist({ kind: "reading", signed, structHash, receivedAt });
    if (put.result === "duplicate") {
      this.metrics.duplicates.inc();
      return "duplicate";
    }
    if (put.result !== "inserted" || put.id === undefined) {
      // The watchtower is shown the pair: with a shared store the original may have come in through
      // another instance, and a watchtower killed within its write group's 20 ms lost it; the store
      // kept it (the watchtower takes a reading it holds as a duplicate). The conflicting reading is
      // stored nowhere else: the message is acknowledged only once the watchtower has committed the
      // pair (it handles in order), so a crash after the acknowledgement loses no equivocation.
      const sink = this.options.sink;
      if (put.kind === "reading" && put.existing !== undefined && sink !== undefined) {
        if (this.options.sinkCommits === true) {
          let committed: () => void = () => undefined;
          const durable = new Promise<void>((resolve) => (committed = resolve));
          await sink({ ...put.existing, origin: "store", durable: committed });
          await durable;
        } else {
          await sink({ ...put.existing, origin: "store" });
        }
      }
      return "conflict";
    }
    // The queue-depth gauge is set once per write group (WriteGroups afterCommit), not per reading.
    this.submitter?.push({ id: put.id, signed, receivedAt });
    this.metrics.verified.inc();
    return "accepted";
  }

  /**
   * Verifies, deduplicates and persists one device-signed batch with its readings (batch mode
   * without MQTT): ranges and Merkle root, the one signature, then (device, feed, root) unique and
   * after the last stored batch of the device and feed. "accepted" means it is stored and queued
   * for anchoring.
   */
  async acceptBatch(decoded: DecodedBatch, receivedAt = Date.now()): Promise<Outcome> {
    let problem: "bad_batch" | "bad_root" | null;
    let hash: Buffer;
    try {
      problem = checkBatch(decoded);
      hash = readingBatchStructHash(decoded.batch);
    } catch {
      return "malformed";
    }
    if (problem !== null) return problem;
    const verdict = await this.verdictOf(decoded.key, this.digestOf(hash), decoded.signature);
    if (verdict === "malformed") return "malformed";
    if (verdict !== "valid") return "invalid_signature";
    const b = decoded.batch;
    if (await this.datedAhead(b.toTimestamp, receivedAt)) return "future_timestamp";
    if (this.stale(b.fromTimestamp, receivedAt)) return "stale";
    const role = await this.gate.keyRole(b.deviceId, decoded.key);
    if (role !== "current") return role;
    // The anchor takes any registered device's batches: membership is a feed's rule, not checked here.
    const admitted = await this.gate.admit(
      b.deviceId,
      b.feedId,
      b.firstSequence,
      b.lastSequence,
      false,
    );
    if (admitted !== null) return admitted;
    const put = await this.persist({ kind: "batch", decoded, receivedAt });
    if (put.result === "duplicate") {
      this.metrics.duplicates.inc();
      return "duplicate";
    }
    if (put.result !== "inserted" || put.id === undefined) return "overlap";
    const signed = { batch: decoded.batch, key: decoded.key, signature: decoded.signature };
    this.submitter?.pushBatch({ id: put.id, signed, receivedAt });
    this.metrics.batchesVerified.inc();
    this.metrics.verified.inc(Number(decoded.batch.count));
    return "accepted";
  }

  /**
   * The signature's verdict, inline or from the verify pool. Rejects (the message is then not
   * acknowledged) when the pool fails to give one, or after stop() closed it.
   */
  private verdictOf(
    key: DeviceKey,
    digest: Hex,
    signature: Hex,
  ): SignatureVerdict | Promise<SignatureVerdict> {
    // Before open() there is no pool yet: inline, as with verifyWorkers 0.
    if (this.checks === undefined) return checkDeviceSignature(key, digest, signature);
    return this.checks.check(key, digest, signature);
  }

  /** Writes in the current group's transaction (WriteGroups); resolves once committed. */
  private persist(write: StoreWrite): Promise<StoreWriteResult> {
    if (this.writes === undefined) {
      throw new GatewayError("GATEWAY_NOT_STARTED", "start() (or open()) the gateway first");
    }
    return this.writes.write(write);
  }

  /** Counts a dropped message (every one) and logs it (the first few per reason and interval). */
  private drop(reason: RejectReason, extra: object): boolean {
    this.metrics.rejected.inc({ reason });
    this.rejectLog.info(
      reason,
      { event: "rejected", reason, ...extra },
      `message dropped: ${reason}`,
    );
    return true;
  }

  /** inFuture, asking the clock afresh once before saying yes (when it can). */
  private async datedAhead(timestamp: bigint, receivedAt: number): Promise<boolean> {
    if (!this.inFuture(timestamp, receivedAt)) return false;
    const recheck = this.options.clock?.recheck;
    if (recheck === undefined) return true;
    const now = await recheck();
    return timestamp > BigInt(Math.floor(now / 1000)) + this.maxSkewSeconds;
  }

  /**
   * Whether a message dated `timestamp` (unix seconds) is older than the retention window: its slot
   * may have been pruned, so it could be stored and sent again.
   */
  private stale(timestamp: bigint, receivedAt: number): boolean {
    const retentionMs = this.options.retentionMs;
    if (retentionMs === undefined) return false;
    const now = Math.max(receivedAt, this.options.clock?.now() ?? 0);
    return timestamp < BigInt(Math.floor((now - retentionMs) / 1000));
  }

  /** Whether a message dated `timestamp` (unix seconds) is beyond the allowed clock skew. */
  private inFuture(timestamp: bigint, receivedAt: number): boolean {
    const now = Math.max(receivedAt, this.options.clock?.now() ?? 0);
    return timestamp > BigInt(Math.floor(now / 1000)) + this.maxSkewSeconds;
  }

  // ------------------------------------------------------------------ HTTP

  /**
   * GET /recoveries: the verified ML-DSA-44 recovery requests recorded for governance that it can still
   * apply: their deadline has not passed (by the gateway's clock) and their device's registry nonce is the
   * one the new key signed (read from the registry: an applied request drops out). With the record file
   * they are read from.
   */
  private async pendingRecoveries(): Promise<{
    readonly enabled: boolean;
    readonly recordPath: string | null;
    readonly pending: PendingRecovery[];
  }> {
    const intake = this.recoveries;
    if (intake === undefined) return { enabled: false, recordPath: null, pending: [] };
    const nowMs = Math.max(Date.now(), this.options.clock?.now() ?? 0);
    return {
      enabled: true,
      recordPath: intake.recordPath,
      pending: await intake.applicable(BigInt(Math.floor(nowMs / 1000))),
    };
  }

  private serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return handleOpsRequest(
      {
        health: () => this.health(),
        metrics: this.metrics,
        routes: { "/recoveries": () => this.pendingRecoveries() },
      },
      req,
      res,
    );
  }
}
