import type { Curve, DeviceKey, Hex } from "../protocol/index.js";

/**
 * A device's signing key, wherever it lives (software file, HSM or secure element over PKCS#11, a TPM). The key
 * store signs 32-byte EIP-712 digests with the scheme of its curve (see KeyType) and always returns the
 * canonical on-chain signature bytes (low-s; secp256k1 with v).
 */
export interface KeyStore {
  readonly kind: "software" | "pkcs11" | "tpm";
  readonly curve: Curve;
  /** The key as the registry stores it (P-256: qx‖qy; secp256k1: the address). */
  readonly deviceKey: DeviceKey;
  /** The uncompressed SEC1 public key (0x04‖x‖y). */
  readonly publicKey: Uint8Array;
  signDigest(digest: Hex): Promise<Hex>;
  /**
   * P-256 keys: ES256 over an encoded COSE_Sign1 Sig_structure (ECDSA-P256-SHA256 over those bytes, low-s
   * r‖s), for evidence such as PSA attestation tokens. Refuses anything not shaped as a Sig_structure
   * (isCoseSign1ToBeSigned), so it never signs what could pass for a 32-byte digest. Absent where the key
   * store cannot sign arbitrary-length messages.
   */
  signCoseSign1?(toBeSigned: Uint8Array): Promise<Hex>;
  /** Releases sessions and handles; signing after close throws. */
  close(): Promise<void>;
}
