import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  createFeed,
  defaultHeartbeat,
  defaultQuarantinePeriod,
  feedStakesInTokens,
  parseAmount,
  parseDecimal,
} from "../../src/client/index.js";
import { run, type WeiArgs } from "../common.js";
import { collateralOf, connectFactory, type FactoryArgs } from "./connect.js";

interface Args extends FactoryArgs, WeiArgs {
  quorum: number;
  decimals: number;
  maxDeviationBps: number;
  maxSpreadBps: number;
  deviationThresholdBps: number;
  /** -1: half of maxReadingAge. */
  heartbeat: number;
  maxReadingAge: number;
  minInterval: number;
  maxAttestationAge: number;
  /** -1: a day, or maxReadingAge if longer. */
  quarantinePeriod: number;
  maxQuarantines: number;
  lockdown: boolean;
  /** In the collateral token's units (its decimals), or base units with --wei. */
  minStake: string;
  minValue: string;
  maxValue: string;
  description: string;
}

export default async function feedCreate(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const minValue = parseDecimal(args.minValue, args.decimals, "--min-value");
    const maxValue = parseDecimal(args.maxValue, args.decimals, "--max-value");
    const { factory, signer } = await connectFactory(hre, args);
    const collateral = await collateralOf(factory, signer);
    const config = {
      quorum: args.quorum,
      decimals: args.decimals,
      maxDeviationBps: args.maxDeviationBps,
      maxSpreadBps: args.maxSpreadBps,
      deviationThresholdBps: args.deviationThresholdBps,
      heartbeat: args.heartbeat === -1 ? defaultHeartbeat(args.maxReadingAge) : args.heartbeat,
      maxReadingAge: args.maxReadingAge,
      minInterval: args.minInterval,
      maxAttestationAge: args.maxAttestationAge,
      quarantinePeriod:
        args.quarantinePeriod === -1
          ? defaultQuarantinePeriod(args.maxReadingAge)
          : args.quarantinePeriod,
      maxQuarantines: args.maxQuarantines,
      lockdown: args.lockdown,
      minStake: parseAmount(args.minStake, collateral, args.wei, "--min-stake", {
        allowZero: true,
      }),
      minValue,
      maxValue,
      description: args.description,
    };
    const created = { ...(await createFeed(factory, config)), collateral };
    return args.json || args.wei ? created : feedStakesInTokens(created);
  });
}
