import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { attestDevice, openKeyStore, parseChallengeMode } from "../../src/client/index.js";
import { parseImageList } from "../../src/protocol/index.js";
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
  images: string;
  bootState: string;
  challenge: string;
}

export default async function deviceAttest(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const images = parseImageList(args.images);
    const mode = parseChallengeMode(args.challenge);
    const chain = await connect(hre, args);
    const keyStore = await openKeyStore(await keyStoreOptions(hre, args));
    try {
      progress(
        `booting ${String(images.length)} images, challenge from ${mode === "block" ? "a recent block hash" : "an issued nonce"}`,
      );
      const {
        evidence: _signed,
        steps: _steps,
        ...result
      } = await attestDevice({
        registry: chain.registry,
        device: keyStore,
        deviceId: args.deviceId,
        images,
        bootState: args.bootState,
        challenge: mode,
      });
      return args.json ? { ...result, signature: _signed.signature } : result;
    } finally {
      await keyStore.close();
    }
  });
}
