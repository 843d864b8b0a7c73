import { getAddress } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  channelDomain,
  paymentChannelAt,
  requireDeviceTrustContract,
  sellerStorePath,
  resolveDeployedAddress,
  type PaymentChannel,
} from "../../src/client/index.js";
import { SellerVoucherStore } from "../../src/payments/index.js";
import { InvalidInputError, asHex, type Hex } from "../../src/protocol/index.js";
import { progress, type Chain, type ChainArgs } from "../common.js";

/** Shared by the channel tasks: the PaymentChannel contract and the channel id. Not a task. */

export interface ChannelArgs extends ChainArgs {
  /** The PaymentChannel address; "" for the Ignition deployment (DeviceAccounts module). */
  readonly channels: string;
}

export interface VoucherDirArgs {
  /** The folder of the voucher records: the buyer device's and the seller's. */
  readonly vouchersDir: string;
}

/** The PaymentChannel: --channels, else the one Ignition recorded for the chain; connected to --from. */
export async function connectChannels(
  hre: HardhatRuntimeEnvironment,
  chain: Chain,
  args: ChannelArgs,
): Promise<PaymentChannel> {
  const address = await resolveDeployedAddress({
    contract: "PaymentChannel",
    option: "--channels",
    explicit: args.channels,
    ...chain.deployment,
  });
  await requireDeviceTrustContract(chain.ethers.provider, address, "PaymentChannel", "--channels");
  progress(`PaymentChannel ${getAddress(address)}`);
  return paymentChannelAt(address, chain.signer);
}

export function channelArg(value: string): Hex {
  if (value === "")
    throw new InvalidInputError("name the channel: --channel <id> (channel open prints it)");
  return asHex(value, "--channel", 32).toLowerCase() as Hex;
}

/** The seller's voucher store for these channels, bound to --from (the seller). */
export async function openSellerStore(
  chain: Chain,
  channels: PaymentChannel,
  dir: string,
): Promise<SellerVoucherStore> {
  const domain = await channelDomain(channels);
  const seller = chain.signer.address as Hex;
  const store = SellerVoucherStore.open(sellerStorePath(dir, domain, seller), { domain, seller });
  progress(`seller ${seller}'s voucher store ${store.path}`);
  return store;
}
