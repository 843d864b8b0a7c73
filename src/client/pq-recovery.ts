import type { KeyObject } from "node:crypto";
import { ZeroHash, getAddress } from "ethers";
import {
  InvalidInputError,
  LMS_ON_CHAIN_ATTEMPTS,
  PQ_SCHEMES,
  asHex,
  digest,
  fromHex,
  keyHash,
  mlDsa44RawPublicKey,
  mlDsa44Sign,
  pqKeyCommitment,
  pqSchemeName,
  toHex,
  type Domain,
  type Hex,
  type PqSchemeName,
} from "../protocol/index.js";
import type { KeyStore } from "../device/key-store.js";
import { DeviceSigner } from "../device/device-signer.js";
import type { LmsStatefulSigner } from "../device/lms-signer.js";
import {
  verifyPqRecovery,
  type PqCommitmentState,
  type PqRecoveryCheck,
  type PqRecoveryRequest,
} from "../verify/pq.js";
import { PqKeyRecovery__factory, type PqKeyRecovery } from "../../types/ethers-contracts/index.js";
import { contractError } from "./decode-error.js";
import { decodePqError, pqContractError } from "./pq-errors.js";
import { registryDomain, type DeviceRegistry, registryRunner } from "./registry.js";
import { send, type TxResult } from "./transaction.js";

export type { PqKeyRecovery };

/**
 * A device's post-quantum way back (PqKeyRecovery): while its elliptic-curve key is sound the device
 * commits, once, to an LMS or ML-DSA-44 key (commitPqKey, signed by its current key); if that key breaks or
 * leaks, the committed key alone signs the device over to a new key (recoverDeviceKey; the new key proves
 * possession as in a rotation). LMS recovers on chain; an ML-DSA-44 request is checked off chain
 * (prepareKeyRecovery + verifyPqRecovery) until the EVM verifies ML-DSA. Reverts come back as
 * ContractErrors whose message says what to do (pq-errors.ts).
 */

/** PqKeyRecovery at `address`, sending through (or reading with) the registry's runner. */
export function pqKeyRecoveryAt(address: string, registry: DeviceRegistry): PqKeyRecovery {
  return PqKeyRecovery__factory.connect(
    asHex(address, "PqKeyRecovery address", 20),
    registryRunner(registry),
  );
}

/** A post-quantum key that signs the 32 bytes of a digest: the committed key of a device. */
export interface PqSigner {
  readonly scheme: PqSchemeName;
  readonly publicKey: Hex;
  /** Signs `message`; an LMS key says which leaf it spent. */
  sign(message: Uint8Array): { readonly signature: Uint8Array; readonly leaf: number | null };
}

/**
 * An LMS stateful signer as a PqSigner: each signature spends one leaf, durably, before it exists, and
 * carries the cheapest of LMS_ON_CHAIN_ATTEMPTS randomizers (it is verified on chain).
 */
export function lmsPqSigner(signer: LmsStatefulSigner): PqSigner {
  return {
    scheme: "lms",
    publicKey: signer.publicKeyHex,
    sign(message) {
      const { q, signature } = signer.sign(message, { attempts: LMS_ON_CHAIN_ATTEMPTS });
      return { signature, leaf: q };
    },
  };
}

/** An ML-DSA-44 private key as a PqSigner (stateless). */
export function mlDsa44PqSigner(privateKey: KeyObject): PqSigner {
  const publicKey = toHex(mlDsa44RawPublicKey(privateKey));
  return {
    scheme: "ml-dsa-44",
    publicKey,
    sign: (message) => ({ signature: mlDsa44Sign(privateKey, message), leaf: null }),
  };
}

/** Sends a PqKeyRecovery call; a revert becomes a ContractError with a sentence. */
async function pqSend(call: Parameters<typeof send>[0]): ReturnType<typeof send> {
  try {
    return await send(call);
  } catch (err: unknown) {
    throw decodePqError(err) ?? err;
  }
}

function txOf(tx: TxResult): TxResult {
  return { txHash: tx.txHash, blockNumber: tx.blockNumber, gasUsed: tx.gasUsed };
}

/** The registry's domain, once `recovery` is checked to recover that registry's devices. */
async function recoveryDomain(recovery: PqKeyRecovery, registry: DeviceRegistry): Promise<Domain> {
  const domain = await registryDomain(registry);
  const recovers = getAddress(await recovery.registry());
  if (recovers !== getAddress(domain.verifyingContract)) {
    throw new InvalidInputError(
      `PqKeyRecovery ${await recovery.getAddress()} recovers the devices of registry ${recovers}, not of ${getAddress(domain.verifyingContract)}: check --pq-key-recovery and --registry`,
    );
  }
  return domain;
}

