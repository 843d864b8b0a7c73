import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { coverRelease } from "../../src/client/index.js";
import { progress, run } from "../common.js";
import { connectTarget, type TargetArgs } from "../pool/connect.js";

interface Args extends TargetArgs {
  serial: number;
}

export default async function coverReleaseTask(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connectTarget(hre, args);
    progress(`releasing policy ${String(args.serial)} of ${chain.target.id}`);
    return chain.output(await coverRelease(chain.pool, chain.target, args.serial));
  });
}
