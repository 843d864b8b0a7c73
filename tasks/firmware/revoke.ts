import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { revokeFirmware } from "../../src/client/index.js";
import { connect, run, type ChainArgs } from "../common.js";
import { firmwareRef, type FirmwareRefArgs } from "./ref.js";

type Args = ChainArgs & FirmwareRefArgs;

export default async function firmwareRevoke(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const ref = firmwareRef(args);
    return revokeFirmware((await connect(hre, args)).registry, ref);
  });
}
