import { connect, type IClientOptions, type MqttClient, type Packet } from "mqtt";
import {
  BATCH_FILTER,
  READING_FILTER,
  batchReadings,
  decodeBatch,
  decodeReading,
  parseTopic,
  type WatchedInput,
} from "../protocol/index.js";
import { WatchtowerError } from "./types.js";

/**
 * A standalone watchtower's own stream: it subscribes to the devices' topics on the broker itself,
 * without a shared group (every watchtower gets every message, whichever gateway instance takes it),
 * in a persistent session (QoS 1, clean false, a fixed client id), so the broker keeps what arrives
 * while the watchtower is down and redelivers it at reconnect.
 *
 * A message is acknowledged only once the watchtower has handled it: the PUBACK goes out when the
 * consumer asks for the next message (the watchtower asks after it stored and committed the previous
 * one: `acknowledges`). mqtt.js
 * sends a QoS 1 PUBACK when its documented `handleMessage` hook calls back, and reads the next packet
 * only then, so this uses its public API only; the price is one message at a time, which the
 * watchtower's own loop is anyway. What it costs: the broker sends each message once more per watchtower (fan-out), and each
 * watchtower verifies every signature itself.
 *
 * A payload that does not decode is acknowledged and reported through `onMalformed` (a device's
 * garbage must not stall the stream: the broker would redeliver it forever).
 */
export interface MqttSourceOptions {
  readonly brokerUrl: string;
  /** The persistent session's id (default "devicetrust-watchtower"): one per watchtower. */
  readonly clientId?: string;
  readonly mqtt?: IClientOptions;
  /** Called for each message that is not a well-formed reading or batch (it is acknowledged). */
  readonly onMalformed?: (topic: string, err: unknown) => void;
}

interface Pending {
  readonly input: WatchedInput;
  readonly ack: () => void;
}

export class MqttSource implements AsyncIterable<WatchedInput> {
  /** Each message is acknowledged when the next is asked for: the watchtower commits it first. */
  readonly acknowledges = true;
  private readonly options: MqttSourceOptions;
  private client: MqttClient | undefined;
  private readonly pending: Pending[] = [];
  private waiting: (() => void) | undefined;
  private ended = false;

  private constructor(options: MqttSourceOptions) {
    this.options = options;
  }

  /** Connects and subscribes; resolves once the broker granted both subscriptions. */
  static async connect(options: MqttSourceOptions): Promise<MqttSource> {
    const source = new MqttSource(options);
    await source.open();
    return source;
  }

  private async open(): Promise<void> {
    try {
      const client = connect(this.options.brokerUrl, {
        clientId: this.options.clientId ?? "devicetrust-watchtower",
        clean: false,
        reconnectPeriod: 1000,
        ...this.options.mqtt,
      });
      this.client = client;
      // Before the session resumes (a persistent session's messages come right after CONNACK).
      // mqtt.js's documented hook for backpressure: one message at a time, its PUBACK sent when the
      // callback runs.
      client.handleMessage = (packet, callback) => {
        const payload =
          typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
        this.take(packet.topic, Buffer.from(payload), () => {
          callback();
        });
      };
      // A resumed session's messages come right after CONNACK, and mqtt.js emits "connect" only
      // once they are handled: wait for the CONNACK itself, so the consumer can start.
      const sessionPresent = await new Promise<boolean>((resolve, reject) => {
        const onPacket = (packet: Packet): void => {
          if (packet.cmd !== "connack") return;
          client.off("packetreceive", onPacket);
          client.off("error", reject);
          if ((packet.returnCode ?? packet.reasonCode ?? 0) !== 0) {
            reject(
              new Error(
                `the broker refused the connection (code ${String(packet.returnCode ?? packet.reasonCode)})`,
              ),
            );
          } else resolve(packet.sessionPresent);
        };
        client.on("packetreceive", onPacket);
        client.once("error", reject);
      });
      // A resumed session keeps its subscriptions; a new one subscribes (nothing is queued for it yet).
      if (!sessionPresent) {
        const granted = await client.subscribeAsync([READING_FILTER, BATCH_FILTER], { qos: 1 });
        if (granted.some((g) => g.qos !== 1)) {
          throw new Error(`the broker granted ${JSON.stringify(granted.map((g) => g.qos))}`);
        }
      }
    } catch (err: unknown) {
      await this.client?.endAsync(true);
      throw new WatchtowerError(
        "WATCHTOWER_BROKER",
        `cannot subscribe to the devices' topics on ${this.options.brokerUrl} with QoS 1: check the broker address and its ACL (${err instanceof Error ? err.message : String(err)})`,
        { cause: err },
      );
    }
  }

  private take(topic: string, payload: Buffer, ack: () => void): void {
    const slot = parseTopic(topic);
    try {
      if (slot === null) throw new Error("not a device topic");
      let input: WatchedInput;
      if (slot.kind === "batch") {
        const decoded = decodeBatch(payload);
        input = {
          signed: { batch: decoded.batch, key: decoded.key, signature: decoded.signature },
          readings: () => batchReadings(decoded),
          origin: topic,
        };
      } else {
        input = { ...decodeReading(payload), origin: topic };
      }
      this.pending.push({ input, ack });
      const wake = this.waiting;
      this.waiting = undefined;
      wake?.();
    } catch (err: unknown) {
      this.options.onMalformed?.(topic, err);
      ack();
    }
  }

  /** Ends the stream after the message in hand (unacknowledged ones stay with the broker). */
  async close(): Promise<void> {
    this.ended = true;
    const wake = this.waiting;
    this.waiting = undefined;
    wake?.();
    // Forced: the message in hand is not acknowledged (mqtt.js would otherwise wait for it).
    await this.client?.endAsync(true);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchedInput> {
    for (;;) {
      const next = this.pending.shift();
      if (next === undefined) {
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.waiting = resolve));
        continue;
      }
      yield next.input;
      // The consumer asked for the next message: the one it had is handled.
      if (!this.ended) next.ack();
    }
  }
}
