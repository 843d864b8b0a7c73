import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import {
  InvalidInputError,
  type ReadingBatchMessage,
  type ReadingMessage,
  type SignedBatch,
  type WatchedBatch,
  type WatchedInput,
  signedReadingFromJson,
  type SignedReadingJson,
} from "../protocol/index.js";
import { readingBatchFromJson, readingBatchToJson, type BatchedReadingJson } from "./store.js";

/**
 * A signed batch as one JSON line (bigints as decimal strings): the ReadingBatch fields as the
 * device signed them, its key and signature, and its readings in sequence order, each with only its
 * own fields (deviceId and feedId are the batch's):
 *
 * ```json
 * {"batch":{"deviceId":"0x…","feedId":"0x…","firstSequence":"1","lastSequence":"32","count":"32",
 *   "fromTimestamp":"1700000001","toTimestamp":"1700000032","root":"0x…"},
 *  "key":{"keyType":2,"key":"0x…"},"signature":"0x…",
 *  "readings":[{"sequence":"1","timestamp":"1700000001","value":"-13"}, …]}
 * ```
 *
 * The watchtower checks the readings against the signed root (and count and ranges) itself.
 */
export interface SignedBatchJson {
  readonly batch: BatchedReadingJson["batch"];
  readonly key: SignedReadingJson["key"];
  readonly signature: string;
  readonly readings: readonly Pick<
    SignedReadingJson["reading"],
    "sequence" | "timestamp" | "value"
  >[];
}

/** A JSON line of `jsonLinesSource`: a single signed reading or a signed batch with its readings. */
export type WatchedJson = SignedReadingJson | SignedBatchJson;

/** A signed batch and its readings as a `SignedBatchJson` (for `JSON.stringify`, one per line). */
export function signedBatchToJson(
  signed: SignedBatch,
  readings: readonly ReadingMessage[],
): SignedBatchJson {
  const b = signed.batch;
  return {
    batch: readingBatchToJson(b),
    key: { keyType: signed.key.keyType, key: signed.key.key },
    signature: signed.signature,
    readings: readings.map((r) => ({
      sequence: r.sequence.toString(),
      timestamp: r.timestamp.toString(),
      value: r.value.toString(),
    })),
  };
}

/**
 * Parses (and validates the shape of) a signed batch from JSON, with its readings; throws
 * InvalidInputError if malformed. Whether the readings match the signed root is the watchtower's check.
 */
export function signedBatchFromJson(j: SignedBatchJson): {
  signed: SignedBatch;
  readings: ReadingMessage[];
} {
  const b = j.batch;
  // The ids, key and signature validated as a reading's are (its other fields are not used).
  const { reading, key, signature } = signedReadingFromJson({
    reading: { deviceId: b.deviceId, feedId: b.feedId, sequence: "0", timestamp: "0", value: "0" },
    key: j.key,
    signature: j.signature,
  });
  const { deviceId, feedId } = reading;
  const batch: ReadingBatchMessage = { ...readingBatchFromJson(b), deviceId, feedId };
  // JSON from outside: the declared type does not guarantee an array.
  const given: unknown = j.readings;
  if (!Array.isArray(given)) {
    throw new InvalidInputError("a batch line needs its readings: an array of readings");
  }
  return {
    signed: { batch, key, signature },
    readings: j.readings.map((r) => ({
      deviceId,
      feedId,
      sequence: BigInt(r.sequence),
      timestamp: BigInt(r.timestamp),
      value: BigInt(r.value),
    })),
  };
}

/** One parsed JSON line as the watchtower takes it: a batch if it has `batch`, else a single reading. */
export function watchedFromJson(j: WatchedJson, origin?: string): WatchedInput {
  const at = origin === undefined ? {} : { origin };
  if ("batch" in j) {
    const { signed, readings } = signedBatchFromJson(j);
    const batch: WatchedBatch = { signed, readings: () => readings, ...at };
    return batch;
  }
  return { ...signedReadingFromJson(j), ...at };
}

/**
 * A message source over newline-delimited JSON, e.g. a file or stdin for `watchtower start`. Each line
 * is one signed reading (bigints as decimal strings: the shape of `signedReadingToJson`) or one signed
 * batch with its readings (the shape of `signedBatchToJson`, told apart by its `batch` field). Lines
 * that do not parse are reported through `onInvalid` and skipped.
 */
export async function* jsonLinesSource(
  input: Readable,
  name = "input",
  onInvalid: (line: number, err: unknown) => void = () => undefined,
): AsyncGenerator<WatchedInput> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === "") continue;
    let parsed: WatchedInput;
    try {
      parsed = watchedFromJson(JSON.parse(line) as WatchedJson, `${name}:${String(n)}`);
    } catch (err: unknown) {
      onInvalid(n, err);
      continue;
    }
    yield parsed;
  }
}
