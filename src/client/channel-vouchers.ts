import { join } from "node:path";
import { getAddress, type Provider } from "ethers";
import type { KeyStore } from "../device/key-store.js";
import {
  DeviceTrustError,
  InvalidInputError,
  keyHash,
  type Domain,
  type Hex,
} from "../protocol/index.js";
import {
  VoucherRecord,
  VoucherSigner,
  VoucherVerifier,
  channelIdOf,
  voucherFileJson,
  type AcceptedVoucher,
  type SellerVoucherStore,
  type VoucherFile,
} from "../payments/index.js";
import {
  checkpointChannel,
  closeChannel,
  requireChannelTerms,
  type CheckpointResult,
  type CloseChannelResult,
  type PaymentChannel,
} from "./channels.js";
import { registryAt } from "./registry.js";

/**
 * The vouchers of a channel, both sides, with their durable records: the buyer device signs one
 * (VoucherSigner over a VoucherRecord file: never lower than one it signed) and writes it as a voucher file;
 * the seller checks an incoming one against the chain and keeps the latest in its SellerVoucherStore, and
 * closes (or checkpoints) with what the store holds. Files live under one folder:
 * `<dir>/chain-<id>/<channels>/buyer-<deviceId>.sqlite` and `…/seller-<address>.sqlite`.
 */

/** The EIP-712 domain vouchers of `channels` are signed under. */
export async function channelDomain(channels: PaymentChannel): Promise<Domain> {
  const provider = channels.runner?.provider as Provider;
  const { chainId } = await provider.getNetwork();
  return { chainId, verifyingContract: getAddress(await channels.getAddress()) as Hex };
}

function folder(dir: string, domain: Domain): string {
  return join(dir, `chain-${domain.chainId.toString()}`, getAddress(domain.verifyingContract));
}

/** The buyer device's voucher record for the channel contract of `domain`. */
export function buyerRecordPath(dir: string, domain: Domain, deviceId: Hex): string {
  return join(folder(dir, domain), `buyer-${deviceId.toLowerCase()}.sqlite`);
}

/** The seller's voucher store for the channel contract of `domain`. */
export function sellerStorePath(dir: string, domain: Domain, seller: string): string {
  return join(folder(dir, domain), `seller-${getAddress(seller)}.sqlite`);
}

export interface SignChannelVoucherOptions {
  readonly channels: PaymentChannel;
  readonly keyStore: KeyStore;
  /** The id the buyer device is registered under (it must be the channel's buyerDevice). */
  readonly deviceId: Hex;
  readonly channel: Hex;
  /** The running total owed on the channel, in the token's smallest units. */
  readonly cumulativeAmount: bigint;
  /** The folder of the voucher records (buyerRecordPath). */
  readonly dir: string;
}

/**
 * The buyer device signs a voucher for the running total (never below one it signed: VoucherRegressionError);
 * returns the voucher file's JSON and the record's path.
 */
export async function signChannelVoucher(options: SignChannelVoucherOptions) {
  const { channels, deviceId, channel } = options;
  const terms = await requireChannelTerms(channels, channel);
  if (terms.buyerDevice !== deviceId.toLowerCase()) {
    throw new InvalidInputError(
      `channel ${channel}'s vouchers are signed by device ${terms.buyerDevice}, not ${deviceId}: use that device's key`,
    );
  }
  const domain = await channelDomain(channels);
  const record = VoucherRecord.open(buyerRecordPath(options.dir, domain, deviceId), {
    domain,
    deviceId,
  });
  try {
    const signer = new VoucherSigner(options.keyStore, domain, deviceId, record);
    const signed = await signer.signVoucher(channel, options.cumulativeAmount);
    return { voucher: voucherFileJson(domain, terms, signed), record: record.path };
  } finally {
    record.close();
  }
}

export interface AcceptChannelVoucherResult extends AcceptedVoucher {
  readonly deposit: bigint;
  readonly expiry: bigint;
  readonly store: string;
}

/**
 * The seller checks an incoming voucher file against the chain (its terms are an open channel of this
 * contract sold by the store's seller, its key is the buyer device's current key) and as the contract would
 * count it (VoucherVerifier), then commits it to `store` before returning. Refusals are typed:
 * VoucherRejectedError subclasses (not newer, over the deposit, bad signature, too close to expiry),
 * InvalidInputError for a file of another chain or contract, DeviceTrustError CHANNEL_NOT_OPEN and
 * VOUCHER_KEY_NOT_CURRENT.
 */
