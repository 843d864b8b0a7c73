import { asHex, KeyType, type Hex } from "../protocol/index.js";
import { contractError, statusName } from "./decode-error.js";
import type { DeviceRegistry } from "./registry.js";

export interface DeviceView {
  readonly deviceId: Hex;
  readonly status: string;
  readonly keyType: string;
  readonly operator: Hex;
  readonly pendingOperator: Hex | null;
  readonly maker: number;
  readonly makerSigner: Hex;
  readonly model: number;
  /** The next RotateKey nonce (= rotations so far). */
  readonly nonce: number;
  readonly keyHash: Hex;
  readonly rotated: boolean;
}

const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";

export function keyTypeName(keyType: bigint | number): string {
  const names: Readonly<Record<number, string>> = {
    [KeyType.Secp256k1]: "secp256k1",
    [KeyType.P256]: "P-256",
  };
  const t = Number(keyType);
  return names[t] ?? `unknown (${String(t)})`;
}

/** Everything the registry knows of a device, readable. Throws DeviceRegistryUnknownDevice if it has none. */
export async function showDevice(registry: DeviceRegistry, deviceId: string): Promise<DeviceView> {
  const id = asHex(deviceId, "device id", 32);
  const info = await registry.deviceInfo(id);
  if (info.status === 0n) throw contractError("DeviceRegistryUnknownDevice", [id]);
  const maker = await registry.makerInfo(info.maker);
  return {
    deviceId: id,
    status: statusName(info.status),
    keyType: keyTypeName(info.keyType),
    operator: info.operator.toLowerCase() as Hex,
    pendingOperator:
      info.pendingOperator === ZERO_ADDRESS ? null : (info.pendingOperator.toLowerCase() as Hex),
    maker: Number(info.maker),
    makerSigner: maker.signer.toLowerCase() as Hex,
    model: Number(info.model),
    nonce: Number(info.nonce),
    keyHash: info.keyHash.toLowerCase() as Hex,
    rotated: info.keyHash.toLowerCase() !== id,
  };
}
