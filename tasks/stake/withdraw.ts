import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { withdraw } from "../../src/client/index.js";
import { run } from "../common.js";
import { connectStaking, type StakingArgs } from "./connect.js";

interface Args extends StakingArgs {
  deviceId: string;
}

export default async function stakeWithdraw(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => withdraw((await connectStaking(hre, args)).staking, args.deviceId));
}
