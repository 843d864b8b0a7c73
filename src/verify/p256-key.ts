import { createPublicKey, type KeyObject } from "node:crypto";

const P256_P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const P256_A = P256_P - 3n;
const P256_B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;

/** Whether (x, y) is a point of P-256 with coordinates below p: OpenZeppelin's P256.isValidPublicKey. */
export function isOnP256(x: bigint, y: bigint): boolean {
  if (x >= P256_P || y >= P256_P) return false;
  return (y * y) % P256_P === (((x * x + P256_A) % P256_P) * x + P256_B) % P256_P;
}

function bytesToBigint(bytes: Uint8Array): bigint {
  return BigInt(
    `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`,
  );
}

/**
 * The OpenSSL key of a P-256 device key (64 bytes x‖y), or null when the point is not on the curve
 * (the contract's "not-on-curve": OpenSSL would also refuse it, but with an exception).
 */
export function p256PublicKey(xy: Uint8Array): KeyObject | null {
  const x = xy.subarray(0, 32);
  const y = xy.subarray(32, 64);
  if (!isOnP256(bytesToBigint(x), bytesToBigint(y))) return null;
  return createPublicKey({
    key: {
      kty: "EC",
      crv: "P-256",
      x: Buffer.from(x).toString("base64url"),
      y: Buffer.from(y).toString("base64url"),
    },
    format: "jwk",
  });
}
