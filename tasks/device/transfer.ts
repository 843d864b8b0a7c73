import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { transferCustody } from "../../src/client/index.js";
import { connect, run, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  deviceId: string;
  to: string;
  cancel: boolean;
}

export default async function deviceTransfer(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const { registry } = await connect(hre, args);
    return args.cancel
      ? transferCustody(registry, args.deviceId, "cancel")
      : transferCustody(registry, args.deviceId, "start", args.to);
  });
}
