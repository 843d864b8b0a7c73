import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { submitProofFile } from "../../src/client/index.js";
import { InvalidInputError } from "../../src/protocol/index.js";
import { progress, run } from "../common.js";
import { connectProofs, type ProofsArgs } from "../stake/connect.js";

interface Args extends ProofsArgs {
  file: string;
  beneficiary: string;
}

export default async function proofSubmit(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    if (args.file === "") throw new InvalidInputError("name the proof file: --file <proof.json>");
    const chain = await connectProofs(hre, args);
    const beneficiary = args.beneficiary === "" ? chain.signer.address : args.beneficiary;
    progress(`submitting ${args.file}, bounty to ${beneficiary}`);
    return submitProofFile({ proofs: chain.proofs, file: args.file, beneficiary });
  });
}
