import { asHex, type Hex } from "../protocol/index.js";
import type { DeviceRegistry } from "./registry.js";
import { send, type TxResult } from "./transaction.js";

export type TransferAction = "start" | "cancel" | "accept";

export interface TransferResult extends TxResult {
  readonly action: TransferAction;
  readonly deviceId: Hex;
  /** The operator before, and the operator (or pending operator) after. */
  readonly from: Hex;
  readonly to: Hex | null;
}

/**
 * Two-step custody transfer: the current operator starts (or cancels) it naming the new operator; the
 * new operator accepts. `registry` must be connected to the account acting.
 */
export async function transferCustody(
  registry: DeviceRegistry,
  deviceId: string,
  action: TransferAction,
  to?: string,
): Promise<TransferResult> {
  const id = asHex(deviceId, "device id", 32);
  const before = await registry.deviceInfo(id);
  let tx: TxResult;
  if (action === "start") {
    const recipient = asHex(to ?? "", "--to", 20);
    tx = await send(() => registry.startCustodyTransfer(id, recipient));
  } else if (action === "cancel") {
    tx = await send(() => registry.cancelCustodyTransfer(id));
  } else {
    tx = await send(() => registry.acceptCustody(id));
  }
  const after = await registry.deviceInfo(id);
  const pending = after.pendingOperator.toLowerCase() as Hex;
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    action,
    deviceId: id,
    from: before.operator.toLowerCase() as Hex,
    to:
      action === "accept"
        ? (after.operator.toLowerCase() as Hex)
        : action === "start"
          ? pending
          : null,
  };
}
