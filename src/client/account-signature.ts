import { AbiCoder, concat, getAddress, keccak256, toBeHex, type BaseWallet } from "ethers";
import { InvalidInputError, KeyType, asHex, type Hex } from "../protocol/index.js";
import type { KeyStore } from "../device/key-store.js";
import { deviceSigner } from "./account-setup.js";
import { DUMMY_ECDSA_SIGNATURE } from "./user-operation.js";

/**
 * The multisignature a DeviceAccount validates: `abi.encode(bytes[] signers, bytes[] signatures)` with the
 * signers sorted ascending by keccak256(signer). A device signer is `verifier ‖ deviceId` and signs through
 * its key store (software or PKCS#11) with its curve's scheme — P-256: ECDSA-P256-SHA256 over the 32-byte
 * userOpHash, low-s; secp256k1: r‖s‖v over the hash itself — in the blob `uint8(keyType) ‖ key ‖
 * signature`. The operator signer is its 20-byte address with plain ECDSA over the hash (no prefix).
 */

/** A device that signs: its id on the registry and the key store holding its current key. */
export interface DeviceSigningKey {
  readonly deviceId: string;
  readonly store: KeyStore;
}

/** An EOA that signs a raw 32-byte hash (no EIP-191 prefix): an ethers Wallet, or a hardware signer. */
export interface RawHashSigner {
  readonly address: string;
  signHash(hash: Hex): Promise<Hex>;
}

/** A Wallet (or HDNodeWallet) as a RawHashSigner: its signing key signs the hash as is. */
export function walletHashSigner(wallet: BaseWallet): RawHashSigner {
  return {
    address: wallet.address,
    signHash: (hash) => Promise.resolve(wallet.signingKey.sign(hash).serialized as Hex),
  };
}

export interface AccountSigners {
  /** The DeviceSignerVerifier of the account (its VERIFIER). */
  readonly verifier: string;
  readonly devices?: readonly DeviceSigningKey[] | undefined;
  /** The operator (or any EOA signer of the account). */
  readonly operator?: RawHashSigner | undefined;
}

interface Entry {
  readonly signer: Hex;
  readonly signature: Hex;
}

function encode(entries: Entry[]): Hex {
  const sorted = [...entries].sort((a, b) => {
    const ha = keccak256(a.signer);
    const hb = keccak256(b.signer);
    return ha < hb ? -1 : ha > hb ? 1 : 0;
  });
  for (let i = 1; i < sorted.length; i++) {
    if (keccak256((sorted[i] as Entry).signer) === keccak256((sorted[i - 1] as Entry).signer)) {
      throw new InvalidInputError(
        `signer ${(sorted[i] as Entry).signer} is given twice: each signs once`,
      );
    }
  }
  return AbiCoder.defaultAbiCoder().encode(
    ["bytes[]", "bytes[]"],
    [sorted.map((e) => e.signer), sorted.map((e) => e.signature)],
  ) as Hex;
}

function checkSigners(signers: AccountSigners): void {
  if ((signers.devices ?? []).length === 0 && signers.operator === undefined) {
    throw new InvalidInputError(
      "nobody signs: give a device key (--key-file, or --token/--label) or the operator's key",
    );
  }
}

function deviceBlob(store: KeyStore, signature: Hex): Hex {
  return concat([toBeHex(store.deviceKey.keyType, 1), store.deviceKey.key, signature]) as Hex;
}

/** The multisignature of `signers` over `hash` (a userOpHash), sorted as the account requires. */
export async function signAccountOperation(hash: Hex, signers: AccountSigners): Promise<Hex> {
  checkSigners(signers);
  const digest = asHex(hash, "userOpHash", 32);
  const entries: Entry[] = [];
  for (const d of signers.devices ?? []) {
    // One at a time: a PKCS#11 session signs one digest at a time anyway.
    const signature = await d.store.signDigest(digest);
    entries.push({
      signer: deviceSigner(signers.verifier, d.deviceId),
      signature: deviceBlob(d.store, signature),
    });
  }
  if (signers.operator !== undefined) {
    entries.push({
      signer: getAddress(signers.operator.address).toLowerCase() as Hex,
      signature: await signers.operator.signHash(digest),
    });
  }
  return encode(entries);
}

/**
 * A P-256 signature that parses (r and s in range, low-s) but signs nothing: with the device's real key it
 * takes validation down the full P-256 path (with the precompile, one call more than a valid signature),
 * and DeviceKeyLib.isValidSignature answers false without reverting.
 */
export const DUMMY_P256_SIGNATURE: Hex = `0x${"11".repeat(32)}${"22".repeat(32)}`;

/**
 * A multisignature of the same shape and length as signAccountOperation's, for
 * eth_estimateUserOperationGas: the same signers with their real keys and dummy signatures, so validation
 * reads and verifies what the real one will (and fails without reverting) and execution weighs the same
 * devices' trust.
 */
export function dummyAccountSignature(signers: AccountSigners): Hex {
  checkSigners(signers);
  const entries: Entry[] = (signers.devices ?? []).map((d) => ({
    signer: deviceSigner(signers.verifier, d.deviceId),
    signature: deviceBlob(
      d.store,
      d.store.deviceKey.keyType === KeyType.P256 ? DUMMY_P256_SIGNATURE : DUMMY_ECDSA_SIGNATURE,
    ),
  }));
  if (signers.operator !== undefined) {
    entries.push({
      signer: getAddress(signers.operator.address).toLowerCase() as Hex,
      signature: DUMMY_ECDSA_SIGNATURE,
    });
  }
  return encode(entries);
}
