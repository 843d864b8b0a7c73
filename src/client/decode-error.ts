import { id, ZeroHash } from "ethers";
import { DeviceTrustError, KeyType } from "../protocol/index.js";
import { firmwareStatusName } from "../verify/appraise.js";
import { DeviceRegistry__factory } from "../../types/ethers-contracts/index.js";

/**
 * A revert of a DeviceTrust contract, decoded: `code` is the custom error's name
 * (e.g. "DeviceRegistryExpired"), `args` its arguments, and the message says what to do.
 */
export class ContractError extends DeviceTrustError {
  readonly args: readonly unknown[];

  constructor(
    code: string,
    args: readonly unknown[],
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = "ContractError";
    this.args = args;
  }
}

const STATUS_NAMES = ["Unknown", "Active", "Suspended", "Revoked", "Decommissioned"] as const;
const KEY_TYPE_NAMES: Readonly<Record<number, string>> = {
  [KeyType.None]: "None",
  [KeyType.Secp256k1]: "secp256k1",
  [KeyType.P256]: "P-256",
};

export function statusName(status: bigint | number): string {
  return STATUS_NAMES[Number(status)] ?? `status ${String(status)}`;
}

function keyTypeName(keyType: unknown): string {
  return KEY_TYPE_NAMES[Number(keyType)] ?? `key type ${String(keyType)}`;
}

const ROLE_NAMES: ReadonlyMap<string, string> = new Map([
  [ZeroHash, "DEFAULT_ADMIN_ROLE"],
  [id("GOVERNOR_ROLE"), "GOVERNOR_ROLE"],
  [id("SUSPENDER_ROLE"), "SUSPENDER_ROLE"],
]);

function roleName(role: unknown): string {
  const r = String(role).toLowerCase();
  return ROLE_NAMES.get(r) ?? `role ${r}`;
}

function s(value: unknown): string {
  return typeof value === "bigint" ? value.toString() : String(value);
}

function when(seconds: unknown): string {
  const n = Number(seconds);
  if (!Number.isSafeInteger(n)) return s(seconds);
  return `${s(seconds)} (${new Date(n * 1000).toISOString()})`;
}

