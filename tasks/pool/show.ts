import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { poolShow } from "../../src/client/index.js";
import { run } from "../common.js";
import { connectPool, type PoolArgs } from "./connect.js";

interface Args extends PoolArgs {
  account: string;
}

export default async function poolShowTask(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const chain = await connectPool(hre, args);
    const account = args.account === "" ? chain.signer.address : args.account;
    return chain.output(await poolShow(chain.pool, account));
  });
}
