import { LmsParseError } from "./errors.js";
import { getU32, putU32 } from "./lmots.js";
import {
  lmotsByType,
  lmsByType,
  lmsPublicKeyBytes,
  lmsSignatureBytes,
  type LmotsParams,
  type LmsParams,
} from "./params.js";

/**
 * The wire formats of RFC 8554 §5.3 and §5.4 (LMS) and §6.2 (HSS), and their strict parsers: every
 * typecode must be known, the LMS and LM-OTS sets must use the same hash, q must be below 2^h, and the
 * bytes must be exactly as long as the typecodes say. Anything else throws an LmsParseError naming the
 * field and the problem.
 */

/** An LMS public key: u32str(type) ‖ u32str(otstype) ‖ I ‖ T[1]. */
export interface LmsPublicKey {
  readonly lms: LmsParams;
  readonly lmots: LmotsParams;
  /** I: the 16-byte key pair identifier. */
  readonly identifier: Uint8Array;
  /** T[1]: the root of the Merkle tree, m bytes. */
  readonly root: Uint8Array;
}

/**
 * An LMS signature: u32str(q) ‖ lmots_signature ‖ u32str(type) ‖ path[0] ‖ … ‖ path[h-1], with
 * lmots_signature = u32str(otstype) ‖ C ‖ y[0] ‖ … ‖ y[p-1]. The byte fields are views into the parsed
 * bytes (no copies: a verifier parses thousands a second).
 */
export interface LmsSignature {
  /** The leaf (one-time key) that signed. */
  readonly q: number;
  readonly lmots: LmotsParams;
  /** The LM-OTS signature from its typecode on: u32str(otstype) ‖ C ‖ y[0] ‖ … ‖ y[p-1]. */
  readonly lmotsSignature: Uint8Array;
  readonly lms: LmsParams;
  /** The authentication path: h nodes of m bytes, from the leaf's sibling up. */
  readonly path: Uint8Array;
}

function fail(field: string, problem: LmsParseError["problem"], detail: string): never {
  throw new LmsParseError(field, problem, `${field} ${detail}`);
}

function lengthCheck(field: string, what: string, have: number, need: number): void {
  if (have < need) {
    fail(
      field,
      "truncated",
      `is ${String(have)} bytes, and its typecodes call for ${String(need)} (${what}): it was cut short; pass the whole value`,
    );
  }
}

function lmsTypeAt(bytes: Uint8Array, offset: number, field: string): LmsParams {
  const code = getU32(bytes, offset);
  const params = lmsByType(code);
  if (params === undefined) {
    fail(
      field,
      "unknown-lms-type",
      `has LMS typecode 0x${code.toString(16).padStart(8, "0")}, which is none of the LMS_SHA256_M32_H5..H25 (0x05-0x09) and LMS_SHA256_M24_H5..H25 (0x0a-0x0e) this implementation knows: check that it is an LMS value, in RFC 8554's encoding`,
    );
  }
  return params;
}

function lmotsTypeAt(bytes: Uint8Array, offset: number, field: string): LmotsParams {
  const code = getU32(bytes, offset);
  const params = lmotsByType(code);
  if (params === undefined) {
    fail(
      field,
      "unknown-lmots-type",
      `has LM-OTS typecode 0x${code.toString(16).padStart(8, "0")}, which is none of LMOTS_SHA256_N32_W1..W8 (0x01-0x04) and LMOTS_SHA256_N24_W1..W8 (0x05-0x08): check that it is an LMS value, in RFC 8554's encoding`,
    );
  }
  return params;
}

function sameHash(field: string, lms: LmsParams, lmots: LmotsParams): void {
  if (lms.m !== lmots.n) {
    fail(
      field,
      "type-mismatch",
      `pairs ${lms.name} with ${lmots.name}: an LMS tree and its one-time keys must use the same hash (M32 with N32, M24 with N24)`,
    );
  }
}

/** Reads an LMS public key at `offset`; returns it and where it ends. */
export function readLmsPublicKey(
  bytes: Uint8Array,
  offset: number,
  field: string,
): { readonly key: LmsPublicKey; readonly end: number } {
  lengthCheck(field, "the two typecodes", bytes.length - offset, 8);
  const lms = lmsTypeAt(bytes, offset, field);
  const lmots = lmotsTypeAt(bytes, offset + 4, field);
  sameHash(field, lms, lmots);
  const size = lmsPublicKeyBytes(lms);
  lengthCheck(field, `${lms.name}: typecodes, I and T[1]`, bytes.length - offset, size);
  return {
    key: {
      lms,
      lmots,
      identifier: bytes.subarray(offset + 8, offset + 24),
      root: bytes.subarray(offset + 24, offset + size),
    },
    end: offset + size,
  };
}

