import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  PASSWORD_ENV,
  commitPqKey,
  openKeyStore,
  readPqPublicKey,
} from "../../src/client/index.js";
import { parsePqScheme } from "../../src/protocol/index.js";
import {
  deadlineAfter,
  keyStoreOptions,
  progress,
  run,
  secret,
  type ChainArgs,
  type KeyArgs,
} from "../common.js";
import { connectPqKeyRecovery } from "./pq-chain.js";

interface Args extends ChainArgs, KeyArgs {
  deviceId: string;
  scheme: string;
  pqKey: string;
  pqPassword: string;
  pqKeyRecovery: string;
  deadline: number;
}

export default async function deviceCommitPqKey(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const scheme = parsePqScheme(args.scheme);
    // Only an encrypted ML-DSA-44 private key asks for a password: a commitment needs the public key alone.
    const publicKey = await readPqPublicKey(scheme, args.pqKey, () =>
      secret(hre, args.pqPassword, PASSWORD_ENV, "ML-DSA-44 key password", "--pq-password"),
    );
    const { chain, recovery } = await connectPqKeyRecovery(hre, args);
    const device = await openKeyStore(await keyStoreOptions(hre, args));
    try {
      progress(
        `the device's current key commits it to the ${scheme} key of ${args.pqKey} (once: only that key can replace it)`,
      );
      return await commitPqKey({
        recovery,
        registry: chain.registry,
        device,
        scheme,
        publicKey,
        deadline: await deadlineAfter(chain, args.deadline),
        deviceId: args.deviceId,
      });
    } finally {
      await device.close();
    }
  });
}
