import { ZeroHash, type ContractTransactionResponse } from "ethers";
import {
  DeviceTrustError,
  InvalidInputError,
  asHex,
  keyHash,
  measure,
  type Hex,
  type MeasurementStep,
} from "../protocol/index.js";
import type { KeyStore } from "../device/key-store.js";
import { DeviceSigner, type Signed } from "../device/device-signer.js";
import { BootSimulator } from "../device/boot-simulator.js";
import { contractError } from "./decode-error.js";
import { registryDomain, type DeviceRegistry } from "./registry.js";
import { send, type TxResult } from "./transaction.js";

/** Where the evidence's freshness comes from. */
export type ChallengeMode = "block" | "nonce";

export function parseChallengeMode(value: string): ChallengeMode {
  if (value === "block" || value === "nonce") return value;
  throw new InvalidInputError(
    `--challenge must be "block" (a recent block hash) or "nonce" (a nonce issued on chain), got "${value}"`,
  );
}

export interface Challenge {
  readonly mode: ChallengeMode;
  readonly challenge: Hex;
  /** The block whose hash is the challenge; 0 for an issued nonce. */
  readonly challengeBlock: number;
  /** The time to date the evidence with: the latest block's, so it is neither future nor stale. */
  readonly timestamp: bigint;
  /** Gas of issueChallenge (nonce mode only). */
  readonly gasUsed: bigint | null;
}

/**
 * A fresh challenge: the hash of the block before the latest (block mode; the contract accepts the last
 * 256), or a nonce the registry issues for the device (nonce mode; a transaction, by its operator or
 * governance, and single use).
 */
export async function fetchChallenge(
  registry: DeviceRegistry,
  deviceId: Hex,
  mode: ChallengeMode,
): Promise<Challenge> {
  const provider = registry.runner?.provider;
  if (provider === undefined || provider === null) {
    throw new InvalidInputError("the registry contract has no provider: connect it to a signer");
  }
  if (mode === "nonce") {
    const tx = await send(() => registry.issueChallenge(deviceId));
    let challenge: Hex | undefined;
    for (const log of tx.receipt.logs) {
      const parsed = registry.interface.parseLog(log);
      if (parsed?.name === "ChallengeIssued")
        challenge = asHex(parsed.args.challenge as string, "challenge", 32);
    }
    if (challenge === undefined) {
      throw new DeviceTrustError(
        "NO_CHALLENGE",
        "issueChallenge emitted no ChallengeIssued event: is this a DeviceRegistry?",
      );
    }
    const block = await provider.getBlock(tx.blockNumber);
    return {
      mode,
      challenge,
      challengeBlock: 0,
      timestamp: BigInt(block?.timestamp ?? 0),
      gasUsed: tx.gasUsed,
    };
  }
  const latest = await provider.getBlock("latest");
  if (latest === null || latest.number < 1) {
    throw new DeviceTrustError(
      "NO_RECENT_BLOCK",
      "the chain has no block after genesis to take a challenge from: mine one, or use --challenge nonce",
    );
  }
  const number = Math.max(1, latest.number - 1);
  const block = number === latest.number ? latest : await provider.getBlock(number);
  if (block?.hash === null || block?.hash === undefined) {
    throw new DeviceTrustError(
      "NO_RECENT_BLOCK",
      `block ${String(number)} has no hash yet: try again`,
    );
  }
  return {
    mode,
    challenge: block.hash.toLowerCase() as Hex,
    challengeBlock: number,
    timestamp: BigInt(latest.timestamp),
    gasUsed: null,
  };
}

export interface SubmitResult extends TxResult {
  readonly deviceId: Hex;
  readonly firmwareId: number;
}

/** Submits signed evidence (anyone may relay it). */
export async function submitEvidence(
  registry: DeviceRegistry,
  evidence: Signed<"Attestation">,
  challengeBlock: number,
): Promise<SubmitResult> {
  const m = evidence.message;
  const { submitted } = await sendEvidence(registry, m.deviceId, () =>
    registry.attest(
      {
        deviceId: m.deviceId,
        measurement: m.measurement,
        challenge: m.challenge,
        timestamp: m.timestamp,
        bootCount: m.bootCount,
      },
      challengeBlock,
      { keyType: evidence.key.keyType, key: evidence.key.key },
      evidence.signature,
    ),
  );
  return submitted;
}

/**
 * Sends an evidence transaction (the registry's attest, or an appraiser's) and reads what the registry
 * recorded: the transaction, the firmware the evidence named, and its counter (boot count, or the
 * appraiser's: a TPM clock, a PSA nonce's issue time).
 */
