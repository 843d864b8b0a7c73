import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { requestFeedLeave } from "../../src/client/index.js";
import { InvalidInputError } from "../../src/protocol/index.js";
import { run } from "../common.js";
import { connectFeed, type FeedArgs } from "./connect.js";

interface Args extends Omit<FeedArgs, "factory"> {
  deviceId: string;
}

export default async function feedLeave(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    if (args.deviceId === "") throw new InvalidInputError("name the device: --device-id <id>");
    const { feed } = await connectFeed(hre, args);
    return requestFeedLeave(feed, args.deviceId);
  });
}
