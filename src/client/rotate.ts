import { ZeroHash } from "ethers";
import { InvalidInputError, asHex, keyHash, type Hex } from "../protocol/index.js";
import type { KeyStore } from "../device/key-store.js";
import { DeviceSigner } from "../device/device-signer.js";
import { contractError } from "./decode-error.js";
import { registryDomain, type DeviceRegistry } from "./registry.js";
import { send, type TxResult } from "./transaction.js";

export interface RotateOptions {
  /** Connected to the device's operator (only the operator may rotate). */
  readonly registry: DeviceRegistry;
  /** The device's current key and the key that replaces it: both sign the same RotateKey message. */
  readonly current: KeyStore;
  readonly next: KeyStore;
  readonly deadline: bigint;
  /** Found from the current key through keyOwner when omitted. */
  readonly deviceId?: string | undefined;
}

export interface RotateResult extends TxResult {
  readonly deviceId: Hex;
  readonly oldKeyHash: Hex;
  readonly newKeyHash: Hex;
  /** The nonce the rotation consumed. */
  readonly nonce: bigint;
}

/** Rotates a device's key: the current key authorizes, the new key proves possession. */
export async function rotateKey(options: RotateOptions): Promise<RotateResult> {
  const { registry, current, next } = options;
  const oldKeyHash = keyHash(current.deviceKey);
  let deviceId: Hex;
  if (options.deviceId !== undefined && options.deviceId !== "") {
    deviceId = asHex(options.deviceId, "device id", 32);
  } else {
    const owner = (await registry.keyOwner(oldKeyHash)).toLowerCase();
    if (owner === ZeroHash) throw contractError("DeviceRegistryUnknownDevice", [oldKeyHash]);
    deviceId = owner as Hex;
  }
  const newKeyHash = keyHash(next.deviceKey);
  if (newKeyHash === oldKeyHash)
    throw new InvalidInputError(
      "the new key is the current key: generate a new one (device keygen)",
    );
  const domain = await registryDomain(registry);
  const info = await registry.deviceInfo(deviceId);
  const nonce = info.nonce;
  const bySigner = await new DeviceSigner(current, domain, deviceId).signRotateKey(
    next.deviceKey,
    nonce,
    options.deadline,
  );
  const byNew = await new DeviceSigner(next, domain, deviceId).signRotateKey(
    next.deviceKey,
    nonce,
    options.deadline,
  );
  const tx = await send(() =>
    registry.rotateKey(deviceId, {
      currentKey: { keyType: current.deviceKey.keyType, key: current.deviceKey.key },
      newKey: { keyType: next.deviceKey.keyType, key: next.deviceKey.key },
      nonce,
      deadline: options.deadline,
      currentSignature: bySigner.signature,
      newSignature: byNew.signature,
    }),
  );
  return { ...pick(tx), deviceId, oldKeyHash, newKeyHash, nonce };
}

function pick(tx: TxResult): TxResult {
  return { txHash: tx.txHash, blockNumber: tx.blockNumber, gasUsed: tx.gasUsed };
}