/** Reads an LMS signature at `offset`; returns it and where it ends. */
export function readLmsSignature(
  bytes: Uint8Array,
  offset: number,
  field: string,
): { readonly signature: LmsSignature; readonly end: number } {
  const have = bytes.length - offset;
  lengthCheck(field, "q and the LM-OTS typecode", have, 8);
  const q = getU32(bytes, offset);
  const lmots = lmotsTypeAt(bytes, offset + 4, field);
  const lmsAt = offset + 4 + lmots.signatureBytes;
  lengthCheck(
    field,
    `q, then a ${lmots.name} signature and the LMS typecode`,
    have,
    lmsAt + 4 - offset,
  );
  const lms = lmsTypeAt(bytes, lmsAt, field);
  sameHash(field, lms, lmots);
  const size = lmsSignatureBytes(lms, lmots);
  lengthCheck(field, `${lms.name} with ${lmots.name}`, have, size);
  if (q >= 2 ** lms.h) {
    fail(
      field,
      "q-out-of-range",
      `names leaf q = ${String(q)}, and a ${lms.name} tree has leaves 0..${String(2 ** lms.h - 1)}: the signature is corrupt or not of this key`,
    );
  }
  return {
    signature: {
      q,
      lmots,
      lmotsSignature: bytes.subarray(offset + 4, lmsAt),
      lms,
      path: bytes.subarray(lmsAt + 4, offset + size),
    },
    end: offset + size,
  };
}

function noTrailing(field: string, bytes: Uint8Array, end: number): void {
  if (end !== bytes.length) {
    fail(
      field,
      "trailing-bytes",
      `is ${String(bytes.length)} bytes, and its typecodes call for ${String(end)}: ${String(bytes.length - end)} bytes follow it; pass the value alone`,
    );
  }
}

/** Parses an LMS public key (exactly its bytes); throws LmsParseError. */
export function parseLmsPublicKey(bytes: Uint8Array, field = "LMS public key"): LmsPublicKey {
  const { key, end } = readLmsPublicKey(bytes, 0, field);
  noTrailing(field, bytes, end);
  return key;
}

/**
 * Parses an LMS signature (exactly its bytes); throws LmsParseError. With `publicKey`, its typecodes
 * must also be the key's (problem "type-mismatch"), and q within its tree.
 */
export function parseLmsSignature(
  bytes: Uint8Array,
  publicKey?: LmsPublicKey,
  field = "LMS signature",
): LmsSignature {
  const { signature, end } = readLmsSignature(bytes, 0, field);
  noTrailing(field, bytes, end);
  if (publicKey !== undefined) typesOfKey(field, signature, publicKey);
  return signature;
}

/** Throws "type-mismatch" unless the signature's typecodes are the key's. */
function typesOfKey(field: string, signature: LmsSignature, publicKey: LmsPublicKey): void {
  if (signature.lms !== publicKey.lms || signature.lmots !== publicKey.lmots) {
    fail(
      field,
      "type-mismatch",
      `is a ${signature.lms.name}/${signature.lmots.name} signature, and the public key is ${publicKey.lms.name}/${publicKey.lmots.name}: it is not this key's signature`,
    );
  }
}

export function encodeLmsPublicKey(key: LmsPublicKey): Uint8Array {
  const out = new Uint8Array(lmsPublicKeyBytes(key.lms));
  putU32(out, 0, key.lms.typecode);
  putU32(out, 4, key.lmots.typecode);
  out.set(key.identifier, 8);
  out.set(key.root, 24);
  return out;
}

export function encodeLmsSignature(signature: LmsSignature): Uint8Array {
  const { lms, lmots } = signature;
  const out = new Uint8Array(lmsSignatureBytes(lms, lmots));
  putU32(out, 0, signature.q);
  out.set(signature.lmotsSignature, 4);
  putU32(out, 4 + lmots.signatureBytes, lms.typecode);
  out.set(signature.path, 8 + lmots.signatureBytes);
  return out;
}
