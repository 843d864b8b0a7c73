import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  collateralTokenAt,
  requireDeviceTrustContract,
  type DeviceTrustContract,
  parseAmount,
  proofsAt,
  resolveDeployedAddress,
  stakingAt,
  stakingToken,
  tokenInfo,
  type CollateralToken,
  type IDeviceStaking,
  type IFraudProofs,
} from "../../src/client/index.js";
import type { Hex } from "../../src/protocol/index.js";
import { connect, progress, type Chain, type ChainArgs, type WeiArgs } from "../common.js";

/** Shared by the stake, proof and watchtower tasks: the staking system next to the registry. Not a task. */

export interface StakingArgs extends ChainArgs {
  readonly staking: string;
}

export interface ProofsArgs extends ChainArgs {
  readonly proofs: string;
}

async function deployed(
  hre: HardhatRuntimeEnvironment,
  chain: Chain,
  contract: DeviceTrustContract,
  option: string,
  explicit: string,
): Promise<Hex> {
  const address = await resolveDeployedAddress({
    contract,
    option,
    explicit,
    ...chain.deployment,
  });
  await requireDeviceTrustContract(chain.ethers.provider, address, contract, option);
  progress(`${contract} ${address}`);
  return address;
}

export async function connectStaking(
  hre: HardhatRuntimeEnvironment,
  args: StakingArgs,
): Promise<
  Chain & { readonly staking: IDeviceStaking; readonly token: () => Promise<CollateralToken> }
> {
  const chain = await connect(hre, args);
  const staking = stakingAt(
    await deployed(hre, chain, "DeviceStaking", "--staking", args.staking),
    chain.signer,
  );
  return {
    ...chain,
    staking,
    token: async () => collateralTokenAt(await stakingToken(staking), chain.signer),
  };
}

/** --amount in the collateral token's units (its decimals), or base units with --wei. */
export async function stakeAmount(
  staking: IDeviceStaking,
  args: WeiArgs & { readonly amount: string },
): Promise<bigint> {
  const token = await tokenInfo(await stakingToken(staking), staking.runner);
  return parseAmount(args.amount, token, args.wei, "--amount");
}

export async function connectProofs(
  hre: HardhatRuntimeEnvironment,
  args: ProofsArgs,
): Promise<Chain & { readonly proofs: IFraudProofs; readonly proofsAddress: Hex }> {
  const chain = await connect(hre, args);
  const proofsAddress = await deployed(hre, chain, "FraudProofs", "--proofs", args.proofs);
  return { ...chain, proofs: proofsAt(proofsAddress, chain.signer), proofsAddress };
}
