import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { pqKeyRecoveryAt, type PqKeyRecovery } from "../../src/client/index.js";
import { connect, resolveContract, type Chain, type ChainArgs } from "../common.js";

/**
 * The selected network and its PqKeyRecovery (--pq-key-recovery, else the deployment's; checked to be one),
 * connected to the sending account: what every post-quantum key task starts from.
 */
export async function connectPqKeyRecovery(
  hre: HardhatRuntimeEnvironment,
  args: ChainArgs & { readonly pqKeyRecovery: string },
): Promise<{ chain: Chain; recovery: PqKeyRecovery }> {
  const chain = await connect(hre, args);
  const address = await resolveContract(
    chain,
    "PqKeyRecovery",
    "--pq-key-recovery",
    args.pqKeyRecovery,
  );
  return { chain, recovery: pqKeyRecoveryAt(address, chain.registry) };
}
