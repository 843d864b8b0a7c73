/**
 * SHA-256 over preallocated 32-bit words, for LMS's hot path. An LM-OTS chain step hashes
 * I ‖ u32str(q) ‖ u16str(i) ‖ u8str(j) ‖ tmp, 55 bytes for n = 32 (47 for n = 24): exactly one block
 * after padding; so does the key derivation of RFC 8554 Appendix A (j = 0xff, tmp = SEED) and a Merkle
 * leaf. node:crypto's createHash costs an object, a Buffer and a native call per hash, several times the
 * compression itself, and a verification of LMS_SHA256_M32_H10 with LMOTS_SHA256_N32_W4 runs ~500 chain
 * steps: `chainWords` keeps them in words from the first step to the last. Long inputs (the message, an
 * LM-OTS public key) go to node:crypto, which is faster per byte. The test (test/protocol/lms.test.ts)
 * checks every function here against node:crypto on random inputs.
 */

/** The round constants (FIPS 180-4 §4.2.2). */
const K = Uint32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** The initial hash value (FIPS 180-4 §5.3.3). */
const IV = Uint32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/**
 * One compression: updates `state` (8 words) with the block in `w[0..15]` (big-endian words). `w` must
 * have 64 entries: the message schedule overwrites w[16..63].
 */
export function sha256Compress(state: Uint32Array, w: Uint32Array): void {
  compressFrom(state, 0, w, state, state);
}

/**
 * Rounds `first`..63 of a compression of `w`, from the working variables `start` (a..h after round
 * first - 1; the chaining value itself when first = 0), then out = feed + a..h. `out` may be `feed`
 * or `start`.
 */
function compressFrom(
  start: Uint32Array,
  first: number,
  w: Uint32Array,
  feed: Uint32Array,
  out: Uint32Array,
): void {
  for (let t = 16; t < 64; t++) {
    const x = w[t - 15] as number;
    const y = w[t - 2] as number;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[t] = (s1 + (w[t - 7] as number) + s0 + (w[t - 16] as number)) | 0;
  }
  let a = start[0] as number;
  let b = start[1] as number;
  let c = start[2] as number;
  let d = start[3] as number;
  let e = start[4] as number;
  let f = start[5] as number;
  let g = start[6] as number;
  let h = start[7] as number;
  for (let t = first; t < 64; t++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + (K[t] as number) + (w[t] as number)) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  out[0] = (a + (feed[0] as number)) | 0;
  out[1] = (b + (feed[1] as number)) | 0;
  out[2] = (c + (feed[2] as number)) | 0;
  out[3] = (d + (feed[3] as number)) | 0;
  out[4] = (e + (feed[4] as number)) | 0;
  out[5] = (f + (feed[5] as number)) | 0;
  out[6] = (g + (feed[6] as number)) | 0;
  out[7] = (h + (feed[7] as number)) | 0;
}

/**
 * The working variables after rounds 0..4 of a block's compression from IV: those rounds read w[0..4]
 * only, which in a chain step are I and q, the same for every step of every chain of one signature.
 */
function midstate5(w: Uint32Array, mid: Uint32Array): void {
  let a = IV[0] as number;
  let b = IV[1] as number;
  let c = IV[2] as number;
  let d = IV[3] as number;
  let e = IV[4] as number;
  let f = IV[5] as number;
  let g = IV[6] as number;
  let h = IV[7] as number;
  for (let t = 0; t < 5; t++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + (K[t] as number) + (w[t] as number)) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  mid[0] = a;
  mid[1] = b;
  mid[2] = c;
  mid[3] = d;
  mid[4] = e;
  mid[5] = f;
  mid[6] = g;
  mid[7] = h;
}

// Scratch space for one hash at a time (every function below is synchronous).
const W = new Uint32Array(64);
const STATE = new Uint32Array(8);
const MID = new Uint32Array(8);
const BLOCK = new Uint8Array(64);
const BLOCK_VIEW = new DataView(BLOCK.buffer);