/** The device's commitment, with its scheme's name (null: none). */
export interface PqCommitmentInfo extends PqCommitmentState {
  readonly commitment: Hex;
  readonly scheme: number;
  readonly schemeName: PqSchemeName | null;
  readonly nonce: number;
}

export async function pqCommitmentOf(
  recovery: PqKeyRecovery,
  deviceId: Hex,
): Promise<PqCommitmentInfo> {
  const c = await recovery.pqCommitmentOf(deviceId);
  const scheme = Number(c.scheme);
  return {
    commitment: c.commitment.toLowerCase() as Hex,
    scheme,
    schemeName: scheme === 0 ? null : pqSchemeName(scheme),
    nonce: Number(c.nonce),
  };
}

export interface CommitPqKeyOptions {
  /** Connected to the sending account (anyone may submit). */
  readonly recovery: PqKeyRecovery;
  readonly registry: DeviceRegistry;
  /** The device's current key: it signs CommitPqKey. */
  readonly device: KeyStore;
  readonly scheme: PqSchemeName;
  /** The post-quantum public key (an LMS key file's, or a raw ML-DSA-44 key). */
  readonly publicKey: Hex;
  readonly deadline: bigint;
  /** Found from the current key through keyOwner when omitted. */
  readonly deviceId?: string | undefined;
}

export interface CommitPqKeyResult extends TxResult {
  readonly deviceId: Hex;
  readonly scheme: PqSchemeName;
  readonly commitment: Hex;
  readonly publicKey: Hex;
}

async function deviceIdFor(
  registry: DeviceRegistry,
  key: KeyStore,
  given: string | undefined,
): Promise<Hex> {
  if (given !== undefined && given !== "") return asHex(given, "device id", 32);
  const current = keyHash(key.deviceKey);
  const owner = (await registry.keyOwner(current)).toLowerCase();
  if (owner === ZeroHash) throw contractError("DeviceRegistryUnknownDevice", [current]);
  return owner as Hex;
}

/**
 * Commits the device to a post-quantum key: its current key signs CommitPqKey{deviceId, scheme,
 * keccak256(scheme ‖ publicKey), deadline} and PqKeyRecovery records the commitment. Once per device.
 */
export async function commitPqKey(options: CommitPqKeyOptions): Promise<CommitPqKeyResult> {
  const { recovery, registry, device, scheme } = options;
  const publicKey = asHex(options.publicKey, "post-quantum public key");
  const domain = await recoveryDomain(recovery, registry);
  const deviceId = await deviceIdFor(registry, device, options.deviceId);
  const commitment = pqKeyCommitment(scheme, publicKey);
  const signed = await new DeviceSigner(device, domain, deviceId).signCommitPqKey(
    PQ_SCHEMES[scheme],
    commitment,
    options.deadline,
  );
  const tx = await pqSend(() =>
    recovery.commitPqKey(
      deviceId,
      PQ_SCHEMES[scheme],
      commitment,
      options.deadline,
      { keyType: signed.key.keyType, key: signed.key.key },
      signed.signature,
    ),
  );
  return { ...txOf(tx), deviceId, scheme, commitment, publicKey };
}

export interface KeyRecoveryOptions {
  /** Connected to the sending account (anyone may submit). */
  readonly recovery: PqKeyRecovery;
  readonly registry: DeviceRegistry;
  readonly deviceId: string;
  /** The committed post-quantum key. */
  readonly pqSigner: PqSigner;
  /** The key the device moves to: it signs RotateKey (possession). */
  readonly newKey: KeyStore;
  readonly deadline: bigint;
}

/** A recovery request, signed and checked off chain with the contract's rules. */
export interface PreparedRecovery {
  readonly request: PqRecoveryRequest;
  readonly check: PqRecoveryCheck;
  /** The LMS leaf the request spent (null for ML-DSA-44). */
  readonly leaf: number | null;
  /** The device's key hash before the recovery. */
  readonly oldKeyHash: Hex;
}

