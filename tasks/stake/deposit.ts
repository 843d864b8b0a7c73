import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { stakeDeposit } from "../../src/client/index.js";
import type { WeiArgs } from "../common.js";
import { progress, run } from "../common.js";
import { connectStaking, stakeAmount, type StakingArgs } from "./connect.js";

interface Args extends StakingArgs, WeiArgs {
  deviceId: string;
  amount: string;
}

export default async function stakeDepositTask(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connectStaking(hre, args);
    const amount = await stakeAmount(chain.staking, args);
    progress(`approving and staking ${args.amount}${args.wei ? " wei" : ""} for ${args.deviceId}`);
    return stakeDeposit({
      staking: chain.staking,
      token: await chain.token(),
      deviceId: args.deviceId,
      amount,
    });
  });
}
