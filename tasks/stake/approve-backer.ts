import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { setBacker } from "../../src/client/index.js";
import { progress, run } from "../common.js";
import { resolvePoolAddress } from "../pool/connect.js";
import { connectStaking, type StakingArgs } from "./connect.js";

interface Args extends StakingArgs {
  pool: string;
  revoke: boolean;
}

export default async function stakeApproveBacker(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connectStaking(hre, args);
    const pool = await resolvePoolAddress(chain, args.pool);
    progress(`${args.revoke ? "no longer approving" : "approving"} pool ${pool} as a backer`);
    return setBacker(chain.staking, pool, !args.revoke);
  });
}