/**
 * Signs a recovery: the committed key signs RecoverKey{deviceId, keyHash(newKey), the commitment's nonce,
 * deadline}, the new key RotateKey{deviceId, keyHash(newKey), the registry's nonce, deadline}; the request
 * is then checked with verifyPqRecovery against the commitment on chain. What the chain would refuse
 * before a signature (no commitment, another scheme or key, an unknown device, the new key in use) is
 * refused before the post-quantum key signs, so no LMS leaf is spent on it.
 */
export async function prepareKeyRecovery(options: KeyRecoveryOptions): Promise<PreparedRecovery> {
  const { recovery, registry, pqSigner, newKey } = options;
  const deviceId = asHex(options.deviceId, "device id", 32);
  const domain = await recoveryDomain(recovery, registry);
  const info = await registry.deviceInfo(deviceId);
  if (Number(info.status) === 0) throw contractError("DeviceRegistryUnknownDevice", [deviceId]);
  const commitment = await pqCommitmentOf(recovery, deviceId);
  if (commitment.schemeName === null) {
    throw pqContractError("PqKeyRecoveryNotCommitted", [deviceId]);
  }
  const given = pqKeyCommitment(commitment.schemeName, pqSigner.publicKey);
  if (commitment.schemeName !== pqSigner.scheme || given !== commitment.commitment) {
    throw pqContractError("PqKeyRecoveryWrongPqKey", [
      deviceId,
      commitment.commitment,
      pqKeyCommitment(pqSigner.scheme, pqSigner.publicKey),
    ]);
  }
  const newKeyHash = keyHash(newKey.deviceKey);
  const owner = (await registry.keyOwner(newKeyHash)).toLowerCase();
  if (owner !== ZeroHash) throw contractError("DeviceRegistryKeyTaken", [newKeyHash, owner]);
  const nonce = BigInt(commitment.nonce);
  const recoverDigest = digest(domain, "RecoverKey", {
    deviceId,
    newKeyHash,
    nonce,
    deadline: options.deadline,
  });
  const registryNonce = info.nonce;
  const possession = await new DeviceSigner(newKey, domain, deviceId).signRotateKey(
    newKey.deviceKey,
    registryNonce,
    options.deadline,
  );
  const { signature, leaf } = pqSigner.sign(fromHex(recoverDigest));
  const request: PqRecoveryRequest = {
    deviceId,
    newKey: newKey.deviceKey,
    deadline: options.deadline,
    scheme: pqSigner.scheme,
    nonce,
    pqPublicKey: pqSigner.publicKey,
    pqSignature: toHex(signature),
    registryNonce,
    newKeySignature: possession.signature,
  };
  const check = verifyPqRecovery(request, { domain, commitment, registryNonce });
  return { request, check, leaf, oldKeyHash: info.keyHash.toLowerCase() as Hex };
}

export interface KeyRecoveryResult extends TxResult {
  readonly deviceId: Hex;
  readonly scheme: PqSchemeName;
  readonly oldKeyHash: Hex;
  readonly newKeyHash: Hex;
  /** The commitment's nonce the recovery spent. */
  readonly nonce: bigint;
  /** The LMS leaf that signed. */
  readonly leaf: number | null;
}

/**
 * Recovers a device to `newKey` on chain with its committed key (prepareKeyRecovery, then
 * PqKeyRecovery.recoverKey): the old key is retired, the new key signs for the device from this block.
 * LMS only: for an ML-DSA-44 commitment the chain refuses (PqKeyRecoverySchemeNotOnChain) until it has a
 * precompile; use prepareKeyRecovery and have the request checked off chain.
 */
export async function recoverDeviceKey(options: KeyRecoveryOptions): Promise<KeyRecoveryResult> {
  const prepared = await prepareKeyRecovery(options);
  return submitKeyRecovery(options.recovery, prepared);
}

/** Submits a prepared recovery to PqKeyRecovery.recoverKey. */
export async function submitKeyRecovery(
  recovery: PqKeyRecovery,
  prepared: PreparedRecovery,
): Promise<KeyRecoveryResult> {
  const { request } = prepared;
  const tx = await pqSend(() =>
    recovery.recoverKey(
      request.deviceId,
      { keyType: request.newKey.keyType, key: request.newKey.key },
      request.deadline,
      request.newKeySignature,
      request.pqPublicKey,
      request.pqSignature,
    ),
  );
  return {
    ...txOf(tx),
    deviceId: request.deviceId,
    scheme: request.scheme,
    oldKeyHash: prepared.oldKeyHash,
    newKeyHash: prepared.check.newKeyHash,
    nonce: request.nonce,
    leaf: prepared.leaf,
  };
}