/** Reads `count` big-endian words of `bytes` from `offset` into `words`. */
export function wordsOf(
  bytes: Uint8Array,
  offset: number,
  count: number,
  words: Uint32Array,
): void {
  for (let k = 0; k < count; k++) {
    const o = offset + 4 * k;
    words[k] =
      ((bytes[o] as number) << 24) |
      ((bytes[o + 1] as number) << 16) |
      ((bytes[o + 2] as number) << 8) |
      (bytes[o + 3] as number);
  }
}

/** Writes the first `count` words of `words` big-endian into `bytes` at `offset`. */
export function bytesOf(
  words: Uint32Array,
  count: number,
  bytes: Uint8Array,
  offset: number,
): void {
  for (let k = 0; k < count; k++) {
    const v = words[k] as number;
    const o = offset + 4 * k;
    bytes[o] = v >>> 24;
    bytes[o + 1] = (v >>> 16) & 0xff;
    bytes[o + 2] = (v >>> 8) & 0xff;
    bytes[o + 3] = v & 0xff;
  }
}

/**
 * Runs steps `from` ≤ j < `to` of an LM-OTS hash chain (RFC 8554 §4.4, Algorithms 1, 3 and 4b):
 * tmp = H(I ‖ u32str(q) ‖ u16str(i) ‖ u8str(j) ‖ tmp), truncated to `nWords` words (8 for n = 32, 6 for
 * n = 24). `id` holds I as 4 words; `tmp` (8 entries, the first `nWords` used) is the chain value, in and
 * out. With from = 0xff and to = 0x100 it is the one step of Appendix A's x_q[i] derivation (tmp = SEED).
 */
export function chainWords(
  id: Uint32Array,
  q: number,
  i: number,
  tmp: Uint32Array,
  nWords: number,
  from: number,
  to: number,
): void {
  if (from >= to) return;
  const w = W;
  const last = 5 + nWords;
  // The message is 23 + n bytes: tmp starts at byte 23, so each of its words straddles two block
  // words. Only w[5..last] change from step to step (compression leaves w[0..15] as they are).
  w[0] = id[0] as number;
  w[1] = id[1] as number;
  w[2] = id[2] as number;
  w[3] = id[3] as number;
  w[4] = q;
  for (let k = last + 1; k < 15; k++) w[k] = 0;
  w[15] = (23 + 4 * nWords) * 8;
  // Rounds 0..4 read I and q only: computed once, not once per step (~8% of a step).
  midstate5(w, MID);
  const head = (i & 0xffff) << 16;
  for (let j = from; j < to; j++) {
    w[5] = head | (j << 8) | ((tmp[0] as number) >>> 24);
    for (let k = 1; k < nWords; k++) {
      w[5 + k] = ((tmp[k - 1] as number) << 8) | ((tmp[k] as number) >>> 24);
    }
    w[last] = ((tmp[nWords - 1] as number) << 8) | 0x80;
    compressFrom(MID, 5, w, IV, tmp);
  }
}

/**
 * SHA-256 of `data[0..length)` into `out[offset..offset + outBytes)` (outBytes 32, or 24 for
 * SHA-256/192), in JavaScript: for the short inputs of a Merkle tree (54 and 22 + 2m bytes), where a
 * native call costs more than the hashing.
 */
export function sha256Short(
  data: Uint8Array,
  length: number,
  out: Uint8Array,
  offset: number,
  outBytes: number,
): void {
  const state = STATE;
  state.set(IV);
  let pos = 0;
  for (; pos + 64 <= length; pos += 64) {
    wordsOf(data, pos, 16, W);
    sha256Compress(state, W);
  }
  // The tail, 0x80 and (in the last block) the length in bits: one block or two.
  const rest = length - pos;
  BLOCK.fill(0);
  BLOCK.set(data.subarray(pos, length), 0);
  BLOCK[rest] = 0x80;
  if (rest > 55) {
    wordsOf(BLOCK, 0, 16, W);
    sha256Compress(state, W);
    BLOCK.fill(0);
  }
  BLOCK_VIEW.setUint32(56, Math.floor(length / 0x20000000));
  BLOCK_VIEW.setUint32(60, (length * 8) >>> 0);
  wordsOf(BLOCK, 0, 16, W);
  sha256Compress(state, W);
  bytesOf(state, outBytes / 4, out, offset);
}