export async function sendEvidence(
  registry: DeviceRegistry,
  deviceId: Hex,
  transaction: () => Promise<ContractTransactionResponse>,
): Promise<{ readonly submitted: SubmitResult; readonly bootCount: bigint }> {
  const tx = await send(transaction);
  const recorded = await registry.evidenceOf(deviceId);
  return {
    submitted: {
      txHash: tx.txHash,
      blockNumber: tx.blockNumber,
      gasUsed: tx.gasUsed,
      deviceId,
      firmwareId: Number(recorded.firmwareId),
    },
    bootCount: recorded.bootCount,
  };
}

/** The device id given (checked as a 32-byte hex), else the id of the device whose current key `store` holds. */
export async function resolveDeviceId(
  registry: DeviceRegistry,
  deviceId: string | undefined,
  store: Pick<KeyStore, "deviceKey">,
): Promise<Hex> {
  return deviceId !== undefined && deviceId !== ""
    ? asHex(deviceId, "device id", 32)
    : deviceIdOfKey(registry, store);
}

/** The id of the device whose current key `store` holds (DeviceRegistryUnknownDevice if none). */
export async function deviceIdOfKey(
  registry: DeviceRegistry,
  store: Pick<KeyStore, "deviceKey">,
): Promise<Hex> {
  const current = keyHash(store.deviceKey);
  const owner = (await registry.keyOwner(current)).toLowerCase();
  if (owner === ZeroHash) throw contractError("DeviceRegistryUnknownDevice", [current]);
  return owner as Hex;
}

export interface AttestOptions {
  /** Connected to the sending account (for a nonce challenge: the device's operator or governance). */
  readonly registry: DeviceRegistry;
  readonly device: KeyStore;
  /** Found from the key through keyOwner when omitted (the id survives rotations). */
  readonly deviceId?: string | undefined;
  /** The images the device boots, in order. */
  readonly images: readonly string[];
  /** The boot-counter state file; without one the device reports no counter (bootCount 0). */
  readonly bootState?: string | undefined;
  readonly challenge: ChallengeMode;
}

export interface AttestResult extends TxResult {
  readonly deviceId: Hex;
  readonly firmwareId: number;
  readonly measurement: Hex;
  readonly imageDigests: readonly Hex[];
  readonly steps: readonly MeasurementStep[];
  readonly bootCount: bigint;
  readonly challengeMode: ChallengeMode;
  readonly challenge: Hex;
  readonly challengeBlock: number;
  readonly timestamp: bigint;
  /** Gas of issueChallenge (nonce mode), besides the attestation's own gasUsed. */
  readonly challengeGasUsed: bigint | null;
  /** What was signed and submitted (for an off-chain verifier: src/verify appraise). */
  readonly evidence: Signed<"Attestation">;
}

/**
 * The device boots (measures its images; with a state file, increments its boot counter), takes a fresh
 * challenge, signs evidence with its key store and submits it. Returns the gas of the attestation.
 */
export async function attestDevice(options: AttestOptions): Promise<AttestResult> {
  const { registry } = options;
  const deviceId = await resolveDeviceId(registry, options.deviceId, options.device);
  const signer = new DeviceSigner(options.device, await registryDomain(registry), deviceId);
  let boot: {
    measurement: Hex;
    imageDigests: readonly Hex[];
    steps: readonly MeasurementStep[];
    bootCount: bigint;
  };
  if (options.bootState !== undefined && options.bootState !== "") {
    boot = await new BootSimulator({
      signer,
      images: options.images,
      stateFile: options.bootState,
    }).boot();
  } else {
    boot = { ...(await measure(options.images)), bootCount: 0n };
  }
  const challenge = await fetchChallenge(registry, deviceId, options.challenge);
  const evidence = await signer.signAttestation({
    measurement: boot.measurement,
    challenge: challenge.challenge,
    timestamp: challenge.timestamp,
    bootCount: boot.bootCount,
  });
  const submitted = await submitEvidence(registry, evidence, challenge.challengeBlock);
  return {
    txHash: submitted.txHash,
    blockNumber: submitted.blockNumber,
    gasUsed: submitted.gasUsed,
    deviceId,
    firmwareId: submitted.firmwareId,
    measurement: boot.measurement,
    imageDigests: boot.imageDigests,
    steps: boot.steps,
    bootCount: boot.bootCount,
    challengeMode: challenge.mode,
    challenge: challenge.challenge,
    challengeBlock: challenge.challengeBlock,
    timestamp: challenge.timestamp,
    challengeGasUsed: challenge.gasUsed,
    evidence,
  };
}
