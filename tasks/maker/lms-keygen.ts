import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { PASSWORD_ENV, lmsKeygen } from "../../src/client/index.js";
import { InvalidInputError } from "../../src/protocol/index.js";
import { progress, run, secret, type OutputArgs } from "../common.js";

interface Args extends OutputArgs {
  out: string;
  lms: string;
  lmots: string;
  password: string;
}

export default async function makerLmsKeygen(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    if (args.out === "") {
      throw new InvalidInputError(
        "--out is required: the LMS key file to create (its state goes beside it, <out>.state)",
      );
    }
    const password = await secret(
      hre,
      args.password,
      PASSWORD_ENV,
      "password for the new LMS key file",
      "--password",
    );
    progress(
      `generating an ${args.lms} / ${args.lmots} key: each of its one-time keys is computed once (about a second for H10)`,
    );
    return lmsKeygen({ out: args.out, password, lms: args.lms, lmots: args.lmots });
  });
}
