/**
 * Why a signature is not valid: the same reasons, in the same order, as DeviceKeyLib.checkSignature,
 * plus "malformed" for what the contract never sees (it takes bytes): a key, signature or digest
 * string that is not strict 0x-prefixed hex of whole bytes.
 */
export type SignatureVerdict =
  | "valid"
  | "malformed"
  | "unsupported-key-type"
  | "bad-key-length"
  | "not-on-curve"
  | "bad-signature-length"
  | "out-of-range"
  | "high-s"
  | "bad-v"
  | "wrong-signer";

/**
 * Every verdict once. A verdict's index is its one-byte code where verdicts cross a thread boundary
 * (VerifyPool): append new verdicts, never reorder.
 */
export const SIGNATURE_VERDICTS = [
  "valid",
  "malformed",
  "unsupported-key-type",
  "bad-key-length",
  "not-on-curve",
  "bad-signature-length",
  "out-of-range",
  "high-s",
  "bad-v",
  "wrong-signer",
] as const satisfies readonly SignatureVerdict[];

/** The one-byte code of each verdict (its index in SIGNATURE_VERDICTS). */
export const VERDICT_CODE: Readonly<Record<SignatureVerdict, number>> = Object.fromEntries(
  SIGNATURE_VERDICTS.map((v, i) => [v, i]),
) as Record<SignatureVerdict, number>;