export async function acceptChannelVoucher(options: {
  readonly channels: PaymentChannel;
  readonly store: SellerVoucherStore;
  readonly voucher: VoucherFile;
  /** Seconds before expiry from which vouchers are refused (VoucherVerifier's default 300). */
  readonly closeMargin?: bigint | undefined;
}): Promise<AcceptChannelVoucherResult> {
  const { channels, store, voucher } = options;
  const domain = await channelDomain(channels);
  sameDomain(voucher.domain, domain);
  const id = channelIdOf(voucher.terms);
  if (id !== voucher.channel.toLowerCase()) {
    throw new InvalidInputError(
      `the voucher's terms hash to channel ${id}, not the ${voucher.channel} it names: ask the buyer for a voucher written by channel voucher`,
    );
  }
  const state = await channels.channel(id);
  if (state.deposit === 0n) {
    throw new DeviceTrustError(
      "CHANNEL_NOT_OPEN",
      `channel ${id} is not open on ${domain.verifyingContract} (never opened, or closed or reclaimed already): its vouchers are worth nothing; check the channel with channel show`,
    );
  }
  await requireCurrentKey(channels, voucher);
  const now = await chainTime(channels);
  const verifier = new VoucherVerifier(domain, {
    store,
    now: () => now,
    ...(options.closeMargin === undefined ? {} : { closeMargin: options.closeMargin }),
  });
  verifier.track({
    terms: voucher.terms,
    deposit: state.deposit,
    expiry: state.expiry,
    key: voucher.key,
  });
  const accepted = verifier.verify(voucher);
  return { ...accepted, deposit: state.deposit, expiry: state.expiry, store: store.path };
}

function sameDomain(file: Domain, contract: Domain): void {
  if (
    file.chainId !== contract.chainId ||
    getAddress(file.verifyingContract) !== getAddress(contract.verifyingContract)
  ) {
    throw new InvalidInputError(
      `the voucher is for PaymentChannel ${file.verifyingContract} on chain ${file.chainId.toString()}, not ${contract.verifyingContract} on chain ${contract.chainId.toString()}: check --channels and --network`,
    );
  }
}

async function requireCurrentKey(channels: PaymentChannel, voucher: VoucherFile): Promise<void> {
  const provider = channels.runner?.provider as Provider;
  const registry = registryAt(await channels.registry(), provider);
  const current = await registry.currentKeyHash(voucher.terms.buyerDevice);
  if (current.toLowerCase() !== keyHash(voucher.key).toLowerCase()) {
    throw new DeviceTrustError(
      "VOUCHER_KEY_NOT_CURRENT",
      `the voucher's key is not device ${voucher.terms.buyerDevice}'s current key in the registry: a voucher of a retired (or foreign) key counts for nothing on chain; ask the buyer to sign again with its current key`,
    );
  }
}

async function chainTime(channels: PaymentChannel): Promise<bigint> {
  const provider = channels.runner?.provider as Provider;
  return BigInt((await provider.getBlock("latest"))?.timestamp ?? 0);
}

/**
 * The seller closes (or, with `checkpoint`, checkpoints) `channel` with the latest voucher in its store.
 * A closed channel is dropped from the store; a checkpointed one stays (close it later).
 */
export async function settleFromStore(
  channels: PaymentChannel,
  store: SellerVoucherStore,
  channel: Hex,
  mode: "close" | "checkpoint",
): Promise<(CloseChannelResult | CheckpointResult) & { readonly voucher: bigint }> {
  const stored = store.get(channel);
  if (stored?.signature === undefined) {
    throw new InvalidInputError(
      `${store.path} holds no voucher for channel ${channel}: accept the buyer's vouchers first (channel voucher --accept <file>)`,
    );
  }
  const voucher = {
    cumulativeAmount: stored.accepted,
    key: stored.key,
    signature: stored.signature,
  };
  if (mode === "checkpoint") {
    return {
      ...(await checkpointChannel(channels, stored.terms, voucher)),
      voucher: stored.accepted,
    };
  }
  const closed = await closeChannel(channels, stored.terms, voucher);
  store.forget(channel);
  return { ...closed, voucher: stored.accepted };
}