/** One sentence per custom error: what happened, then what to do. Arguments in declaration order. */
const EXPLAIN: Readonly<Record<string, (a: readonly unknown[]) => string>> = {
  // ------------------------------------------------------------ DeviceRegistry
  DeviceRegistryZeroAddress: () =>
    "an address argument is the zero address: pass a real operator, recipient or maker signer",
  DeviceRegistryUnknownMaker: (a) =>
    `maker ${s(a[0])} does not exist: check the maker id (governance adds makers with maker add)`,
  DeviceRegistryMakerRemoved: (a) =>
    `maker ${s(a[0])} was removed by governance: its endorsements and batches no longer register devices; get an endorsement from an active maker`,
  DeviceRegistrySignerIsMaker: (a) =>
    `address ${s(a[0])} is already the signer of maker ${s(a[1])}: give each maker its own key`,
  DeviceRegistryTooManyMakers: () =>
    "the registry already holds 65535 makers: no more can be added",
  DeviceRegistryNotMaker: (a) =>
    `${s(a[0])} is not the signer of an active maker (nor governance): send this from the maker's key`,
  DeviceRegistryInvalidMakerSignature: (a) =>
    `the endorsement is not a valid signature of maker ${s(a[0])} over device ${s(a[1])} and this model, chain and registry: have the maker sign it again (maker endorse) with the right --model`,
  DeviceRegistryBatchExists: (a) => `batch ${s(a[0])} is already published: nothing to do`,
  DeviceRegistryUnknownBatch: (a) =>
    `batch ${s(a[0])} was never published on this registry: have the maker publish it (maker batch --publish) first`,
  DeviceRegistryBatchRevoked: (a) =>
    `batch ${s(a[0])} was revoked by its maker or governance: its devices cannot register with it`,
  DeviceRegistryInvalidBatchProof: (a) =>
    `the proof does not show device ${s(a[1])} with this model in batch ${s(a[0])}: use the proof and model from that batch's manifest`,
  DeviceRegistryExpired: (a) =>
    `the signed deadline ${when(a[0])} passed at ${when(a[1])}: sign a new message with a later --deadline`,
  DeviceRegistryKeyTaken: (a) =>
    `key ${s(a[0])} belongs or belonged to device ${s(a[1])}: a key is never reused, generate a new one (device keygen)`,
  DeviceRegistryInvalidDeviceSignature: (a) =>
    `the device signature does not match device ${s(a[0])}'s key over this message, chain and registry (or names another operator or deadline): sign again with the device's current key`,
  DeviceRegistryInvalidNewKeySignature: (a) =>
    `the new key ${s(a[1])} did not sign the rotation of device ${s(a[0])}: the new key must sign the same RotateKey message`,
  DeviceRegistryUnknownDevice: (a) =>
    `device ${s(a[0])} is not registered on this registry: check the device id, the --registry address and the network`,
  DeviceRegistryWrongKey: (a) =>
    `key ${s(a[1])} is not device ${s(a[0])}'s current key: use the key file the device holds now (after a rotation, the new one)`,
  DeviceRegistryInvalidNonce: (a) =>
    `device ${s(a[0])} expects nonce ${s(a[1])} but the message has ${s(a[2])}: read the nonce (device show) and sign again`,
  DeviceRegistryNotActive: (a) =>
    `device ${s(a[0])} is ${statusName(Number(a[1]))}, not Active: only an active device can do this (governance reinstates suspended devices)`,
  DeviceRegistryNotSuspended: (a) =>
    `device ${s(a[0])} is ${statusName(Number(a[1]))}, not Suspended: only a suspended device can be reinstated`,
  DeviceRegistryTerminal: (a) =>
    `device ${s(a[0])} is ${statusName(Number(a[1]))}, which is final: nothing can change it; register a new device with a new key`,
  DeviceRegistryNotOperator: (a) =>
    `${s(a[1])} is not the operator of device ${s(a[0])}: send this from the operator's account (--from)`,
  DeviceRegistryUnauthorized: (a) =>
    `${s(a[1])} may not do this to device ${s(a[0])}: only its operator, governance (or for suspend the SUSPENDER role) may`,
  DeviceRegistryNoPendingTransfer: (a) =>
    `device ${s(a[0])} has no pending custody transfer: the current operator starts one with device transfer --to`,
  DeviceRegistryNotPendingOperator: (a) =>
    `${s(a[1])} is not the pending operator of device ${s(a[0])}: accept from the account named in device transfer --to`,
  // ------------------------------------------------------------ IDeviceAttestation
  AttestationNotMaker: (a) =>
    Number(a[0]) === 0
      ? `${s(a[1])} is not the signing key of an active maker: publish firmware from the maker's account (--from)`
      : `${s(a[1])} is not the key of maker ${s(a[0])}, which owns this firmware: send this from that maker's account (governance may only revoke)`,
  AttestationZeroMeasurement: () =>
    "the measurement is zero: compute it from the firmware images (firmware publish --images)",
  AttestationVersionExists: (a) =>
    `maker ${s(a[0])} already published version "${s(a[2])}" of model ${s(a[1])}: a published version never changes; publish the new build under a new --firmware-version`,
  AttestationMeasurementExists: (a) =>
    `maker ${s(a[0])} already published measurement ${s(a[2])} for model ${s(a[1])} under another version: the images are identical to that release (firmware list shows it)`,
  AttestationUnknownFirmware: (a) =>
    `firmware ${s(a[0])} does not exist: check the id (firmware list)`,
  AttestationUnknownVersion: (a) =>
    `maker ${s(a[0])} published no version "${s(a[2])}" of model ${s(a[1])}: check --model and --firmware-version (firmware list)`,
  AttestationInvalidStatusChange: (a) =>
    `firmware ${s(a[0])} is ${firmwareStatusName(Number(a[1]))} and cannot become ${firmwareStatusName(Number(a[2]))}: only Good firmware is deprecated, and a revocation is final`,
  AttestationSunsetInPast: (a) =>
    `the sunset ${when(a[0])} is not after the block time ${when(a[1])}: give a future --sunset (or revoke to distrust at once)`,
  AttestationUnknownMeasurement: (a) =>
    `device ${s(a[0])} measured ${s(a[1])}, which no maker published: it runs unknown code, or its maker has not published this build yet (firmware publish with the same images)`,
  AttestationMeasurementOfOtherModel: (a) =>
    `device ${s(a[0])} measured ${s(a[1])}, the firmware ${s(a[2])} of another maker or model: install its own model's firmware`,
  AttestationFirmwareNotTrusted: (a) =>
    `device ${s(a[0])} runs firmware ${s(a[1])}, which is ${firmwareStatusName(Number(a[2]))}${Number(a[2]) === 2 ? " past its sunset" : ""}: update it to a good version, reboot and attest again`,
  AttestationInvalidSignature: (a) =>
    `the evidence is not signed by device ${s(a[0])}'s key over this message, chain and registry: sign it again with the device's current key`,
  AttestationFutureTimestamp: (a) =>
    `the evidence timestamp ${when(a[0])} is after the block time ${when(a[1])}: the device's clock is ahead; date evidence with the chain's latest block time`,
  AttestationTooOld: (a) =>
    `the evidence timestamp ${when(a[0])} is more than ${s(a[2])} s before the block time ${when(a[1])}: sign fresh evidence and submit it at once`,
  AttestationNotNewer: (a) =>
    `the evidence timestamp ${when(a[1])} is not after device ${s(a[0])}'s latest evidence (${when(a[2])}): a replay, or two reports in one second; sign new evidence later`,
  AttestationBootCountDecreased: (a) =>
    `the boot counter ${s(a[1])} is below device ${s(a[0])}'s recorded ${s(a[2])}: the counter went backwards (a reset or a replayed old boot); restore the device's boot state`,
  AttestationStaleChallenge: (a) =>
    Number(a[2]) === 0
      ? `challenge ${s(a[1])} is not device ${s(a[0])}'s pending issued nonce (each is used once): issue a new one (device attest --challenge nonce)`
      : `challenge ${s(a[1])} is not the hash of block ${s(a[2])} among the last 256 blocks: take a recent block's hash and submit at once`,
  AttestationNotOperator: (a) =>
    `${s(a[1])} is not the operator of device ${s(a[0])} (nor governance): only they may issue it a challenge; send from the operator's account or use --challenge block`,
  // ------------------------------------------------------------ DeviceKeyLib
  DeviceKeyUnsupportedType: (a) =>
    `${keyTypeName(a[0])} is not a supported key type: use secp256k1 or P-256`,
  DeviceKeyInvalidLength: (a) =>
    `a ${keyTypeName(a[0])} key must be ${s(a[2])} bytes, this one is ${s(a[1])}: pass the on-chain key encoding (secp256k1: the 20-byte address; P-256: 64-byte x‖y)`,
  DeviceKeyNotOnCurve: (a) =>
    `the P-256 key (${s(a[0])}, ${s(a[1])}) is not a point on the curve: the key is corrupt, re-read it from the device`,
  DeviceKeyZeroAddress: () =>
    "the secp256k1 device key is the zero address: the key is corrupt, re-read it from the device",
  DeviceKeyInvalidSignatureLength: (a) =>
    `a ${keyTypeName(a[0])} signature must be ${s(a[2])} bytes, this one is ${s(a[1])}: sign with the device's own curve (secp256k1 r‖s‖v, P-256 r‖s)`,
  DeviceKeySignatureOutOfRange: (a) =>
    `the signature's r (${s(a[0])}) or s (${s(a[1])}) is zero or not below the curve order: the signer is broken, sign again`,
  DeviceKeyHighS: (a) =>
    `the signature's s (${s(a[0])}) is above n/2: normalize it to low-s (s = n - s) and submit again`,
  DeviceKeyInvalidV: (a) =>
    `the secp256k1 signature's v is ${s(a[0])}, not 27 or 28: encode v as 27 + recovery id`,
  // ------------------------------------------------------------ AccessControl (OpenZeppelin)
  AccessControlUnauthorizedAccount: (a) =>
    `${s(a[0])} lacks ${roleName(a[1])}: send this from a governance account (or have governance grant the role)`,
  AccessControlBadConfirmation: () =>
    "renounceRole must be called by the account itself: send it from that account",
};

