import { verify as nodeVerify, type KeyObject } from "node:crypto";
import {
  CURVE_ORDER,
  InvalidInputError,
  KeyType,
  SIGNATURE_LENGTH,
  domainSeparator,
  fromHex,
  isHex,
  VOUCHER_TYPEHASH,
  keccak256Buffer,
  keccak256Pair,
  writeUint256Word,
  type DeviceKey,
  type Domain,
  type Hex,
} from "../protocol/index.js";
import { p256PublicKey } from "../verify/p256-key.js";
import type { SignatureVerdict } from "../verify/verdict.js";
import { SignatureVerifier } from "../verify/verifier.js";
import {
  ChannelExpiredError,
  UnknownChannelError,
  VoucherExceedsDepositError,
  VoucherNotNewerError,
  VoucherSignatureError,
} from "./errors.js";
import { VoucherRecordError } from "./errors.js";
import type { SellerVoucherStore, StoredChannel } from "./seller-store.js";
import { channelIdOf, type ChannelTerms } from "./terms.js";

/** A channel the seller serves, as its ChannelOpened (and ChannelToppedUp) events describe it. */
export interface TrackedChannel {
  readonly terms: ChannelTerms;
  readonly deposit: bigint;
  /** Unix seconds. */
  readonly expiry: bigint;
  /** The buyer device's current key (the registry's DeviceRegistered / KeyRotated events carry it). */
  readonly key: DeviceKey;
  /** The amount already accepted (or checkpointed) on the channel, when tracking resumes; default 0. */
  readonly accepted?: bigint;
}

export interface VoucherVerifierOptions {
  /**
   * Seconds before expiry from which vouchers are refused, to leave the seller time to close (default 300):
   * a voucher that cannot be closed before expiry is worth nothing.
   */
  readonly closeMargin?: bigint;
  /** The clock (unix seconds); default the system clock. Give the chain's time where it differs. */
  readonly now?: () => bigint;
  /** The signature verifier (default one of its own): share one to share its key caches. */
  readonly verifier?: SignatureVerifier;
  /**
   * The seller's durable store (SellerVoucherStore): the verifier resumes its channels from it, writes
   * every channel it tracks to it and commits every voucher to it before reporting it accepted. Without
   * one, everything lives in memory and a restart forgets the seller's latest vouchers.
   */
  readonly store?: SellerVoucherStore;
}

/** A voucher as the buyer sends it. */
export interface IncomingVoucher {
  readonly channel: Hex;
  readonly cumulativeAmount: bigint;
  readonly signature: Hex;
}

/** The accepted voucher and what it added: `increment` is what the buyer paid for since the last one. */
export interface AcceptedVoucher extends IncomingVoucher {
  readonly key: DeviceKey;
  readonly increment: bigint;
}

interface Entry {
  readonly id: Hex;
  readonly terms: ChannelTerms;
  deposit: bigint;
  expiry: bigint;
  key: DeviceKey;
  keyType: KeyType.Secp256k1 | KeyType.P256;
  keyBytes: Uint8Array;
  /** VOUCHER_TYPEHASH ‖ channel ‖ amount: the struct encoding, only the amount rewritten per voucher. */
  readonly encoded: Buffer;
  /** A P-256 key's OpenSSL object, built once per channel (undefined for secp256k1). */
  p256Key: KeyObject | undefined;
  latest: bigint;
  latestSignature: Hex | undefined;
}

/**
 * The seller's side of a payment channel: checks each voucher the buyer device sends as the contract would
 * count it at close (signature by the device's key under the PaymentChannel domain, exactly the contract's
 * rules), plus what only the seller can check in time: the amount rises on every voucher, stays within the
 * deposit, and the channel leaves time to close. Keeps the latest accepted voucher per channel (`latest`),
 * which is what the seller closes (or checkpoints) with.
 *
 * Fast path: the digest head (0x1901 ‖ domain separator) is computed once; a voucher costs one 96-byte
 * keccak in WebAssembly, one 66-byte keccak and, for P-256, one OpenSSL verification with the device's
 * KeyObject built once per channel (the contract's range and low-s checks inline); secp256k1 goes through
 * src/verify's SignatureVerifier (ecrecover on libsecp256k1). Not the device's trust: that is on chain; checkpoint while it holds.
 */
