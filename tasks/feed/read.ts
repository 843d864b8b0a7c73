import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { readFeed } from "../../src/client/index.js";
import { run } from "../common.js";
import { connectFeed, type FeedArgs } from "./connect.js";

interface Args extends Omit<FeedArgs, "factory"> {
  maxAge: number;
}

export default async function feedRead(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const { feed } = await connectFeed(hre, args);
    return readFeed(feed, args.maxAge > 0 ? { maxAge: BigInt(args.maxAge) } : {});
  });
}
