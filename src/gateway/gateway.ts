import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { handleOpsRequest } from "../service/ops-http.js";
import type { AddressInfo } from "node:net";
import { connect, type IClientOptions, type MqttClient } from "mqtt";
import { pino, type Logger } from "pino";
import { ZeroHash } from "ethers";
import { DeviceTrustError, deviceIdOf, keyHash, type Domain, type Hex } from "../protocol/index.js";
import { checkDeviceSignature } from "../verify/index.js";
import type { SignedReading } from "../watchtower/index.js";
import { readingDigester, readingStructHash } from "./hash.js";
import { GatewayMetrics, type RejectReason } from "./metrics.js";
import { GatewayStore, type QueuedReading } from "./store.js";
import { decodeReading, parseReadingTopic, readingSubscription } from "./topics.js";
import {
  GatewayError,
  SubmissionRejectedError,
  type KeyDirectory,
  type MessageSink,
  type ReadingSubmitter,
} from "./types.js";

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
  /** Registry lookups for rotated keys (cached). */
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
   * Accepted readings waiting for submission at most; when reached, acknowledgements are held, which
   * stops the MQTT intake (TCP backpressure to the broker) until submissions catch up. Default 10000.
   */
  readonly maxQueue?: number;
  readonly backoff?: Partial<BackoffPolicy>;
  /** Every well-formed message is handed here (awaited) before it is acknowledged: a watchtower. */
  readonly sink?: MessageSink;
  /** /health and /metrics; `false` for none. Default port 9465 on 127.0.0.1. */
  readonly http?: { readonly port: number; readonly host?: string } | false;
  readonly logger?: Logger;
  readonly logLevel?: string;
  readonly metricsPrefix?: string;
  /** SQLite durability: NORMAL (default) survives SIGKILL, FULL also a power loss. */
  readonly synchronous?: "NORMAL" | "FULL";
  /** How long /health waits for the chain, in ms (default 3000). */
  readonly healthTimeoutMs?: number;
}

export interface GatewayHealth {
  readonly status: "ok" | "unavailable";
  readonly running: boolean;
  readonly mqtt: { readonly connected: boolean };
  readonly chain: { readonly ok: boolean; readonly error?: string };
  readonly store: { readonly ok: boolean; readonly error?: string };
  readonly queued: number;
  readonly submitted: number;
}

/** What happened to one message. */
export type Outcome = "accepted" | "duplicate" | RejectReason;

