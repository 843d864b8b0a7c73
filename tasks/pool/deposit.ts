import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { parseAmount, poolDeposit } from "../../src/client/index.js";
import { progress, run } from "../common.js";
import { connectPool, type PoolArgs } from "./connect.js";

interface Args extends PoolArgs {
  amount: string;
}

export default async function poolDepositTask(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connectPool(hre, args);
    const assets = parseAmount(args.amount, chain.units.asset, args.wei, "--amount");
    progress(`approving and depositing ${args.amount} ${chain.units.asset.symbol}`);
    return chain.output(await poolDeposit({ pool: chain.pool, token: chain.token, assets }));
  });
}
