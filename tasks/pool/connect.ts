import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  collateralTokenAt,
  humanAmounts,
  parseTarget,
  poolAt,
  poolUnits,
  requireDeviceTrustContract,
  resolveDeployedAddress,
  type CollateralToken,
  type CoverTarget,
  type IInsurancePool,
  type PoolUnits,
} from "../../src/client/index.js";
import type { Hex } from "../../src/protocol/index.js";
import { connect, progress, type Chain, type ChainArgs } from "../common.js";

/** Shared by the pool, cover and security tasks: the insurance pool next to the registry. Not a task. */

export interface PoolArgs extends ChainArgs {
  readonly pool: string;
  /** Amounts in the asset's base units (input and human output), not decimal units. */
  readonly wei: boolean;
}

export interface TargetArgs extends PoolArgs {
  readonly device: string;
  readonly feed: string;
}

export interface PoolChain extends Chain {
  readonly pool: IInsurancePool;
  /** The pool's asset, connected to the sending account. */
  readonly token: CollateralToken;
  readonly units: PoolUnits;
  /** `value` as the task prints it: amounts in decimal units unless --json or --wei. */
  readonly output: (value: unknown) => unknown;
}

/** The pool `--pool` names, or the one Ignition deployed for the chain. */
export async function resolvePoolAddress(chain: Chain, pool: string): Promise<Hex> {
  return resolveDeployedAddress({
    ...chain.deployment,
    contract: "InsurancePool",
    option: "--pool",
    explicit: pool,
  });
}

export async function connectPool(
  hre: HardhatRuntimeEnvironment,
  args: PoolArgs,
): Promise<PoolChain> {
  const chain = await connect(hre, args);
  const address = await resolvePoolAddress(chain, args.pool);
  await requireDeviceTrustContract(chain.ethers.provider, address, "InsurancePool", "--pool");
  const pool = poolAt(address, chain.signer);
  const units = await poolUnits(pool);
  progress(`InsurancePool ${address}, asset ${units.asset.symbol} ${units.asset.address}`);
  return {
    ...chain,
    pool,
    token: collateralTokenAt(units.asset.address, chain.signer),
    units,
    output: (value) => (args.json ? value : humanAmounts(value, units, args.wei)),
  };
}

/** The target of --device or --feed, and the pool. */
export async function connectTarget(
  hre: HardhatRuntimeEnvironment,
  args: TargetArgs,
): Promise<PoolChain & { readonly target: CoverTarget }> {
  const target = parseTarget({ device: args.device, feed: args.feed });
  return { ...(await connectPool(hre, args)), target };
}
