import {
  getAddress,
  type ContractRunner,
  type Log,
  type Provider,
  type TransactionReceipt,
} from "ethers";
import {
  DeviceTrustError,
  InvalidInputError,
  type DeviceKey,
  type Hex,
} from "../protocol/index.js";
import { NATIVE_TOKEN, channelIdOf, type ChannelTerms } from "../payments/terms.js";
import {
  PaymentChannel__factory,
  type PaymentChannel,
} from "../../types/ethers-contracts/index.js";
import { contractCall, erc20Approve, type Execution } from "./account-calls.js";
import { sendFromAccount, type OperationRoute } from "./account-actions.js";
import type { AccountOperationResult } from "./account-send.js";
import { decodeChannelError } from "./channel-errors.js";
import { send, type TxResult } from "./transaction.js";

/**
 * A typed client for PaymentChannel (contracts/accounts/PaymentChannel.sol). The buyer is a DeviceAccount:
 * open (approve + open for an ERC-20, the deposit as value for the native coin) and reclaim go as one
 * UserOperation along an OperationRoute, so the account's policy sees them. The seller is a wallet: close,
 * checkpoint and withdrawOwed are plain transactions. Reverts come back as ContractErrors whose message
 * says what to do (channel-errors.ts); a call that did not do what it was for throws, never returns.
 */

export type { PaymentChannel };
export const channelInterface = PaymentChannel__factory.createInterface();

export function paymentChannelAt(address: string, runner: ContractRunner): PaymentChannel {
  return PaymentChannel__factory.connect(address, runner);
}

/** A voucher as close and checkpoint present it. */
export interface PresentedVoucher {
  readonly cumulativeAmount: bigint;
  readonly key: DeviceKey;
  readonly signature: Hex;
}

/** How a channel ended: ChannelSettled (close) or ChannelReclaimed (after expiry). */
export interface ChannelSettlement {
  readonly kind: "closed" | "reclaimed";
  readonly paidToSeller: bigint;
  readonly refundedToBuyer: bigint;
  /** close only: false when the device was no longer trusted and the seller got its checkpoint. */
  readonly voucherCounted: boolean | null;
  readonly txHash: Hex;
}

/** Runs a channel call, turning a revert into a ContractError with a sentence. */
async function channelCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err: unknown) {
    throw decodeChannelError(err) ?? err;
  }
}

function termsTuple(terms: ChannelTerms) {
  return {
    buyer: terms.buyer,
    seller: terms.seller,
    buyerDevice: terms.buyerDevice,
    token: terms.token,
    pricePerUnit: terms.pricePerUnit,
    nonce: terms.nonce,
  };
}

/** The channel contract's event `name` for channel `id` in `logs`, parsed; undefined if absent. */
function channelLog(logs: readonly Log[], channels: string, name: string, id: Hex) {
  for (const log of logs) {
    if (getAddress(log.address) !== getAddress(channels)) continue;
    const parsed = channelInterface.parseLog(log);
    if (parsed?.name === name && String(parsed.args[0]).toLowerCase() === id.toLowerCase()) {
      return parsed.args;
    }
  }
  return undefined;
}

/** The settlement recorded in `receipt`; throws if the channel did not end there. */
function settlementIn(
  receipt: Pick<TransactionReceipt, "logs" | "hash">,
  channels: string,
  id: Hex,
): ChannelSettlement {
  const settled = channelLog(receipt.logs, channels, "ChannelSettled", id);
  const reclaimed = settled ?? channelLog(receipt.logs, channels, "ChannelReclaimed", id);
  if (reclaimed === undefined) {
    throw new DeviceTrustError(
      "CHANNEL_NOT_SETTLED",
      `transaction ${receipt.hash} did not end channel ${id} (no ChannelSettled or ChannelReclaimed): check it with channel show`,
    );
  }
  return {
    kind: settled === undefined ? "reclaimed" : "closed",
    paidToSeller: reclaimed.paidToSeller as bigint,
    refundedToBuyer: reclaimed.refundedToBuyer as bigint,
    voucherCounted: settled === undefined ? null : (settled.voucherCounted as boolean),
    txHash: receipt.hash as Hex,
  };
}

// ------------------------------------------------------------------ the buyer (a DeviceAccount)

export interface OpenChannelOptions {
  /** The PaymentChannel contract. */
  readonly channels: string;
  /** The buyer: the DeviceAccount that deposits. */
  readonly account: string;
  readonly seller: string;
  /** The device whose key signs the vouchers (one of the account's signers, usually). */
  readonly buyerDevice: Hex;
  /** The ERC-20, or NATIVE_TOKEN for the native coin. */
  readonly token: string;
  /** In the token's smallest units. */
  readonly deposit: bigint;
  /** Unix seconds. */
  readonly expiry: bigint;
  /** Bookkeeping only (default 0): vouchers carry token amounts. */
  readonly pricePerUnit?: bigint | undefined;
}