export class VoucherVerifier {
  readonly domain: Domain;
  readonly closeMargin: bigint;
  readonly #now: () => bigint;
  readonly #verifier: SignatureVerifier;
  readonly #head: Buffer;
  readonly #channels = new Map<string, Entry>();
  readonly #store: SellerVoucherStore | undefined;

  constructor(domain: Domain, options: VoucherVerifierOptions = {}) {
    this.domain = domain;
    this.closeMargin = options.closeMargin ?? 300n;
    this.#now = options.now ?? (() => BigInt(Math.floor(Date.now() / 1000)));
    this.#verifier = options.verifier ?? new SignatureVerifier();
    this.#head = Buffer.concat([
      Buffer.from([0x19, 0x01]),
      Buffer.from(fromHex(domainSeparator(domain))),
    ]);
    this.#store = options.store;
    if (this.#store !== undefined) this.#resume(this.#store);
  }

  #resume(store: SellerVoucherStore): void {
    if (
      store.domain.chainId !== this.domain.chainId ||
      store.domain.verifyingContract !== this.domain.verifyingContract.toLowerCase()
    ) {
      throw new VoucherRecordError(
        `the seller voucher store ${store.path} belongs to ${store.domain.chainId.toString()}/${store.domain.verifyingContract}: open the store of this chain and channel contract`,
      );
    }
    for (const c of store.channels()) this.#set(c);
  }

  /**
   * Starts (or updates, after a top-up) tracking a channel; returns its id. With a store, the channel is
   * written to it first, and the amount accepted is the store's (never lowered by `accepted`).
   */
  track(channel: TrackedChannel): Hex {
    if (this.#store !== undefined) return this.#set(this.#store.track(channel)).id;
    const id = channelIdOf(channel.terms).toLowerCase() as Hex;
    const existing = this.#channels.get(id);
    const accepted = channel.accepted ?? 0n;
    const kept = existing !== undefined && existing.latest >= accepted;
    return this.#set({
      ...channel,
      channel: id,
      accepted: kept ? existing.latest : accepted,
      // A higher `accepted` comes without its voucher: there is no signature to close with until the next.
      signature: kept ? existing.latestSignature : undefined,
    }).id;
  }

  #set(c: StoredChannel): Entry {
    const encoded = Buffer.alloc(96);
    VOUCHER_TYPEHASH.copy(encoded, 0);
    encoded.write(c.channel.slice(2), 32, 32, "hex");
    const entry: Entry = {
      id: c.channel,
      terms: c.terms,
      encoded,
      deposit: c.deposit,
      expiry: c.expiry,
      ...keyFields(c.key),
      latest: c.accepted,
      latestSignature: c.signature,
    };
    this.#channels.set(c.channel, entry);
    return entry;
  }

  /** The buyer device rotated its key: vouchers from now on must be by `key`. */
  setKey(channel: Hex, key: DeviceKey): void {
    const e = this.#entry(channel);
    const fields = keyFields(key);
    this.#store?.track({ terms: e.terms, deposit: e.deposit, expiry: e.expiry, key });
    Object.assign(e, fields);
  }

  /** Stops tracking a channel (closed or reclaimed), in the store too. */
  forget(channel: Hex): void {
    this.#store?.forget(channel);
    this.#channels.delete(channel.toLowerCase());
  }

  /** The latest accepted voucher of a channel: what to close or checkpoint with. */
  latest(channel: Hex): AcceptedVoucher | undefined {
    const e = this.#channels.get(channel.toLowerCase());
    if (e?.latestSignature === undefined) return undefined;
    return {
      channel: e.id,
      cumulativeAmount: e.latest,
      signature: e.latestSignature,
      key: e.key,
      increment: 0n,
    };
  }

  /**
   * Accepts a voucher or throws a VoucherRejectedError subclass that says what to do: UnknownChannelError,
   * ChannelExpiredError, VoucherExceedsDepositError, VoucherNotNewerError, VoucherSignatureError. A rejected
   * voucher changes nothing.
   */
  verify(voucher: IncomingVoucher): AcceptedVoucher {
    const e = this.#entry(voucher.channel);
    const now = this.#now();
    if (now + this.closeMargin >= e.expiry) {
      throw new ChannelExpiredError(e.id, e.expiry, now, this.closeMargin);
    }
    const amount = voucher.cumulativeAmount;
    if (amount > e.deposit) throw new VoucherExceedsDepositError(e.id, amount, e.deposit);
    if (amount <= e.latest) throw new VoucherNotNewerError(e.id, amount, e.latest);

    const verdict = this.#check(e, amount, voucher.signature);
    if (verdict !== "valid") throw new VoucherSignatureError(e.id, verdict);
    // Durable before it is reported accepted: the seller delivers against it.
    this.#store?.accept(e.id, amount, voucher.signature);
    const increment = amount - e.latest;
    e.latest = amount;
    e.latestSignature = voucher.signature;
    return {
      channel: e.id,
      cumulativeAmount: amount,
      signature: voucher.signature,
      key: e.key,
      increment,
    };
  }

  #check(e: Entry, amount: bigint, signature: Hex): SignatureVerdict {
    if (!isHex(signature)) return "malformed";
    if (signature.length !== 2 + 2 * SIGNATURE_LENGTH[e.keyType]) return "bad-signature-length";
    writeUint256Word(e.encoded, 64, amount, "cumulativeAmount");
    const digest = keccak256Pair(this.#head, keccak256Buffer(e.encoded));
    const sig = Buffer.from(signature.slice(2), "hex");
    if (e.p256Key === undefined) {
      return this.#verifier.judge({
        keyType: e.keyType,
        key: e.keyBytes,
        problem: undefined,
        digest,
        signature: sig,
      });
    }
    // DeviceKeyLib's P-256 rules: r and s in [1, n), s <= n/2; then ECDSA-P256-SHA256 over the digest.
    const outside = (from: number): boolean =>
      ZERO32.compare(sig, from, from + 32) === 0 || P256_N.compare(sig, from, from + 32) <= 0;
    if (outside(0) || outside(32)) return "out-of-range";
    if (P256_HALF_N.compare(sig, 32, 64) < 0) return "high-s";
    const ok = nodeVerify("sha256", digest, { key: e.p256Key, dsaEncoding: "ieee-p1363" }, sig);
    return ok ? "valid" : "wrong-signer";
  }

  #entry(channel: Hex): Entry {
    const e = this.#channels.get(channel.toLowerCase());
    if (e === undefined) throw new UnknownChannelError(channel);
    return e;
  }
}

