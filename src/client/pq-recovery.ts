import type { KeyObject } from "node:crypto";
import { ZeroHash, getAddress, type Signer } from "ethers";
import {
  DeviceTrustError,
  InvalidInputError,
  LMS_ON_CHAIN_ATTEMPTS,
  ML_DSA_44_PUBLIC_KEY_BYTES,
  PQ_SCHEMES,
  asHex,
  digest,
  fromHex,
  keyHash,
  mlDsa44RawPublicKey,
  mlDsa44Sign,
  parseLmsPublicKey,
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
  verifyPqSignature,
  type PqCommitmentState,
  type PqRecoveryContext,
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
 * (prepareKeyRecovery + verifyPqRecovery) until the EVM verifies ML-DSA. The committed key also replaces
 * itself (replacePqKey: LMS on chain; an ML-DSA-44 key cannot until then). Reverts come back as
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

/**
 * The device's commitment, once `pqSigner` is checked to hold the committed key: PqKeyRecoveryNotCommitted
 * or PqKeyRecoveryWrongPqKey as the chain would say it, before the key signs anything.
 */
async function committedKeyOf(
  recovery: PqKeyRecovery,
  deviceId: Hex,
  pqSigner: PqSigner,
): Promise<PqCommitmentInfo & { readonly schemeName: PqSchemeName }> {
  const commitment = await pqCommitmentOf(recovery, deviceId);
  const { schemeName } = commitment;
  if (schemeName === null) throw pqContractError("PqKeyRecoveryNotCommitted", [deviceId]);
  const given = pqKeyCommitment(schemeName, pqSigner.publicKey);
  if (schemeName !== pqSigner.scheme || given !== commitment.commitment) {
    throw pqContractError("PqKeyRecoveryWrongPqKey", [
      deviceId,
      commitment.commitment,
      pqKeyCommitment(pqSigner.scheme, pqSigner.publicKey),
    ]);
  }
  return { ...commitment, schemeName };
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
 * keccak256(scheme ‖ publicKey), deadline} and PqKeyRecovery records the commitment. Once per device, and
 * the chain keeps only the hash: a key its scheme could never verify (a malformed LMS key, an ML-DSA-44 key
 * of another size) is refused before the device signs.
 */
export async function commitPqKey(options: CommitPqKeyOptions): Promise<CommitPqKeyResult> {
  const { recovery, registry, device, scheme } = options;
  const publicKey = asHex(options.publicKey, "post-quantum public key");
  requireUsableKey(scheme, publicKey, "committed");
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
  const commitment = await committedKeyOf(recovery, deviceId, pqSigner);
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

export interface ReplacePqKeyOptions {
  /** Connected to the sending account (anyone may submit). */
  readonly recovery: PqKeyRecovery;
  readonly registry: DeviceRegistry;
  readonly deviceId: string;
  /** The committed post-quantum key: it signs ReplacePqKey, and is no longer the device's after it. */
  readonly pqSigner: PqSigner;
  /** The key that replaces it: its scheme and public key (an LMS key file's, or a raw ML-DSA-44 key). */
  readonly newScheme: PqSchemeName;
  readonly newPublicKey: Hex;
  readonly deadline: bigint;
}

export interface ReplacePqKeyResult extends TxResult {
  readonly deviceId: Hex;
  /** The new commitment: keccak256(scheme ‖ publicKey) of the new key. */
  readonly scheme: PqSchemeName;
  readonly commitment: Hex;
  readonly publicKey: Hex;
  /** The commitment it replaced. */
  readonly previousScheme: PqSchemeName;
  readonly previousCommitment: Hex;
  /** The commitment's nonce the replacement spent (PqKeyReplaced's nonce). */
  readonly nonce: bigint;
  /** The LMS leaf that signed. */
  readonly leaf: number | null;
}

/**
 * A new key must be one its scheme can later verify: the chain keeps only a hash, so a malformed key would
 * leave the device with a way back that no signature opens.
 */
function requireUsableKey(scheme: PqSchemeName, publicKey: Hex, which: "new" | "committed"): void {
  const bytes = fromHex(publicKey);
  const option = which === "new" ? "--new-pq-key" : "--pq-key";
  if (scheme === "lms") {
    parseLmsPublicKey(bytes, `the ${which} LMS public key`);
  } else if (bytes.length !== ML_DSA_44_PUBLIC_KEY_BYTES) {
    throw new InvalidInputError(
      `the ${which} ML-DSA-44 public key is ${String(bytes.length)} bytes, not ${String(ML_DSA_44_PUBLIC_KEY_BYTES)}: give the key's PEM or its raw FIPS 204 encoding (${option})`,
    );
  }
}

/**
 * Replaces the device's committed post-quantum key with another, signed by the committed key alone:
 * ReplacePqKey{deviceId, new scheme, keccak256(new scheme ‖ new key), the commitment's nonce, deadline}
 * (PqKeyRecovery.replacePqKey; a leaking or running-out LMS key moves the way back to a fresh one). What the
 * chain would refuse before a signature (no commitment, another key, a key no contract verifies, a
 * deadline already passed, the committed key again) is refused before the key signs, so no LMS leaf is
 * spent on it. An ML-DSA-44 commitment cannot replace itself until the EVM verifies ML-DSA: nothing but
 * the committed key's signature moves a commitment (there is no governance path, unlike a recovery), so
 * it is refused with PqKeyRecoverySchemeNotOnChain and the committed key stays the device's way back.
 */
export async function replacePqKey(options: ReplacePqKeyOptions): Promise<ReplacePqKeyResult> {
  const { recovery, registry, pqSigner, newScheme, deadline } = options;
  const deviceId = asHex(options.deviceId, "device id", 32);
  const newPublicKey = asHex(options.newPublicKey, "new post-quantum public key");
  const domain = await recoveryDomain(recovery, registry);
  const current = await committedKeyOf(recovery, deviceId, pqSigner);
  if (current.schemeName !== "lms") {
    throw pqContractError("PqKeyRecoverySchemeNotOnChain", [PQ_SCHEMES[current.schemeName]]);
  }
  requireUsableKey(newScheme, newPublicKey, "new");
  const commitment = pqKeyCommitment(newScheme, newPublicKey);
  if (commitment === current.commitment) {
    throw new InvalidInputError(
      `device ${deviceId} is already committed to this ${newScheme} key (${commitment}): nothing to replace; give the new key's file (--new-pq-key)`,
    );
  }
  const now = BigInt((await registryRunner(registry).provider?.getBlock("latest"))?.timestamp ?? 0);
  // The next block is later than the latest: a deadline not after it can only revert, after a leaf signed.
  if (deadline <= now) throw pqContractError("PqKeyRecoveryExpired", [deadline, now]);
  const nonce = BigInt(current.nonce);
  const replaceDigest = digest(domain, "ReplacePqKey", {
    deviceId,
    scheme: PQ_SCHEMES[newScheme],
    commitment,
    nonce,
    deadline,
  });
  const { signature, leaf } = pqSigner.sign(fromHex(replaceDigest));
  // The chain would refuse a signature that does not verify: say so without paying for the transaction.
  if (!verifyPqSignature(pqSigner.scheme, pqSigner.publicKey, replaceDigest, signature)) {
    throw pqContractError("PqKeyRecoveryInvalidPqSignature", [deviceId]);
  }
  const tx = await pqSend(() =>
    recovery.replacePqKey(
      deviceId,
      PQ_SCHEMES[newScheme],
      commitment,
      deadline,
      pqSigner.publicKey,
      toHex(signature),
    ),
  );
  return {
    ...txOf(tx),
    deviceId,
    scheme: newScheme,
    commitment,
    publicKey: newPublicKey,
    previousScheme: current.schemeName,
    previousCommitment: current.commitment,
    nonce,
    leaf,
  };
}

/** What a recovery request of a device is checked against now, read from the chain. */
export interface RecoveryState {
  /** verifyPqRecovery's context: the domain, the device's commitment, its registry nonce, the latest block's time. */
  readonly context: PqRecoveryContext & { readonly now: bigint; readonly registryNonce: bigint };
  /** Whether the registry knows the device (an unknown one has no commitment either). */
  readonly known: boolean;
  /** The device's current key: the one a recovery retires. */
  readonly oldKeyHash: Hex;
}

/**
 * Reads what verifyPqRecovery checks a request of `deviceId` against: its commitment (PqKeyRecovery), its
 * registry nonce and key, and the latest block's time. `domain` defaults to the registry's, checked to be
 * the one `recovery` recovers (a caller that checked it once passes it).
 */
export async function recoveryStateOf(
  recovery: PqKeyRecovery,
  registry: DeviceRegistry,
  deviceId: Hex,
  domain?: Domain,
): Promise<RecoveryState> {
  const provider = registryRunner(registry).provider;
  if (provider === null) {
    throw new InvalidInputError("the registry contract has no provider: connect it to a signer");
  }
  const [resolved, commitment, info, block] = await Promise.all([
    domain ?? recoveryDomain(recovery, registry),
    pqCommitmentOf(recovery, deviceId),
    registry.deviceInfo(deviceId),
    provider.getBlock("latest"),
  ]);
  if (block === null) {
    throw new DeviceTrustError(
      "NO_LATEST_BLOCK",
      "the node returned no latest block: check the node",
    );
  }
  return {
    context: {
      domain: resolved,
      commitment,
      now: BigInt(block.timestamp),
      registryNonce: info.nonce,
    },
    known: Number(info.status) !== 0,
    oldKeyHash: info.keyHash.toLowerCase() as Hex,
  };
}

export interface ApplyRecoveryOptions {
  /** The device's PqKeyRecovery (its commitment is read there). */
  readonly recovery: PqKeyRecovery;
  /** Connected to the account that applies: for ML-DSA-44, one that holds the registry's KEY_RECOVERY_ROLE. */
  readonly registry: DeviceRegistry;
  /** The request, as the device or its holder signed it (device recover-key, a gateway's /recoveries). */
  readonly request: PqRecoveryRequest;
}

export interface ApplyRecoveryResult extends TxResult {
  readonly deviceId: Hex;
  readonly scheme: PqSchemeName;
  readonly oldKeyHash: Hex;
  readonly newKeyHash: Hex;
  /** Where it was applied: PqKeyRecovery (LMS, verified on chain) or the registry directly (ML-DSA-44). */
  readonly via: "PqKeyRecovery" | "DeviceRegistry";
}

/**
 * Applies a recovery request someone else signed and checked, after checking it again against the chain
 * now (verifyPqRecovery: the commitment, both nonces, the deadline against the latest block, both
 * signatures). LMS goes through PqKeyRecovery.recoverKey, which verifies it on chain; anyone may send it.
 * ML-DSA-44, which no contract verifies until the EVM has a precompile, is applied by an account holding
 * the registry's KEY_RECOVERY_ROLE (governance) through the registry's recoverKey, which checks the new
 * key's possession signature and retires the old key: the post-quantum signature is verified here, with
 * node:crypto, and nowhere on chain, so that role is trusted with it. The new key must be unused. Throws a
 * PqRecoveryError for a request that fails its check and sends nothing then.
 */
export async function applyRecoveryRequest(
  options: ApplyRecoveryOptions,
): Promise<ApplyRecoveryResult> {
  const { recovery, registry, request } = options;
  const { context, known, oldKeyHash } = await recoveryStateOf(
    recovery,
    registry,
    request.deviceId,
  );
  if (!known) throw contractError("DeviceRegistryUnknownDevice", [request.deviceId]);
  const check = verifyPqRecovery(request, context);
  const owner = (await registry.keyOwner(check.newKeyHash)).toLowerCase();
  if (owner !== ZeroHash) throw contractError("DeviceRegistryKeyTaken", [check.newKeyHash, owner]);
  const done = { deviceId: request.deviceId, scheme: request.scheme, oldKeyHash };
  if (request.scheme === "lms") {
    const recovered = await submitKeyRecovery(recovery, { request, check, leaf: null, oldKeyHash });
    return { ...txOf(recovered), ...done, newKeyHash: check.newKeyHash, via: "PqKeyRecovery" };
  }
  const role = await registry.KEY_RECOVERY_ROLE();
  const runner = registryRunner(registry);
  if (!("getAddress" in runner)) {
    throw new InvalidInputError("the registry contract is not connected to a signer: give --from");
  }
  const sender = await (runner as Signer).getAddress();
  if (!(await registry.hasRole(role, sender))) {
    throw contractError("AccessControlUnauthorizedAccount", [sender, role]);
  }
  const tx = await send(() =>
    registry.recoverKey(
      request.deviceId,
      { keyType: request.newKey.keyType, key: request.newKey.key },
      request.deadline,
      request.newKeySignature,
    ),
  );
  return { ...txOf(tx), ...done, newKeyHash: check.newKeyHash, via: "DeviceRegistry" };
}
