import { type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { handleOpsRequest, startOpsServer, stopOpsServer } from "../service/ops-http.js";
import type { AddressInfo } from "node:net";
import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from "mqtt";
import { pino, type Logger } from "pino";
import { ZeroHash } from "ethers";
import {
  errorMessage,
  BATCH_HEADER_LENGTH,
  BATCH_READING_LENGTH,
  DeviceTrustError,
  keyHash,
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
  type SignedBatch,
  BATCH_FILTER,
  READING_FILTER,
  decodeReading,
  parseTopic,
  readingSubscription,
} from "../protocol/index.js";
import { checkDeviceSignature } from "../verify/index.js";
import {
  DeviceRateLimiter,
  ExpiringMap,
  FairQueue,
  deviceKeyOf,
  type RateLimit,
} from "./admission.js";
import { GatewayMetrics, type RejectReason } from "./metrics.js";
import { GatewayStore, type QueuedBatch, type QueuedReading } from "./store.js";
import {
  GatewayError,
  SubmissionRejectedError,
  type BatchSink,
  type KeyDirectory,
  type MessageSink,
  type AnchoredBatches,
  type ReadingSubmitter,
  type SubmittedReadings,
  type SubmittedTx,
} from "./types.js";
import { RegistryEvents } from "../service/registry-events.js";
import { LogLimiter, type LogLimit } from "../service/log-limiter.js";

/** Backoff of failed submissions: retried until they succeed or the gateway stops. */
export interface BackoffPolicy {
  /** The first wait, doubled after each failure (default 500 ms). */
  readonly baseDelayMs: number;
  /** The longest wait (default 30000 ms). */
  readonly maxDelayMs: number;
}

export interface GatewayOptions {
  /** The deployment's EIP-712 domain (chain id, DeviceRegistry address). */
  readonly domain: Domain;
  /** Registry lookups: who owns a key, each device's current key, key rotations (cached). */
  readonly directory: KeyDirectory;
  /** Where verified readings go; called one batch at a time. */
  readonly submitter: ReadingSubmitter;
  /** The SQLite queue (created if absent). Restart on the same file to resume. */
  readonly dbPath: string;
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
}

/** What happened to one message. */
export type Outcome = "accepted" | "duplicate" | RejectReason;

const KEY_CACHE_LIMIT = 1_000_000;
const DEFAULT_KEY_CACHE_TTL_MS = 300_000;
const DEFAULT_NEGATIVE_TTL_MS = 30_000;
const DEFAULT_MAX_SKEW_MS = 30_000;
const DEFAULT_MAX_READING_BYTES = 4096;
const DEFAULT_MAX_BATCH_READINGS = 4096;
const DEFAULT_DEVICE_RATE: RateLimit = { perSecond: 20, burst: 200 };

/**
 * Whose key signed a message, as the registry says: the device's current key (the only one the feeds
 * and the anchor accept), a key it held before a rotation (old_key), a key another device holds or
 * held (wrong_device), or a key no registered device ever held (unknown_key).
 */
type KeyRole = "current" | "old_key" | "wrong_device" | "unknown_key";

/** A device's current key hash as last learned, with when (for the TTL) and in which order. */
interface CurrentKey {
  readonly hash: Hex;
  readonly at: number;
  readonly version: number;
}
/**
 * Passed to mqtt.js's handleMessage callback to let it parse the next packet without sending the
 * PUBACK itself (its QoS 1 path skips the PUBACK on an error): the gateway sends it later, in order,
 * once the message is persisted.
 */
const ACK_LATER = new Error("acknowledged later by the gateway");

/** A received message's place in the acknowledgement order. */
interface AckSlot {
  readonly messageId: number | undefined;
  readonly qos: number;
  /** The connection it arrived on: a PUBACK never goes out on a later connection. */
  readonly epoch: number;
  state: "pending" | "ack" | "skip";
}

/** A write waiting for its group's transaction. */
interface GroupedWrite {
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

/** The part of mqtt.js's client the gateway uses to send a PUBACK itself (a private method). */
interface PacketSender {
  _sendPacket(packet: { cmd: "puback"; messageId: number }): void;
}
const DEFAULT_BACKOFF: BackoffPolicy = { baseDelayMs: 500, maxDelayMs: 30_000 };

/** Whether `work` settles (resolved or rejected) by `deadline` (a Date.now() value). */
async function settlesBy(work: Promise<unknown> | undefined, deadline: number): Promise<boolean> {
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

/**
 * The MQTT gateway. For each message on `dt/devicetrust/+/+/reading` (QoS 1, manual acknowledgement):
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
  private readonly backoff: BackoffPolicy;
  private readonly batchSize: number;
  private readonly batchIntervalMs: number;
  private readonly maxQueue: number;
  private readonly digestOf: (structHash: Buffer) => Hex;
  private store: GatewayStore | undefined;
  private client: MqttClient | undefined;
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxBatchQueue: number;
  private readonly maxBatchesPerTx: number;
  private readonly maxInFlight: number;
  private readonly persistGroupSize: number;
  private readonly persistDelayMs: number;
  private readonly queue = new FairQueue<QueuedReading>((q) =>
    deviceKeyOf(q.signed.reading.deviceId),
  );
  private readonly batchQueue: QueuedBatch[] = [];
  private flushing: Promise<void> | undefined;
  private flushAgain = false;
  private readonly handlers = new Set<Promise<unknown>>();
  private roomWaiters: (() => void)[] = [];
  private readonly acks: AckSlot[] = [];
  private inFlight = 0;
  private epoch = 0;
  private group: GroupedWrite[] = [];
  private groupScheduled = false;
  private readonly keyOwners = new Map<Hex, Hex>();
  private readonly keyHashes = new Map<string, Hex>();
  private readonly currentKeys = new Map<Hex, CurrentKey>();
  private readonly currentKeyLookups = new Map<Hex, Promise<Hex>>();
  /** Key hash → the device that held it before a rotation (a rotated-out key never comes back). */
  private readonly formerKeys = new Map<Hex, Hex>();
  private keyVersion = 0;
  private readonly keyCacheTtlMs: number;
  /** Devices the registry does not know (no current key), keys nobody holds: "no" for a while. */
  private readonly unknown: ExpiringMap<Hex, true>;
  /** Feed id -> its members (lower case), refreshed after negativeCacheTtlMs. */
  private readonly members: ExpiringMap<Hex, ReadonlySet<Hex>>;
  private readonly memberLookups = new Map<Hex, Promise<ReadonlySet<Hex>>>();
  private readonly activeLookups = new Map<Hex, Promise<boolean>>();
  /** Device id -> Active or not, as last asked. */
  private readonly activity: ExpiringMap<Hex, boolean>;
  private readonly inactive: ExpiringMap<Hex, true>;
  /** Device:feed -> the highest sequence accepted (single readings) or batch end (batches). */
  private readonly highest = new Map<string, bigint>();
  private readonly limiter: DeviceRateLimiter | null;
  private readonly maxSkewSeconds: bigint;
  private readonly maxReadingBytes: number;
  private readonly maxBatchBytes: number;
  private readonly registryEvents: RegistryEvents;
  private stopping = false;
  private wake: (() => void) | undefined;
  private readonly stopTimeoutMs: number;
  private readonly rejectLog: LogLimiter;
  /** The chain ping of the /health requests in progress (they share one). */
  private pinging: Promise<void> | undefined;

  constructor(options: GatewayOptions) {
    this.options = options;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.batchSize = options.batchSize ?? 64;
    this.batchIntervalMs = options.batchIntervalMs ?? 1000;
    this.maxQueue = options.maxQueue ?? 10_000;
    this.maxBatchQueue = options.maxBatchQueue ?? 1000;
    this.maxBatchesPerTx = options.maxBatchesPerTx ?? 32;
    this.maxInFlight = options.maxInFlight ?? 256;
    this.persistGroupSize = options.persistGroupSize ?? 512;
    this.persistDelayMs = options.persistDelayMs ?? 0;
    this.keyCacheTtlMs = options.keyCacheTtlMs ?? DEFAULT_KEY_CACHE_TTL_MS;
    const negativeTtl = options.negativeCacheTtlMs ?? DEFAULT_NEGATIVE_TTL_MS;
    this.unknown = new ExpiringMap(negativeTtl, KEY_CACHE_LIMIT);
    this.members = new ExpiringMap(negativeTtl, 10_000);
    this.activity = new ExpiringMap(this.keyCacheTtlMs, KEY_CACHE_LIMIT);
    this.inactive = new ExpiringMap(negativeTtl, KEY_CACHE_LIMIT);
    const rate = options.deviceRate ?? DEFAULT_DEVICE_RATE;
    this.limiter = rate === false ? null : new DeviceRateLimiter(rate);
    this.maxSkewSeconds = BigInt(Math.ceil((options.maxClockSkewMs ?? DEFAULT_MAX_SKEW_MS) / 1000));
    this.maxReadingBytes = options.maxReadingBytes ?? DEFAULT_MAX_READING_BYTES;
    this.maxBatchBytes =
      options.maxBatchBytes ??
      BATCH_HEADER_LENGTH + DEFAULT_MAX_BATCH_READINGS * BATCH_READING_LENGTH;
    if (this.batchSize < 1 || this.maxQueue < this.batchSize) {
      throw new GatewayError(
        "GATEWAY_BAD_OPTIONS",
        "batchSize must be at least 1 and maxQueue at least batchSize: fix the options",
      );
    }
    if (
      this.maxBatchQueue < 1 ||
      this.maxBatchesPerTx < 1 ||
      this.maxInFlight < 1 ||
      this.persistGroupSize < 1
    ) {
      throw new GatewayError(
        "GATEWAY_BAD_OPTIONS",
        "maxBatchQueue, maxBatchesPerTx, maxInFlight and persistGroupSize must be at least 1: fix the options",
      );
    }
    this.digestOf = readingDigester(options.domain);
    this.metrics = new GatewayMetrics(options.metricsPrefix);
    this.log = options.logger ?? pino({ name: "gateway", level: options.logLevel ?? "info" });
    this.registryEvents = new RegistryEvents(
      options.directory,
      {
        onKeyRotated: (deviceId, kh) => {
          this.onKeyRotated(deviceId, kh);
        },
        onRegistered: (deviceId) => {
          this.onRegistered(deviceId);
        },
        keyRotationsFallback: `rotations are learned within keyCacheTtlMs (${String(this.keyCacheTtlMs)} ms)`,
        registrationsFallback: "a new device is admitted within negativeCacheTtlMs",
      },
      this.log,
    );
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
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
    if (this.client !== undefined || this.stopping) {
      throw new GatewayError("GATEWAY_STARTED", "this gateway was already started");
    }
    const filters = [READING_FILTER, BATCH_FILTER].map((f) =>
      readingSubscription(this.options.sharedGroup, f),
    );
    this.open();
    await this.registryEvents.start();
    let address: AddressInfo | null = null;
    const http = this.options.http ?? { port: 9465 };
    if (http !== false) {
      const ops = await startOpsServer(http, (req, res) => this.serve(req, res));
      this.server = ops.server;
      address = ops.address;
    }
    this.timer = setInterval(
      () => {
        this.kick();
      },
      Math.max(10, Math.floor(this.batchIntervalMs / 2)),
    );
    try {
      const client = connect(this.options.brokerUrl, {
        clientId: this.options.clientId ?? "devicetrust-gateway",
        clean: false,
        protocolVersion: 4,
        reconnectPeriod: 1000,
        ...this.options.mqtt,
      });
      this.client = client;
      if (typeof (client as unknown as Partial<PacketSender>)._sendPacket !== "function") {
        throw new Error(
          "this mqtt.js has no _sendPacket: pin mqtt 5.x (the gateway sends PUBACKs)",
        );
      }
      // mqtt.js handles one packet at a time and sends a QoS 1 PUBACK when handleMessage calls
      // back (customHandleAcks cannot defer it): the gateway calls back with ACK_LATER as soon as
      // it has room for the next message, and sends each PUBACK itself once the message is persisted.
      client.handleMessage = (packet, callback) => {
        this.intake(packet, callback);
      };
      client.on("connect", () => {
        this.epoch++;
      });
      client.on("close", () => {
        this.epoch++;
      });
      client.on("error", (err) => {
        this.log.warn({ event: "mqtt_error", err: err.message }, "MQTT error");
      });
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => {
          reject(err);
        };
        client.once("connect", () => {
          client.off("error", onError);
          resolve();
        });
        client.once("error", onError);
        setTimeout(() => {
          reject(new Error("no CONNACK within 10 s"));
        }, 10_000).unref();
      });
      await client.subscribeAsync(filters, { qos: 1 });
    } catch (err: unknown) {
      await this.stop();
      throw new GatewayError(
        "GATEWAY_BROKER",
        `cannot connect or subscribe to ${this.options.brokerUrl}: check the broker address and that it runs (${errorMessage(err)})`,
        { cause: err },
      );
    }
    this.kick();
    this.log.info(
      {
        event: "started",
        dbPath: this.options.dbPath,
        broker: this.options.brokerUrl,
        subscription: filters,
        resumed: this.queue.length,
        resumedBatches: this.batchQueue.length,
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
  open(): void {
    if (this.store !== undefined) return;
    const store = new GatewayStore(this.options.dbPath, this.options.synchronous);
    this.store = store;
    for (const q of store.pending()) this.queue.push(q);
    this.batchQueue.push(...store.pendingBatches());
    this.metrics.queueDepth.set(this.queue.length);
    this.metrics.batchQueueDepth.set(this.batchQueue.length);
  }

  /** The store (for inspection); throws before start(). */
  get readings(): GatewayStore {
    if (this.store === undefined) {
      throw new GatewayError("GATEWAY_NOT_STARTED", "start() the gateway first");
    }
    return this.store;
  }

  /** Accepted readings waiting in memory for submission. */
  get queued(): number {
    return this.queue.length;
  }

  /** Accepted batches waiting to be anchored. */
  get queuedBatches(): number {
    return this.batchQueue.length;
  }

  /**
   * Graceful stop, bounded by stopTimeoutMs. The intake stops first: the broker connection closes
   * (messages not yet acknowledged stay with the broker, which redelivers them to the next start) and
   * the messages in hand finish and are persisted. The submission in flight, if any, is awaited and
   * its outcome recorded; the queues are emptied so that none follows it: what was queued stays
   * pending in SQLite and the next start resumes it. Then the HTTP server and the store close. Past
   * stopTimeoutMs the gateway closes whatever is still running: a submission that returns later
   * cannot be recorded, so its rows stay pending and are sent again at the next start, as after a
   * crash (see Delivery above).
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const startedAt = Date.now();
    const deadline = startedAt + this.stopTimeoutMs;
    this.log.info(
      { event: "stopping", queued: this.queue.length, queuedBatches: this.batchQueue.length },
      "gateway stopping",
    );
    if (this.timer !== undefined) clearInterval(this.timer);
    // flush() takes its next submission from the head of these queues: emptied, the loop ends once
    // the submission in flight returns. The rows are pending in SQLite: the next start reloads them.
    this.abandonQueues();
    this.wake?.();
    this.wakeIntake();
    const steps: string[] = [];
    const step = async (what: string, work: Promise<unknown> | undefined): Promise<void> => {
      if (!(await settlesBy(work, deadline))) steps.push(what);
    };
    if (this.client !== undefined) await step("mqtt", this.client.endAsync(true));
    await step("messages in hand", Promise.allSettled([...this.handlers]));
    this.commitGroup();
    // Nor what the messages in hand queued meanwhile (had the submission in flight returned before
    // they did, the loop may have started one more from them: it is awaited below like the first).
    this.abandonQueues();
    await step("submission in flight", this.flushing);
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
    this.store?.close();
    if (steps.length > 0) {
      this.log.warn(
        { event: "stopped", ...fields, cutShort: steps },
        `gateway stopped after stopTimeoutMs (${String(this.stopTimeoutMs)} ms) with ${steps.join(", ")} unfinished: their rows stay pending for the next start`,
      );
    } else {
      this.log.info({ event: "stopped", ...fields }, "gateway stopped");
    }
  }

  /** Empties the in-memory queues; their rows stay pending in SQLite. */
  private abandonQueues(): void {
    this.queue.clear();
    this.batchQueue.splice(0);
    this.metrics.queueDepth.set(0);
    this.metrics.batchQueueDepth.set(0);
  }

  /** Submits every queued reading now (tests, shutdown); resolves when the queue is empty or stuck. */
  async flushNow(): Promise<void> {
    await this.flushing;
    await this.flush(true);
  }

  /**
   * The health report, in constant time whatever the store holds: the counts are the store's running
   * tallies (no query), the chain is asked once for all the requests in progress and waited for at
   * most healthTimeoutMs.
   */
  async health(): Promise<GatewayHealth> {
    let chain: GatewayHealth["chain"] = { ok: true };
    let store: GatewayHealth["store"] = { ok: true };
    let timer: NodeJS.Timeout | undefined;
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
      await Promise.race([
        shared,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            if (this.pinging === shared) this.pinging = undefined;
            reject(new Error("the chain did not answer in time"));
          }, this.options.healthTimeoutMs ?? 3000);
        }),
      ]);
    } catch (err: unknown) {
      chain = { ok: false, error: errorMessage(err) };
    } finally {
      clearTimeout(timer);
    }
    let submitted = 0;
    try {
      this.readings.check();
      submitted = this.readings.counts().submitted;
    } catch (err: unknown) {
      store = { ok: false, error: errorMessage(err) };
    }
    const connected = this.client?.connected === true;
    return {
      status: chain.ok && store.ok && connected ? "ok" : "unavailable",
      running: this.store !== undefined && !this.stopping,
      mqtt: { connected },
      chain,
      store,
      queued: this.queue.length,
      submitted,
      queuedBatches: this.batchQueue.length,
    };
  }

  // ------------------------------------------------------------------ intake

  /**
   * One packet from mqtt.js: handled concurrently with the next ones (up to maxInFlight, and while
   * the queues have room), acknowledged in arrival order once handled. `next` lets mqtt.js go on.
   */
  private intake(packet: IPublishPacket, next: (error?: Error) => void): void {
    const slot: AckSlot = {
      messageId: packet.messageId,
      qos: packet.qos,
      epoch: this.epoch,
      state: "pending",
    };
    this.acks.push(slot);
    this.inFlight++;
    const payload =
      typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
    const p = this.onMessage(packet.topic, Buffer.from(payload))
      .then(
        (acknowledge) => {
          slot.state = acknowledge ? "ack" : "skip";
        },
        (err: unknown) => {
          // Not acknowledged: the broker redelivers it (after a reconnect).
          slot.state = "skip";
          this.log.error(
            { event: "intake_error", err: errorMessage(err) },
            "message not acknowledged",
          );
        },
      )
      .finally(() => {
        this.inFlight--;
        this.releaseAcks();
        this.wakeIntake();
      });
    this.handlers.add(p);
    void p.finally(() => this.handlers.delete(p));
    void this.room().then(() => {
      next(ACK_LATER);
    });
  }

  /** Resolves when another message may be taken: in-flight window and queues not full (or stopping). */
  private async room(): Promise<void> {
    while (
      !this.stopping &&
      (this.inFlight >= this.maxInFlight ||
        this.queue.length + this.inFlight >= this.maxQueue ||
        this.batchQueue.length + this.inFlight >= this.maxBatchQueue)
    ) {
      // Backpressure: the broker holds what the gateway does not read (TCP flow control).
      this.kick();
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
  }

  private wakeIntake(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  /** Sends the PUBACKs of the handled messages at the head of the arrival order. */
  private releaseAcks(): void {
    const sender = this.client as unknown as PacketSender | undefined;
    for (;;) {
      const head = this.acks[0];
      if (head === undefined || head.state === "pending") return;
      this.acks.shift();
      if (
        head.state === "ack" &&
        head.qos > 0 &&
        head.messageId !== undefined &&
        head.epoch === this.epoch &&
        this.client?.connected === true
      ) {
        sender?._sendPacket({ cmd: "puback", messageId: head.messageId });
      }
    }
  }

  /** Handles one MQTT message; resolves true when it may be acknowledged. */
  async onMessage(topic: string, payload: Buffer): Promise<boolean> {
    this.metrics.received.inc();
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
    // Every well-formed message, old-key ones included: for the watchtower it is evidence.
    if (this.options.sink !== undefined) await this.options.sink({ ...signed, origin: topic });
    const outcome = await this.accept(signed);
    if (outcome === "accepted" || outcome === "duplicate") return true;
    return this.drop(outcome, {
      topic,
      sequence: r.sequence.toString(),
      ...(outcome === "old_key" ? { keyHash: this.hashOfKey(signed.key) } : {}),
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
      ...(outcome === "old_key" ? { keyHash: this.hashOfKey(decoded.key) } : {}),
    });
  }

  /**
   * Verifies, deduplicates and persists one signed reading (the whole pipeline without MQTT).
   * "accepted" means it is stored and queued for submission. Calls that overlap (not awaited one by
   * one) share SQLite transactions.
   */
  async accept(signed: SignedReading, receivedAt = Date.now()): Promise<Outcome> {
    const r = signed.reading;
    let hash: Buffer;
    try {
      hash = readingStructHash(r);
    } catch {
      return "malformed";
    }
    const verdict = checkDeviceSignature(signed.key, this.digestOf(hash), signed.signature);
    if (verdict === "malformed") return "malformed";
    if (verdict !== "valid") return "invalid_signature";
    if (await this.datedAhead(r.timestamp, receivedAt)) return "future_timestamp";
    const role = await this.keyRole(r.deviceId, signed.key);
    if (role !== "current") return role;
    const admitted = await this.admit(r.deviceId, r.feedId, r.sequence, r.sequence, true);
    if (admitted !== null) return admitted;
    const structHash: Hex = `0x${hash.toString("hex")}`;
    const { result, id } = await this.persist((store) => store.put(signed, structHash, receivedAt));
    if (result === "duplicate") {
      this.metrics.duplicates.inc();
      return "duplicate";
    }
    if (result === "conflict" || id === undefined) return "conflict";
    // The queue-depth gauge is set once per write group (commitGroup), not per reading.
    this.queue.push({ id, signed, receivedAt });
    this.metrics.verified.inc();
    if (this.queue.length >= this.batchSize) this.kick();
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
    const verdict = checkDeviceSignature(decoded.key, this.digestOf(hash), decoded.signature);
    if (verdict === "malformed") return "malformed";
    if (verdict !== "valid") return "invalid_signature";
    const b = decoded.batch;
    if (await this.datedAhead(b.toTimestamp, receivedAt)) return "future_timestamp";
    const role = await this.keyRole(b.deviceId, decoded.key);
    if (role !== "current") return role;
    // The anchor takes any registered device's batches: membership is a feed's rule, not checked here.
    const admitted = await this.admit(b.deviceId, b.feedId, b.firstSequence, b.lastSequence, false);
    if (admitted !== null) return admitted;
    const { result, id } = await this.persist((store) => store.putBatch(decoded, receivedAt));
    if (result === "duplicate") {
      this.metrics.duplicates.inc();
      return "duplicate";
    }
    if (result === "overlap" || id === undefined) return "overlap";
    const signed = { batch: decoded.batch, key: decoded.key, signature: decoded.signature };
    this.batchQueue.push({ id, signed, receivedAt });
    this.metrics.batchesVerified.inc();
    this.metrics.verified.inc(Number(decoded.batch.count));
    this.metrics.batchQueueDepth.set(this.batchQueue.length);
    this.kick();
    return "accepted";
  }

  /**
   * Runs `op` on the store in the transaction of the current group: the group commits when it holds
   * persistGroupSize writes or when the event loop has handled what arrived with it (persistDelayMs).
   * Resolves once committed.
   */
  private persist<T>(op: (store: GatewayStore) => T): Promise<T> {
    const store = this.readings;
    return new Promise<T>((resolve, reject) => {
      this.group.push({
        run: () => op(store),
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      if (this.group.length >= this.persistGroupSize) this.commitGroup();
      else if (!this.groupScheduled) {
        this.groupScheduled = true;
        const commit = (): void => {
          this.commitGroup();
        };
        if (this.persistDelayMs > 0) setTimeout(commit, this.persistDelayMs);
        else setImmediate(commit);
      }
    });
  }

  /** Commits the pending writes in one transaction and settles each. */
  private commitGroup(): void {
    this.groupScheduled = false;
    const writes = this.group;
    if (writes.length === 0) return;
    this.group = [];
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.readings.transaction(() => {
        for (const w of writes) {
          try {
            outcomes.push({ ok: true, value: w.run() });
          } catch (err: unknown) {
            outcomes.push({ ok: false, value: err });
          }
        }
      });
    } catch (err: unknown) {
      // Nothing of the group is durable: none is acknowledged, the broker redelivers them.
      for (const w of writes) w.reject(err);
      return;
    }
    writes.forEach((w, i) => {
      const o = outcomes[i];
      if (o?.ok === true) w.resolve(o.value);
      else w.reject(o?.value);
    });
    // After the writers' continuations (which queue the accepted messages) have run.
    queueMicrotask(() => {
      this.metrics.queueDepth.set(this.queue.length);
      this.metrics.batchQueueDepth.set(this.batchQueue.length);
    });
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

  /**
   * Whose key `key` is (KeyRole), for a message of `device`. The common case costs two map lookups:
   * the key is the device's cached current key. Otherwise the key's owner is looked up (a first key
   * hashes to its device id; other owners come from the registry and never change), and a key of the
   * device that is not its cached current key is checked against the registry once more before it is
   * called old: the device may have rotated to it since the cache was filled.
   * Throws GATEWAY_DIRECTORY when the registry does not answer: the message is then not
   * acknowledged, so the broker redelivers it later.
   */
  private async keyRole(device: Hex, key: DeviceKey): Promise<KeyRole> {
    const deviceId = device.toLowerCase() as Hex;
    const kh = this.hashOfKey(key);
    const cached = this.currentKeys.get(deviceId);
    if (cached?.hash === kh && Date.now() - cached.at < this.keyCacheTtlMs) return "current";
    if (this.formerKeys.get(kh) === deviceId) return "old_key";
    // A "no" of the registry holds for negativeCacheTtlMs: a flood of unknown keys costs no chain call.
    if (this.unknown.get(kh) === true || this.unknown.get(deviceId) === true) return "unknown_key";
    // A device's first key hashes to its id: no need to ask who owns it.
    const owner = kh === deviceId ? deviceId : await this.ownerOf(kh);
    if (owner === ZeroHash) {
      this.unknown.set(kh, true);
      return "unknown_key";
    }
    if (owner !== deviceId) return "wrong_device";
    const current = await this.refreshCurrentKey(deviceId);
    if (current === kh) return "current";
    // The device is not registered (its first key, before registration or never): nothing accepts it.
    if (current === ZeroHash) {
      this.unknown.set(deviceId, true);
      return "unknown_key";
    }
    this.rememberFormerKey(kh, deviceId);
    return "old_key";
  }

  /** inFuture, asking the clock afresh once before saying yes (when it can). */
  private async datedAhead(timestamp: bigint, receivedAt: number): Promise<boolean> {
    if (!this.inFuture(timestamp, receivedAt)) return false;
    const recheck = this.options.clock?.recheck;
    if (recheck === undefined) return true;
    const now = await recheck();
    return timestamp > BigInt(Math.floor(now / 1000)) + this.maxSkewSeconds;
  }

  /** Whether a message dated `timestamp` (unix seconds) is beyond the allowed clock skew. */
  private inFuture(timestamp: bigint, receivedAt: number): boolean {
    const now = Math.max(receivedAt, this.options.clock?.now() ?? 0);
    return timestamp > BigInt(Math.floor(now / 1000)) + this.maxSkewSeconds;
  }

  /**
   * The checks after the key: the device is active, a member of the feed (single readings: the feed
   * refuses others), and within its rate. Only a sequence above the highest the device had accepted
   * for the feed spends its allowance, so replays of its own messages cannot use it up. Null: admitted.
   */
  private async admit(
    device: Hex,
    feed: Hex,
    first: bigint,
    last: bigint,
    member: boolean,
  ): Promise<RejectReason | null> {
    const deviceId = device.toLowerCase() as Hex;
    const feedId = feed.toLowerCase() as Hex;
    if (!(await this.isActive(deviceId))) return "inactive_device";
    if (member && !(await this.isMember(feedId, deviceId))) return "not_member";
    if (this.limiter === null) return null;
    const slot = `${deviceId}:${feedId}`;
    const top = this.highest.get(slot);
    if (top !== undefined && first <= top) return null;
    if (!this.limiter.take(deviceId)) return "rate_limited";
    if (this.highest.size >= KEY_CACHE_LIMIT) this.highest.clear();
    this.highest.set(slot, last);
    return null;
  }

  /** Whether the registry says the device is Active (cached; a "no" for negativeCacheTtlMs). */
  private async isActive(deviceId: Hex): Promise<boolean> {
    const directory = this.options.directory;
    if (directory.isActive === undefined) return true;
    if (this.inactive.get(deviceId) === true) return false;
    if (this.activity.get(deviceId) === true) return true;
    const active = await this.ask("whether a device is active", () =>
      shared(this.activeLookups, deviceId, () =>
        directory.isActive === undefined ? Promise.resolve(true) : directory.isActive(deviceId),
      ),
    );
    if (active) this.activity.set(deviceId, true);
    else this.inactive.set(deviceId, true);
    return active;
  }

  /** Whether the device is a member of the feed (the member list is cached negativeCacheTtlMs). */
  private async isMember(feedId: Hex, deviceId: Hex): Promise<boolean> {
    const directory = this.options.directory;
    if (directory.feedMembers === undefined) return true;
    let set = this.members.get(feedId);
    if (set === undefined) {
      set = await this.ask("for a feed's members", () =>
        shared(this.memberLookups, feedId, async () => {
          const list = (await directory.feedMembers?.(feedId)) ?? [];
          return new Set(list.map((d) => d.toLowerCase() as Hex));
        }),
      );
      this.members.set(feedId, set);
    }
    return set.has(deviceId);
  }

  /** A DeviceRegistered event: the device (and its first key) is no longer unknown. */
  private onRegistered(device: Hex): void {
    const deviceId = device.toLowerCase() as Hex;
    this.unknown.delete(deviceId);
    this.inactive.delete(deviceId);
  }

  /** keccak256(keyType ‖ key), cached per key: hashing every key of every message is costly. */
  private hashOfKey(key: DeviceKey): Hex {
    const cacheKey = `${String(key.keyType)}:${key.key.toLowerCase()}`;
    let kh = this.keyHashes.get(cacheKey);
    if (kh === undefined) {
      kh = keyHash(key).toLowerCase() as Hex;
      if (this.keyHashes.size >= KEY_CACHE_LIMIT) this.keyHashes.clear();
      this.keyHashes.set(cacheKey, kh);
    }
    return kh;
  }

  /** The device that holds or held the key (cached once known: a key's owner never changes). */
  private async ownerOf(kh: Hex): Promise<Hex> {
    const cached = this.keyOwners.get(kh);
    if (cached !== undefined) return cached;
    const owner = (
      await this.ask("who owns a key", () => this.options.directory.keyOwner(kh))
    ).toLowerCase() as Hex;
    // An unknown key may be registered later: only known owners are kept.
    if (owner !== ZeroHash) {
      if (this.keyOwners.size >= KEY_CACHE_LIMIT) this.keyOwners.clear();
      this.keyOwners.set(kh, owner);
    }
    return owner;
  }

  /**
   * Asks the registry for the device's current key hash and caches it. Concurrent messages of one
   * device share one request. An answer never replaces a newer one (a KeyRotated event that arrived
   * while the request was out).
   */
  private refreshCurrentKey(deviceId: Hex): Promise<Hex> {
    return shared(this.currentKeyLookups, deviceId, async () => {
      const version = ++this.keyVersion;
      const answer = await this.ask("for a device's current key", () =>
        this.options.directory.currentKeyHash(deviceId),
      );
      const hash = answer.toLowerCase() as Hex;
      const known = this.currentKeys.get(deviceId);
      if (known !== undefined && known.version > version) return known.hash;
      // An unregistered device may register later: only registered devices' keys are kept.
      if (hash !== ZeroHash) this.setCurrentKey(deviceId, hash, version);
      return hash;
    });
  }

  private setCurrentKey(deviceId: Hex, hash: Hex, version: number): void {
    const previous = this.currentKeys.get(deviceId);
    if (previous !== undefined && previous.hash !== hash) {
      this.rememberFormerKey(previous.hash, deviceId);
    }
    if (this.currentKeys.size >= KEY_CACHE_LIMIT) this.currentKeys.clear();
    this.currentKeys.set(deviceId, { hash, at: Date.now(), version });
  }

  private rememberFormerKey(kh: Hex, deviceId: Hex): void {
    if (this.formerKeys.size >= KEY_CACHE_LIMIT) this.formerKeys.clear();
    this.formerKeys.set(kh, deviceId);
  }

  /** A KeyRotated event: the device's cached key is replaced at once. */
  private onKeyRotated(device: Hex, newKeyHash: Hex): void {
    const deviceId = device.toLowerCase() as Hex;
    this.unknown.delete(newKeyHash.toLowerCase() as Hex);
    this.setCurrentKey(deviceId, newKeyHash.toLowerCase() as Hex, ++this.keyVersion);
    this.metrics.keyRotations.inc();
    this.log.info({ event: "key_rotated", deviceId, keyHash: newKeyHash }, "device key rotated");
  }

  /** Runs a registry lookup; its failure becomes GATEWAY_DIRECTORY (the message is redelivered). */
  private async ask<T>(what: string, lookup: () => Promise<T>): Promise<T> {
    try {
      return await lookup();
    } catch (err: unknown) {
      throw new GatewayError(
        "GATEWAY_DIRECTORY",
        `cannot ask the registry ${what}: check the RPC endpoint (${errorMessage(err)})`,
        { cause: err },
      );
    }
  }

  // ------------------------------------------------------------------ submission

  /** Starts the submission loop unless it runs (then it looks again when done). */
  private kick(): void {
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
        (status, tx, error, result) => {
          if (status === "rejected" || result === undefined || tx === null) {
            this.readings.markAll(ids, "rejected", tx, error);
            this.countRefused(error?.split(": ")[0] ?? "unknown", batch.length);
          } else this.markReadings(batch, tx, result);
        },
        all,
      );
      if (!done) break;
      this.queue.remove(batch);
      this.metrics.queueDepth.set(this.queue.length);
      this.wakeIntake();
    }
    const perTx = this.options.submitter.anchorBatches === undefined ? 1 : this.maxBatchesPerTx;
    while (this.batchQueue.length > 0) {
      const group = this.batchQueue.slice(0, perTx);
      const done = await this.submit(
        "batches",
        group.length,
        () => this.anchorGroup(group.map((q) => q.signed)),
        (status, tx, error, result) => {
          this.markBatches(group, status, tx, error, result);
        },
        all,
      );
      if (!done) break;
      this.batchQueue.splice(0, group.length);
      this.metrics.batchQueueDepth.set(this.batchQueue.length);
      this.wakeIntake();
    }
    const oldest = this.queue.oldest();
    this.metrics.lag.set(oldest === undefined ? 0 : (Date.now() - oldest) / 1000);
  }

  /**
   * Records each reading of a submission that went through as its feed's event says: submitted when
   * accepted, rejected with the feed's reason otherwise (never submitted on the transaction's success
   * alone). Refusals are counted by reason and logged once per transaction.
   */
  private markReadings(batch: readonly QueuedReading[], tx: Hex, result: SubmittedReadings): void {
    const refused = new Map<string, number>();
    const entries = batch.map((q, i) => {
      const o = result.outcomes[i];
      if (o?.accepted === true) return { id: q.id, rejected: null, txHash: o.txHash };
      const reason = o === undefined ? "NoOutcome" : o.reason;
      refused.set(reason, (refused.get(reason) ?? 0) + 1);
      return { id: q.id, rejected: reason, txHash: o?.txHash };
    });
    this.readings.markOutcomes(entries, tx);
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
  private markBatches(
    group: readonly QueuedBatch[],
    status: "submitted" | "rejected",
    tx: Hex | null,
    error: string | null,
    result: AnchoredBatches | undefined,
  ): void {
    const refused: { id: number; reason: string }[] = [];
    this.readings.transaction(() => {
      group.forEach((q, i) => {
        const outcome = result?.outcomes[i];
        if (status === "rejected") this.readings.markBatch(q.id, "rejected", null, error);
        else if (outcome === undefined || outcome.anchored) {
          this.readings.markBatch(q.id, "submitted", tx);
        } else {
          this.readings.markBatch(q.id, "rejected", tx, `BatchRejected: ${outcome.reason}`);
          refused.push({ id: q.id, reason: outcome.reason });
        }
      });
    });
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
    ) => void,
    once: boolean,
  ): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        const tx = await send();
        mark("submitted", tx.txHash, null, tx);
        this.log.debug({ event: "submitted", what, count, txHash: tx.txHash }, `${what} submitted`);
        return true;
      } catch (err: unknown) {
        if (err instanceof SubmissionRejectedError) {
          mark("rejected", null, `${err.code}: ${err.message}`, undefined);
          this.metrics.submitErrors.inc({ kind: "rejected" });
          this.log.error(
            { event: "submission_rejected", what, code: err.code, count },
            err.message,
          );
          return true;
        }
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
        const delay = Math.min(this.backoff.baseDelayMs * 2 ** attempt, this.backoff.maxDelayMs);
        this.log.warn(
          { event: "submission_retry", what, attempt: attempt + 1, delayMs: delay, err: reason },
          "submission failed; retrying",
        );
        await this.sleep(delay);
      }
    }
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

  // ------------------------------------------------------------------ HTTP

  private serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return handleOpsRequest(
      {
        health: () => this.health(),
        metrics: this.metrics,
      },
      req,
      res,
    );
  }
}

/** Runs `lookup` once for concurrent callers asking about the same key. */
function shared<K, V>(pending: Map<K, Promise<V>>, key: K, lookup: () => Promise<V>): Promise<V> {
  const running = pending.get(key);
  if (running !== undefined) return running;
  const p = lookup().finally(() => {
    pending.delete(key);
  });
  pending.set(key, p);
  return p;
}
