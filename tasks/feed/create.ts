import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { parseUnits } from "ethers";
import { createFeed, defaultHeartbeat, defaultQuarantinePeriod } from "../../src/client/index.js";
import { InvalidInputError } from "../../src/protocol/index.js";
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

/** A value in the feed's units ("-40.5"), scaled by its decimals. */
export function scaledValue(value: string, decimals: number, option: string): bigint {
  if (value === "") {
    throw new InvalidInputError(
      `give the physical bounds of the quantity: ${option} <value in the feed's units, e.g. -40.5>`,
    );
  }
  try {
    return parseUnits(value, decimals);
  } catch (cause) {
    throw new InvalidInputError(
      `${option} ${value} is not a number with at most ${String(decimals)} decimals`,
      { cause },
    );
  }
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
      minValue: scaledValue(args.minValue, args.decimals, "--min-value"),
      maxValue: scaledValue(args.maxValue, args.decimals, "--max-value"),
      description: args.description,
    };
    const { factory } = await connectFactory(hre, args);
    return createFeed(factory, config);
  });
}
