import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { readmitFeedMember } from "../../src/client/index.js";
import { InvalidInputError } from "../../src/protocol/index.js";
import { run } from "../common.js";
import { connectFeed, type FeedArgs } from "./connect.js";

interface Args extends Omit<FeedArgs, "factory"> {
  device: string;
}

export default async function feedReadmit(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    if (args.device === "") throw new InvalidInputError("name the device: --device <id>");
    const { feed } = await connectFeed(hre, args);
    return readmitFeedMember(feed, args.device);
  });
}
