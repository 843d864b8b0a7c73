import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { stakeDeposit } from "../../src/client/index.js";
import { progress, run } from "../common.js";
import { connectStaking, type StakingArgs } from "./connect.js";

interface Args extends StakingArgs {
  deviceId: string;
  amount: bigint;
}

export default async function stakeDepositTask(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connectStaking(hre, args);
    progress(`approving and staking ${args.amount.toString()} for ${args.deviceId}`);
    return stakeDeposit({
      staking: chain.staking,
      token: await chain.token(),
      deviceId: args.deviceId,
      amount: args.amount,
    });
  });
}
