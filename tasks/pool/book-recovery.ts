import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { poolBookRecovery } from "../../src/client/index.js";
import { progress, run } from "../common.js";
import { connectPool, type PoolArgs } from "./connect.js";

interface Args extends PoolArgs {
  incident: string;
}

export default async function poolBookRecoveryTask(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connectPool(hre, args);
    progress(`booking the recovery of incident ${args.incident}`);
    return chain.output(await poolBookRecovery(chain.pool, args.incident));
  });
}
