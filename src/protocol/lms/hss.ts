import {
  encodeLmsPublicKey,
  readLmsPublicKey,
  readLmsSignature,
  type LmsPublicKey,
  type LmsSignature,
} from "./encoding.js";
import { LmsParseError } from "./errors.js";
import { getU32, putU32 } from "./lmots.js";
import { lmsVerify } from "./lms.js";

/**
 * HSS (RFC 8554 §6): L levels of LMS trees, each signing the public key of the one below it, the last
 * signing the message. Verification only (RFC 8554's test vectors are HSS, and an LMS key is an HSS key of
 * one level); signing is LMS's.
 */

/** The most levels RFC 8554 §6 allows. */
export const HSS_MAX_LEVELS = 8;

/** An HSS public key: u32str(L) ‖ the top level's LMS public key. */
export interface HssPublicKey {
  readonly levels: number;
  readonly top: LmsPublicKey;
}

/**
 * An HSS signature: u32str(Nspk) ‖ signed_pub_key[0] ‖ … ‖ signed_pub_key[Nspk-1] ‖ sig[Nspk], where
 * signed_pub_key[i] = sig[i] ‖ pub[i+1] (Nspk = L - 1).
 */
export interface HssSignature {
  readonly signedPublicKeys: readonly {
    readonly signature: LmsSignature;
    readonly publicKey: LmsPublicKey;
  }[];
  readonly signature: LmsSignature;
}

function levelsCheck(field: string, levels: number, what: string): void {
  if (levels < 1 || levels > HSS_MAX_LEVELS) {
    throw new LmsParseError(
      field,
      "levels-out-of-range",
      `${field} has ${what} ${String(levels)}, and HSS has 1 to ${String(HSS_MAX_LEVELS)} levels: check that it is an HSS value (an LMS value has no level count)`,
    );
  }
}

function truncated(field: string, have: number): never {
  throw new LmsParseError(
    field,
    "truncated",
    `${field} is ${String(have)} bytes, fewer than the 4 of its level count: pass the whole value`,
  );
}

function trailing(field: string, have: number, end: number): never {
  throw new LmsParseError(
    field,
    "trailing-bytes",
    `${field} is ${String(have)} bytes, and its typecodes call for ${String(end)}: ${String(have - end)} bytes follow it; pass the value alone`,
  );
}

/** Parses an HSS public key (exactly its bytes); throws LmsParseError. */
export function parseHssPublicKey(bytes: Uint8Array, field = "HSS public key"): HssPublicKey {
  if (bytes.length < 4) truncated(field, bytes.length);
  const levels = getU32(bytes, 0);
  levelsCheck(field, levels, "L =");
  const { key, end } = readLmsPublicKey(bytes, 4, field);
  if (end !== bytes.length) trailing(field, bytes.length, end);
  return { levels, top: key };
}

export function encodeHssPublicKey(key: HssPublicKey): Uint8Array {
  levelsCheck("HSS public key", key.levels, "L =");
  const lms = encodeLmsPublicKey(key.top);
  const out = new Uint8Array(4 + lms.length);
  putU32(out, 0, key.levels);
  out.set(lms, 4);
  return out;
}

/**
 * Parses an HSS signature (exactly its bytes); throws LmsParseError. With `publicKey`, its level count
 * must be the key's ("levels-out-of-range").
 */
export function parseHssSignature(
  bytes: Uint8Array,
  publicKey?: HssPublicKey,
  field = "HSS signature",
): HssSignature {
  if (bytes.length < 4) truncated(field, bytes.length);
  const nspk = getU32(bytes, 0);
  levelsCheck(field, nspk + 1, "Nspk + 1 =");
  if (publicKey !== undefined && nspk + 1 !== publicKey.levels) {
    throw new LmsParseError(
      field,
      "levels-out-of-range",
      `${field} has ${String(nspk + 1)} levels, and the public key ${String(publicKey.levels)}: it is not this key's signature`,
    );
  }
  let offset = 4;
  const signedPublicKeys: HssSignature["signedPublicKeys"][number][] = [];
  for (let i = 0; i < nspk; i++) {
    const sig = readLmsSignature(bytes, offset, `${field} (level ${String(i)} signature)`);
    const pub = readLmsPublicKey(bytes, sig.end, `${field} (level ${String(i + 1)} public key)`);
    signedPublicKeys.push({ signature: sig.signature, publicKey: pub.key });
    offset = pub.end;
  }
  const last = readLmsSignature(bytes, offset, `${field} (level ${String(nspk)} signature)`);
  if (last.end !== bytes.length) trailing(field, bytes.length, last.end);
  return { signedPublicKeys, signature: last.signature };
}

/**
 * Whether `signature` is `publicKey`'s HSS signature of `message` (RFC 8554 Algorithm 8): each level's
 * LMS signature of the next level's public key, then the last level's of the message. A malformed
 * signature is invalid (false); a malformed public key throws parseHssPublicKey's LmsParseError.
 */
export function hssVerify(
  publicKey: HssPublicKey | Uint8Array,
  message: Uint8Array,
  signature: HssSignature | Uint8Array,
): boolean {
  const key = publicKey instanceof Uint8Array ? parseHssPublicKey(publicKey) : publicKey;
  let sig: HssSignature;
  if (signature instanceof Uint8Array) {
    try {
      sig = parseHssSignature(signature, key);
    } catch (err: unknown) {
      if (err instanceof LmsParseError) return false;
      throw err;
    }
  } else {
    sig = signature;
  }
  if (sig.signedPublicKeys.length + 1 !== key.levels) return false;
  let current = key.top;
  for (const { signature: s, publicKey: next } of sig.signedPublicKeys) {
    if (!lmsVerify(current, encodeLmsPublicKey(next), s)) return false;
    current = next;
  }
  return lmsVerify(current, message, sig.signature);
}
