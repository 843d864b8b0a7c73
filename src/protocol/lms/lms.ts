import { randomBytes, timingSafeEqual } from "node:crypto";
import { InvalidInputError } from "../errors.js";
import {
  parseLmsPublicKey,
  parseLmsSignature,
  type LmsPublicKey,
  type LmsSignature,
} from "./encoding.js";
import { LmsParseError } from "./errors.js";
import {
  identifierWords,
  lmotsCandidate,
  lmotsCheapestRandomizer,
  lmotsPublicKeyHash,
  lmotsRandomizer,
  lmotsSignInto,
  putU32,
} from "./lmots.js";
import { lmsSignatureBytes, type LmotsParams, type LmsParams } from "./params.js";
import { sha256Short, wordsOf } from "./sha256-block.js";

/**
 * LMS (RFC 8554 §5): a Merkle tree of 2^h LM-OTS one-time keys. Key generation follows Appendix A (every
 * one-time key derived from SEED and I), so a key is its SEED, I and parameter sets; signing takes the
 * leaf q explicitly and is stateless: never sign twice with one q (a second message signed by the same
 * one-time key lets anyone forge). src/device/lms-signer.ts keeps that state on disk, crash-safe.
 */

const D_LEAF = 0x8282;
const D_INTR = 0x8383;

/**
 * Tree levels held in memory below the root by default: at most 2^16 nodes (2 MiB at m = 32). Taller
 * trees (H20, H25) keep their top 15 levels and recompute the subtree under the leaf being signed, one
 * subtree at a time (2^(h - 15) leaves: 32 for H20, 1024 for H25).
 */
export const LMS_CACHED_LEVELS = 15;

// Scratch for one node hash at a time: I ‖ u32str(r) ‖ u16str(D) ‖ one or two m-byte values.
const NODE = new Uint8Array(22 + 64);

/** T[r] = H(I ‖ u32str(r) ‖ u16str(D_LEAF) ‖ K) into `out` at `offset`. */
function leafHash(
  identifier: Uint8Array,
  m: number,
  r: number,
  k: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  NODE.set(identifier, 0);
  putU32(NODE, 16, r);
  NODE[20] = D_LEAF >>> 8;
  NODE[21] = D_LEAF & 0xff;
  NODE.set(k.subarray(0, m), 22);
  sha256Short(NODE, 22 + m, out, offset, m);
}

/** T[r] = H(I ‖ u32str(r) ‖ u16str(D_INTR) ‖ left ‖ right) into `out` at `offset`. */
function interiorHash(
  identifier: Uint8Array,
  m: number,
  r: number,
  left: Uint8Array,
  right: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  NODE.set(identifier, 0);
  putU32(NODE, 16, r);
  NODE[20] = D_INTR >>> 8;
  NODE[21] = D_INTR & 0xff;
  NODE.set(left, 22);
  NODE.set(right, 22 + m);
  sha256Short(NODE, 22 + 2 * m, out, offset, m);
}

export interface LmsKeyOptions {
  readonly lms: LmsParams;
  readonly lmots: LmotsParams;
  /** SEED: n secret bytes (32, or 24 for the SHA-256/192 sets) from which every one-time key derives. */
  readonly seed: Uint8Array;
  /** I: 16 bytes naming the key pair (random, or chosen unique per key). */
  readonly identifier: Uint8Array;
  /**
   * Tree levels kept in memory below the root (default LMS_CACHED_LEVELS); the levels under them are
   * recomputed one subtree at a time when a leaf there signs. The signatures are the same either way.
   */
  readonly cachedLevels?: number | undefined;
}

export interface LmsSignOptions {
  /**
   * C, the randomizer of the message hash (n bytes). Derived from SEED and q when omitted (as x_q[i]
   * is; see lmotsRandomizer), so signing is deterministic; give one to reproduce a published vector.
   */
  readonly randomizer?: Uint8Array | undefined;
  /**
   * Randomizers to try when none is given (default 1: the derived one). With more, the signature carries
   * the one that leaves a verifier the fewest hash steps (lmotsCheapestRandomizer): as valid and as
   * strong, cheaper to verify on chain (LMS_ON_CHAIN_ATTEMPTS). Deterministic: a leaf gets the same C for
   * the same message.
   */
  readonly attempts?: number | undefined;
}

