import { InvalidInputError, asHex, type Hex } from "../protocol/index.js";
import type { KeyStore } from "../device/key-store.js";
import { DeviceSigner } from "../device/device-signer.js";
import { registryDomain, type DeviceRegistry } from "./registry.js";
import { send, type TxResult } from "./transaction.js";

/** How the maker vouches for the device: one signature (maker endorse) or a batch proof (maker batch). */
export type EndorsementProof =
  | { readonly maker: number; readonly signature: string }
  | { readonly root: string; readonly proof: readonly string[] };

export interface RegisterOptions {
  /** Connected to the account that sends the transaction (it need not be the operator). */
  readonly registry: DeviceRegistry;
  /** The device's key, or a DeviceSigner over it. */
  readonly device: KeyStore | DeviceSigner;
  /** The operator the device binds itself to. */
  readonly operator: string;
  /** Unix seconds after which the device's signature no longer registers it. */
  readonly deadline: bigint;
  readonly model: number;
  readonly endorsement: EndorsementProof;
}

export interface RegisterResult extends TxResult {
  readonly deviceId: Hex;
  readonly operator: Hex;
  readonly maker: number;
  readonly model: number;
  readonly method: "register" | "registerFromBatch";
}

/**
 * Registers a device: it proves possession of its key by signing Register{deviceId, operator, 0,
 * deadline} under the registry's domain, and the maker's endorsement or batch proof vouches for it.
 */
export async function registerDevice(options: RegisterOptions): Promise<RegisterResult> {
  const { registry, endorsement } = options;
  const domain = await registryDomain(registry);
  const signer =
    options.device instanceof DeviceSigner
      ? options.device
      : new DeviceSigner(options.device, domain);
  if (
    signer.domain.chainId !== domain.chainId ||
    signer.domain.verifyingContract.toLowerCase() !== domain.verifyingContract
  ) {
    throw new InvalidInputError(
      "the device signer is bound to another chain or registry: build it with this registry's domain",
    );
  }
  const operator = asHex(options.operator, "operator", 20);
  const signed = await signer.signRegister(operator, options.deadline);
  const registration = {
    key: { keyType: signed.key.keyType, key: signed.key.key },
    operator,
    model: options.model,
    deadline: options.deadline,
    signature: signed.signature,
  };
  const isBatch = "root" in endorsement;
  const tx = await send(() =>
    isBatch
      ? registry.registerFromBatch(
          registration,
          asHex(endorsement.root, "batch root", 32),
          endorsement.proof.map((p) => asHex(p, "proof node", 32)),
        )
      : registry.register(
          registration,
          endorsement.maker,
          asHex(endorsement.signature, "maker signature"),
        ),
  );
  const info = await registry.deviceInfo(signer.deviceId);
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    deviceId: signer.deviceId,
    operator,
    maker: Number(info.maker),
    model: options.model,
    method: isBatch ? "registerFromBatch" : "register",
  };
}
