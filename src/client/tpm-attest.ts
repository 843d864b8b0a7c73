import {
  DeviceTrustError,
  asHex,
  measure,
  toHex,
  type Hex,
  type MeasurementStep,
} from "../protocol/index.js";
import { BOOT_PCR, TpmKeyStore, type Tpm } from "../device/tpm.js";
import {
  TpmQuoteError,
  appraiseTpmQuote,
  parseTpmQuote,
  tpmCounterParts,
  type TpmQuote,
} from "../verify/tpm-quote.js";
import {
  TpmAttestation__factory,
  type TpmAttestation,
} from "../../types/ethers-contracts/index.js";
import {
  fetchChallenge,
  resolveDeviceId,
  sendEvidence,
  type ChallengeMode,
  type SubmitResult,
} from "./attest.js";
import { type DeviceRegistry, registryRunner } from "./registry.js";

export type { TpmAttestation };

/** The TpmAttestation appraiser at `address`, sending through (or reading with) the registry's runner. */
export function tpmAttestationAt(address: string, registry: DeviceRegistry): TpmAttestation {
  return TpmAttestation__factory.connect(
    asHex(address, "TpmAttestation address", 20),
    registryRunner(registry),
  );
}

export interface TpmAttestOptions {
  /** Connected to the sending account (for a nonce challenge: the device's operator or governance). */
  readonly registry: DeviceRegistry;
  /** The registry's TPM appraiser (holds its APPRAISER_ROLE). */
  readonly appraiser: TpmAttestation;
  /** The device's TPM, its Attestation Key (the device's registered key) persistent at AK_HANDLE. */
  readonly tpm: Tpm;
  /** Found from the AK through keyOwner when omitted. */
  readonly deviceId?: string | undefined;
  /** The images the device boots, in order (files, or their bytes): each one's SHA-256 extends PCR 16. */
  readonly images: readonly (Uint8Array | string)[];
  readonly challenge: ChallengeMode;
}

export interface TpmAttestResult extends SubmitResult {
  readonly measurement: Hex;
  readonly steps: readonly MeasurementStep[];
  readonly challengeMode: ChallengeMode;
  readonly challenge: Hex;
  readonly challengeBlock: number;
  /** The TPM's clock in the quote: resets, restarts and milliseconds since TPM2_Clear. */
  readonly resetCount: number;
  readonly restartCount: number;
  readonly clock: bigint;
  /** What the TPM signed and the AK's signature (TPMT_SIGNATURE), for an off-chain verifier. */
  readonly quote: Hex;
  readonly signature: Hex;
  /** Gas of issueChallenge (nonce mode), besides the attestation's own gasUsed. */
  readonly challengeGasUsed: bigint | null;
}

/**
 * A TPM device's measured boot and quote, submitted as evidence: PCR 16 is reset and extended with each
 * image's SHA-256 (so it ends at the published measurement chain), a fresh challenge is taken, the AK
 * quotes PCR 16 over it, the quote is appraised here with the chain's rules (a quote the chain would refuse
 * is never sent), and TpmAttestation.attestTpmQuote records it. Returns the gas of the attestation.
 */
export async function attestWithTpm(options: TpmAttestOptions): Promise<TpmAttestResult> {
  const { registry, appraiser, tpm } = options;
  const store = await TpmKeyStore.open(tpm);
  const ak = store.deviceKey.key;
  await store.close();
  const deviceId = await resolveDeviceId(registry, options.deviceId, store);
  const boot = await measure(options.images);
  await tpm.resetPcr(BOOT_PCR);
  for (const digest of boot.imageDigests) await tpm.extendPcr(BOOT_PCR, digest);
  const challenge = await fetchChallenge(registry, deviceId, options.challenge);
  const latest = await registry.evidenceOf(deviceId);
  const last = latest.timestamp === 0n ? undefined : tpmCounterParts(latest.bootCount);
  let out = await tpm.quote([BOOT_PCR], challenge.challenge);
  const appraise = () =>
    appraiseTpmQuote(out.attest, out.signature, {
      akPublicKey: ak,
      extraData: challenge.challenge,
      pcrValues: out.pcrValues,
      referencePcrDigest: undefined,
      last,
    });
  let quote: TpmQuote;
  try {
    quote = appraise();
  } catch (err: unknown) {
    // The chain counts the TPM's clock in whole seconds: a quote within the second of the latest
    // evidence's is quoted again once the TPM's clock has passed it.
    if (!(err instanceof TpmQuoteError && err.problem === "ClockWentBack") || last === undefined) {
      throw err;
    }
    const clock = parseTpmQuote(out.attest).clock;
    if (clock / 1000n !== last.clock / 1000n) throw err;
    await new Promise((resolve) => setTimeout(resolve, Number(1000n - (clock % 1000n)) + 10));
    out = await tpm.quote([BOOT_PCR], challenge.challenge);
    quote = appraise();
  }
  if (out.pcrValues[0]?.toLowerCase() !== boot.measurement.toLowerCase()) {
    throw new DeviceTrustError(
      "TPM_PCR_MISMATCH",
      `PCR ${String(BOOT_PCR)} holds ${String(out.pcrValues[0])}, not the images' measurement ${boot.measurement}: is another process extending it?`,
    );
  }
  const attest = toHex(out.attest);
  const signature = toHex(out.signature);
  const { submitted } = await sendEvidence(registry, deviceId, () =>
    appraiser.attestTpmQuote(
      deviceId,
      attest,
      signature,
      ak,
      [...out.pcrValues],
      challenge.challengeBlock,
    ),
  );
  return {
    ...submitted,
    measurement: boot.measurement,
    steps: boot.steps,
    challengeMode: challenge.mode,
    challenge: challenge.challenge,
    challengeBlock: challenge.challengeBlock,
    resetCount: quote.resetCount,
    restartCount: quote.restartCount,
    clock: quote.clock,
    quote: attest,
    signature,
    challengeGasUsed: challenge.gasUsed,
  };
}
