import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { parseAmount, poolWithdraw } from "../../src/client/index.js";
import { run } from "../common.js";
import { connectPool, type PoolArgs } from "./connect.js";

interface Args extends PoolArgs {
  shares: string;
}

export default async function poolWithdrawTask(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connectPool(hre, args);
    const shares =
      args.shares === "" || args.shares === "all"
        ? undefined
        : parseAmount(args.shares, chain.units.shares, args.wei, "--shares");
    return chain.output(await poolWithdraw(chain.pool, { shares }));
  });
}
