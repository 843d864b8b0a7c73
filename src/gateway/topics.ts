import { asHex, type Hex } from "../protocol/index.js";
import {
  signedReadingFromJson,
  signedReadingToJson,
  type SignedReading,
  type SignedReadingJson,
} from "../watchtower/index.js";
import { GatewayError } from "./types.js";

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
 */
export const TOPIC_ROOT = "dt/devicetrust";
export const READING_FILTER = `${TOPIC_ROOT}/+/+/reading`;

export function readingTopic(feedId: Hex, deviceId: Hex): string {
  return `${TOPIC_ROOT}/${feedId.toLowerCase()}/${deviceId.toLowerCase()}/reading`;
}

/** The subscription filter: shared by `group` when given. */
export function readingSubscription(group?: string): string {
  if (group === undefined) return READING_FILTER;
  if (!/^[A-Za-z0-9_-]+$/.test(group)) {
    throw new GatewayError(
      "GATEWAY_BAD_GROUP",
      `shared subscription group "${group}" must be letters, digits, _ or -: pick another name`,
    );
  }
  return `$share/${group}/${READING_FILTER}`;
}

/** The feed and device a reading topic names, or null when the topic is not a reading topic. */
export function parseReadingTopic(topic: string): { feedId: Hex; deviceId: Hex } | null {
  const parts = topic.split("/");
  if (parts.length !== 5 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT || parts[4] !== "reading") {
    return null;
  }
  try {
    return {
      feedId: asHex(parts[2] ?? "", "feedId", 32).toLowerCase() as Hex,
      deviceId: asHex(parts[3] ?? "", "deviceId", 32).toLowerCase() as Hex,
    };
  } catch {
    return null;
  }
}

export function encodeReading(signed: SignedReading): Buffer {
  return Buffer.from(JSON.stringify(signedReadingToJson(signed)));
}

/** Decodes a payload; throws (InvalidInputError, SyntaxError or TypeError) when it is malformed. */
export function decodeReading(payload: Buffer): SignedReading {
  return signedReadingFromJson(JSON.parse(payload.toString("utf8")) as SignedReadingJson);
}
