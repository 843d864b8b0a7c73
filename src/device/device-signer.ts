import {
  KeyType,
  deviceIdOf,
  digest,
  keyHash,
  type AttestationMessage,
  type DeviceKey,
  type Domain,
  type Hex,
  type MessageKind,
  type MessageTypes,
  type ReadingBatchMessage,
  type ReadingMessage,
} from "../protocol/index.js";
import type { KeyStore } from "./key-store.js";

export interface Signed<K extends MessageKind> {
  readonly kind: K;
  readonly message: MessageTypes[K];
  readonly digest: Hex;
  readonly signature: Hex;
  /** The key that signed: what the contracts take beside the signature. */
  readonly key: DeviceKey;
}

/**
 * Signs every message a device produces, under the deployment's EIP-712 domain, with the device's key
 * store. `deviceId` is the id the device was registered under (its first key's hash): after a rotation
 * the key store holds a newer key but the id stays.
 */
export class DeviceSigner {
  readonly keyStore: KeyStore;
  readonly domain: Domain;
  readonly deviceId: Hex;

  constructor(keyStore: KeyStore, domain: Domain, deviceId?: Hex) {
    this.keyStore = keyStore;
    this.domain = domain;
    this.deviceId = deviceId ?? deviceIdOf(keyStore.deviceKey);
  }

  get key(): DeviceKey {
    return this.keyStore.deviceKey;
  }

  async sign<K extends MessageKind>(kind: K, message: MessageTypes[K]): Promise<Signed<K>> {
    const d = digest(this.domain, kind, message);
    return {
      kind,
      message,
      digest: d,
      signature: await this.keyStore.signDigest(d),
      key: this.key,
    };
  }

  /** Proof of possession: this device binds itself to `operator` (nonce 0 at first registration). */
  signRegister(operator: Hex, deadline: bigint, nonce = 0n): Promise<Signed<"Register">> {
    return this.sign("Register", { deviceId: this.deviceId, operator, nonce, deadline });
  }

  /** Signs a rotation to `newKey`. Both the current key and the new key sign this same message. */
  signRotateKey(newKey: DeviceKey, nonce: bigint, deadline: bigint): Promise<Signed<"RotateKey">> {
    return this.sign("RotateKey", {
      deviceId: this.deviceId,
      newKeyHash: keyHash(newKey),
      nonce,
      deadline,
    });
  }

  signAttestation(evidence: Omit<AttestationMessage, "deviceId">): Promise<Signed<"Attestation">> {
    return this.sign("Attestation", { deviceId: this.deviceId, ...evidence });
  }

  signReading(reading: Omit<ReadingMessage, "deviceId">): Promise<Signed<"Reading">> {
    return this.sign("Reading", { deviceId: this.deviceId, ...reading });
  }

  signReadingBatch(batch: Omit<ReadingBatchMessage, "deviceId">): Promise<Signed<"ReadingBatch">> {
    return this.sign("ReadingBatch", { deviceId: this.deviceId, ...batch });
  }
}

/** A maker's endorsement of one device: an Ethereum-account signature over Endorse{deviceId, model}. */
export interface MakerSigner {
  readonly address: Hex;
  signDigest(digest: Hex): Promise<Hex>;
}

export async function signEndorsement(
  maker: MakerSigner,
  domain: Domain,
  deviceId: Hex,
  model: number,
): Promise<Signed<"Endorse"> & { readonly maker: Hex }> {
  const message = { deviceId, model };
  const d = digest(domain, "Endorse", message);
  const signature = await maker.signDigest(d);
  return {
    kind: "Endorse",
    message,
    digest: d,
    signature,
    key: { keyType: KeyType.Secp256k1, key: maker.address },
    maker: maker.address,
  };
}
