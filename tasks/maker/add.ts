import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { addMaker } from "../../src/client/index.js";
import { connect, run, type ChainArgs } from "../common.js";

interface Args extends ChainArgs {
  signer: string;
  name: string;
}

export default async function makerAdd(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () =>
    addMaker((await connect(hre, args)).registry, args.signer, args.name),
  );
}