/**
 * Randomizers tried for a signature verified on chain: 4,096 message hashes (a few milliseconds) save on
 * average about 120 of LMOTS_SHA256_N24_W4's ~390 verification steps (~30,000 gas), 130 of N32_W4's ~505.
 */
export const LMS_ON_CHAIN_ATTEMPTS = 4096;

/**
 * An LMS private key: SEED, I, the parameter sets and its tree (public data, computed once). It does not
 * know which leaves were used: that is the caller's state (see LmsStatefulSigner in src/device).
 */
export class LmsPrivateKey {
  readonly lms: LmsParams;
  readonly lmots: LmotsParams;
  readonly identifier: Uint8Array;
  readonly publicKey: LmsPublicKey;
  #seed: Uint8Array | undefined;
  readonly #seedWords: Uint32Array;
  readonly #id: Uint32Array;
  /** Height of the subtrees recomputed on demand (0 when the whole tree is held). */
  readonly #bottom: number;
  /** Nodes 1 .. 2^(h - bottom + 1) - 1, m bytes each at r·m (node 0 unused). */
  readonly #top: Uint8Array;
  /** The last bottom subtree computed: its index and its nodes (local numbering, root = 1). */
  #subtree: { readonly index: number; readonly nodes: Uint8Array } | undefined;

