import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { PASSWORD_ENV, pqKeygen } from "../../src/client/index.js";
import { InvalidInputError, parsePqScheme } from "../../src/protocol/index.js";
import { progress, run, secret, type OutputArgs } from "../common.js";

interface Args extends OutputArgs {
  scheme: string;
  out: string;
  password: string;
  unencrypted: boolean;
  lms: string;
  lmots: string;
}

export default async function devicePqKeygen(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const scheme = parsePqScheme(args.scheme);
    if (args.out === "") {
      throw new InvalidInputError(
        "--out is required: the post-quantum key file to create (an LMS key's state goes beside it, <out>.state)",
      );
    }
    if (args.unencrypted && scheme === "lms") {
      throw new InvalidInputError(
        "--unencrypted is for ML-DSA-44 only: an LMS key file is always encrypted (give --password)",
      );
    }
    if (args.unencrypted && args.password !== "") {
      throw new InvalidInputError("give --password or --unencrypted, not both");
    }
    const password = args.unencrypted
      ? undefined
      : await secret(
          hre,
          args.password,
          PASSWORD_ENV,
          "password for the new post-quantum key file",
          "--password",
        );
    const option = (value: string) => (value === "" ? undefined : value);
    progress(
      scheme === "lms"
        ? "generating an LMS key: each of its one-time keys is computed once (about a second for H10)"
        : `generating an ML-DSA-44 key (PKCS#8 PEM${password === undefined ? ", in the clear" : ", encrypted"})`,
    );
    const made = await pqKeygen({
      scheme,
      out: args.out,
      password,
      lms: option(args.lms),
      lmots: option(args.lmots),
    });
    progress(
      `commit the device to it while its key is sound: device commit-pq-key --scheme ${scheme} --pq-key ${made.keyFile}`,
    );
    return made;
  });
}
