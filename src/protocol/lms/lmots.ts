import { createHash } from "node:crypto";
import type { LmotsParams } from "./params.js";
import { bytesOf, chainWords, wordsOf } from "./sha256-block.js";

/**
 * LM-OTS, the one-time signatures at the leaves of an LMS tree (RFC 8554 §4), with the private key
 * derived from a SEED as Appendix A describes. Internal to src/protocol/lms: LMS (lms.ts) is the API.
 */

/** Domain separators (RFC 8554 §4.3 and §5.3). */
export const D_PBLC = 0x8080;
export const D_MESG = 0x8181;
/** The index of the randomizer C in the seed derivation: beyond every chain index i (p ≤ 265). */
const C_INDEX = 0xfffd;

/** u32str(x) into `out` at `offset`. */
export function putU32(out: Uint8Array, offset: number, x: number): void {
  out[offset] = x >>> 24;
  out[offset + 1] = (x >>> 16) & 0xff;
  out[offset + 2] = (x >>> 8) & 0xff;
  out[offset + 3] = x & 0xff;
}

export function getU32(bytes: Uint8Array, offset: number): number {
  return (
    (((bytes[offset] as number) << 24) |
      ((bytes[offset + 1] as number) << 16) |
      ((bytes[offset + 2] as number) << 8) |
      (bytes[offset + 3] as number)) >>>
    0
  );
}

/** I as the four words the chain hashes start with. */
export function identifierWords(identifier: Uint8Array): Uint32Array {
  const words = new Uint32Array(4);
  wordsOf(identifier, 0, 4, words);
  return words;
}

/** SHA-256 (or SHA-256/192: its first n bytes) of the parts, through node:crypto. */
function hashParts(n: number, ...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const part of parts) h.update(part);
  // A copy: a short digest may sit in Buffer's shared pool.
  return new Uint8Array(h.digest().subarray(0, n));
}

/** I ‖ u32str(q) ‖ u16str(d): the 22-byte prefix of the message and public-key hashes. */
function prefix(identifier: Uint8Array, q: number, d: number): Uint8Array {
  const out = new Uint8Array(22);
  out.set(identifier, 0);
  putU32(out, 16, q);
  out[20] = d >>> 8;
  out[21] = d & 0xff;
  return out;
}

/**
 * The p base-2^w digits of Q ‖ Cksm(Q) (RFC 8554 §4.4 coef and §4.5 Cksm): the message hash's digits,
 * then the checksum's, which counts the steps the message digits leave to the end of their chains.
 */
export function lmotsDigits(params: LmotsParams, hash: Uint8Array): Uint8Array {
  const { n, w, p, ls } = params;
  const max = (1 << w) - 1;
  const u = (8 * n) / w;
  const perByte = 8 / w;
  const digits = new Uint8Array(p);
  let sum = 0;
  for (let i = 0; i < u; i++) {
    const shift = 8 - (w * (i % perByte) + w);
    const a = ((hash[(i * w) >>> 3] as number) >>> shift) & max;
    digits[i] = a;
    sum += max - a;
  }
  const checksum = (sum << ls) & 0xffff;
  for (let i = u; i < p; i++) digits[i] = (checksum >>> (16 - w * (i - u + 1))) & max;
  return digits;
}

/**
 * The hash steps a verifier runs to check a signature of digits `digits` (Algorithm 4b): each chain from
 * its digit to its end, Σ (2^w − 1 − a_i) over the message hash's digits and its checksum's. On chain
 * each step is a SHA-256 precompile call, so it is what a verification's gas goes with.
 */
export function lmotsVerifySteps(params: LmotsParams, digits: Uint8Array): number {
  const max = (1 << params.w) - 1;
  let steps = 0;
  for (const a of digits) steps += max - a;
  return steps;
}

/**
 * Of `attempts` randomizers (`base`, then H(base ‖ u32str(k)) for k = 1 … attempts − 1, each n bytes), the
 * one whose message hash leaves a verifier the fewest steps (lmotsVerifySteps; the first on a tie). C is
 * the signer's to choose (RFC 8554 §4.5: any C verifies), so the signature is as valid and as strong: a
 * forger still needs a message hash whose every digit, checksum included, is at least the signed one's,
 * which the checksum rules out whatever the digits are (SPHINCS+C grinds WOTS+ the same way). Derived from
 * `base` (itself derived from the SEED), so a leaf signs one message with one C whatever the run.
 */
export function lmotsCheapestRandomizer(
  params: LmotsParams,
  identifier: Uint8Array,
  q: number,
  base: Uint8Array,
  message: Uint8Array,
  attempts: number,
): Uint8Array {
  let best = base;
  let bestSteps = lmotsVerifySteps(
    params,
    lmotsDigits(params, messageHash(params, identifier, q, base, message)),
  );
  const counter = new Uint8Array(4);
  for (let k = 1; k < attempts; k++) {
    putU32(counter, 0, k);
    const candidate = hashParts(params.n, base, counter);
    const steps = lmotsVerifySteps(
      params,
      lmotsDigits(params, messageHash(params, identifier, q, candidate, message)),
    );
    if (steps < bestSteps) {
      best = candidate;
      bestSteps = steps;
    }
  }
  return best;
}

