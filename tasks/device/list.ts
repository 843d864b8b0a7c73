import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { listDevices } from "../../src/client/index.js";
import { connect, run, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  operator: string;
  maker: number;
  fromBlock: number;
}

export default async function deviceList(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () =>
    listDevices((await connect(hre, args)).registry, {
      operator: args.operator,
      maker: args.maker === 0 ? undefined : args.maker,
      fromBlock: args.fromBlock,
    }),
  );
}
