import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  PASSWORD_ENV,
  lmsPqSigner,
  mlDsa44PqSigner,
  openKeyStore,
  pqCommitmentOf,
  pqContractError,
  prepareKeyRecovery,
  readMlDsa44PrivateKey,
  recoverDeviceKey,
} from "../../src/client/index.js";
import type { KeyStore } from "../../src/device/key-store.js";
import { LmsStatefulSigner } from "../../src/device/lms-signer.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import { InvalidInputError, asHex } from "../../src/protocol/index.js";
import { pqRecoveryRequestToJson } from "../../src/verify/pq.js";
import {
  deadlineAfter,
  keyStoreOptions,
  progress,
  run,
  secret,
  type ChainArgs,
} from "../common.js";
import { connectPqKeyRecovery } from "./pq-chain.js";

interface Args extends ChainArgs {
  deviceId: string;
  pqKey: string;
  pqPassword: string;
  pqKeyRecovery: string;
  module: string;
  newKeyFile: string;
  newPassword: string;
  newToken: string;
  newPin: string;
  newLabel: string;
  deadline: number;
}

export default async function deviceRecoverKey(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    if (args.deviceId === "") {
      throw new InvalidInputError(
        "--device-id is required: the id of the device to recover (its current key may be lost or broken)",
      );
    }
    if (args.pqKey === "") {
      throw new InvalidInputError("--pq-key is required: the key file the device committed to");
    }
    const deviceId = asHex(args.deviceId, "--device-id", 32);
    const { chain, recovery } = await connectPqKeyRecovery(hre, args);
    const { schemeName } = await pqCommitmentOf(recovery, deviceId);
    if (schemeName === null) throw pqContractError("PqKeyRecoveryNotCommitted", [deviceId]);
    const pqPassword = () =>
      secret(hre, args.pqPassword, PASSWORD_ENV, "post-quantum key password", "--pq-password");
    const nextArgs = {
      keyFile: args.newKeyFile,
      password: args.newPassword,
      module: args.module,
      token: args.newToken,
      pin: args.newPin,
      label: args.newLabel,
    };
    const next = await openKeyStore(await keyStoreOptions(hre, nextArgs, "new-"));
    try {
      const deadline = await deadlineAfter(chain, args.deadline);
      const options = { recovery, registry: chain.registry, deviceId, newKey: next, deadline };
      if (schemeName === "ml-dsa-44") return await offChainRequest(args, options, pqPassword);
      const signer = await LmsStatefulSigner.open({ key: args.pqKey }, await pqPassword());
      try {
        progress(
          `the committed LMS key signs the recovery (leaf ${String(signer.next)}), the new key its possession; sending it`,
        );
        const recovered = await recoverDeviceKey({ ...options, pqSigner: lmsPqSigner(signer) });
        // The new key now signs for this device: its file says so from here on.
        if (args.newKeyFile !== "") {
          await SoftwareKeyStore.recordDeviceId(args.newKeyFile, recovered.deviceId);
        }
        return { onChain: true, ...recovered };
      } finally {
        signer.close();
      }
    } finally {
      await next.close();
    }
  });
}

/** ML-DSA-44: the request, signed and checked against the commitment, for governance to act on. */
async function offChainRequest(
  args: Args,
  options: Omit<Parameters<typeof prepareKeyRecovery>[0], "pqSigner"> & { newKey: KeyStore },
  password: () => Promise<string>,
) {
  const { privateKey } = await readMlDsa44PrivateKey(args.pqKey, password);
  const prepared = await prepareKeyRecovery({ ...options, pqSigner: mlDsa44PqSigner(privateKey) });
  progress(
    "the device committed to an ML-DSA-44 key, which no contract verifies until the EVM has a precompile for it (EIP-8051): on-chain recovery needs that precompile. The request below passed verifyPqRecovery against the commitment: give it (this output, --json) to governance, which checks it again and applies it with device apply-recovery --request F",
  );
  return {
    onChain: false,
    deviceId: prepared.request.deviceId,
    scheme: prepared.request.scheme,
    oldKeyHash: prepared.oldKeyHash,
    newKeyHash: prepared.check.newKeyHash,
    recoverDigest: prepared.check.recoverDigest,
    rotateDigest: prepared.check.rotateDigest,
    request: pqRecoveryRequestToJson(prepared.request),
  };
}
