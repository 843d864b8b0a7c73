import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { deviceTrust } from "../../src/client/index.js";
import { InvalidInputError } from "../../src/protocol/index.js";
import { connect, run, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  deviceId: string;
  maxAge: number;
}

export default async function deviceTrustTask(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    if (args.maxAge < 0) throw new InvalidInputError("--max-age must be 0 or more seconds");
    return deviceTrust((await connect(hre, args)).registry, args.deviceId, BigInt(args.maxAge));
  });
}
