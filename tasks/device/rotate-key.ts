import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { openKeyStore, rotateKey } from "../../src/client/index.js";
import { SoftwareKeyStore } from "../../src/device/software-key-store.js";
import {
  connect,
  keyStoreOptions,
  progress,
  run,
  type ChainArgs,
  type KeyArgs,
} from "../common.js";

interface Args extends ChainArgs, KeyArgs {
  deviceId: string;
  newKeyFile: string;
  newPassword: string;
  newToken: string;
  newPin: string;
  newLabel: string;
  deadline: number;
}

export default async function deviceRotateKey(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connect(hre, args);
    const current = await openKeyStore(await keyStoreOptions(hre, args));
    try {
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
        const latest = await chain.ethers.provider.getBlock("latest");
        const deadline =
          BigInt(latest?.timestamp ?? Math.floor(Date.now() / 1000)) + BigInt(args.deadline);
        progress("both keys sign the rotation; sending it from the operator's account");
        const rotated = await rotateKey({
          registry: chain.registry,
          current,
          next,
          deadline,
          deviceId: args.deviceId,
        });
        // The new key now signs for this device: its file says so from here on.
        if (args.newKeyFile !== "") {
          await SoftwareKeyStore.recordDeviceId(args.newKeyFile, rotated.deviceId);
        }
        return rotated;
      } finally {
        await next.close();
      }
    } finally {
      await current.close();
    }
  });
}