const KEY_CACHE_LIMIT = 100_000;
const DEFAULT_BACKOFF: BackoffPolicy = { baseDelayMs: 500, maxDelayMs: 30_000 };

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The MQTT gateway. For each message on `dt/devicetrust/+/+/reading` (QoS 1, manual acknowledgement):
 * decode, mirror to the sink (watchtower), verify (a canonical signature under the domain, by the
 * device's first key or a key the registry says it owns), deduplicate on (device, feed, sequence) and
 * persist to SQLite, and only then acknowledge. Dropped messages are acknowledged too (a redelivery
 * would not make them valid) and counted by reason. Accepted readings queue in memory (bounded) and
 * in SQLite; a single submitter loop sends them in batches (by size and age), retries with
 * exponential backoff, and marks them submitted in SQLite. A restart resumes the pending ones.
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
  private readonly queue: QueuedReading[] = [];
  private flushing: Promise<void> | undefined;
  private flushAgain = false;
  private readonly handlers = new Set<Promise<unknown>>();
  private drainWaiters: (() => void)[] = [];
  private readonly keyOwners = new Map<Hex, Hex>();
  private readonly keyIds = new Map<string, Hex>();
  private stopping = false;
  private wake: (() => void) | undefined;

  constructor(options: GatewayOptions) {
    this.options = options;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.batchSize = options.batchSize ?? 64;
    this.batchIntervalMs = options.batchIntervalMs ?? 1000;
    this.maxQueue = options.maxQueue ?? 10_000;
    if (this.batchSize < 1 || this.maxQueue < this.batchSize) {
      throw new GatewayError(
        "GATEWAY_BAD_OPTIONS",
        "batchSize must be at least 1 and maxQueue at least batchSize: fix the options",
      );
    }
    this.digestOf = readingDigester(options.domain);
    this.metrics = new GatewayMetrics(options.metricsPrefix);
    this.log = options.logger ?? pino({ name: "gateway", level: options.logLevel ?? "info" });
  }

  /**
   * Opens the store (reloading pending readings), starts the HTTP server, connects to the broker and
   * subscribes. Resolves with the HTTP address (null without a server).
   */
  async start(): Promise<AddressInfo | null> {
    if (this.client !== undefined || this.stopping) {
      throw new GatewayError("GATEWAY_STARTED", "this gateway was already started");
    }
    const filter = readingSubscription(this.options.sharedGroup);
    this.open();
    let address: AddressInfo | null = null;
    const http = this.options.http ?? { port: 9465 };
    if (http !== false) {
      const server = createServer((req, res) => {
        void this.serve(req, res);
      });
      this.server = server;
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(http.port, http.host ?? "127.0.0.1", () => {
          server.off("error", reject);
          resolve();
        });
      });
      address = server.address() as AddressInfo;
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
      // mqtt.js sends a QoS 1 PUBACK only after handleMessage calls back, one message at a time
      // (customHandleAcks exists for MQTT 5 only; aedes speaks 3.1.1): the hook of manual acks.
      client.handleMessage = (packet, callback) => {
        const payload =
          typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
        this.track(this.onMessage(packet.topic, Buffer.from(payload)), callback);
      };
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
      await client.subscribeAsync(filter, { qos: 1 });
    } catch (err: unknown) {
      await this.stop();
      throw new GatewayError(
        "GATEWAY_BROKER",
        `cannot connect or subscribe to ${this.options.brokerUrl}: check the broker address and that it runs (${message(err)})`,
        { cause: err },
      );
    }
    this.kick();
    this.log.info(
      {
        event: "started",
        dbPath: this.options.dbPath,
        broker: this.options.brokerUrl,
        subscription: filter,
        resumed: this.queue.length,
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
    this.queue.push(...store.pending());
    this.metrics.queueDepth.set(this.queue.length);
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

  /**
   * Graceful stop: the broker connection closes (unacknowledged messages stay with the broker), the
   * messages in hand finish, one last submission attempt runs for what is queued (what fails stays
   * pending for the next start), then the HTTP server and the store close.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info({ event: "stopping", queued: this.queue.length }, "gateway stopping");
    this.wake?.();
    for (const w of this.drainWaiters) w();
    this.drainWaiters = [];
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.client !== undefined) await this.client.endAsync(true);
    await Promise.allSettled([...this.handlers]);
    await this.flushing;
    if (this.store?.isOpen === true && this.queue.length > 0) await this.flush(true);
    if (this.server !== undefined) {
      const server = this.server;
      server.closeIdleConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    }
    this.store?.close();
    this.log.info({ event: "stopped", pending: this.queue.length }, "gateway stopped");
  }

  /** Submits every queued reading now (tests, shutdown); resolves when the queue is empty or stuck. */
  async flushNow(): Promise<void> {
    await this.flushing;
    await this.flush(true);
  }

  async health(): Promise<GatewayHealth> {
    let chain: GatewayHealth["chain"] = { ok: true };
    let store: GatewayHealth["store"] = { ok: true };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.options.directory.ping(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            reject(new Error("the chain did not answer in time"));
          }, this.options.healthTimeoutMs ?? 3000);
        }),
      ]);
    } catch (err: unknown) {
      chain = { ok: false, error: message(err) };
    } finally {
      clearTimeout(timer);
    }
    let submitted = 0;
    try {
      this.readings.check();
      submitted = this.readings.counts().submitted;
    } catch (err: unknown) {
      store = { ok: false, error: message(err) };
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
    };
  }

  // ------------------------------------------------------------------ intake

  private track(handling: Promise<boolean>, ack: (error?: Error) => void): void {
    const p = handling.then(
      (acknowledge) => {
        if (acknowledge) ack();
      },
      (err: unknown) => {
        // Not acknowledged: the broker redelivers it (after a reconnect).
        this.log.error({ event: "intake_error", err: message(err) }, "message not acknowledged");
        ack(err instanceof Error ? err : new Error(message(err)));
      },
    );
    this.handlers.add(p);
    void p.finally(() => this.handlers.delete(p));
  }

  /** Handles one MQTT message; resolves true when it may be acknowledged. */
  async onMessage(topic: string, payload: Buffer): Promise<boolean> {
    this.metrics.received.inc();
    const slot = parseReadingTopic(topic);
    if (slot === null) return this.drop("bad_topic", { topic });
    let signed: SignedReading;
    try {
      signed = decodeReading(payload);
    } catch (err: unknown) {
      return this.drop("malformed", { topic, err: message(err) });
    }
    const r = signed.reading;
    if (r.feedId.toLowerCase() !== slot.feedId || r.deviceId.toLowerCase() !== slot.deviceId) {
      return this.drop("topic_mismatch", { topic });
    }
    if (this.options.sink !== undefined) await this.options.sink({ ...signed, origin: topic });
    const outcome = await this.accept(signed);
    if (outcome !== "accepted" && outcome !== "duplicate") return this.drop(outcome, { topic });
    // Backpressure: hold the acknowledgement (and with it the MQTT intake) while the queue is full.
    while (this.queue.length >= this.maxQueue && !this.stopping) {
      this.kick();
      await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    }
    return !this.stopping;
  }

  /**
   * Verifies, deduplicates and persists one signed reading (the whole pipeline without MQTT).
   * "accepted" means it is stored and queued for submission.
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
    if (verdict !== "valid") return "invalid_signature";
    try {
      if (!(await this.ownsKey(signed))) return "wrong_device";
    } catch (err: unknown) {
      // The registry did not answer: not acknowledged, so the broker redelivers it later.
      throw new GatewayError(
        "GATEWAY_DIRECTORY",
        `cannot ask the registry who owns a key: check the RPC endpoint (${message(err)})`,
        { cause: err },
      );
    }
    const store = this.readings;
    const { result, id } = store.put(signed, `0x${hash.toString("hex")}`, receivedAt);
    if (result === "duplicate") {
      this.metrics.duplicates.inc();
      return "duplicate";
    }
    if (result === "conflict" || id === undefined) return "conflict";
    this.queue.push({ id, signed, receivedAt });
    this.metrics.verified.inc();
    this.metrics.queueDepth.set(this.queue.length);
    if (this.queue.length >= this.batchSize) this.kick();
    return "accepted";
  }

  private drop(reason: RejectReason, extra: object): boolean {
    this.metrics.rejected.inc({ reason });
    this.log.info({ event: "rejected", reason, ...extra }, `message dropped: ${reason}`);
    return true;
  }

  private async ownsKey(m: SignedReading): Promise<boolean> {
    const deviceId = m.reading.deviceId.toLowerCase() as Hex;
    // keccak of every key on every message is costly: keep each key's first-key device id.
    const cacheKey = `${String(m.key.keyType)}:${m.key.key.toLowerCase()}`;
    let idOfKey = this.keyIds.get(cacheKey);
    if (idOfKey === undefined) {
      idOfKey = deviceIdOf(m.key).toLowerCase() as Hex;
      if (this.keyIds.size >= KEY_CACHE_LIMIT) this.keyIds.clear();
      this.keyIds.set(cacheKey, idOfKey);
    }
    if (idOfKey === deviceId) return true;
    const kh = keyHash(m.key);
    let owner = this.keyOwners.get(kh);
    if (owner === undefined) {
      owner = (await this.options.directory.keyOwner(kh)).toLowerCase() as Hex;
      if (owner !== ZeroHash) this.keyOwners.set(kh, owner);
    }
    return owner === deviceId;
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

  /** Sends full batches, and a partial one once its oldest reading is due (or when `all`). */
  private async flush(all: boolean): Promise<void> {
    for (;;) {
      const head = this.queue[0];
      if (head === undefined) break;
      const due = Date.now() - head.receivedAt >= this.batchIntervalMs;
      if (this.queue.length < this.batchSize && !due && !all) break;
      const batch = this.queue.slice(0, this.batchSize);
      if (!(await this.submit(batch, all))) break;
      this.queue.splice(0, batch.length);
      this.metrics.queueDepth.set(this.queue.length);
      if (this.queue.length < this.maxQueue) {
        for (const w of this.drainWaiters) w();
        this.drainWaiters = [];
      }
    }
    const oldest = this.queue[0];
    this.metrics.lag.set(oldest === undefined ? 0 : (Date.now() - oldest.receivedAt) / 1000);
  }

  /**
   * Submits one batch, retrying transient failures with backoff until it goes through or the gateway
   * stops (then it stays pending: false). A final refusal marks the batch rejected (true).
   */
  private async submit(batch: readonly QueuedReading[], once: boolean): Promise<boolean> {
    const ids = batch.map((q) => q.id);
    for (let attempt = 0; ; attempt++) {
      try {
        const tx = await this.options.submitter.submitReadings(batch.map((q) => q.signed));
        this.readings.markAll(ids, "submitted", tx.txHash);
        this.metrics.submitted.inc(batch.length);
        this.log.debug(
          { event: "submitted", count: batch.length, txHash: tx.txHash },
          "batch submitted",
        );
        return true;
      } catch (err: unknown) {
        if (err instanceof SubmissionRejectedError) {
          this.readings.markAll(ids, "rejected", null, `${err.code}: ${err.message}`);
          this.metrics.submitErrors.inc({ kind: "rejected" });
          this.log.error(
            { event: "submission_rejected", code: err.code, count: batch.length },
            err.message,
          );
          return true;
        }
        this.metrics.submitErrors.inc({ kind: "retried" });
        const reason =
          err instanceof DeviceTrustError ? `${err.code}: ${err.message}` : message(err);
        if (once || this.stopping) {
          this.log.warn(
            { event: "submission_deferred", count: batch.length, err: reason },
            "submission failed: the batch stays pending for the next start",
          );
          return false;
        }
        const delay = Math.min(this.backoff.baseDelayMs * 2 ** attempt, this.backoff.maxDelayMs);
        this.log.warn(
          { event: "submission_retry", attempt: attempt + 1, delayMs: delay, err: reason },
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
