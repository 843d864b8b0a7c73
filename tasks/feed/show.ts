import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { feedStakesInTokens, registryAt, showFeed, stakingAt } from "../../src/client/index.js";
import { progress, run, type WeiArgs } from "../common.js";
import { collateralOf, connectFactory, connectFeed, type FeedArgs } from "./connect.js";

/**
 * Readings in the feed's decimals beside the contract's integers; stake figures in the collateral
 * token's units for people (base units with --wei, and always in --json, named by `collateral`).
 */
export default async function feedShow(args: FeedArgs & WeiArgs, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connectFeed(hre, args);
    // The registry and staking the feed checks are its factory's.
    const { factory, signer } = await connectFactory(hre, args, chain);
    if (!(await factory.isFeed(chain.feedAddress))) {
      progress(`warning: ${chain.feedAddress} was not created by this factory (--factory)`);
    }
    const [registry, staking, collateral] = await Promise.all([
      factory.REGISTRY(),
      factory.STAKING(),
      collateralOf(factory, signer),
    ]);
    const view = await showFeed(chain.feed, {
      registry: registryAt(registry, signer),
      staking: stakingAt(staking, signer),
    });
    const shown = { ...view, collateral };
    return args.json || args.wei ? shown : feedStakesInTokens(shown);
  });
}
