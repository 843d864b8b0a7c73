import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  PASSWORD_ENV,
  lmsPqSigner,
  pqCommitmentOf,
  pqContractError,
  readPqPublicKey,
  replacePqKey,
} from "../../src/client/index.js";
import { LmsStatefulSigner } from "../../src/device/lms-signer.js";
import { InvalidInputError, PQ_SCHEMES, asHex, parsePqScheme } from "../../src/protocol/index.js";
import { deadlineAfter, progress, run, secret, type ChainArgs } from "../common.js";
import { connectPqKeyRecovery } from "./pq-chain.js";

interface Args extends ChainArgs {
  deviceId: string;
  pqKey: string;
  pqPassword: string;
  newPqKey: string;
  newScheme: string;
  newPqPassword: string;
  pqKeyRecovery: string;
  deadline: number;
}

export default async function deviceReplacePqKey(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    if (args.deviceId === "") {
      throw new InvalidInputError(
        "--device-id is required: the id of the device whose post-quantum key to replace",
      );
    }
    if (args.pqKey === "") {
      throw new InvalidInputError(
        "--pq-key is required: the key file the device committed to (it signs the replacement)",
      );
    }
    if (args.newPqKey === "") {
      throw new InvalidInputError(
        "--new-pq-key is required: the post-quantum key file to commit to instead (device pq-keygen)",
      );
    }
    const deviceId = asHex(args.deviceId, "--device-id", 32);
    const newScheme = parsePqScheme(args.newScheme);
    // Only an encrypted ML-DSA-44 private key asks for a password: the commitment needs the public key alone.
    const newPublicKey = await readPqPublicKey(newScheme, args.newPqKey, () =>
      secret(
        hre,
        args.newPqPassword,
        PASSWORD_ENV,
        "new ML-DSA-44 key password",
        "--new-pq-password",
      ),
    );
    const { chain, recovery } = await connectPqKeyRecovery(hre, args);
    const { schemeName } = await pqCommitmentOf(recovery, deviceId);
    if (schemeName === null) throw pqContractError("PqKeyRecoveryNotCommitted", [deviceId]);
    // No contract verifies an ML-DSA-44 signature, and nothing else moves a commitment: replacePqKey would
    // refuse after the key signed; say so before asking for the key or its password.
    if (schemeName === "ml-dsa-44") {
      throw pqContractError("PqKeyRecoverySchemeNotOnChain", [PQ_SCHEMES[schemeName]]);
    }
    const password = await secret(
      hre,
      args.pqPassword,
      PASSWORD_ENV,
      "post-quantum key password",
      "--pq-password",
    );
    const signer = await LmsStatefulSigner.open({ key: args.pqKey }, password);
    try {
      progress(
        `once checked against the commitment, the committed LMS key signs the replacement by the ${newScheme} key of ${args.newPqKey} (leaf ${String(signer.next)}); sending it`,
      );
      const replaced = await replacePqKey({
        recovery,
        registry: chain.registry,
        deviceId,
        pqSigner: lmsPqSigner(signer),
        newScheme,
        newPublicKey,
        deadline: await deadlineAfter(chain, args.deadline),
      });
      progress(
        `${args.pqKey} no longer recovers device ${deviceId}: ${args.newPqKey} does (${newScheme === "lms" ? "back up its key file, never its state" : "back it up"})`,
      );
      return replaced;
    } finally {
      signer.close();
    }
  });
}