/**
 * The custom-error names explained above: every error of IDeviceRegistry, IDeviceAttestation,
 * DeviceKeyLib and AccessControl.
 */
export const EXPLAINED_ERRORS: readonly string[] = Object.keys(EXPLAIN);

const registryInterface = DeviceRegistry__factory.createInterface();

const HEX_DATA = /^0x[0-9a-fA-F]{8}(?:[0-9a-fA-F]{2})*$/;

/** Finds the revert data in an ethers / Hardhat / EDR error, wherever the layers nested it. */
function findRevertData(err: unknown, depth = 0): string | undefined {
  if (depth > 6 || err === null || typeof err !== "object") return undefined;
  const record = err as Record<string, unknown>;
  for (const key of ["data", "revertData"] as const) {
    const v = record[key];
    if (typeof v === "string" && HEX_DATA.test(v)) return v;
    if (typeof v === "object" && v !== null) {
      const inner = (v as Record<string, unknown>).data;
      if (typeof inner === "string" && HEX_DATA.test(inner)) return inner;
    }
  }
  for (const key of ["error", "info", "cause", "revert", "originalError"] as const) {
    const found = findRevertData(record[key], depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Decodes revert data of any DeviceRegistry, DeviceKeyLib or AccessControl custom error. */
export function decodeRevertData(data: string, cause?: unknown): ContractError | undefined {
  let parsed;
  try {
    parsed = registryInterface.parseError(data);
  } catch {
    return undefined;
  }
  if (parsed === null) return undefined;
  return contractError(parsed.name, parsed.args.toArray(), cause);
}

/** The ContractError for custom error `name` with `args`, e.g. for a check made before sending. */
export function contractError(
  name: string,
  args: readonly unknown[],
  cause?: unknown,
): ContractError {
  const explain = EXPLAIN[name];
  const sentence = explain === undefined ? "the contract rejected the call" : explain(args);
  const call = `${name}(${args.map(s).join(", ")})`;
  return new ContractError(
    name,
    args,
    `${call}: ${sentence}`,
    cause === undefined ? undefined : { cause },
  );
}

/** The decoded contract error inside `err`, if it is a revert with a known custom error. */
export function decodeContractError(err: unknown): ContractError | undefined {
  if (err instanceof ContractError) return err;
  const data = findRevertData(err);
  return data === undefined ? undefined : decodeRevertData(data, err);
}

/**
 * Any error as a DeviceTrustError whose message a person can act on: custom errors decoded into
 * sentences, DeviceTrust errors kept, anything else wrapped with its own message.
 */
export function explainError(err: unknown): DeviceTrustError {
  const decoded = decodeContractError(err);
  if (decoded !== undefined) return decoded;
  if (err instanceof DeviceTrustError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new DeviceTrustError("UNEXPECTED", message, { cause: err });
}
