import type { ContractTransactionResponse } from "ethers";
import { DeviceTrustError, type Hex } from "../protocol/index.js";
import { decodeContractError } from "./decode-error.js";

export interface TxResult {
  readonly txHash: Hex;
  readonly blockNumber: number;
  readonly gasUsed: bigint;
}

/**
 * Sends a contract call and waits for its receipt. A revert (at estimation or on chain) is rethrown as
 * a ContractError whose message says what to do.
 */
export async function send(call: () => Promise<ContractTransactionResponse>): Promise<
  TxResult & {
    readonly receipt: NonNullable<Awaited<ReturnType<ContractTransactionResponse["wait"]>>>;
  }
> {
  try {
    const tx = await call();
    const receipt = await tx.wait();
    if (receipt === null) {
      throw new DeviceTrustError(
        "TX_DROPPED",
        `transaction ${tx.hash} was dropped: check the node and send it again`,
      );
    }
    return {
      txHash: receipt.hash as Hex,
      blockNumber: receipt.blockNumber,
      gasUsed: receipt.gasUsed,
      receipt,
    };
  } catch (err: unknown) {
    throw decodeContractError(err) ?? err;
  }
}
