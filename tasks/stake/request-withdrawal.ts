import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { requestWithdrawal } from "../../src/client/index.js";
import { run } from "../common.js";
import { connectStaking, type StakingArgs } from "./connect.js";

interface Args extends StakingArgs {
  deviceId: string;
  amount: bigint;
}

export default async function stakeRequestWithdrawal(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () =>
    requestWithdrawal((await connectStaking(hre, args)).staking, args.deviceId, args.amount),
  );
}
