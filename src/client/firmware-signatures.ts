import { keccak256, ZeroHash } from "ethers";
import {
  InvalidInputError,
  LMS_ON_CHAIN_ATTEMPTS,
  asHex,
  fromHex,
  lmsVerify,
  toHex,
  type Hex,
} from "../protocol/index.js";
import type { LmsSigned, LmsStatefulSignOptions } from "../device/lms-signer.js";
import {
  FirmwareSignatures__factory,
  type FirmwareSignatures,
} from "../../types/ethers-contracts/index.js";
import { decodePqError, pqContractError } from "./pq-errors.js";
import { type DeviceRegistry, registryRunner } from "./registry.js";
import { send, type TxResult } from "./transaction.js";

export type { FirmwareSignatures };

/**
 * Post-quantum signatures of firmware reference values (FirmwareSignatures): a maker registers its LMS
 * public key once (setMakerLmsKey), then signs each release's manifest, FirmwareRelease{maker, model,
 * version, measurement} under the registry's domain, with it (signFirmwareRelease). A PQ signature adds
 * to a reference value; it never changes whether a device on it is trusted.
 */

/** FirmwareSignatures at `address`, sending through (or reading with) the registry's runner. */
export function firmwareSignaturesAt(
  address: string,
  registry: DeviceRegistry,
): FirmwareSignatures {
  return FirmwareSignatures__factory.connect(
    asHex(address, "FirmwareSignatures address", 20),
    registryRunner(registry),
  );
}

async function pqSend(call: Parameters<typeof send>[0]): ReturnType<typeof send> {
  try {
    return await send(call);
  } catch (err: unknown) {
    throw decodePqError(err) ?? err;
  }
}

export interface SetMakerLmsKeyResult extends TxResult {
  readonly maker: number;
  readonly publicKey: Hex;
  /** keccak256 of the public key: what FirmwareSignatures.lmsKeyOf returns from now on. */
  readonly lmsKeyHash: Hex;
}

/** The maker (the contract's runner: the maker's signing account) registers its LMS public key. */
export async function setMakerLmsKey(
  firmwareSignatures: FirmwareSignatures,
  publicKey: Hex,
): Promise<SetMakerLmsKeyResult> {
  const key = asHex(publicKey, "LMS public key");
  const tx = await pqSend(() => firmwareSignatures.setLmsKey(key));
  let maker = 0;
  for (const log of tx.receipt.logs) {
    const parsed = firmwareSignatures.interface.parseLog(log);
    if (parsed?.name === "MakerLmsKeySet") maker = Number(parsed.args.maker);
  }
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    maker,
    publicKey: key,
    lmsKeyHash: keccak256(key) as Hex,
  };
}

/**
 * Checks that `publicKey` is maker `maker`'s registered LMS key (FirmwareSignaturesNoLmsKey or
 * FirmwareSignaturesWrongLmsKey otherwise), before anything is published or signed; returns its hash.
 */
export async function requireRegisteredLmsKey(
  firmwareSignatures: FirmwareSignatures,
  maker: number,
  publicKey: Hex,
): Promise<Hex> {
  const registered = (await firmwareSignatures.lmsKeyOf(maker)).toLowerCase() as Hex;
  if (registered === ZeroHash) throw pqContractError("FirmwareSignaturesNoLmsKey", [maker]);
  const given = keccak256(publicKey) as Hex;
  if (given !== registered) {
    throw pqContractError("FirmwareSignaturesWrongLmsKey", [maker, registered, given]);
  }
  return given;
}

/**
 * What signs a manifest: an LmsStatefulSigner (each signature spends a leaf, durably, first; it carries the
 * cheapest of LMS_ON_CHAIN_ATTEMPTS randomizers, since the chain verifies it).
 */
export interface LmsDigestSigner {
  readonly publicKeyHex: Hex;
  sign(message: Uint8Array, options?: LmsStatefulSignOptions): LmsSigned;
}

export interface SignFirmwareOptions {
  /** Connected to the sending account (anyone may submit the maker's signature). */
  readonly firmwareSignatures: FirmwareSignatures;
  readonly registry: DeviceRegistry;
  readonly firmwareId: number;
  /** The version the firmware was published as. */
  readonly version: string;
  /** The maker's registered LMS key. */
  readonly signer: LmsDigestSigner;
}

export interface SignFirmwareResult extends TxResult {
  readonly firmwareId: number;
  readonly maker: number;
  readonly version: string;
  /** The manifest digest the LMS key signed. */
  readonly digest: Hex;
  readonly leaf: number;
  readonly lmsKeyHash: Hex;
  readonly pqSigned: boolean;
}

/**
 * Signs a published release's manifest with the maker's LMS key and submits it (signFirmware). What the
 * chain would refuse before a signature (an unknown firmware or version, no key or another key
 * registered, a release already signed) is refused before the key signs, so no leaf is spent on it; the
 * signature is verified here before it is sent.
 */
export async function signFirmwareRelease(
  options: SignFirmwareOptions,
): Promise<SignFirmwareResult> {
  const { firmwareSignatures, registry, firmwareId, version, signer } = options;
  if (!Number.isInteger(firmwareId) || firmwareId <= 0) {
    throw new InvalidInputError(`the firmware id must be 1 or more, got ${String(firmwareId)}`);
  }
  const already = await firmwareSignatures.pqSignatureOf(firmwareId);
  if (already.lmsKeyHash !== ZeroHash) {
    throw pqContractError("FirmwareSignaturesAlreadySigned", [firmwareId]);
  }
  let digest: Hex;
  try {
    digest = (await firmwareSignatures.manifestDigest(firmwareId, version)) as Hex;
  } catch (err: unknown) {
    throw decodePqError(err) ?? err;
  }
  const [f] = await registry.firmware(firmwareId);
  const maker = Number(f.maker);
  const given = await requireRegisteredLmsKey(firmwareSignatures, maker, signer.publicKeyHex);
  const message = fromHex(digest);
  const { q, signature } = signer.sign(message, { attempts: LMS_ON_CHAIN_ATTEMPTS });
  if (!lmsVerify(fromHex(signer.publicKeyHex), message, signature)) {
    throw pqContractError("FirmwareSignaturesInvalidSignature", [firmwareId]);
  }
  const tx = await pqSend(() =>
    firmwareSignatures.signFirmware(firmwareId, version, signer.publicKeyHex, toHex(signature)),
  );
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    firmwareId,
    maker,
    version,
    digest,
    leaf: q,
    lmsKeyHash: given,
    pqSigned: await firmwareSignatures.isPqSigned(firmwareId),
  };
}
