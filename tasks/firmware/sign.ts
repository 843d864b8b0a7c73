import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  firmwareSignaturesAt,
  resolveFirmwareId,
  signFirmwareRelease,
} from "../../src/client/index.js";
import { InvalidInputError } from "../../src/protocol/index.js";
import { connect, openLmsKey, progress, resolveContract, run, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  maker: number;
  model: number;
  firmwareVersion: string;
  lmsKey: string;
  password: string;
  firmwareSignatures: string;
}

export default async function firmwareSign(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    if (args.lmsKey === "") {
      throw new InvalidInputError("--lms-key is required: the maker's registered LMS key file");
    }
    const chain = await connect(hre, args);
    const address = await resolveContract(
      chain,
      "FirmwareSignatures",
      "--firmware-signatures",
      args.firmwareSignatures,
    );
    const firmwareId = await resolveFirmwareId(chain.registry, {
      maker: args.maker > 0 ? args.maker : undefined,
      model: args.model,
      version: args.firmwareVersion,
    });
    const signer = await openLmsKey(hre, args.lmsKey, args.password);
    try {
      progress(
        `signing firmware ${String(firmwareId)}'s manifest with the maker's LMS key (leaf ${String(signer.next)})`,
      );
      return await signFirmwareRelease({
        firmwareSignatures: firmwareSignaturesAt(address, chain.registry),
        registry: chain.registry,
        firmwareId,
        version: args.firmwareVersion,
        signer,
      });
    } finally {
      signer.close();
    }
  });
}
