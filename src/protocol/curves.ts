import { computeAddress } from "ethers";
import { InvalidInputError } from "./errors.js";
import { bigintToHex32, parseHexBytes, toHex, type Hex } from "./hex.js";
import { KeyType, type Curve, type DeviceKey } from "./keys.js";

export const CURVE_ORDER: Readonly<Record<Curve, bigint>> = {
  secp256k1: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
  p256: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
};

export interface RawSignature {
  readonly r: bigint;
  readonly s: bigint;
  /** secp256k1 only: recovery id 0 or 1 of (r, s) as given. */
  readonly recovery?: number;
}

/**
 * Returns the low-s form of (r, s): s' = n - s when s > n/2. HSMs and TPMs return high-s about half the
 * time; the contracts accept only low-s. Flipping s flips the secp256k1 recovery id.
 */
export function normalizeLowS(curve: Curve, sig: RawSignature): RawSignature {
  const n = CURVE_ORDER[curve];
  if (sig.r <= 0n || sig.r >= n || sig.s <= 0n || sig.s >= n) {
    throw new InvalidInputError(
      `${curve} signature has r or s outside [1, n-1]: the signer is broken`,
    );
  }
  if (sig.s <= n / 2n) return sig;
  return sig.recovery === undefined
    ? { r: sig.r, s: n - sig.s }
    : { r: sig.r, s: n - sig.s, recovery: sig.recovery ^ 1 };
}

export function isLowS(curve: Curve, s: bigint): boolean {
  return s > 0n && s <= CURVE_ORDER[curve] / 2n;
}

/** On-chain signature bytes: P-256 r‖s (64 bytes), secp256k1 r‖s‖v with v = 27 + recovery (65 bytes). */
export function encodeSignature(keyType: KeyType, sig: RawSignature): Hex {
  const rs = `0x${bigintToHex32(sig.r).slice(2)}${bigintToHex32(sig.s).slice(2)}` as const;
  if (keyType === KeyType.P256) return rs;
  if (sig.recovery !== 0 && sig.recovery !== 1) {
    throw new InvalidInputError("a secp256k1 signature needs its recovery id (0 or 1)");
  }
  return `${rs}${(27 + sig.recovery).toString(16)}`;
}

export function decodeSignature(keyType: KeyType, signature: Hex): RawSignature {
  const bytes = parseHexBytes(signature, "signature");
  const expected = keyType === KeyType.P256 ? 64 : 65;
  if (bytes.length !== expected) {
    throw new InvalidInputError(
      `a ${keyType === KeyType.P256 ? "P-256" : "secp256k1"} signature is ${String(expected)} bytes, got ${String(bytes.length)}`,
    );
  }
  const r = BigInt(toHex(bytes.subarray(0, 32)));
  const s = BigInt(toHex(bytes.subarray(32, 64)));
  if (keyType === KeyType.P256) return { r, s };
  const v = bytes[64] ?? 0;
  if (v !== 27 && v !== 28)
    throw new InvalidInputError(`secp256k1 signature v must be 27 or 28, got ${String(v)}`);
  return { r, s, recovery: v - 27 };
}

/**
 * The on-chain key of an uncompressed SEC1 public key (0x04 ‖ x ‖ y): P-256 → x ‖ y, secp256k1 → the
 * Ethereum address.
 */
export function deviceKeyFromPublicKey(curve: Curve, uncompressed: Uint8Array): DeviceKey {
  if (uncompressed.length !== 65 || uncompressed[0] !== 4) {
    throw new InvalidInputError(
      "expected an uncompressed SEC1 public key (65 bytes starting with 0x04)",
    );
  }
  if (curve === "p256") return { keyType: KeyType.P256, key: toHex(uncompressed.subarray(1)) };
  return {
    keyType: KeyType.Secp256k1,
    key: computeAddress(toHex(uncompressed)).toLowerCase() as Hex,
  };
}
