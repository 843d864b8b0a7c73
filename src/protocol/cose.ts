import { encode, Tag } from "cbor2";
import { InvalidInputError } from "./errors.js";
import type { Curve } from "./keys.js";

/**
 * COSE_Sign1 (RFC 9052 §4.2, §4.4) as DeviceTrust signs evidence with it: one signer, ES256 (ECDSA P-256
 * with SHA-256, the signature as raw r‖s), every structure in RFC 8949 core deterministic encoding so the
 * contracts parse exactly one shape.
 *
 *   COSE_Sign1 = #6.18([ protected: bstr .cbor {1: -7}, unprotected: {}, payload: bstr, signature: bstr ])
 *   Sig_structure = [ "Signature1", protected, external_aad: h'', payload ]
 *   signature = ECDSA-P256-SHA256(encoded Sig_structure), r‖s, 64 bytes, low-s
 */

/** The CBOR tag of a COSE_Sign1 message. */
export const COSE_SIGN1_TAG = 18;
/** Header labels (RFC 9052 §3.1). */
export const COSE_HEADER_ALG = 1;
export const COSE_HEADER_CRIT = 2;
/** ES256: ECDSA with SHA-256 (RFC 9053 §2.1). */
export const COSE_ALG_ES256 = -7;
/** The Sig_structure context of a COSE_Sign1. */
export const SIGNATURE1_CONTEXT = "Signature1";

/** Core deterministic encoding (RFC 8949 §4.2.1): shortest forms, definite lengths, sorted map keys. */
export function encodeDeterministic(value: unknown): Uint8Array {
  // cbor2 writes into chunks of chunkSize bytes, one writer per map key it sorts: 4 KiB by default, which
  // made encoding a token's claims mostly garbage collection.
  return encode(value, {
    cde: true,
    rejectDuplicateKeys: true,
    rejectUndefined: true,
    chunkSize: 256,
  });
}

/** The protected header of an ES256 signature, {1: -7}: the bytes a1 01 26. */
export const ES256_PROTECTED_HEADER: Uint8Array = encodeDeterministic(
  new Map([[COSE_HEADER_ALG, COSE_ALG_ES256]]),
);

/** The encoded Sig_structure of a COSE_Sign1 (no external AAD): the bytes its signature covers. */
export function coseSign1ToBeSigned(protectedHeader: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeDeterministic([
    SIGNATURE1_CONTEXT,
    new Uint8Array(protectedHeader),
    new Uint8Array(0),
    new Uint8Array(payload),
  ]);
}

/** 84 6a "Signature1": how every encoded COSE_Sign1 Sig_structure starts. */
const SIG_STRUCTURE_PREFIX = Uint8Array.from([
  0x84,
  0x60 + SIGNATURE1_CONTEXT.length,
  ...Buffer.from(SIGNATURE1_CONTEXT, "ascii"),
]);

/**
 * Whether `bytes` are shaped as a COSE_Sign1 Sig_structure: the prefix 84 6a "Signature1" and longer than
 * a 32-byte digest. Key stores sign arbitrary-length messages only when this holds, so a signature made
 * for COSE can never be a signature over a 32-byte EIP-712 digest (the device's other scheme).
 */
export function isCoseSign1ToBeSigned(bytes: Uint8Array): boolean {
  if (bytes.length <= 32) return false;
  return SIG_STRUCTURE_PREFIX.every((b, i) => bytes[i] === b);
}

/**
 * Throws an InvalidInputError unless a key on `curve` may sign `toBeSigned` with ES256: the key is P-256
 * and the bytes are shaped as a Sig_structure (isCoseSign1ToBeSigned). Every key store checks this first.
 */
export function checkCoseSign1Signing(curve: Curve, toBeSigned: Uint8Array): void {
  if (curve !== "p256") {
    throw new InvalidInputError(`COSE ES256 needs a P-256 key, this key is ${curve}`);
  }
  if (!isCoseSign1ToBeSigned(toBeSigned)) {
    throw new InvalidInputError(
      'a key store signs only COSE_Sign1 Sig_structures (84 6a "Signature1" …): build the bytes with coseSign1ToBeSigned',
    );
  }
}

/** Encodes #6.18([protected, {}, payload, signature]) deterministically. */
export function encodeCoseSign1(
  protectedHeader: Uint8Array,
  payload: Uint8Array,
  signature: Uint8Array,
): Uint8Array {
  return encodeDeterministic(
    new Tag(COSE_SIGN1_TAG, [
      new Uint8Array(protectedHeader),
      new Map(),
      new Uint8Array(payload),
      new Uint8Array(signature),
    ]),
  );
}
