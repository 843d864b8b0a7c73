import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { settleFromStore } from "../../src/client/index.js";
import { connect, progress, run } from "../common.js";
import {
  channelArg,
  connectChannels,
  openSellerStore,
  type ChannelArgs,
  type VoucherDirArgs,
} from "./connect.js";

interface Args extends ChannelArgs, VoucherDirArgs {
  channel: string;
  checkpoint: boolean;
}

/** The seller (--from) closes, or checkpoints, the channel with the latest voucher of its store. */
export default async function channelClose(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const channel = channelArg(args.channel);
    const chain = await connect(hre, args);
    const channels = await connectChannels(hre, chain, args);
    const store = await openSellerStore(chain, channels, args.vouchersDir);
    try {
      const mode = args.checkpoint ? "checkpoint" : "close";
      progress(
        `${mode === "close" ? "closing" : "checkpointing"} channel ${channel} with the latest voucher`,
      );
      return await settleFromStore(channels, store, channel, mode);
    } finally {
      store.close();
    }
  });
}
