import {
  InvalidInputError,
  KeyType,
  asHex,
  measure,
  psaInstanceId,
  toHex,
  type Hex,
  type MeasurementStep,
  type PsaClaims,
  type PsaSoftwareComponent,
} from "../protocol/index.js";
import type { KeyStore } from "../device/key-store.js";
import { buildPsaToken } from "../device/psa-token.js";
import { appraisePsaToken } from "../verify/psa-token.js";
import {
  PsaAttestation__factory,
  type PsaAttestation,
} from "../../types/ethers-contracts/index.js";
import { fetchChallenge, resolveDeviceId, sendEvidence, type SubmitResult } from "./attest.js";
import { type DeviceRegistry, registryRunner } from "./registry.js";

export type { PsaAttestation };

/** The PsaAttestation appraiser at `address`, sending through (or reading with) the registry's runner. */
export function psaAttestationAt(address: string, registry: DeviceRegistry): PsaAttestation {
  return PsaAttestation__factory.connect(
    asHex(address, "PsaAttestation address", 20),
    registryRunner(registry),
  );
}

/** What a software component says besides its measurement value (the SHA-256 of its image). */
export type PsaComponentInfo = Omit<PsaSoftwareComponent, "measurementValue">;

/** The token's claims besides the nonce, the instance id and the measurement values, which are filled in. */
export type PsaTokenClaims = Omit<PsaClaims, "nonce" | "instanceId" | "softwareComponents"> & {
  /** One per image, in the images' order. */
  readonly softwareComponents: readonly PsaComponentInfo[];
};

export interface PsaAttestOptions {
  /** Connected to the sending account: the device's operator or governance, which issues the nonce. */
  readonly registry: DeviceRegistry;
  /** The registry's PSA token appraiser (holds its APPRAISER_ROLE). */
  readonly appraiser: PsaAttestation;
  /** The device's P-256 key store (its registered key), which signs the token (ES256). */
  readonly device: KeyStore;
  /** Found from the key through keyOwner when omitted. */
  readonly deviceId?: string | undefined;
  /** The images the PSA RoT loaded, in load order (files, or their bytes): one software component each. */
  readonly images: readonly (Uint8Array | string)[];
  readonly claims: PsaTokenClaims;
}

export interface PsaAttestResult extends SubmitResult {
  /** psaMeasurement of the token: the images' measured-boot chain. */
  readonly measurement: Hex;
  readonly steps: readonly MeasurementStep[];
  /** The issued nonce, the token's nonce claim. */
  readonly challenge: Hex;
  /** The evidence's counter and time: the nonce's issue time (its low 64 bits). */
  readonly bootCount: bigint;
  /** The token as submitted (COSE_Sign1), for an off-chain verifier. */
  readonly token: Hex;
  /** Gas of issueChallenge, besides the attestation's own gasUsed. */
  readonly challengeGasUsed: bigint | null;
}

/**
 * A PSA device's token, submitted as evidence: the images are measured (each a software component, its
 * measurement value the image's SHA-256, so the token's measurement is the published measurement chain), the
 * registry issues a nonce (PSA evidence takes only issued nonces: a token has no clock of its own), the device's
 * key store signs the token over it, the token is appraised here with the chain's rules (signature, lifecycle,
 * instance id, nonce, measurement: a token the chain would refuse is never sent), and
 * PsaAttestation.attestPsaToken records it. Returns the gas of the attestation.
 */
export async function attestWithPsaToken(options: PsaAttestOptions): Promise<PsaAttestResult> {
  const { registry, appraiser, device, claims } = options;
  if (device.curve !== "p256") {
    throw new InvalidInputError(
      `a PSA token is signed with ES256: the device key is ${device.curve}, not P-256`,
    );
  }
  const boot = await measure(options.images);
  if (claims.softwareComponents.length !== boot.imageDigests.length) {
    throw new InvalidInputError(
      `${String(boot.imageDigests.length)} images but ${String(claims.softwareComponents.length)} software components: give one component per image, in the same order`,
    );
  }
  const deviceId = await resolveDeviceId(registry, options.deviceId, device);
  const key = device.deviceKey.key;
  const instanceId = psaInstanceId(device.publicKey);
  const challenge = await fetchChallenge(registry, deviceId, "nonce");
  const token = await buildPsaToken(
    {
      ...claims,
      nonce: challenge.challenge,
      instanceId,
      softwareComponents: claims.softwareComponents.map((c, i) => ({
        ...c,
        measurementValue: boot.imageDigests[i] ?? "0x",
      })),
    },
    device,
  );
  appraisePsaToken(token, {
    publicKey: key,
    nonce: challenge.challenge,
    instanceId,
    referenceMeasurement: boot.measurement,
  });
  const encoded = toHex(token);
  const { submitted, bootCount } = await sendEvidence(registry, deviceId, () =>
    appraiser.attestPsaToken(deviceId, encoded, key),
  );
  return {
    ...submitted,
    measurement: boot.measurement,
    steps: boot.steps,
    challenge: challenge.challenge,
    bootCount,
    token: encoded,
    challengeGasUsed: challenge.gasUsed,
  };
}

export interface PsaTokenSubmitOptions {
  /** Connected to the sending account (anyone may relay a token). */
  readonly registry: DeviceRegistry;
  readonly appraiser: PsaAttestation;
  /** The token as the device made it (COSE_Sign1 bytes), over the nonce the registry issued for it. */
  readonly token: Uint8Array;
  /** The device's registered P-256 key, x‖y (64 bytes). */
  readonly key: Hex;
  /** Found from the key through keyOwner when omitted. */
  readonly deviceId?: string | undefined;
}

export interface PsaTokenSubmitResult extends SubmitResult {
  readonly measurement: Hex;
  readonly challenge: Hex;
  readonly bootCount: bigint;
}

/**
 * Relays a token a device made elsewhere (`device challenge` issued its nonce): appraised first with the
 * chain's rules against the device's pending nonce and key (a token the chain would refuse is never sent),
 * then recorded through PsaAttestation.attestPsaToken.
 */
export async function submitPsaToken(
  options: PsaTokenSubmitOptions,
): Promise<PsaTokenSubmitResult> {
  const { registry, appraiser, token } = options;
  const key = asHex(options.key, "device key", 64);
  const deviceId = await resolveDeviceId(registry, options.deviceId, {
    deviceKey: { keyType: KeyType.P256, key },
  });
  const pending = (await registry.challengeOf(deviceId)).toLowerCase() as Hex;
  if (BigInt(pending) === 0n) {
    throw new InvalidInputError(
      `device ${deviceId} has no pending nonce: issue one (npx hardhat device challenge), have the device sign a token over it, then submit`,
    );
  }
  const appraised = appraisePsaToken(token, {
    publicKey: key,
    nonce: pending,
    instanceId: psaInstanceId(Buffer.concat([Buffer.from([4]), Buffer.from(key.slice(2), "hex")])),
  });
  const { submitted, bootCount } = await sendEvidence(registry, deviceId, () =>
    appraiser.attestPsaToken(deviceId, toHex(token), key),
  );
  return {
    ...submitted,
    measurement: appraised.measurement ?? "0x",
    challenge: pending,
    bootCount,
  };
}
