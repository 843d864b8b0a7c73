import { getAddress } from "ethers";
import {
  InvalidInputError,
  KeyType,
  asHex,
  type DeviceKey,
  type Domain,
  type Hex,
} from "../protocol/index.js";
import { termsFromJson, termsToJson, type ChannelTerms } from "./terms.js";
import type { SignedVoucher } from "./voucher-signer.js";

/**
 * A voucher as it travels from the buyer to the seller (`channel voucher` writes one, `channel voucher
 * --accept` reads one): the voucher, the channel contract and chain it is signed for, the channel's terms
 * (so the seller can check them against the chain: their hash is the channel id) and the key that signed
 * (the seller checks it is the device's current key in the registry). Amounts are decimal strings.
 */
export interface VoucherFile {
  readonly domain: Domain;
  readonly terms: ChannelTerms;
  readonly channel: Hex;
  readonly cumulativeAmount: bigint;
  readonly signature: Hex;
  readonly key: DeviceKey;
}

const KIND = "devicetrust-voucher";

/** The JSON of a voucher file. */
export function voucherFileJson(domain: Domain, terms: ChannelTerms, voucher: SignedVoucher) {
  return {
    kind: KIND,
    version: 1,
    chainId: domain.chainId.toString(),
    channels: getAddress(domain.verifyingContract),
    channel: voucher.channel,
    cumulativeAmount: voucher.cumulativeAmount.toString(),
    signature: voucher.signature,
    key: { keyType: voucher.key.keyType, key: voucher.key.key },
    terms: termsToJson(terms),
  };
}

/** Reads a voucher file's JSON (`where` names it in errors); throws InvalidInputError if it is not one. */
export function parseVoucherFile(json: unknown, where: string): VoucherFile {
  const v = (json ?? {}) as Record<string, unknown>;
  if (v.kind !== KIND || v.version !== 1) {
    throw new InvalidInputError(
      `${where} is not a DeviceTrust voucher (version 1): give the file channel voucher wrote`,
    );
  }
  try {
    const k = v.key as Record<string, unknown>;
    const keyType = k.keyType === KeyType.P256 ? KeyType.P256 : KeyType.Secp256k1;
    if (k.keyType !== KeyType.P256 && k.keyType !== KeyType.Secp256k1) {
      throw new InvalidInputError(`key type ${String(k.keyType)}`);
    }
    return {
      domain: {
        chainId: BigInt(String(v.chainId)),
        verifyingContract: getAddress(asHex(String(v.channels), "channels", 20)) as Hex,
      },
      channel: asHex(String(v.channel), "channel", 32),
      cumulativeAmount: BigInt(String(v.cumulativeAmount)),
      signature: asHex(String(v.signature), "signature"),
      key: { keyType, key: asHex(String(k.key), "key") },
      terms: termsFromJson(v.terms),
    };
  } catch (cause: unknown) {
    throw new InvalidInputError(
      `${where} is a damaged voucher file (${cause instanceof Error ? cause.message : String(cause)}): ask the buyer to send it again`,
      { cause },
    );
  }
}
