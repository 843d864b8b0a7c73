import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { PASSWORD_ENV, PIN_ENV, keygen } from "../../src/client/index.js";
import { InvalidInputError, parseCurve } from "../../src/protocol/index.js";
import { run, secret, type OutputArgs } from "../common.js";

interface Args extends OutputArgs {
  curve: string;
  keystore: string;
  out: string;
  password: string;
  module: string;
  token: string;
  pin: string;
  label: string;
}

export default async function deviceKeygen(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const curve = parseCurve(args.curve);
    if (args.keystore === "file") {
      if (args.out === "") throw new InvalidInputError("--out is required: the key file to create");
      const password = await secret(
        hre,
        args.password,
        PASSWORD_ENV,
        "password for the new key file",
        "--password",
      );
      return keygen({ curve, keystore: "file", out: args.out, password });
    }
    if (args.keystore === "pkcs11") {
      const pin = await secret(hre, args.pin, PIN_ENV, "PKCS#11 user PIN", "--pin");
      const module = args.module === "" ? undefined : args.module;
      return keygen({
        curve,
        keystore: "pkcs11",
        module,
        token: args.token,
        pin,
        label: args.label,
      });
    }
    throw new InvalidInputError(`unknown --keystore "${args.keystore}": use file or pkcs11`);
  });
}
