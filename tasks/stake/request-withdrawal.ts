import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { requestWithdrawal } from "../../src/client/index.js";
import { run, type WeiArgs } from "../common.js";
import { connectStaking, stakeAmount, type StakingArgs } from "./connect.js";

interface Args extends StakingArgs, WeiArgs {
  deviceId: string;
  amount: string;
}

export default async function stakeRequestWithdrawal(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const { staking } = await connectStaking(hre, args);
    return requestWithdrawal(staking, args.deviceId, await stakeAmount(staking, args));
  });
}
