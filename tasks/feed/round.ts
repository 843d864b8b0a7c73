import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { readFeedRound } from "../../src/client/index.js";
import { run } from "../common.js";
import { connectFeed, type FeedArgs } from "./connect.js";

interface Args extends Omit<FeedArgs, "factory"> {
  id: bigint;
}

export default async function feedRound(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const { feed } = await connectFeed(hre, args);
    return readFeedRound(feed, args.id === 0n ? undefined : args.id);
  });
}
