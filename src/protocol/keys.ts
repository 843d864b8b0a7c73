import { keccak256Buffer } from "./hash.js";
import { InvalidInputError } from "./errors.js";
import { asHex, fromHex, type Hex } from "./hex.js";

/**
 * Device key types, numbered as contracts/types/KeyType.sol.
 * - Secp256k1: key = the 20-byte Ethereum address; signature = 65-byte r‖s‖v over the EIP-712 digest.
 * - P256: key = 64-byte qx‖qy; signature = 64-byte r‖s, ECDSA-P256-SHA256 over the 32-byte digest.
 * Both low-s.
 */
export enum KeyType {
  None = 0,
  Secp256k1 = 1,
  P256 = 2,
}

export type Curve = "secp256k1" | "p256";

export interface DeviceKey {
  readonly keyType: KeyType;
  /** The key bytes in the on-chain encoding (see KeyType). */
  readonly key: Hex;
}

export const KEY_LENGTH: Readonly<Record<KeyType.Secp256k1 | KeyType.P256, number>> = {
  [KeyType.Secp256k1]: 20,
  [KeyType.P256]: 64,
};

export const SIGNATURE_LENGTH: Readonly<Record<KeyType.Secp256k1 | KeyType.P256, number>> = {
  [KeyType.Secp256k1]: 65,
  [KeyType.P256]: 64,
};

export function keyTypeOfCurve(curve: Curve): KeyType.Secp256k1 | KeyType.P256 {
  return curve === "p256" ? KeyType.P256 : KeyType.Secp256k1;
}

export function curveOfKeyType(keyType: KeyType): Curve {
  if (keyType === KeyType.P256) return "p256";
  if (keyType === KeyType.Secp256k1) return "secp256k1";
  throw new InvalidInputError(
    `key type ${String(keyType)} is not supported: use 1 (secp256k1) or 2 (P-256)`,
  );
}

export function parseCurve(value: string): Curve {
  const v = value.toLowerCase().replace(/[-_]/g, "");
  if (v === "p256" || v === "secp256r1" || v === "prime256v1") return "p256";
  if (v === "secp256k1" || v === "k1") return "secp256k1";
  throw new InvalidInputError(`unknown curve "${value}": use p256 or secp256k1`);
}

/** Validates a key's encoding (length; the curve check happens where the point is parsed). */
export function deviceKey(keyType: KeyType, key: string): DeviceKey {
  if (keyType !== KeyType.Secp256k1 && keyType !== KeyType.P256) {
    throw new InvalidInputError(
      `key type ${String(keyType)} is not supported: use 1 (secp256k1) or 2 (P-256)`,
    );
  }
  return { keyType, key: asHex(key, `${curveOfKeyType(keyType)} key`, KEY_LENGTH[keyType]) };
}

/** keccak256(uint8(keyType) ‖ key), as DeviceKeyLib.keyHash. */
export function keyHash(key: DeviceKey): Hex {
  // abi.encodePacked(uint8 keyType, bytes key), hashed in WebAssembly (hash.ts): ethers' packer and
  // JS keccak were a third of an in-process watchtower's time.
  const bytes = fromHex(key.key, "key");
  const packed = Buffer.allocUnsafe(1 + bytes.length);
  packed[0] = key.keyType;
  packed.set(bytes, 1);
  return `0x${keccak256Buffer(packed).toString("hex")}`;
}

/** A device's id for life: the key hash of its first key. */
export function deviceIdOf(firstKey: DeviceKey): Hex {
  return keyHash(firstKey);
}
