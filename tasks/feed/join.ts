import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { joinFeed } from "../../src/client/index.js";
import { run } from "../common.js";
import { connectFeed, type FeedArgs } from "./connect.js";

interface Args extends Omit<FeedArgs, "factory"> {
  deviceIds: string;
}

export default async function feedJoin(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const { feed } = await connectFeed(hre, args);
    const ids = args.deviceIds.split(",").filter((s) => s.trim() !== "");
    return joinFeed(feed, ids);
  });
}
