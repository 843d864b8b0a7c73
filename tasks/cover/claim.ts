import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { coverClaim } from "../../src/client/index.js";
import { progress, run } from "../common.js";
import { connectTarget, type TargetArgs } from "../pool/connect.js";

interface Args extends TargetArgs {
  serial: number;
  incident: string;
}

export default async function coverClaimTask(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connectTarget(hre, args);
    progress(`claiming policy ${String(args.serial)} of ${chain.target.id} for ${args.incident}`);
    return chain.output(await coverClaim(chain.pool, chain.target, args.serial, args.incident));
  });
}
