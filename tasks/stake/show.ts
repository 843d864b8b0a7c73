import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { stakeInTokens, stakeShow, tokenInfo } from "../../src/client/index.js";
import { run, type WeiArgs } from "../common.js";
import { connectStaking, type StakingArgs } from "./connect.js";

interface Args extends StakingArgs, WeiArgs {
  deviceId: string;
}

/** A device's stake: amounts in collateral units for people; --json and --wei keep base units. */
export default async function stakeShowTask(args: Args, hre: HardhatRuntimeEnvironment) {
  return run(args, async () => {
    const { staking, token, ethers } = await connectStaking(hre, args);
    const view = await stakeShow(staking, args.deviceId);
    if (args.json || args.wei) return view;
    const collateral = await (await token()).getAddress();
    return stakeInTokens(view, await tokenInfo(collateral, ethers.provider));
  });
}
