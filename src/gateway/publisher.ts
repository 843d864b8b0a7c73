import { connectAsync, type IClientOptions, type MqttClient } from "mqtt";
import type { SignedReading } from "../watchtower/index.js";
import { encodeReading, readingTopic } from "./topics.js";

/**
 * A device's MQTT side: publishes its signed readings with QoS 1 to its reading topic. publish()
 * resolves once the broker acknowledged (PUBACK), i.e. the broker holds the reading.
 */
export class DevicePublisher {
  readonly client: MqttClient;

  private constructor(client: MqttClient) {
    this.client = client;
  }

  static async connect(url: string, options: IClientOptions = {}): Promise<DevicePublisher> {
    const client = await connectAsync(url, { reconnectPeriod: 1000, ...options });
    return new DevicePublisher(client);
  }

  async publish(signed: SignedReading): Promise<void> {
    await this.client.publishAsync(
      readingTopic(signed.reading.feedId, signed.reading.deviceId),
      encodeReading(signed),
      { qos: 1 },
    );
  }

  /** Publishes raw bytes to a topic (for tests of malformed input). */
  async publishRaw(topic: string, payload: Buffer | string): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: 1 });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}
