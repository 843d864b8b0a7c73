import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { parseAmount, securityReport } from "../../src/client/index.js";
import { run } from "../common.js";
import { connectTarget, type TargetArgs } from "../pool/connect.js";

interface Args extends TargetArgs {
  valueAtRisk: string;
}

export default async function securityReportTask(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connectTarget(hre, args);
    const valueAtRisk =
      args.valueAtRisk === "" || args.valueAtRisk === "0"
        ? 0n
        : parseAmount(args.valueAtRisk, chain.units.asset, args.wei, "--value-at-risk");
    return chain.output(await securityReport(chain.pool, chain.target, valueAtRisk));
  });
}
