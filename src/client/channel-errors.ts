import { TRUST_VERDICTS } from "../verify/enum-names.js";
import { PaymentChannel__factory } from "../../types/ethers-contracts/index.js";
import {
  ContractError,
  decodeRevertData,
  decodeWithSentences,
  findRevertData,
  s,
  type ErrorSentences,
} from "./decode-error.js";

/**
 * Sentences for the custom errors of PaymentChannel (and TrustLib's, which its open and checkpoint raise).
 * `decodeChannelError` tries these first, then decode-error.ts's (registry, tokens). A channel call made
 * through a DeviceAccount reverts inside the account: account-errors.ts falls back to these.
 */

function when(seconds: unknown): string {
  const n = Number(seconds);
  return Number.isSafeInteger(n)
    ? `${s(seconds)} (${new Date(n * 1000).toISOString()})`
    : s(seconds);
}

function asset(token: unknown): string {
  return /^0x0{40}$/i.test(String(token)) ? "the native coin" : `token ${s(token)}`;
}

const EXPLAIN: ErrorSentences = {
  ChannelZeroAddress: () => "the seller is the zero address: name the seller (--seller)",
  ChannelZeroMaxAge: () => "maxAge is zero: deploy the channel contract with a positive maxAge",
  ChannelNotBuyer: (a) =>
    `${s(a[0])} is not the terms' buyer: open and top up from the buyer's account (channel open --account)`,
  ChannelNotSeller: (a) =>
    `${s(a[0])} is not the channel's seller: close or checkpoint from the seller's wallet (--from)`,
  ChannelNotParty: (a) =>
    `${s(a[0])} is neither the channel's buyer nor its seller: reclaim from the buyer's account (channel reclaim --account) or the seller's wallet`,
  ChannelZeroDeposit: () => "the deposit is zero: give a positive --deposit",
  ChannelDepositTooLarge: (a) =>
    `a deposit of ${s(a[0])} is above the channel's maximum ${s(a[1])} (base units): deposit less`,
  ChannelExpired: (a) =>
    `the channel's expiry ${when(a[0])} is not after the block time ${when(a[1])}: a channel is closed or checkpointed before its expiry; now only reclaim is left (channel reclaim pays the seller its checkpointed amount, the buyer the rest). Opening, give an --expiry in the future`,
  ChannelNotExpired: (a) =>
    `the channel runs until ${when(a[0])} (the block time is ${when(a[1])}): reclaim from then on; until then only the seller can end it (channel close)`,
  ChannelExpiryTooFar: (a) =>
    `the expiry ${s(a[0])} does not fit in 48 bits (at most ${s(a[1])}): give a nearer --expiry`,
  ChannelExpiryNotLater: (a) =>
    `a top-up may not move the expiry earlier: ${when(a[0])} is before the current ${when(a[1])}`,
  ChannelWrongNonce: (a) =>
    `the terms carry channel nonce ${s(a[2])}, but ${s(a[0])}'s next one is ${s(a[1])} (nonceOf): another channel of the buyer opened first; open again (the terms are built anew)`,
  ChannelTermsMismatch: (a) =>
    `no open channel ${s(a[0])} has these terms: it was closed or reclaimed already, or the terms differ from its ChannelOpened event's (channel show --channel prints them)`,
  ChannelWrongValue: (a) =>
    `${s(a[0])} of the native coin was sent, not ${s(a[1])}: a native channel's deposit is sent as value, an ERC-20 channel's with none`,
  ChannelFeeOnTransfer: (a) =>
    `token ${s(a[0])} delivered ${s(a[2])} of the ${s(a[1])} asked: it takes a fee on transfer, which channels refuse; deposit a token without fees`,
  ChannelInvalidVoucher: (a) =>
    `the voucher is not device ${s(a[0])}'s current key's signature over this channel, amount, contract and chain, while the device is trusted: present it exactly as the device signed it (after a key rotation, only vouchers of the new key count)`,
  ChannelVoucherNotNewer: (a) =>
    `a checkpoint of ${s(a[0])} does not raise the ${s(a[1])} already checkpointed: checkpoint a later voucher, or close`,
  ChannelNothingOwed: (a) =>
    `nothing is owed to ${s(a[0])} in ${asset(a[1])}: only a payout that failed at close or reclaim is owed`,
  // OpenZeppelin's Address.sendValue, in withdrawOwed of the native coin.
  FailedCall: () =>
    "the native payout to the caller reverted: withdraw from an address that accepts the native coin (a wallet, or an account with a receive function)",
  InsufficientBalance: (a) =>
    `the channel contract holds ${s(a[0])} of the native coin, less than the ${s(a[1])} to pay: report it, this should not happen`,
  TrustLibUntrusted: (a) =>
    `the buyer device ${s(a[0])} is not trusted now (${TRUST_VERDICTS[Number(a[1])] ?? `verdict ${s(a[1])}`}): its operator attests it again (device attest); a channel opens only for a trusted device, and its vouchers count only while it is trusted (a checkpointed amount is paid regardless)`,
};

/** The custom-error names explained above. */
export const EXPLAINED_CHANNEL_ERRORS: readonly string[] = Object.keys(EXPLAIN);

const INTERFACES = [PaymentChannel__factory.createInterface()];

/** Revert data of a PaymentChannel (or TrustLib) custom error, else of the registry or a token, decoded. */
export function decodeChannelRevertData(data: string, cause?: unknown): ContractError | undefined {
  return decodeWithSentences(data, INTERFACES, EXPLAIN, cause) ?? decodeRevertData(data, cause);
}

/** The decoded contract error inside `err` (channel errors first, then decode-error.ts's). */
export function decodeChannelError(err: unknown): ContractError | undefined {
  if (err instanceof ContractError) return err;
  const data = findRevertData(err);
  return data === undefined ? undefined : decodeChannelRevertData(data, err);
}
