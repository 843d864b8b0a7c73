import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { changeStatus } from "../../src/client/index.js";
import { connect, run, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  deviceId: string;
}

export default async function deviceDecommission(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () =>
    changeStatus((await connect(hre, args)).registry, args.deviceId, "decommission"),
  );
}
