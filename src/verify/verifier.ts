import { verify as nodeVerify, type KeyObject } from "node:crypto";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { CURVE_ORDER, KeyType, type DeviceKey, type Hex } from "../protocol/index.js";
import { LruCache } from "./lru.js";
import { p256PublicKey } from "./p256-key.js";
import { PublicKeyCache } from "./public-key-cache.js";
import {
  secp256k1Recoverer,
  type Secp256k1Backend,
  type Secp256k1Recoverer,
} from "./secp256k1-recover.js";
import { readSignatureInput, type SignatureInput } from "./signature-input.js";
import type { SignatureVerdict } from "./verdict.js";

export interface SignatureVerifierOptions {
  /**
   * secp256k1 device keys whose public key is kept (default 100,000; ~140 bytes each): a kept key
   * saves the keccak256 that ties a recovered public key to the device's address. 0 keeps none.
   */
  readonly secp256k1Keys?: number;
  /**
   * P-256 device keys whose OpenSSL KeyObject is kept (default 100,000, a fleet's worth: past the
   * cache every message pays for building one, about as much as a verification). Measured here: about
   * 2.8 KB of resident memory a key (278 MB for 100,000). 0 keeps none.
   */
  readonly p256Keys?: number;
  /** secp256k1 recovery backend (default "auto": libsecp256k1 when its addon loads, else noble). */
  readonly secp256k1Backend?: "auto" | Secp256k1Backend;
}

export const DEFAULT_SECP256K1_KEYS = 100_000;
export const DEFAULT_P256_KEYS = 100_000;

/** Big-endian 32-byte encodings of n and n/2 per curve, to range-check r and s without bigints. */
const ORDER_BYTES = {
  p256: { n: be32(CURVE_ORDER.p256), half: be32(CURVE_ORDER.p256 / 2n) },
  secp256k1: { n: be32(CURVE_ORDER.secp256k1), half: be32(CURVE_ORDER.secp256k1 / 2n) },
} as const;
const ZERO32 = Buffer.alloc(32);

function be32(value: bigint): Buffer {
  return Buffer.from(value.toString(16).padStart(64, "0"), "hex");
}

/** A cache id for key bytes: one char per byte (latin1), half the size of hex. */
function idOf(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}

/**
 * Checks device signatures with exactly the contract's rules (DeviceKeyLib.checkSignature), keeping
 * per-key state between calls: P-256 keys' OpenSSL KeyObjects, secp256k1 devices' public keys. One
 * instance per thread (a VerifyPool's workers each build their own); not safe to share across threads.
 *
 * secp256k1 runs the contract's ecrecover (public-key recovery from r, s, v) on libsecp256k1, so the
 * recovery id v counts exactly as on chain: the flipped-v twin of a valid signature recovers another key
 * and is "wrong-signer". A device's public key, once recovered and hashed to its address, is kept; later
 * signatures compare their recovered key with it, without hashing.
 */
export class SignatureVerifier {
  readonly secp256k1Backend: Secp256k1Backend;
  private readonly _recoverer: Secp256k1Recoverer;
  private readonly _secp256k1Keys: PublicKeyCache | undefined;
  private readonly _p256Keys: LruCache<string, KeyObject | null> | undefined;
  /** ecrecover's output (0x04 ‖ x ‖ y), reused: checks are synchronous. */
  private readonly _recovered = new Uint8Array(65);

  constructor(options: SignatureVerifierOptions = {}) {
    this._recoverer = secp256k1Recoverer(options.secp256k1Backend ?? "auto");
    this.secp256k1Backend = this._recoverer.backend;
    const k1 = options.secp256k1Keys ?? DEFAULT_SECP256K1_KEYS;
    const p256 = options.p256Keys ?? DEFAULT_P256_KEYS;
    this._secp256k1Keys = k1 > 0 ? new PublicKeyCache(k1) : undefined;
    this._p256Keys = p256 > 0 ? new LruCache(p256) : undefined;
  }

  /** How many keys each cache holds now. */
  get cachedKeys(): { readonly secp256k1: number; readonly p256: number } {
    return { secp256k1: this._secp256k1Keys?.size ?? 0, p256: this._p256Keys?.size ?? 0 };
  }

  /**
   * checkDeviceSignature's verdict (see there): never throws; a key, signature or digest that is not
   * strict 0x-prefixed hex of whole bytes is "malformed".
   */
  check(key: DeviceKey, digest: Hex, signature: Hex): SignatureVerdict {
    const input = readSignatureInput(key, digest, signature);
    return typeof input === "string" ? input : this.judge(input);
  }

  /** The rest of the check once the strings are read (readSignatureInput): curve, ranges, signer. */
  judge(input: SignatureInput): SignatureVerdict {
    const p256Key = input.keyType === KeyType.P256 ? this._p256Key(input.key) : undefined;
    if (p256Key === null) return "not-on-curve";
    if (input.problem !== undefined) return input.problem;
    const sig = input.signature;
    const order = ORDER_BYTES[input.keyType === KeyType.P256 ? "p256" : "secp256k1"];
    const outside = (from: number): boolean =>
      ZERO32.compare(sig, from, from + 32) === 0 || order.n.compare(sig, from, from + 32) <= 0;
    if (outside(0) || outside(32)) return "out-of-range";
    if (order.half.compare(sig, 32, 64) < 0) return "high-s";
    if (p256Key === undefined) return this._secp256k1Signer(input);
    const ok = nodeVerify("sha256", input.digest, { key: p256Key, dsaEncoding: "ieee-p1363" }, sig);
    return ok ? "valid" : "wrong-signer";
  }

  private _p256Key(xy: Uint8Array): KeyObject | null {
    if (this._p256Keys === undefined) return p256PublicKey(xy);
    const id = idOf(xy);
    let key = this._p256Keys.get(id);
    if (key === undefined) {
      key = p256PublicKey(xy);
      this._p256Keys.set(id, key);
    }
    return key;
  }

  /** ecrecover(digest, v, r, s) == the device's address, as the contract checks it. */
  private _secp256k1Signer(input: SignatureInput): SignatureVerdict {
    const sig = input.signature;
    const v = sig[64];
    if (v !== 27 && v !== 28) return "bad-v";
    const out = this._recovered;
    if (!this._recoverer.recover(sig.subarray(0, 64), v === 27 ? 0 : 1, input.digest, out)) {
      return "wrong-signer";
    }
    const id = idOf(input.key);
    // A kept key came from a signature whose recovered key hashed to this very address: a recovered key
    // equal to it hashes to the address too, and any other key does not (short of a keccak collision).
    const same = this._secp256k1Keys?.matches(id, out, 1);
    if (same !== undefined) return same ? "valid" : "wrong-signer";
    const address = keccak_256(out.subarray(1)).subarray(12);
    if (Buffer.compare(address, input.key) !== 0) return "wrong-signer";
    this._secp256k1Keys?.set(id, out, 1);
    return "valid";
  }
}
