import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { transferCustody } from "../../src/client/index.js";
import { connect, run, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  deviceId: string;
}

export default async function deviceAccept(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () =>
    transferCustody((await connect(hre, args)).registry, args.deviceId, "accept"),
  );
}
