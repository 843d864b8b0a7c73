import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import {
  humanAmounts,
  parseAmount,
  stakeAllocate,
  stakeDeallocate,
  stakingToken,
  tokenInfo,
  type AllocationResult,
} from "../../src/client/index.js";
import { InvalidInputError } from "../../src/protocol/index.js";
import { progress, run } from "../common.js";
import { resolvePoolAddress } from "../pool/connect.js";
import { connectStaking, type StakingArgs } from "./connect.js";

/** Shared by stake allocate and stake deallocate. Not a task. */

export interface AllocationArgs extends StakingArgs {
  readonly device: string;
  readonly pool: string;
  readonly feed: string;
  readonly amount: string;
  readonly wei: boolean;
}

export async function allocationTask(
  args: AllocationArgs,
  hre: HardhatRuntimeEnvironment,
  direction: "allocate" | "deallocate",
) {
  return run(args, async () => {
    if (args.device === "") throw new InvalidInputError("name the device: --device <device id>");
    const chain = await connectStaking(hre, args);
    const pool = await resolvePoolAddress(chain, args.pool);
    const token = await tokenInfo(await stakingToken(chain.staking), chain.signer);
    const amount = parseAmount(args.amount, token, args.wei, "--amount");
    const scope = args.feed === "" ? "the device itself" : `feed ${args.feed}`;
    progress(
      `${direction === "allocate" ? "allocating" : "deallocating"} ${args.amount} ${token.symbol} of ${args.device}'s stake ${direction === "allocate" ? "to" : "from"} pool ${pool} for ${scope}`,
    );
    const options = {
      staking: chain.staking,
      deviceId: args.device,
      backer: pool,
      feed: args.feed,
      amount,
    };
    const result: AllocationResult =
      direction === "allocate" ? await stakeAllocate(options) : await stakeDeallocate(options);
    return args.json ? result : humanAmounts(result, { asset: token, shares: token }, args.wei);
  });
}
