import { DeviceTrustError, type DeviceKey, type Hex } from "../protocol/index.js";
import type { SignatureVerdict } from "./verdict.js";
import { SignatureVerifier } from "./verifier.js";

export { isOnP256 } from "./p256-key.js";
export type { SignatureVerdict } from "./verdict.js";

export class SignatureError extends DeviceTrustError {
  readonly verdict: SignatureVerdict;
  constructor(verdict: SignatureVerdict, message: string) {
    super(`SIGNATURE_${verdict.toUpperCase().replace(/-/g, "_")}`, message);
    this.name = "SignatureError";
    this.verdict = verdict;
  }
}

/**
 * The verifier behind checkDeviceSignature: one per thread (module state is per thread), its key caches
 * sized for 100,000 secp256k1 devices and 100,000 P-256 keys (see SignatureVerifier).
 */
const shared = new SignatureVerifier();

/**
 * Checks a device signature over an EIP-712 digest with exactly the contract's rules (key encoding,
 * curve membership, lengths, r and s in range, low-s, v, signer). P-256 goes through node:crypto
 * (OpenSSL), secp256k1 through the contract's ecrecover on libsecp256k1 (see SignatureVerifier). Never
 * throws: a key, signature or digest that is not strict 0x-prefixed hex of whole bytes (a non-hex
 * character, extra characters, an odd number of digits, no prefix, not a string) is "malformed";
 * well-formed hex of the wrong length is "bad-key-length" / "bad-signature-length", as the contract
 * says; a digest of any length but 32 bytes is "malformed". To check many signatures on other cores,
 * see VerifyPool.
 */
export function checkDeviceSignature(
  key: DeviceKey,
  digest: Hex,
  signature: Hex,
): SignatureVerdict {
  return shared.check(key, digest, signature);
}

export function isValidDeviceSignature(key: DeviceKey, digest: Hex, signature: Hex): boolean {
  return checkDeviceSignature(key, digest, signature) === "valid";
}

const VERDICT_TEXT: Record<Exclude<SignatureVerdict, "valid">, string> = {
  malformed:
    "the key, signature or digest is not 0x-prefixed hex of whole bytes: send each as 0x followed by its hex digits, nothing else",
  "unsupported-key-type": "the key type is not supported (use secp256k1 or P-256)",
  "bad-key-length": "the key has the wrong length (secp256k1: 20-byte address, P-256: 64-byte x‖y)",
  "not-on-curve": "the P-256 public key is not a point on the curve",
  "bad-signature-length":
    "the signature has the wrong length (secp256k1: 65 bytes, P-256: 64 bytes)",
  "out-of-range": "r or s is zero or not below the curve order",
  "high-s": "s is above n/2: normalize the signature to low-s (s = n - s)",
  "bad-v": "secp256k1 v must be 27 or 28",
  "wrong-signer":
    "the signature was made by another key, over another message, or under another chain/contract",
};

/** Throws a SignatureError that says what is wrong unless the signature is valid. */
export function assertDeviceSignature(key: DeviceKey, digest: Hex, signature: Hex): void {
  const verdict = checkDeviceSignature(key, digest, signature);
  if (verdict !== "valid")
    throw new SignatureError(verdict, `invalid device signature: ${VERDICT_TEXT[verdict]}`);
}
