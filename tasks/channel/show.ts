import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { showChannel } from "../../src/client/index.js";
import { connect, run } from "../common.js";
import { channelArg, connectChannels, type ChannelArgs } from "./connect.js";

interface Args extends ChannelArgs {
  channel: string;
}

export default async function channelShow(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const channel = channelArg(args.channel);
    const chain = await connect(hre, args);
    return showChannel(await connectChannels(hre, chain, args), channel);
  });
}