const ZERO32 = Buffer.alloc(32);
const P256_N = Buffer.from(CURVE_ORDER.p256.toString(16).padStart(64, "0"), "hex");
const P256_HALF_N = Buffer.from((CURVE_ORDER.p256 / 2n).toString(16).padStart(64, "0"), "hex");

function keyFields(key: DeviceKey): Pick<Entry, "key" | "keyType" | "keyBytes" | "p256Key"> {
  if (key.keyType !== KeyType.P256 && key.keyType !== KeyType.Secp256k1) {
    throw new InvalidInputError(
      `key type ${String(key.keyType)} is not supported: a buyer device key is secp256k1 (1) or P-256 (2)`,
    );
  }
  const keyBytes = Buffer.from(fromHex(key.key, "key"));
  if (key.keyType === KeyType.Secp256k1) {
    if (keyBytes.length !== 20)
      throw new InvalidInputError("a secp256k1 device key is its 20-byte address");
    return { key, keyType: key.keyType, keyBytes, p256Key: undefined };
  }
  const p256Key = keyBytes.length === 64 ? p256PublicKey(keyBytes) : null;
  if (p256Key === null) {
    throw new InvalidInputError("a P-256 device key is 64 bytes x‖y of a point on the curve");
  }
  return { key, keyType: key.keyType, keyBytes, p256Key };
}
