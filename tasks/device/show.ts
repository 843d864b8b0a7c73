import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { showDevice } from "../../src/client/index.js";
import { connect, run, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  deviceId: string;
}

export default async function deviceShow(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => showDevice((await connect(hre, args)).registry, args.deviceId));
}
