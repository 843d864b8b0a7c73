import { InvalidInputError } from "./errors.js";
import { asHex, type Hex } from "./hex.js";
import { signedReadingFromJson, signedReadingToJson, type SignedReadingJson } from "./json.js";
import type { SignedReading } from "./signed.js";

/**
 * The MQTT topic scheme. A device publishes each signed reading, QoS 1, to
 *
 *     dt/devicetrust/<feedId>/<deviceId>/reading
 *
 * with feedId and deviceId as 0x-prefixed lowercase 32-byte hex. The payload is the JSON of
 * `signedReadingToJson` (bigints as decimal strings). Gateways subscribe to
 * `dt/devicetrust/+/+/reading`, or to `$share/<group>/dt/devicetrust/+/+/reading` so that several
 * instances split the load (MQTT shared subscriptions). The topic must name the payload's feed and
 * device: a broker ACL can then restrict each device to its own topics.
 *
 * Batch mode: a device publishes, QoS 1, to
 *
 *     dt/devicetrust/<feedId>/<deviceId>/batch
 *
 * one message holding a device-signed ReadingBatch and the readings it covers, in the binary format
 * of src/protocol/batch.ts (version 1: a 134-byte header with the batch fields, the key, the signature, then 48
 * bytes per reading: sequence u64, timestamp u64, value int256, big-endian). The readings carry no
 * signature of their own: the batch signature covers their Merkle root. Gateways subscribe to both
 * `dt/devicetrust/+/+/reading` and `dt/devicetrust/+/+/batch` (each shared when in a group).
 *
 * Post-quantum key recovery: whoever holds a device's committed post-quantum key publishes, QoS 1, to
 *
 *     dt/devicetrust/recovery/<deviceId>
 *
 * one recovery request as JSON (PqRecoveryRequestJson of src/verify/pq.ts, the payload's deviceId the
 * topic's). Four levels, not five: neither the reading nor the batch filter matches it, and parseTopic
 * returns null for it, so nothing that takes readings takes it for one. Gateways configured with a
 * PqKeyRecovery subscribe to `dt/devicetrust/recovery/+` (shared when in a group).
 */
export const TOPIC_ROOT = "dt/devicetrust";
export const READING_FILTER = `${TOPIC_ROOT}/+/+/reading`;
export const BATCH_FILTER = `${TOPIC_ROOT}/+/+/batch`;
export const RECOVERY_FILTER = `${TOPIC_ROOT}/recovery/+`;

/** The kinds of message a device publishes (the topic's last level). */
export type TopicKind = "reading" | "batch";

export function readingTopic(feedId: Hex, deviceId: Hex): string {
  return `${TOPIC_ROOT}/${feedId.toLowerCase()}/${deviceId.toLowerCase()}/reading`;
}

export function batchTopic(feedId: Hex, deviceId: Hex): string {
  return `${TOPIC_ROOT}/${feedId.toLowerCase()}/${deviceId.toLowerCase()}/batch`;
}

/** The topic of a post-quantum key recovery request of `deviceId`. */
export function recoveryTopic(deviceId: Hex): string {
  return `${TOPIC_ROOT}/recovery/${deviceId.toLowerCase()}`;
}

/** The device a recovery topic names, or null when the topic is not a recovery topic. */
export function parseRecoveryTopic(topic: string): { deviceId: Hex } | null {
  const parts = topic.split("/");
  if (parts.length !== 4 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT || parts[2] !== "recovery") {
    return null;
  }
  try {
    return { deviceId: asHex(parts[3] ?? "", "deviceId", 32).toLowerCase() as Hex };
  } catch {
    return null;
  }
}

/** A subscription filter (default: readings), shared by `group` when given. */
export function readingSubscription(group?: string, filter = READING_FILTER): string {
  if (group === undefined) return filter;
  if (!/^[A-Za-z0-9_-]+$/.test(group)) {
    throw new InvalidInputError(
      `shared subscription group "${group}" must be letters, digits, _ or -: pick another name`,
    );
  }
  return `$share/${group}/${filter}`;
}

/** The kind, feed and device a device topic names, or null when it is not a reading or batch topic. */
export function parseTopic(topic: string): { kind: TopicKind; feedId: Hex; deviceId: Hex } | null {
  const parts = topic.split("/");
  const kind = parts[4];
  if (
    parts.length !== 5 ||
    `${parts[0]}/${parts[1]}` !== TOPIC_ROOT ||
    (kind !== "reading" && kind !== "batch")
  ) {
    return null;
  }
  try {
    return {
      kind,
      feedId: asHex(parts[2] ?? "", "feedId", 32).toLowerCase() as Hex,
      deviceId: asHex(parts[3] ?? "", "deviceId", 32).toLowerCase() as Hex,
    };
  } catch {
    return null;
  }
}

/** The feed and device a reading topic names, or null when the topic is not a reading topic. */
export function parseReadingTopic(topic: string): { feedId: Hex; deviceId: Hex } | null {
  const slot = parseTopic(topic);
  return slot?.kind === "reading" ? { feedId: slot.feedId, deviceId: slot.deviceId } : null;
}

export function encodeReading(signed: SignedReading): Buffer {
  return Buffer.from(JSON.stringify(signedReadingToJson(signed)));
}

/** Decodes a payload; throws (InvalidInputError, SyntaxError or TypeError) when it is malformed. */
export function decodeReading(payload: Buffer): SignedReading {
  return signedReadingFromJson(JSON.parse(payload.toString("utf8")) as SignedReadingJson);
}
