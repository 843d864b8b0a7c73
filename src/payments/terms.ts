import {
  keccak256Buffer,
  writeAddressWord,
  writeBytes32,
  writeUint256Word,
} from "../protocol/hash.js";
import { getAddress } from "ethers";
import { asHex, type Hex } from "../protocol/hex.js";

/**
 * A payment channel's terms, as IPaymentChannel.ChannelTerms: what the channel is for life. Every call to
 * the contract repeats them, and the channel's id is their hash (channelIdOf).
 */
export interface ChannelTerms {
  /** Opens the channel and pays the deposit (usually a device's ERC-4337 account). */
  readonly buyer: Hex;
  /** Closes with the buyer device's vouchers and is paid. */
  readonly seller: Hex;
  /** The DeviceTrust device whose current key signs the vouchers. */
  readonly buyerDevice: Hex;
  /** The deposit's ERC-20, or the zero address for the native currency. */
  readonly token: Hex;
  /** What one unit costs (bookkeeping: vouchers carry token amounts). */
  readonly pricePerUnit: bigint;
  /**
   * The buyer's channel nonce: its count of channels opened before this one (PaymentChannel.nonceOf(buyer)
   * at open). Makes the id unique, and known before the open lands.
   */
  readonly nonce: bigint;
}

export const NATIVE_TOKEN: Hex = "0x0000000000000000000000000000000000000000";

const scratch = Buffer.alloc(192);

/** The channel's id: keccak256(abi.encode(terms)), as PaymentChannel.channelId computes it. */
export function channelIdOf(terms: ChannelTerms): Hex {
  const b = scratch;
  writeAddressWord(b, 0, terms.buyer, "buyer");
  writeAddressWord(b, 32, terms.seller, "seller");
  writeBytes32(b, 64, terms.buyerDevice, "buyerDevice");
  writeAddressWord(b, 96, terms.token, "token");
  writeUint256Word(b, 128, terms.pricePerUnit, "pricePerUnit");
  writeUint256Word(b, 160, terms.nonce, "nonce");
  return `0x${keccak256Buffer(b).toString("hex")}`;
}

/** The terms as JSON (amounts as decimal strings), for voucher files and the seller's store. */
export function termsToJson(terms: ChannelTerms): Record<string, string> {
  return {
    buyer: terms.buyer,
    seller: terms.seller,
    buyerDevice: terms.buyerDevice,
    token: terms.token,
    pricePerUnit: terms.pricePerUnit.toString(),
    nonce: terms.nonce.toString(),
  };
}

/** The inverse of termsToJson (addresses checksummed, the device id in lower case). */
export function termsFromJson(json: unknown): ChannelTerms {
  const t = (json ?? {}) as Record<string, unknown>;
  const address = (v: unknown, what: string): Hex => getAddress(asHex(String(v), what, 20)) as Hex;
  return {
    buyer: address(t.buyer, "buyer"),
    seller: address(t.seller, "seller"),
    buyerDevice: asHex(String(t.buyerDevice), "buyerDevice", 32).toLowerCase() as Hex,
    token: address(t.token, "token"),
    pricePerUnit: BigInt(String(t.pricePerUnit)),
    nonce: BigInt(String(t.nonce)),
  };
}
