import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { deprecateFirmware, parseSunset } from "../../src/client/index.js";
import { InvalidInputError } from "../../src/protocol/index.js";
import { connect, run, type ChainArgs } from "../common.js";
import { firmwareRef, type FirmwareRefArgs } from "./ref.js";

interface Args extends ChainArgs, FirmwareRefArgs {
  sunset: string;
}

export default async function firmwareDeprecate(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    if (args.sunset === "") {
      throw new InvalidInputError(
        "--sunset is required: seconds from now, or an ISO date, after which devices on it are untrusted",
      );
    }
    const ref = firmwareRef(args);
    const chain = await connect(hre, args);
    const latest = await chain.ethers.provider.getBlock("latest");
    const now = BigInt(latest?.timestamp ?? Math.floor(Date.now() / 1000));
    return deprecateFirmware(chain.registry, ref, parseSunset(args.sunset, now));
  });
}
