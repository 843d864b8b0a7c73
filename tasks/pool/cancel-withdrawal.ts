import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { poolCancelWithdrawal } from "../../src/client/index.js";
import { progress, run } from "../common.js";
import { connectPool, type PoolArgs } from "./connect.js";

export default async function poolCancelWithdrawalTask(
  args: PoolArgs,
  hre: HardhatRuntimeEnvironment,
) {
  return run(args, async () => {
    const chain = await connectPool(hre, args);
    progress(`cancelling the withdrawal request of ${chain.signer.address}`);
    return chain.output(await poolCancelWithdrawal(chain.pool));
  });
}
