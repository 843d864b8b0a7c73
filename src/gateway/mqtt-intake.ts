import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from "mqtt";
import { generate } from "mqtt-packet";
import type { Logger } from "pino";
import { errorMessage } from "../protocol/index.js";
import { GatewayError } from "./types.js";

export interface MqttIntakeOptions {
  /** The broker, e.g. mqtt://127.0.0.1:1883. */
  readonly brokerUrl: string;
  /** Kept across restarts: the broker keeps the session and what arrives while the gateway is down. */
  readonly clientId: string;
  readonly mqtt?: IClientOptions | undefined;
  /** The subscriptions (QoS 1). */
  readonly filters: readonly string[];
  /** Messages taken from the broker and not yet acknowledged at most. */
  readonly maxInFlight: number;
  /** Whether the gateway's queues have room for `inFlight` more messages (backpressure). */
  readonly hasRoom: (inFlight: number) => boolean;
  /** Called while the intake waits for room (the gateway's submission loop should run). */
  readonly onFull: () => void;
  /** Handles one message; resolves true when it may be acknowledged (persisted or dropped for good). */
  readonly handle: (topic: string, payload: Buffer) => Promise<boolean>;
  readonly log: Logger;
}

/**
 * Passed to mqtt.js's handleMessage callback so that it parses the next packet without sending the
 * PUBACK itself (its QoS 1 path sends none when the callback gets an error; the Mosquitto tests pin
 * this: a message whose handling failed is redelivered). The intake sends it later, in order.
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

/**
 * The gateway's MQTT side: one persistent session (clean: false, a fixed client id), QoS 1
 * subscriptions, manual acknowledgement. Messages are handled concurrently up to maxInFlight (and
 * while the queues have room: beyond it the broker holds them, TCP flow control), and each PUBACK goes
 * out in arrival order once its message is handled, on the connection it came in on.
 *
 * The PUBACK is an MQTT packet the intake encodes with mqtt-packet (the encoder mqtt.js itself uses)
 * and writes to the client's current stream (`client.stream`, a public property of MqttClient),
 * between whole packets; no private method of mqtt.js is called. start() refuses a client without a
 * writable stream, so a future mqtt.js that changed this fails loudly, not by losing acknowledgements.
 */
export class MqttIntake {
  private readonly options: MqttIntakeOptions;
  private client: MqttClient | undefined;
  private readonly acks: AckSlot[] = [];
  private readonly handlers = new Set<Promise<unknown>>();
  private roomWaiters: (() => void)[] = [];
  private inFlight = 0;
  private epoch = 0;
  private closing = false;

  constructor(options: MqttIntakeOptions) {
    this.options = options;
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  /** Messages taken and not yet handled. */
  get inHand(): number {
    return this.inFlight;
  }

  /** Connects and subscribes; throws GATEWAY_BROKER when it cannot. */
  async start(): Promise<void> {
    const o = this.options;
    try {
      const client = connect(o.brokerUrl, {
        clientId: o.clientId,
        clean: false,
        protocolVersion: 4,
        reconnectPeriod: 1000,
        ...o.mqtt,
      });
      this.client = client;
      client.handleMessage = (packet, callback) => {
        this.take(packet, callback);
      };
      client.on("connect", () => {
        this.epoch++;
      });
      client.on("close", () => {
        this.epoch++;
      });
      client.on("error", (err) => {
        o.log.warn({ event: "mqtt_error", err: err.message }, "MQTT error");
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
      if (
        typeof (client.stream as Partial<NodeJS.WritableStream> | undefined)?.write !== "function"
      ) {
        throw new Error(
          "this mqtt.js client has no writable stream to acknowledge on: pin mqtt 5.x (the gateway sends PUBACKs)",
        );
      }
      await client.subscribeAsync([...o.filters], { qos: 1 });
    } catch (err: unknown) {
      await this.close();
      throw new GatewayError(
        "GATEWAY_BROKER",
        `cannot connect or subscribe to ${o.brokerUrl}: check the broker address and that it runs (${errorMessage(err)})`,
        { cause: err },
      );
    }
  }

  /**
   * Stops taking messages: the connection closes (what was not acknowledged stays with the broker,
   * which redelivers it to the next session) and waiting intake is released.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.wake();
    if (this.client !== undefined) await this.client.endAsync(true);
  }

  /** Resolves when every message in hand has been handled. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.handlers]);
  }

  /** Lets waiting intake look again for room (after submissions emptied the queues). */
  wake(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * One packet from mqtt.js: handled concurrently with the next ones (up to maxInFlight, and while
   * the queues have room), acknowledged in arrival order once handled. `next` lets mqtt.js go on.
   */
  private take(packet: IPublishPacket, next: (error?: Error) => void): void {
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
    const p = this.options
      .handle(packet.topic, Buffer.from(payload))
      .then(
        (acknowledge) => {
          slot.state = acknowledge ? "ack" : "skip";
        },
        (err: unknown) => {
          // Not acknowledged: the broker redelivers it (after a reconnect).
          slot.state = "skip";
          this.options.log.error(
            { event: "intake_error", err: errorMessage(err) },
            "message not acknowledged",
          );
        },
      )
      .finally(() => {
        this.inFlight--;
        this.release();
        this.wake();
      });
    this.handlers.add(p);
    void p.finally(() => this.handlers.delete(p));
    void this.room().then(() => {
      next(ACK_LATER);
    });
  }

  /** Resolves when another message may be taken (or the intake is closing). */
  private async room(): Promise<void> {
    while (
      !this.closing &&
      (this.inFlight >= this.options.maxInFlight || !this.options.hasRoom(this.inFlight))
    ) {
      this.options.onFull();
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
  }

  /** Sends the PUBACKs of the handled messages at the head of the arrival order. */
  private release(): void {
    for (;;) {
      const head = this.acks[0];
      if (head === undefined || head.state === "pending") return;
      this.acks.shift();
      const client = this.client;
      if (
        head.state === "ack" &&
        head.qos > 0 &&
        head.messageId !== undefined &&
        head.epoch === this.epoch &&
        client?.connected === true
      ) {
        client.stream.write(generate({ cmd: "puback", messageId: head.messageId }));
      }
    }
  }
}
