import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { addFeedDevices } from "../../src/client/index.js";
import { run } from "../common.js";
import { connectFeed, type FeedArgs } from "./connect.js";

interface Args extends Omit<FeedArgs, "factory"> {
  deviceIds: string;
}

export default async function feedAddDevice(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const { feed } = await connectFeed(hre, args);
    const ids = args.deviceIds.split(",").filter((s) => s.trim() !== "");
    return addFeedDevices(feed, ids);
  });
}
