import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { reclaimChannel, requireChannelTerms } from "../../src/client/index.js";
import { connect, progress, run } from "../common.js";
import { accountRoute, type RouteArgs } from "../account/connect.js";
import { channelArg, connectChannels, type ChannelArgs } from "./connect.js";

interface Args extends RouteArgs, ChannelArgs {
  channel: string;
}

export default async function channelReclaim(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const channel = channelArg(args.channel);
    const chain = await connect(hre, args);
    const channels = await connectChannels(hre, chain, args);
    const terms = await requireChannelTerms(channels, channel);
    const { account, route, close } = await accountRoute(hre, chain, {
      ...args,
      account: args.account === "" ? terms.buyer : args.account,
    });
    try {
      progress(`reclaiming channel ${channel} for ${account}`);
      return await reclaimChannel({ channels: await channels.getAddress(), account, terms }, route);
    } finally {
      await close();
    }
  });
}
