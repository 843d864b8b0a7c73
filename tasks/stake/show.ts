import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { stakeShow } from "../../src/client/index.js";
import { run } from "../common.js";
import { connectStaking, type StakingArgs } from "./connect.js";

interface Args extends StakingArgs {
  deviceId: string;
}

export default async function stakeShowTask(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => stakeShow((await connectStaking(hre, args)).staking, args.deviceId));
}
