import type { Signer } from "ethers";
import {
  EIP712_TYPES,
  InvalidInputError,
  KeyType,
  asHex,
  buildManifest,
  deviceIdOf,
  deviceKey,
  typedDataDomain,
  type Hex,
  type ManifestEntry,
} from "../protocol/index.js";
import { contractError } from "./decode-error.js";
import { registryDomain, type DeviceRegistry } from "./registry.js";
import { send, type TxResult } from "./transaction.js";

/** What a maker hands an operator for one device: `device register --endorsement <file>` reads it. */
export interface Endorsement {
  readonly kind: "devicetrust-endorsement";
  readonly deviceId: Hex;
  readonly model: number;
  /** The maker's id in the registry. */
  readonly maker: number;
  readonly makerSigner: Hex;
  readonly signature: Hex;
  readonly chainId: bigint;
  readonly registry: Hex;
}

/** A production batch: `maker batch` writes it, `device register --manifest <file>` reads it. */
export interface ManifestFile {
  readonly kind: "devicetrust-manifest";
  readonly root: Hex;
  readonly size: number;
  readonly entries: readonly {
    readonly deviceId: Hex;
    readonly model: number;
    readonly proof: readonly Hex[];
  }[];
}

/** A key type number from JSON as the KeyType enum (deviceKey() then rejects unsupported ones). */
export function toKeyType(value: number): KeyType {
  if (value === 1) return KeyType.Secp256k1;
  if (value === 2) return KeyType.P256;
  return KeyType.None;
}

function checkModel(model: number): number {
  if (!Number.isInteger(model) || model < 0 || model > 0xffffffff) {
    throw new InvalidInputError(
      `model must be an integer in [0, 4294967295], got ${String(model)}`,
    );
  }
  return model;
}

/** Governance adds a maker whose Ethereum key (`signer`) will endorse devices. */
export async function addMaker(
  registry: DeviceRegistry,
  signer: string,
  name: string,
): Promise<TxResult & { readonly maker: number; readonly signer: Hex; readonly name: string }> {
  const signerAddress = asHex(signer, "--signer", 20);
  if (name === "")
    throw new InvalidInputError("--name is required: the maker's name, as it appears in events");
  const tx = await send(() => registry.addMaker(signerAddress, name));
  const maker = await registry.makerOf(signerAddress);
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    maker: Number(maker),
    signer: signerAddress,
    name,
  };
}

/**
 * The maker (its Ethereum key, `makerSigner`) endorses one device and model: an EIP-712 signature over
 * Endorse{deviceId, model} under the registry's domain. Checks that the key belongs to an active maker.
 */
export async function makerEndorse(
  registry: DeviceRegistry,
  makerSigner: Signer,
  deviceId: string,
  model: number,
): Promise<Endorsement> {
  const id = asHex(deviceId, "device id", 32);
  const domain = await registryDomain(registry);
  const address = (await makerSigner.getAddress()).toLowerCase() as Hex;
  const maker = Number(await registry.makerOf(address));
  const info = await registry.makerInfo(maker);
  if (maker === 0 || !info.active) {
    throw maker === 0
      ? contractError("DeviceRegistryNotMaker", [address])
      : contractError("DeviceRegistryMakerRemoved", [BigInt(maker)]);
  }
  const message = { deviceId: id, model: checkModel(model) };
  const signature = (await makerSigner.signTypedData(
    typedDataDomain(domain),
    { Endorse: [...EIP712_TYPES.Endorse] },
    message,
  )) as Hex;
  return {
    kind: "devicetrust-endorsement",
    deviceId: id,
    model: message.model,
    maker,
    makerSigner: address,
    signature,
    chainId: domain.chainId,
    registry: domain.verifyingContract,
  };
}

/**
 * Reads the devices of a batch from JSON: an array whose items are a device id, or an object with a
 * `deviceId`, a `deviceKey: {keyType, key}` (a key file or keygen output) or `keyType` and `key`; each
 * item may carry its own `model`, else `defaultModel` applies.
 */
export function readBatchEntries(json: unknown, defaultModel?: number): ManifestEntry[] {
  if (!Array.isArray(json))
    throw new InvalidInputError("the devices file must hold a JSON array of devices");
  return json.map((item: unknown, i): ManifestEntry => {
    const where = `device #${String(i + 1)}`;
    let id: Hex;
    let model = defaultModel;
    if (typeof item === "string") {
      id = asHex(item, `${where}'s id`, 32);
    } else if (typeof item === "object" && item !== null) {
      const o = item as Record<string, unknown>;
      const dk = (
        typeof o.deviceKey === "object" && o.deviceKey !== null ? o.deviceKey : o
      ) as Record<string, unknown>;
      if (typeof o.deviceId === "string") id = asHex(o.deviceId, `${where}'s deviceId`, 32);
      else if (typeof dk.keyType === "number" && typeof dk.key === "string")
        id = deviceIdOf(deviceKey(toKeyType(dk.keyType), dk.key));
      else throw new InvalidInputError(`${where} has neither a deviceId nor a {keyType, key}`);
      if (o.model !== undefined) model = Number(o.model);
    } else {
      throw new InvalidInputError(`${where} must be a device id or an object`);
    }
    if (model === undefined)
      throw new InvalidInputError(`${where} has no model: give one per device or pass --model`);
    return { deviceId: id, model: checkModel(model) };
  });
}

/** Builds a batch manifest: the Merkle root the maker publishes and each device's proof. */
export function makerBatch(entries: readonly ManifestEntry[]): ManifestFile {
  const manifest = buildManifest(entries);
  return {
    kind: "devicetrust-manifest",
    root: manifest.root,
    size: manifest.entries.length,
    entries: manifest.entries.map((e) => ({
      deviceId: e.deviceId,
      model: e.model,
      proof: [...e.proof],
    })),
  };
}

/** The maker's key publishes a batch root on chain (`registry` must be connected to the maker's signer). */
export async function publishBatch(
  registry: DeviceRegistry,
  manifest: Pick<ManifestFile, "root" | "size">,
  uri = "",
): Promise<TxResult & { readonly root: Hex; readonly size: number; readonly maker: number }> {
  const tx = await send(() => registry.publishBatch(manifest.root, manifest.size, uri));
  const batch = await registry.batchInfo(manifest.root);
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    root: manifest.root,
    size: manifest.size,
    maker: Number(batch.maker),
  };
}
