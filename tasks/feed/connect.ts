import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import type { ContractRunner } from "ethers";
import {
  feedAddressOf,
  feedAt,
  feedFactoryAt,
  requireDeviceTrustContract,
  resolveDeployedAddress,
  stakingAt,
  stakingToken,
  tokenInfo,
  type AssetInfo,
  type DeviceFeed,
  type DeviceFeedFactory,
} from "../../src/client/index.js";
import { InvalidInputError, asHex, type Hex } from "../../src/protocol/index.js";
import { connect, progress, type Chain, type ChainArgs } from "../common.js";

/** Shared by the feed tasks: the factory (Ignition's by default) and the feed named by --feed. Not a task. */

export interface FactoryArgs extends ChainArgs {
  readonly factory: string;
}

export interface FeedArgs extends FactoryArgs {
  readonly feed: string;
}

/** The DeviceFeedFactory: --factory, else the one Ignition recorded for the chain. */
export async function connectFactory(
  hre: HardhatRuntimeEnvironment,
  args: FactoryArgs,
  chain?: Chain,
): Promise<Chain & { readonly factory: DeviceFeedFactory; readonly factoryAddress: Hex }> {
  const c = chain ?? (await connect(hre, args));
  const factoryAddress = await resolveDeployedAddress({
    contract: "DeviceFeedFactory",
    option: "--factory",
    explicit: args.factory,
    ...c.deployment,
  });
  await requireDeviceTrustContract(
    c.ethers.provider,
    factoryAddress,
    "DeviceFeedFactory",
    "--factory",
  );
  progress(`DeviceFeedFactory ${factoryAddress}`);
  return { ...c, factory: feedFactoryAt(factoryAddress, c.signer), factoryAddress };
}

/** The feed --feed names (its address, or its feed id). */
export function feedAddressArg(value: string): Hex {
  if (value === "") {
    throw new InvalidInputError(
      "name the feed: --feed <address or feed id> (feed create prints both)",
    );
  }
  return value.length === 66 ? feedAddressOf(value) : asHex(value, "--feed", 20);
}

export async function connectFeed(
  hre: HardhatRuntimeEnvironment,
  args: Pick<FeedArgs, "feed"> & ChainArgs,
): Promise<Chain & { readonly feed: DeviceFeed; readonly feedAddress: Hex }> {
  const feedAddress = feedAddressArg(args.feed);
  const chain = await connect(hre, args);
  await requireDeviceTrustContract(chain.ethers.provider, feedAddress, "DeviceFeed", "--feed");
  return { ...chain, feed: feedAt(feedAddress, chain.signer), feedAddress };
}

/** The collateral token of the factory's staking: the unit of a feed's minStake and its members' stakes. */
export async function collateralOf(
  factory: DeviceFeedFactory,
  runner: ContractRunner,
): Promise<AssetInfo> {
  const staking = stakingAt(await factory.STAKING(), runner);
  return tokenInfo(await stakingToken(staking), runner);
}
