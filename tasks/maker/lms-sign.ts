import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { PASSWORD_ENV, lmsSignDigest } from "../../src/client/index.js";
import { progress, run, secret, type OutputArgs } from "../common.js";

interface Args extends OutputArgs {
  lmsKey: string;
  password: string;
  digest: string;
}

export default async function makerLmsSign(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const password = await secret(
      hre,
      args.password,
      PASSWORD_ENV,
      "LMS key file password",
      "--password",
    );
    progress("signing with the next unused leaf: the state moves past it before the leaf signs");
    return lmsSignDigest({ keyFile: args.lmsKey, password, digest: args.digest });
  });
}