  private constructor(options: LmsKeyOptions) {
    const { lms, lmots, seed, identifier } = options;
    if (lms.m !== lmots.n) {
      throw new InvalidInputError(
        `${lms.name} cannot use ${lmots.name}: an LMS tree and its one-time keys must use the same hash (M32 with N32, M24 with N24)`,
      );
    }
    if (seed.length !== lmots.n) {
      throw new InvalidInputError(
        `an ${lmots.name} SEED is ${String(lmots.n)} bytes, not ${String(seed.length)}: derive it from a random source of that length`,
      );
    }
    if (identifier.length !== 16) {
      throw new InvalidInputError(
        `I (the LMS key identifier) is 16 bytes, not ${String(identifier.length)}`,
      );
    }
    this.lms = lms;
    this.lmots = lmots;
    this.identifier = Uint8Array.from(identifier);
    this.#seed = Uint8Array.from(seed);
    this.#seedWords = new Uint32Array(8);
    wordsOf(this.#seed, 0, lmots.n / 4, this.#seedWords);
    this.#id = identifierWords(this.identifier);
    const cached = options.cachedLevels ?? LMS_CACHED_LEVELS;
    if (!Number.isSafeInteger(cached) || cached < 1) {
      throw new InvalidInputError(
        `cachedLevels must be a whole number of at least 1, not ${String(cached)}`,
      );
    }
    this.#bottom = Math.max(0, lms.h - cached);
    this.#top = new Uint8Array(2 ** (lms.h - this.#bottom + 1) * lms.m);
    this.#buildTop();
    this.publicKey = {
      lms,
      lmots,
      identifier: this.identifier,
      root: this.#top.slice(lms.m, 2 * lms.m),
    };
  }

  /**
   * The key of SEED and I (RFC 8554 Appendix A): computes all 2^h one-time public keys, so it takes time
   * in proportion to the tree (H10 with W4: under a second; H15: about 30 times that; H20 and H25:
   * minutes to hours, which is what HSS's smaller trees are for).
   */
  static fromSeed(options: LmsKeyOptions): LmsPrivateKey {
    return new LmsPrivateKey(options);
  }

  /** A fresh key: random SEED and I. */
  static generate(lms: LmsParams, lmots: LmotsParams): LmsPrivateKey {
    return new LmsPrivateKey({
      lms,
      lmots,
      seed: randomBytes(lmots.n),
      identifier: randomBytes(16),
    });
  }

  /** 2^h: the number of signatures the key can make. */
  get leaves(): number {
    return 2 ** this.lms.h;
  }

  /** SEED, for storing the key (encrypted); throws once the key is destroyed. */
  exportSeed(): Uint8Array {
    return Uint8Array.from(this.#requireSeed());
  }

  /** Overwrites SEED in memory; signing afterwards throws. */
  destroy(): void {
    this.#seed?.fill(0);
    this.#seedWords.fill(0);
    this.#seed = undefined;
  }

  /**
   * The LMS signature of `message` by leaf q (RFC 8554 Algorithm 5), encoded as §5.4 says. Stateless:
   * the caller must never give the same q twice, whatever the message.
   */
  sign(q: number, message: Uint8Array, options: LmsSignOptions = {}): Uint8Array {
    this.#requireSeed();
    const { lms, lmots } = this;
    if (!Number.isSafeInteger(q) || q < 0 || q >= this.leaves) {
      throw new InvalidInputError(
        `q must be a leaf of this ${lms.name} key, 0..${String(this.leaves - 1)}, not ${String(q)}`,
      );
    }
    const attempts = options.attempts ?? 1;
    if (!Number.isSafeInteger(attempts) || attempts < 1 || attempts > 2 ** 24) {
      throw new InvalidInputError(
        `attempts must be a whole number from 1 to 2^24, not ${String(attempts)}`,
      );
    }
    const randomizer =
      options.randomizer ??
      lmotsCheapestRandomizer(
        lmots,
        this.identifier,
        q,
        lmotsRandomizer(lmots, this.#id, q, this.#seedWords),
        message,
        attempts,
      );
    if (randomizer.length !== lmots.n) {
      throw new InvalidInputError(
        `the randomizer C of ${lmots.name} is ${String(lmots.n)} bytes, not ${String(randomizer.length)}`,
      );
    }
    const out = new Uint8Array(lmsSignatureBytes(lms, lmots));
    putU32(out, 0, q);
    lmotsSignInto(
      lmots,
      this.identifier,
      this.#id,
      q,
      this.#seedWords,
      randomizer,
      message,
      out,
      4,
    );
    const pathAt = 8 + lmots.signatureBytes;
    putU32(out, pathAt - 4, lms.typecode);
    let node = 2 ** lms.h + q;
    for (let i = 0; i < lms.h; i++) {
      out.set(this.#node(node ^ 1), pathAt + i * lms.m);
      node = Math.floor(node / 2);
    }
    return out;
  }

  #requireSeed(): Uint8Array {
    if (this.#seed === undefined) {
      throw new InvalidInputError("this LMS private key was destroyed: load it again to sign");
    }
    return this.#seed;
  }

  /** Node r of the tree (m bytes). */
  #node(r: number): Uint8Array {
    const m = this.lms.m;
    const depth = 31 - Math.clz32(r);
    const topDepth = this.lms.h - this.#bottom;
    if (depth <= topDepth) return this.#top.subarray(r * m, (r + 1) * m);
    // Below the top: in the bottom subtree under node r's ancestor at depth topDepth.
    const below = depth - topDepth;
    const ancestor = Math.floor(r / 2 ** below);
    const index = ancestor - 2 ** topDepth;
    if (this.#subtree?.index !== index) {
      this.#subtree = { index, nodes: this.#buildSubtree(index) };
    }
    const local = r - ancestor * 2 ** below + 2 ** below;
    return this.#subtree.nodes.subarray(local * m, (local + 1) * m);
  }

  /**
   * Bottom subtree `index` (of height #bottom, leaves index·2^bottom …): its nodes in local numbering
   * (root 1, children 2 and 3, …), each hashed with its global node number.
   */
  #buildSubtree(index: number): Uint8Array {
    const { h, m } = this.lms;
    const b = this.#bottom;
    const nodes = new Uint8Array(2 ** (b + 1) * m);
    const firstLeaf = index * 2 ** b;
    for (let l = 0; l < 2 ** b; l++) {
      const q = firstLeaf + l;
      const k = lmotsPublicKeyHash(this.lmots, this.identifier, this.#id, q, this.#seedWords);
      leafHash(this.identifier, m, 2 ** h + q, k, nodes, (2 ** b + l) * m);
    }
    const rootGlobal = 2 ** (h - b) + index;
    for (let level = b - 1; level >= 0; level--) {
      for (let local = 2 ** level; local < 2 ** (level + 1); local++) {
        const global = rootGlobal * 2 ** level + (local - 2 ** level);
        interiorHash(
          this.identifier,
          m,
          global,
          nodes.subarray(2 * local * m, (2 * local + 1) * m),
          nodes.subarray((2 * local + 1) * m, (2 * local + 2) * m),
          nodes,
          local * m,
        );
      }
    }
    return nodes;
  }

  /** The top of the tree: every leaf (or bottom subtree root), then the levels above. */
  #buildTop(): void {
    const { h, m } = this.lms;
    const topDepth = h - this.#bottom;
    const first = 2 ** topDepth;
    for (let r = first; r < 2 * first; r++) {
      if (this.#bottom === 0) {
        const q = r - first;
        const k = lmotsPublicKeyHash(this.lmots, this.identifier, this.#id, q, this.#seedWords);
        leafHash(this.identifier, m, r, k, this.#top, r * m);
      } else {
        this.#top.set(this.#buildSubtree(r - first).subarray(m, 2 * m), r * m);
      }
    }
    for (let r = first - 1; r >= 1; r--) {
      interiorHash(
        this.identifier,
        m,
        r,
        this.#top.subarray(2 * r * m, (2 * r + 1) * m),
        this.#top.subarray((2 * r + 1) * m, (2 * r + 2) * m),
        this.#top,
        r * m,
      );
    }
  }
}

/** lmsSign(key, q, message): key.sign(q, message); the caller never gives one q twice. */
export function lmsSign(
  privateKey: LmsPrivateKey,
  q: number,
  message: Uint8Array,
  options: LmsSignOptions = {},
): Uint8Array {
  return privateKey.sign(q, message, options);
}

/**
 * Whether `signature` is `publicKey`'s signature of `message` (RFC 8554 Algorithm 6). A malformed
 * signature (wrong length, unknown typecodes, q out of range, typecodes not the key's) is invalid:
 * false, never an exception; parseLmsSignature says what is wrong with it. A malformed public key is the
 * caller's configuration, not an attacker's input: parseLmsPublicKey's LmsParseError.
 */
export function lmsVerify(
  publicKey: LmsPublicKey | Uint8Array,
  message: Uint8Array,
  signature: LmsSignature | Uint8Array,
): boolean {
  const key = publicKey instanceof Uint8Array ? parseLmsPublicKey(publicKey) : publicKey;
  let sig: LmsSignature;
  if (signature instanceof Uint8Array) {
    try {
      sig = parseLmsSignature(signature);
    } catch (err: unknown) {
      if (err instanceof LmsParseError) return false;
      throw err;
    }
  } else {
    sig = signature;
  }
  if (sig.lms !== key.lms || sig.lmots !== key.lmots) return false;
  const { h, m } = key.lms;
  if (
    sig.q >= 2 ** h ||
    sig.path.length !== h * m ||
    sig.lmotsSignature.length !== key.lmots.signatureBytes
  ) {
    return false;
  }
  const tmp = lmsRootOf(key.identifier, message, sig);
  return key.root.length === m && timingSafeEqual(tmp, key.root);
}

/**
 * The root T[1] that `signature` implies for `message` under identifier I (RFC 8554 Algorithm 6a's
 * Tc): the signature is valid exactly when it is the public key's root. lmsVerify compares the two.
 */
export function lmsRootOf(
  identifier: Uint8Array,
  message: Uint8Array,
  signature: LmsSignature,
): Uint8Array {
  const { lms, lmots, q, path } = signature;
  const { h, m } = lms;
  if (
    identifier.length !== 16 ||
    path.length !== h * m ||
    q >= 2 ** h ||
    signature.lmotsSignature.length !== lmots.signatureBytes
  ) {
    throw new InvalidInputError("the signature's parts do not have the lengths of its typecodes");
  }
  const id = identifierWords(identifier);
  const kc = lmotsCandidate(lmots, identifier, id, q, signature.lmotsSignature, 4, message);
  const tmp = new Uint8Array(m);
  let node = 2 ** h + q;
  leafHash(identifier, m, node, kc, tmp, 0);
  for (let i = 0; i < h; i++) {
    const sibling = path.subarray(i * m, (i + 1) * m);
    const parent = Math.floor(node / 2);
    if (node % 2 === 1) interiorHash(identifier, m, parent, sibling, tmp, tmp, 0);
    else interiorHash(identifier, m, parent, tmp, sibling, tmp, 0);
    node = parent;
  }
  return tmp;
}
