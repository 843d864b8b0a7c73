import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { firmwareSignaturesAt, setMakerLmsKey } from "../../src/client/index.js";
import { LmsStatefulSigner } from "../../src/device/lms-signer.js";
import { InvalidInputError } from "../../src/protocol/index.js";
import { connect, progress, resolveContract, run, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  lmsKey: string;
  firmwareSignatures: string;
}

export default async function makerLmsRegister(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    if (args.lmsKey === "") {
      throw new InvalidInputError("--lms-key is required: the LMS key file (maker lms-keygen)");
    }
    const { publicKey, lms, lmots } = await LmsStatefulSigner.info(args.lmsKey);
    const chain = await connect(hre, args);
    const address = await resolveContract(
      chain,
      "FirmwareSignatures",
      "--firmware-signatures",
      args.firmwareSignatures,
    );
    progress(
      `registering the ${lms} / ${lmots} public key of ${args.lmsKey} for the sender's maker`,
    );
    const registered = await setMakerLmsKey(
      firmwareSignaturesAt(address, chain.registry),
      publicKey,
    );
    return { ...registered, lms, lmots };
  });
}