/** The calls that open a channel from the buyer's account: approve + open (ERC-20) or open with value. */
export function openChannelCalls(
  channels: string,
  terms: ChannelTerms,
  deposit: bigint,
  expiry: bigint,
): Execution[] {
  if (deposit <= 0n) throw new InvalidInputError("the deposit must be positive: give --deposit");
  const data = channelInterface.encodeFunctionData("open", [termsTuple(terms), deposit, expiry]);
  if (getAddress(terms.token) === NATIVE_TOKEN) return [contractCall(channels, data, deposit)];
  return [erc20Approve(terms.token, channels, deposit), contractCall(channels, data)];
}

export interface OpenChannelResult extends AccountOperationResult {
  readonly channel: Hex;
  readonly terms: ChannelTerms;
  readonly deposit: bigint;
  readonly expiry: bigint;
}

/** Opens a channel from the buyer's DeviceAccount in one UserOperation; the terms take its next nonce. */
export async function openChannel(
  options: OpenChannelOptions,
  route: OperationRoute,
): Promise<OpenChannelResult> {
  const contract = paymentChannelAt(options.channels, route.provider);
  const buyer = getAddress(options.account) as Hex;
  const terms: ChannelTerms = {
    buyer,
    seller: getAddress(options.seller) as Hex,
    buyerDevice: options.buyerDevice.toLowerCase() as Hex,
    token: getAddress(options.token) as Hex,
    pricePerUnit: options.pricePerUnit ?? 0n,
    nonce: await contract.nonceOf(buyer),
  };
  const calls = openChannelCalls(options.channels, terms, options.deposit, options.expiry);
  const result = await sendFromAccount(buyer, calls, route);
  const channel = channelIdOf(terms);
  const receipt = await route.provider.getTransactionReceipt(result.txHash);
  if (channelLog(receipt?.logs ?? [], options.channels, "ChannelOpened", channel) === undefined) {
    throw new DeviceTrustError(
      "CHANNEL_NOT_OPENED",
      `UserOperation ${result.userOpHash} ran but opened no channel ${channel} (no ChannelOpened in tx ${result.txHash}): check the account's batch`,
    );
  }
  return { ...result, channel, terms, deposit: options.deposit, expiry: options.expiry };
}

export interface ReclaimChannelResult extends AccountOperationResult {
  readonly channel: Hex;
  readonly settlement: ChannelSettlement;
}

/**
 * Ends an expired channel from the buyer's DeviceAccount (one UserOperation): the seller gets its
 * checkpointed amount, the account the rest. Simulated from the account first, so a channel not yet
 * expired (or already ended) is refused before any gas is spent.
 */
export async function reclaimChannel(
  options: { readonly channels: string; readonly account: string; readonly terms: ChannelTerms },
  route: OperationRoute,
): Promise<ReclaimChannelResult> {
  const contract = paymentChannelAt(options.channels, route.provider);
  const account = getAddress(options.account);
  const tuple = termsTuple(options.terms);
  await channelCall(() => contract.reclaim.staticCall(tuple, { from: account }));
  const data = channelInterface.encodeFunctionData("reclaim", [tuple]);
  const result = await sendFromAccount(account, [contractCall(options.channels, data)], route);
  const receipt = await route.provider.getTransactionReceipt(result.txHash);
  const channel = channelIdOf(options.terms);
  const settlement = settlementIn(
    { logs: receipt?.logs ?? [], hash: result.txHash },
    options.channels,
    channel,
  );
  return { ...result, channel, settlement };
}

// ------------------------------------------------------------------ the seller (a wallet)

export interface CloseChannelResult extends TxResult {
  readonly channel: Hex;
  readonly settlement: ChannelSettlement;
}

/**
 * The seller closes the channel with `voucher` (before expiry): paid max(checkpointed, min(voucher,
 * deposit)) if the voucher counts, else the checkpointed amount; the buyer gets the rest.
 */
export async function closeChannel(
  channels: PaymentChannel,
  terms: ChannelTerms,
  voucher: PresentedVoucher,
): Promise<CloseChannelResult> {
  const tx = await channelCall(() =>
    send(() =>
      channels.close(termsTuple(terms), voucher.cumulativeAmount, voucher.key, voucher.signature),
    ),
  );
  const channel = channelIdOf(terms);
  const settlement = settlementIn(tx.receipt, await channels.getAddress(), channel);
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    channel,
    settlement,
  };
}

export interface CheckpointResult extends TxResult {
  readonly channel: Hex;
  /** The amount the channel now owes the seller whatever becomes of the device. */
  readonly checkpointed: bigint;
}

