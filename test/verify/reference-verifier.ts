/**
 * The verifier as it was before SignatureVerifier (commit 17d2300, src/verify/signature.ts): ecrecover
 * through ethers' recoverAddress (@noble/curves) for secp256k1, OpenSSL for P-256, no key cache but
 * P-256's. Kept verbatim as the oracle the new verifier and VerifyPool must agree with, verdict for
 * verdict.
 */
import { createPublicKey, verify as nodeVerify, type KeyObject } from "node:crypto";
import { recoverAddress } from "ethers";
import {
  CURVE_ORDER,
  KEY_LENGTH,
  KeyType,
  SIGNATURE_LENGTH,
  isHex,
  parseHexBytes,
  type DeviceKey,
  type Hex,
} from "../../src/protocol/index.js";
import type { SignatureVerdict } from "../../src/verify/verdict.js";

const P256_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const P256_A = P256_P - 3n;
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

/** Whether (x, y) is a point of P-256 with coordinates below p: OpenZeppelin's P256.isValidPublicKey. */
function isOnP256(x: bigint, y: bigint): boolean {
  if (x >= P256_P || y >= P256_P) return false;
  return (y * y) % P256_P === (((x * x + P256_A) % P256_P) * x + P256_B) % P256_P;
}

/**
 * KeyObjects are costly to build and devices sign many messages with one key: keep each P-256 key's
 * KeyObject (or the fact that it is not on the curve) so a verification costs one OpenSSL call.
 */
const p256Keys = new Map<string, KeyObject | null>();
const P256_KEY_CACHE_LIMIT = 10_000;

function p256KeyObject(key: Hex): KeyObject | null {
  let k = p256Keys.get(key);
  if (k === undefined) {
    const bytes = parseHexBytes(key, "P-256 key");
    const x = bytesToBigint(bytes.subarray(0, 32));
    const y = bytesToBigint(bytes.subarray(32));
    k = isOnP256(x, y)
      ? createPublicKey({
          key: {
            kty: "EC",
            crv: "P-256",
            x: Buffer.from(bytes.subarray(0, 32)).toString("base64url"),
            y: Buffer.from(bytes.subarray(32)).toString("base64url"),
          },
          format: "jwk",
        })
      : null;
    if (p256Keys.size >= P256_KEY_CACHE_LIMIT) p256Keys.clear();
    p256Keys.set(key, k);
  }
  return k;
}

function bytesToBigint(bytes: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
}

/** Big-endian 32-byte encodings of n and n/2 per curve, to range-check r and s without bigints. */
const ORDER_BYTES = {
  p256: { n: hex32(CURVE_ORDER.p256), half: hex32(CURVE_ORDER.p256 / 2n) },
  secp256k1: { n: hex32(CURVE_ORDER.secp256k1), half: hex32(CURVE_ORDER.secp256k1 / 2n) },
} as const;
const ZERO32 = new Uint8Array(32);

function hex32(value: bigint): Uint8Array {
  return parseHexBytes(`0x${value.toString(16).padStart(64, "0")}`, "curve order");
}

/**
 * Checks a device signature over an EIP-712 digest with exactly the contract's rules (key encoding,
 * curve membership, lengths, r and s in range, low-s, v, signer). P-256 goes through node:crypto
 * (OpenSSL). Never throws: a key, signature or digest that is not strict 0x-prefixed hex of whole
 * bytes (a non-hex character, extra characters, an odd number of digits, no prefix, not a string) is
 * "malformed"; well-formed hex of the wrong length is "bad-key-length" / "bad-signature-length", as
 * the contract says; a digest of any length but 32 bytes is "malformed".
 */
export function referenceCheck(key: DeviceKey, digest: Hex, signature: Hex): SignatureVerdict {
  const keyType = key.keyType;
  if (keyType !== KeyType.Secp256k1 && keyType !== KeyType.P256) return "unsupported-key-type";
  if (!isHex(key.key)) return "malformed";
  if (key.key.length !== 2 + 2 * KEY_LENGTH[keyType]) return "bad-key-length";
  // Cached P-256 keys skip decoding entirely.
  const p256Key = keyType === KeyType.P256 ? p256KeyObject(key.key) : undefined;
  if (p256Key === null) return "not-on-curve";
  if (!isHex(signature) || !isHex(digest, 32)) return "malformed";
  const sig = parseHexBytes(signature, "signature");
  if (sig.length !== SIGNATURE_LENGTH[keyType]) return "bad-signature-length";
  const order = ORDER_BYTES[keyType === KeyType.P256 ? "p256" : "secp256k1"];
  const r = sig.subarray(0, 32);
  const s = sig.subarray(32, 64);
  const outside = (x: Uint8Array): boolean =>
    Buffer.compare(x, ZERO32) === 0 || Buffer.compare(x, order.n) >= 0;
  if (outside(r) || outside(s)) return "out-of-range";
  if (Buffer.compare(s, order.half) > 0) return "high-s";
  if (p256Key === undefined) {
    const v = sig[64];
    if (v !== 27 && v !== 28) return "bad-v";
    try {
      return recoverAddress(digest, signature).toLowerCase() === key.key.toLowerCase()
        ? "valid"
        : "wrong-signer";
    } catch {
      return "wrong-signer";
    }
  }
  const ok = nodeVerify(
    "sha256",
    parseHexBytes(digest, "digest"),
    { key: p256Key, dsaEncoding: "ieee-p1363" },
    sig,
  );
  return ok ? "valid" : "wrong-signer";
}