/** Q = H(I ‖ u32str(q) ‖ u16str(D_MESG) ‖ C ‖ message), n bytes. */
function messageHash(
  params: LmotsParams,
  identifier: Uint8Array,
  q: number,
  randomizer: Uint8Array,
  message: Uint8Array,
): Uint8Array {
  return hashParts(params.n, prefix(identifier, q, D_MESG), randomizer, message);
}

/**
 * The chain value x_q[i] of Appendix A, H(I ‖ u32str(q) ‖ u16str(i) ‖ u8str(0xff) ‖ SEED), left in `tmp`.
 * i = 0xfffd (never a chain index) derives the randomizer C the same way.
 */
function derive(
  id: Uint32Array,
  q: number,
  i: number,
  seed: Uint32Array,
  nWords: number,
  tmp: Uint32Array,
) {
  tmp.set(seed);
  chainWords(id, q, i, tmp, nWords, 0xff, 0x100);
}

/**
 * The LM-OTS public key hash K of leaf q (RFC 8554 Algorithm 1): every chain run to its end from the
 * private value Appendix A derives, then H(I ‖ u32str(q) ‖ u16str(D_PBLC) ‖ y[0] ‖ … ‖ y[p-1]).
 */
export function lmotsPublicKeyHash(
  params: LmotsParams,
  identifier: Uint8Array,
  id: Uint32Array,
  q: number,
  seed: Uint32Array,
): Uint8Array {
  const { n, p, w } = params;
  const nWords = n / 4;
  const end = (1 << w) - 1;
  const buffer = new Uint8Array(22 + p * n);
  buffer.set(prefix(identifier, q, D_PBLC), 0);
  const tmp = new Uint32Array(8);
  for (let i = 0; i < p; i++) {
    derive(id, q, i, seed, nWords, tmp);
    chainWords(id, q, i, tmp, nWords, 0, end);
    bytesOf(tmp, nWords, buffer, 22 + i * n);
  }
  return hashParts(n, buffer);
}

/** The randomizer C of leaf q when the signer is not given one: derived from the SEED, as x_q[i] is. */
export function lmotsRandomizer(
  params: LmotsParams,
  id: Uint32Array,
  q: number,
  seed: Uint32Array,
): Uint8Array {
  const nWords = params.n / 4;
  const tmp = new Uint32Array(8);
  derive(id, q, C_INDEX, seed, nWords, tmp);
  const out = new Uint8Array(params.n);
  bytesOf(tmp, nWords, out, 0);
  return out;
}

/**
 * An LM-OTS signature of `message` by leaf q (RFC 8554 Algorithm 3): u32str(type) ‖ C ‖ y[0] ‖ … ‖
 * y[p-1], written into `out` at `offset` (params.signatureBytes bytes).
 */
export function lmotsSignInto(
  params: LmotsParams,
  identifier: Uint8Array,
  id: Uint32Array,
  q: number,
  seed: Uint32Array,
  randomizer: Uint8Array,
  message: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  const { n, p } = params;
  const nWords = n / 4;
  const digits = lmotsDigits(params, messageHash(params, identifier, q, randomizer, message));
  putU32(out, offset, params.typecode);
  out.set(randomizer, offset + 4);
  const tmp = new Uint32Array(8);
  for (let i = 0; i < p; i++) {
    derive(id, q, i, seed, nWords, tmp);
    chainWords(id, q, i, tmp, nWords, 0, digits[i] as number);
    bytesOf(tmp, nWords, out, offset + 4 + n + i * n);
  }
}

/**
 * The public key hash Kc that an LM-OTS signature implies for `message` (RFC 8554 Algorithm 4b): each
 * y[i] run from its digit to the end of its chain. The signature is valid when Kc is the leaf's K, which
 * LMS checks through the tree. `signature` holds C at `offset` and y right after it; its typecode was
 * checked by the caller.
 */
export function lmotsCandidate(
  params: LmotsParams,
  identifier: Uint8Array,
  id: Uint32Array,
  q: number,
  signature: Uint8Array,
  offset: number,
  message: Uint8Array,
): Uint8Array {
  const { n, p, w } = params;
  const nWords = n / 4;
  const end = (1 << w) - 1;
  const randomizer = signature.subarray(offset, offset + n);
  const digits = lmotsDigits(params, messageHash(params, identifier, q, randomizer, message));
  const buffer = new Uint8Array(22 + p * n);
  buffer.set(prefix(identifier, q, D_PBLC), 0);
  const tmp = new Uint32Array(8);
  for (let i = 0; i < p; i++) {
    wordsOf(signature, offset + n + i * n, nWords, tmp);
    chainWords(id, q, i, tmp, nWords, digits[i] as number, end);
    bytesOf(tmp, nWords, buffer, 22 + i * n);
  }
  return hashParts(n, buffer);
}
