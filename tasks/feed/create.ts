import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  createFeed,
  defaultHeartbeat,
  defaultQuarantinePeriod,
  parseDecimal,
} from "../../src/client/index.js";
import { run } from "../common.js";
import { connectFactory, type FactoryArgs } from "./connect.js";

interface Args extends FactoryArgs {
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
  minStake: bigint;
  minValue: string;
  maxValue: string;
  description: string;
}

export default async function feedCreate(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
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
      minStake: args.minStake,
      minValue: parseDecimal(args.minValue, args.decimals, "--min-value"),
      maxValue: parseDecimal(args.maxValue, args.decimals, "--max-value"),
      description: args.description,
    };
    const { factory } = await connectFactory(hre, args);
    return createFeed(factory, config);
  });
}
