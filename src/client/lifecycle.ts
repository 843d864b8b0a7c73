import { encodeBytes32String } from "ethers";
import { InvalidInputError, asHex, type Hex } from "../protocol/index.js";
import { statusName } from "./decode-error.js";
import type { DeviceRegistry } from "./registry.js";
import { send, type TxResult } from "./transaction.js";

export type LifecycleAction = "suspend" | "reinstate" | "revoke" | "decommission";

export interface LifecycleResult extends TxResult {
  readonly action: LifecycleAction;
  readonly deviceId: Hex;
  readonly status: string;
  /** The reason as recorded on chain (bytes32), when the action takes one. */
  readonly reason: Hex | null;
}

/** A short reason ("key leaked", "slashed") as the bytes32 the events carry; at most 31 UTF-8 bytes. */
export function encodeReason(reason: string): Hex {
  try {
    return encodeBytes32String(reason) as Hex;
  } catch (cause) {
    throw new InvalidInputError(`the reason "${reason}" is longer than 31 bytes: shorten it`, {
      cause,
    });
  }
}

/**
 * Changes a device's status: suspend (operator, SUSPENDER_ROLE, governance), reinstate (governance),
 * revoke (operator, governance; terminal), decommission (operator; terminal). Suspend and revoke record
 * `reason`; the contract's decommission takes none.
 */
export async function changeStatus(
  registry: DeviceRegistry,
  deviceId: string,
  action: LifecycleAction,
  reason = "",
): Promise<LifecycleResult> {
  const id = asHex(deviceId, "device id", 32);
  const takesReason = action === "suspend" || action === "revoke";
  if (!takesReason && reason !== "") {
    throw new InvalidInputError(`${action} records no reason on chain: leave --reason out`);
  }
  const encoded = takesReason ? encodeReason(reason) : null;
  const tx = await send(() => {
    switch (action) {
      case "suspend":
        return registry.suspend(id, encoded ?? encodeReason(""));
      case "revoke":
        return registry.revoke(id, encoded ?? encodeReason(""));
      case "reinstate":
        return registry.reinstate(id);
      case "decommission":
        return registry.decommission(id);
    }
  });
  const status = statusName(await registry.statusOf(id));
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    action,
    deviceId: id,
    status,
    reason: encoded,
  };
}
