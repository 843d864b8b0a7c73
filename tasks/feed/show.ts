import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { registryAt, showFeed, stakingAt } from "../../src/client/index.js";
import { progress, run } from "../common.js";
import { connectFactory, connectFeed, type FeedArgs } from "./connect.js";

export default async function feedShow(args: FeedArgs, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connectFeed(hre, args);
    // The registry and staking the feed checks are its factory's.
    const { factory, signer } = await connectFactory(hre, args, chain);
    if (!(await factory.isFeed(chain.feedAddress))) {
      progress(`warning: ${chain.feedAddress} was not created by this factory (--factory)`);
    }
    const [registry, staking] = await Promise.all([factory.REGISTRY(), factory.STAKING()]);
    return showFeed(chain.feed, {
      registry: registryAt(registry, signer),
      staking: stakingAt(staking, signer),
    });
  });
}
