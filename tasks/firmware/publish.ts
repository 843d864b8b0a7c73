import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { publishFirmware } from "../../src/client/index.js";
import { parseImageList } from "../../src/protocol/index.js";
import { connect, progress, run, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  model: number;
  firmwareVersion: string;
  images: string;
  uri: string;
}

export default async function firmwarePublish(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const images = parseImageList(args.images);
    const chain = await connect(hre, args);
    progress(
      `measuring ${String(images.length)} images and publishing model ${String(args.model)} version ${args.firmwareVersion}`,
    );
    return publishFirmware({
      registry: chain.registry,
      model: args.model,
      version: args.firmwareVersion,
      images,
      uri: args.uri,
    });
  });
}
