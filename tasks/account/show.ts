import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { accountState } from "../../src/client/index.js";
import { connect, run } from "../common.js";
import { accountArg, type AccountArgs } from "./connect.js";

export default async function accountShow(args: AccountArgs, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const account = accountArg(args.account);
    const chain = await connect(hre, args);
    return accountState(chain.ethers.provider, account);
  });
}
