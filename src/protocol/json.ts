import { InvalidInputError } from "./errors.js";
import { asHex } from "./hex.js";
import { KeyType, deviceKey } from "./keys.js";
import type { SignedReading } from "./signed.js";

/** A signed reading as JSON (bigints as decimal strings): the evidence column and the JSON source. */
export interface SignedReadingJson {
  readonly reading: {
    readonly deviceId: string;
    readonly feedId: string;
    readonly sequence: string;
    readonly timestamp: string;
    readonly value: string;
  };
  readonly key: { readonly keyType: number; readonly key: string };
  readonly signature: string;
}

/** A key type number (1 secp256k1, 2 P-256) as the KeyType enum. */
export function keyTypeOf(value: number): KeyType {
  if (value === 1) return KeyType.Secp256k1;
  if (value === 2) return KeyType.P256;
  throw new InvalidInputError(
    `key type ${String(value)} is not supported: use 1 (secp256k1) or 2 (P-256)`,
  );
}

export function signedReadingToJson(s: SignedReading): SignedReadingJson {
  const r = s.reading;
  return {
    reading: {
      deviceId: r.deviceId,
      feedId: r.feedId,
      sequence: r.sequence.toString(),
      timestamp: r.timestamp.toString(),
      value: r.value.toString(),
    },
    key: { keyType: s.key.keyType, key: s.key.key },
    signature: s.signature,
  };
}

/** Parses (and validates the shape of) a signed reading from JSON; throws InvalidInputError if malformed. */
export function signedReadingFromJson(j: SignedReadingJson): SignedReading {
  return {
    reading: {
      deviceId: asHex(j.reading.deviceId, "reading.deviceId", 32),
      feedId: asHex(j.reading.feedId, "reading.feedId", 32),
      sequence: BigInt(j.reading.sequence),
      timestamp: BigInt(j.reading.timestamp),
      value: BigInt(j.reading.value),
    },
    key: deviceKey(keyTypeOf(j.key.keyType), j.key.key),
    signature: asHex(j.signature, "signature"),
  };
}
