import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { allocationTask, type AllocationArgs } from "./allocation.js";

export default async function stakeAllocateTask(
  args: AllocationArgs,
  hre: HardhatRuntimeEnvironment,
) {
  return allocationTask(args, hre, "allocate");
}
