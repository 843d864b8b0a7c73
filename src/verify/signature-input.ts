import {
  KEY_LENGTH,
  KeyType,
  SIGNATURE_LENGTH,
  isHex,
  type DeviceKey,
  type Hex,
} from "../protocol/index.js";
import type { SignatureVerdict } from "./verdict.js";

/**
 * A device signature check's input once its strings are read: what checkDeviceSignature decides
 * without a key cache or any curve arithmetic. A VerifyPool reads items on its caller's thread and
 * ships this form to its workers, so both halves of the check are the same code inline and pooled.
 */
export interface SignatureInput {
  readonly keyType: KeyType.Secp256k1 | KeyType.P256;
  /** The key bytes: a 20-byte address or a 64-byte P-256 x‖y. */
  readonly key: Uint8Array;
  /**
   * The signature's or digest's verdict when it is already known to fail: the contract judges the key
   * first (a P-256 key off the curve is "not-on-curve" whatever the signature), so it waits for that.
   */
  readonly problem: "malformed" | "bad-signature-length" | undefined;
  /** 32 bytes; empty when `problem` is set. */
  readonly digest: Uint8Array;
  /** 64 bytes (P-256 r‖s) or 65 (secp256k1 r‖s‖v); empty when `problem` is set. */
  readonly signature: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function bytesOf(hex: Hex): Uint8Array {
  // Only strict hex reaches here (checked by isHex), so Buffer's lenient decoder drops nothing.
  return Buffer.from(hex.slice(2), "hex");
}

/**
 * Reads a check's strings in the contract's order: the key type ("unsupported-key-type"), the key's
 * hex ("malformed") and length ("bad-key-length"); then the signature's and digest's hex and the
 * signature's length, whose failure is kept in `problem` for after the curve check. Never throws.
 */
export function readSignatureInput(
  key: DeviceKey,
  digest: Hex,
  signature: Hex,
): SignatureInput | SignatureVerdict {
  const keyType = key.keyType;
  if (keyType !== KeyType.Secp256k1 && keyType !== KeyType.P256) return "unsupported-key-type";
  if (!isHex(key.key)) return "malformed";
  if (key.key.length !== 2 + 2 * KEY_LENGTH[keyType]) return "bad-key-length";
  const keyBytes = bytesOf(key.key);
  if (!isHex(signature) || !isHex(digest, 32)) {
    return { keyType, key: keyBytes, problem: "malformed", digest: EMPTY, signature: EMPTY };
  }
  if (signature.length !== 2 + 2 * SIGNATURE_LENGTH[keyType]) {
    return {
      keyType,
      key: keyBytes,
      problem: "bad-signature-length",
      digest: EMPTY,
      signature: EMPTY,
    };
  }
  return {
    keyType,
    key: keyBytes,
    problem: undefined,
    digest: bytesOf(digest),
    signature: bytesOf(signature),
  };
}
