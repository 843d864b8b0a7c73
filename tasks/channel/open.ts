import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { openChannel } from "../../src/client/index.js";
import { InvalidInputError, asHex, type Hex } from "../../src/protocol/index.js";
import { connect, progress, run } from "../common.js";
import {
  accountRoute,
  amountArg,
  assetArg,
  assetInfo,
  type RouteArgs,
} from "../account/connect.js";
import { connectChannels, type ChannelArgs } from "./connect.js";

interface Args extends RouteArgs, ChannelArgs {
  seller: string;
  asset: string;
  deposit: string;
  price: string;
  expiry: number;
  device: string;
}

export default async function channelOpen(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const asset = assetArg(args.asset);
    if (args.seller === "") throw new InvalidInputError("name the seller: --seller <address>");
    const seller = asHex(args.seller, "--seller", 20);
    if (!Number.isSafeInteger(args.expiry) || args.expiry <= 0) {
      throw new InvalidInputError(
        "--expiry is the channel's life in seconds from now: give a positive number",
      );
    }
    const chain = await connect(hre, args);
    const channels = await connectChannels(hre, chain, args);
    const info = await assetInfo(chain, asset);
    const deposit = amountArg(args.deposit, info, args, "--deposit");
    const pricePerUnit = args.price === "" ? 0n : amountArg(args.price, info, args, "--price");
    const { account, route, close } = await accountRoute(hre, chain, args);
    try {
      const buyerDevice = buyerDeviceOf(args.device, route.signers.devices?.[0]?.deviceId);
      const latest = await chain.ethers.provider.getBlock("latest");
      const expiry = BigInt(latest?.timestamp ?? 0) + BigInt(args.expiry);
      progress(`opening a channel of ${args.deposit} ${info.symbol} from ${account} to ${seller}`);
      const opened = await openChannel(
        {
          channels: await channels.getAddress(),
          account,
          seller,
          buyerDevice,
          token: asset,
          deposit,
          expiry,
          pricePerUnit,
        },
        route,
      );
      progress(
        `channel ${opened.channel} is open until ${new Date(Number(expiry) * 1000).toISOString()}`,
      );
      return opened;
    } finally {
      await close();
    }
  });
}

/** --device, else the device whose key signs the operation (it signs the vouchers too). */
function buyerDeviceOf(option: string, signing: string | undefined): Hex {
  if (option !== "") return asHex(option, "--device", 32);
  if (signing === undefined) {
    throw new InvalidInputError(
      "name the buyer device whose key signs the vouchers: --device <id>, or sign with its key (--key-file or --token/--label)",
    );
  }
  return asHex(signing, "device id", 32);
}