/** The seller records `voucher` while the buyer device is trusted: at least that much is paid. */
export async function checkpointChannel(
  channels: PaymentChannel,
  terms: ChannelTerms,
  voucher: PresentedVoucher,
): Promise<CheckpointResult> {
  const tx = await channelCall(() =>
    send(() =>
      channels.checkpoint(
        termsTuple(terms),
        voucher.cumulativeAmount,
        voucher.key,
        voucher.signature,
      ),
    ),
  );
  const channel = channelIdOf(terms);
  const event = channelLog(
    tx.receipt.logs,
    await channels.getAddress(),
    "ChannelCheckpointed",
    channel,
  );
  if (event === undefined) {
    throw new DeviceTrustError(
      "CHANNEL_NOT_CHECKPOINTED",
      `transaction ${tx.txHash} recorded no checkpoint on channel ${channel}: check it with channel show`,
    );
  }
  const { txHash, blockNumber, gasUsed } = tx;
  return { txHash, blockNumber, gasUsed, channel, checkpointed: event.amount as bigint };
}

/** Withdraws what a failed payout left owed to the sending wallet in `token` (NATIVE_TOKEN: native). */
export async function withdrawOwed(
  channels: PaymentChannel,
  token: string,
): Promise<TxResult & { readonly amount: bigint }> {
  const tx = await channelCall(() => send(() => channels.withdrawOwed(getAddress(token))));
  const log = tx.receipt.logs
    .map((l) => channelInterface.parseLog(l))
    .find((p) => p?.name === "OwedWithdrawn");
  const { txHash, blockNumber, gasUsed } = tx;
  return { txHash, blockNumber, gasUsed, amount: (log?.args.amount as bigint | undefined) ?? 0n };
}

// ------------------------------------------------------------------ reading

/** The terms a channel was opened with (its ChannelOpened event); undefined if it never opened. */
export async function channelTerms(
  channels: PaymentChannel,
  channel: Hex,
  fromBlock = 0,
): Promise<ChannelTerms | undefined> {
  const [event] = await channels.queryFilter(channels.filters.ChannelOpened(channel), fromBlock);
  if (event === undefined) return undefined;
  const t = event.args.terms;
  return {
    buyer: getAddress(t.buyer) as Hex,
    seller: getAddress(t.seller) as Hex,
    buyerDevice: t.buyerDevice.toLowerCase() as Hex,
    token: getAddress(t.token) as Hex,
    pricePerUnit: t.pricePerUnit,
    nonce: t.nonce,
  };
}

/** The terms of `channel`, or an error that says how to find the right id. */
export async function requireChannelTerms(
  channels: PaymentChannel,
  channel: Hex,
): Promise<ChannelTerms> {
  const terms = await channelTerms(channels, channel);
  if (terms === undefined) {
    throw new InvalidInputError(
      `no channel ${channel} was ever opened on PaymentChannel ${await channels.getAddress()}: check --channel (channel open prints it) and --channels`,
    );
  }
  return terms;
}

export interface ChannelView {
  readonly channel: Hex;
  readonly channels: Hex;
  /** open: before expiry; expired: open past expiry (reclaim); settled: closed or reclaimed. */
  readonly status: "open" | "expired" | "settled";
  readonly terms: ChannelTerms;
  readonly deposit: bigint;
  readonly checkpointed: bigint;
  readonly expiry: bigint;
  readonly now: bigint;
  readonly settlement: ChannelSettlement | null;
  /** What failed payouts left owed (withdrawOwed) in the channel's token. */
  readonly owed: { readonly buyer: bigint; readonly seller: bigint };
}

/** A channel's terms, state, settlement (once it ended) and what its parties are owed. */
export async function showChannel(channels: PaymentChannel, channel: Hex): Promise<ChannelView> {
  const terms = await requireChannelTerms(channels, channel);
  const provider = channels.runner?.provider as Provider;
  const [state, block, owedBuyer, owedSeller] = await Promise.all([
    channels.channel(channel),
    provider.getBlock("latest"),
    channels.owed(terms.buyer, terms.token),
    channels.owed(terms.seller, terms.token),
  ]);
  const now = BigInt(block?.timestamp ?? 0);
  const open = state.deposit !== 0n;
  return {
    channel: channel.toLowerCase() as Hex,
    channels: getAddress(await channels.getAddress()) as Hex,
    status: !open ? "settled" : now >= state.expiry ? "expired" : "open",
    terms,
    deposit: state.deposit,
    checkpointed: state.checkpointed,
    expiry: state.expiry,
    now,
    settlement: open ? null : await settlementOf(channels, channel),
    owed: { buyer: owedBuyer, seller: owedSeller },
  };
}

async function settlementOf(channels: PaymentChannel, channel: Hex): Promise<ChannelSettlement> {
  const address = await channels.getAddress();
  const [settled] = await channels.queryFilter(channels.filters.ChannelSettled(channel));
  const [reclaimed] = await channels.queryFilter(channels.filters.ChannelReclaimed(channel));
  const event = settled ?? reclaimed;
  if (event === undefined) throw new Error(`channel ${channel} ended without an event`);
  const receipt = await event.getTransactionReceipt();
  return settlementIn(receipt, address, channel);
}
