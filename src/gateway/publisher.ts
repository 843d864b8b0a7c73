import {
  type SignedReading,
  encodeBatch,
  signBatch,
  type BatchSigner,
  type SignedBatch,
  batchTopic,
  encodeReading,
  readingTopic,
  recoveryTopic,
} from "../protocol/index.js";
import { pqRecoveryRequestToJson, type PqRecoveryRequest } from "../verify/pq.js";
import { connectAsync, type IClientOptions, type MqttClient } from "mqtt";
import type { ReadingMessage } from "../protocol/index.js";

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

  /**
   * Publishes a device-signed batch and its readings (in sequence order) to its batch topic, in the
   * binary format of batch.ts. Build and sign one with `signBatch` (or use `signAndPublishBatch`).
   */
  async publishBatch(signed: SignedBatch, readings: readonly ReadingMessage[]): Promise<void> {
    await this.client.publishAsync(
      batchTopic(signed.batch.feedId, signed.batch.deviceId),
      encodeBatch(signed, readings),
      { qos: 1 },
    );
  }

  /** Builds the ReadingBatch of `readings`, has `signer` sign it, and publishes it. */
  async signAndPublishBatch(
    signer: BatchSigner,
    readings: readonly Omit<ReadingMessage, "deviceId">[],
  ): Promise<SignedBatch> {
    const b = await signBatch(signer, readings);
    await this.publishBatch(b.signed, b.readings);
    return b.signed;
  }

  /**
   * Publishes a post-quantum key recovery request (prepareKeyRecovery's, or `device recover-key
   * --json`'s) to its device's recovery topic, as JSON: a gateway with PqKeyRecovery verifies it and
   * carries it out (LMS) or records it for governance (ML-DSA-44).
   */
  async publishRecovery(request: PqRecoveryRequest): Promise<void> {
    await this.client.publishAsync(
      recoveryTopic(request.deviceId),
      JSON.stringify(pqRecoveryRequestToJson(request)),
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
