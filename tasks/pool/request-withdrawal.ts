import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { parseAmount, poolRequestWithdrawal } from "../../src/client/index.js";
import { run } from "../common.js";
import { connectPool, type PoolArgs } from "./connect.js";

interface Args extends PoolArgs {
  shares: string;
}

export default async function poolRequestWithdrawalTask(
  args: Args,
  hre: HardhatRuntimeEnvironment,
) {
  return run(args, async () => {
    const chain = await connectPool(hre, args);
    const shares =
      args.shares === "all"
        ? "all"
        : parseAmount(args.shares, chain.units.shares, args.wei, "--shares");
    return chain.output(await poolRequestWithdrawal(chain.pool, shares));
  });
}
