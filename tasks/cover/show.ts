import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { coverShow } from "../../src/client/index.js";
import { run } from "../common.js";
import { connectTarget, type TargetArgs } from "../pool/connect.js";

interface Args extends TargetArgs {
  serial: number;
}

export default async function coverShowTask(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connectTarget(hre, args);
    const serial = args.serial < 0 ? undefined : args.serial;
    return chain.output(await coverShow(chain.pool, chain.target, serial));
  });
}
