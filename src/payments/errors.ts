import { DeviceTrustError, type Hex } from "../protocol/index.js";
import type { SignatureVerdict } from "../verify/verdict.js";

/**
 * The errors of src/payments. Match on `code`; the message says what to do.
 */

/** The buyer device was asked for a voucher below one it already signed for the channel: refused. */
export class VoucherRegressionError extends DeviceTrustError {
  readonly channel: Hex;
  readonly requested: bigint;
  readonly signed: bigint;

  constructor(channel: Hex, requested: bigint, signed: bigint) {
    super(
      "VOUCHER_REGRESSION",
      `refused to sign a voucher for ${requested.toString()} on channel ${channel}: the device already signed ` +
        `${signed.toString()} for it, and vouchers are cumulative (the seller would simply close with the higher ` +
        `one). Sign the running total, at least ${signed.toString()}, or resend the latest voucher (VoucherSigner.latest)`,
    );
    this.name = "VoucherRegressionError";
    this.channel = channel;
    this.requested = requested;
    this.signed = signed;
  }
}

/** The voucher record file belongs to another device or channel contract, or cannot be used. */
export class VoucherRecordError extends DeviceTrustError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("VOUCHER_RECORD", message, options);
    this.name = "VoucherRecordError";
  }
}

/** Why a seller's VoucherVerifier refused a voucher: see the subclass. Nothing was recorded. */
export class VoucherRejectedError extends DeviceTrustError {
  readonly channel: Hex;

  constructor(code: string, channel: Hex, message: string) {
    super(code, message);
    this.name = "VoucherRejectedError";
    this.channel = channel;
  }
}

/** The verifier does not track the channel. */
export class UnknownChannelError extends VoucherRejectedError {
  constructor(channel: Hex) {
    super(
      "VOUCHER_UNKNOWN_CHANNEL",
      channel,
      `no channel ${channel} is tracked: track it (VoucherVerifier.track) with the terms, deposit and expiry of its ChannelOpened event before accepting its vouchers`,
    );
    this.name = "UnknownChannelError";
  }
}

/** The channel expires too soon for the seller to close with the voucher. */
export class ChannelExpiredError extends VoucherRejectedError {
  readonly expiry: bigint;
  readonly now: bigint;

  constructor(channel: Hex, expiry: bigint, now: bigint, margin: bigint) {
    super(
      "VOUCHER_CHANNEL_EXPIRED",
      channel,
      `channel ${channel} expires at ${expiry.toString()} (now ${now.toString()}, ${margin.toString()} s kept to close): ` +
        `a voucher is worth nothing once it cannot be closed before expiry. Stop delivering and close with the latest voucher, or ask the buyer to top up with a later expiry`,
    );
    this.name = "ChannelExpiredError";
    this.expiry = expiry;
    this.now = now;
  }
}

/** The voucher's amount is above the channel's deposit: the contract would pay the deposit only. */
export class VoucherExceedsDepositError extends VoucherRejectedError {
  readonly amount: bigint;
  readonly deposit: bigint;

  constructor(channel: Hex, amount: bigint, deposit: bigint) {
    super(
      "VOUCHER_EXCEEDS_DEPOSIT",
      channel,
      `the voucher for ${amount.toString()} on channel ${channel} exceeds its deposit of ${deposit.toString()}: ` +
        `stop delivering until the buyer tops up (then VoucherVerifier.track the new deposit), and close with the latest voucher within the deposit`,
    );
    this.name = "VoucherExceedsDepositError";
    this.amount = amount;
    this.deposit = deposit;
  }
}

/** The voucher does not raise the amount already accepted on the channel. */
export class VoucherNotNewerError extends VoucherRejectedError {
  readonly amount: bigint;
  readonly latest: bigint;

  constructor(channel: Hex, amount: bigint, latest: bigint) {
    super(
      "VOUCHER_NOT_NEWER",
      channel,
      `the voucher for ${amount.toString()} on channel ${channel} is not above the ${latest.toString()} already accepted: ` +
        `vouchers are cumulative; ask the buyer for the running total (an old or replayed voucher adds nothing)`,
    );
    this.name = "VoucherNotNewerError";
    this.amount = amount;
    this.latest = latest;
  }
}

/** The voucher's signature is not the buyer device's over this channel's voucher digest. */
export class VoucherSignatureError extends VoucherRejectedError {
  readonly verdict: Exclude<SignatureVerdict, "valid">;

  constructor(channel: Hex, verdict: Exclude<SignatureVerdict, "valid">) {
    super(
      "VOUCHER_BAD_SIGNATURE",
      channel,
      `the voucher on channel ${channel} is not signed by the buyer device's key (${verdict}): it would not count on chain. ` +
        `Check that the buyer signs under this chain's PaymentChannel domain with the device's current key (after a rotation, VoucherVerifier.setKey)`,
    );
    this.name = "VoucherSignatureError";
    this.verdict = verdict;
  }
}
