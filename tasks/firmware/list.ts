import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { listFirmware } from "../../src/client/index.js";
import { connect, run, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  maker: number;
  model: number;
  fromBlock: number;
}

export default async function firmwareList(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const list = await listFirmware((await connect(hre, args)).registry, {
      maker: args.maker > 0 ? args.maker : undefined,
      model: args.model >= 0 ? args.model : undefined,
      fromBlock: args.fromBlock,
    });
    // The table shows one line per firmware; --json keeps the image digests.
    return args.json ? list : list.map(({ imageDigests: _digests, ...rest }) => rest);
  });
}
