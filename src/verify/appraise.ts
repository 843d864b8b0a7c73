import {
  asHex,
  digest,
  keyHash,
  type AttestationMessage,
  type DeviceKey,
  type Domain,
  type Hex,
} from "../protocol/index.js";
import type { DeviceRegistry } from "../../types/ethers-contracts/index.js";
import {
  DEVICE_STATUSES,
  FIRMWARE_STATUSES,
  TRUST_VERDICTS,
  type FirmwareStatusName,
  type TrustVerdictName,
} from "./enum-names.js";

export * from "./enum-names.js";
import { checkDeviceSignature, type SignatureVerdict } from "./signature.js";

/**
 * Appraisal of attestation evidence off chain (RFC 9334's verifier role): the evidence a device signed,
 * judged against the reference values the maker published on chain, with the contract's rules and in
 * the contract's order, so a gateway or an indexer reaches the verdict `trustReport` would.
 */

/**
 * What only an off-chain appraisal can meet: evidence the contract would refuse at `attest` (and so
 * never records) — signed by another device or key, a bad signature, a stale challenge, a future
 * timestamp, a measurement no maker published.
 */
export const EVIDENCE_PROBLEMS = [
  "WrongDevice",
  "WrongKey",
  "InvalidSignature",
  "StaleChallenge",
  "FutureTimestamp",
  "UnknownMeasurement",
] as const;
export type EvidenceProblem = (typeof EVIDENCE_PROBLEMS)[number];

export type AppraisalVerdict = TrustVerdictName | EvidenceProblem;

export function trustVerdictName(value: bigint | number): TrustVerdictName {
  const name = TRUST_VERDICTS[Number(value)];
  if (name === undefined) throw new RangeError(`unknown trust verdict ${String(value)}`);
  return name;
}

export function firmwareStatusName(value: bigint | number): FirmwareStatusName {
  return FIRMWARE_STATUSES[Number(value)] ?? "Unknown";
}

export const DEVICE_STATUS_ACTIVE = 1;

export function deviceStatusName(value: bigint | number): string {
  return DEVICE_STATUSES[Number(value)] ?? `status ${String(value)}`;
}

/** What the registry holds of the device (its DeviceInfo). */
export interface DeviceFacts {
  readonly deviceId: Hex;
  /** DeviceStatus as its enum value (1 = Active). */
  readonly status: number;
  readonly maker: number;
  readonly model: number;
  /** The hash of the device's current key. */
  readonly keyHash: Hex;
}

/** A reference value as the contract's `firmware(id)` gives it, with its id and measurement. */
export interface FirmwareReference {
  readonly firmwareId: number;
  readonly maker: number;
  readonly model: number;
  readonly status: FirmwareStatusName;
  readonly sunset: bigint;
  readonly revokedAt: bigint;
  readonly measurement: Hex;
}

export interface SignedEvidence {
  readonly message: AttestationMessage;
  readonly key: DeviceKey;
  readonly signature: Hex;
}

export interface AppraisalInput {
  /** The deployment's EIP-712 domain (chain id, DeviceRegistry address). */
  readonly domain: Domain;
  readonly device: DeviceFacts;
  /** The device's evidence; undefined when it has none (NeverAttested). */
  readonly evidence?: SignedEvidence | undefined;
  /** Reference values to judge against: at least every one with the evidence's measurement. */
  readonly firmware: readonly FirmwareReference[];
  /** Unix seconds (the chain's latest block time, to agree with the contract). */
  readonly now: bigint;
  /** How old evidence may be, in seconds (trustReport's maxAge). */
  readonly maxAge: bigint;
  /** The challenge the verifier expects (a block hash it chose, a nonce it issued); unchecked if absent. */
  readonly expectedChallenge?: Hex | undefined;
}

export interface Appraisal {
  readonly trusted: boolean;
  readonly verdict: AppraisalVerdict;
  /** One sentence: why, and what to do. */
  readonly reason: string;
  /** The signature check's result; null when the appraisal stopped before it. */
  readonly signature: SignatureVerdict | null;
  /** The reference value the measurement matched (0 if none). */
  readonly firmwareId: number;
  readonly measurement: Hex | null;
  /** The evidence's (device-signed) timestamp; 0 without evidence. */
  readonly attestedAt: bigint;
  readonly bootCount: bigint;
}

function ago(now: bigint, then: bigint): string {
  return `${(now - then).toString()} s ago`;
}

function iso(seconds: bigint): string {
  const ms = Number(seconds) * 1000;
  return Number.isFinite(ms) && ms < 8.64e15 ? new Date(ms).toISOString() : seconds.toString();
}

/** The facts a verdict's sentence may cite. */
export interface VerdictContext {
  readonly deviceId: Hex;
  readonly now: bigint;
  readonly maxAge: bigint;
  readonly attestedAt: bigint;
  readonly firmwareId: number;
  readonly sunset?: bigint | undefined;
  /** The device's status name, for NotActive. */
  readonly status?: string | undefined;
}

/** One sentence for each verdict of trustReport: what it means, and what to do. */
export function explainVerdict(verdict: TrustVerdictName, c: VerdictContext): string {
  switch (verdict) {
    case "Trusted":
      return `device ${c.deviceId} is trusted: active, attested ${ago(c.now, c.attestedAt)} (within ${c.maxAge.toString()} s) on firmware ${String(c.firmwareId)}, which its maker still vouches for`;
    case "NotActive":
      return c.status === "Unknown"
        ? `device ${c.deviceId} is not registered on this registry: check the device id, the --registry address and the network`
        : `device ${c.deviceId} is ${c.status ?? "not active"}, not Active: a suspended, revoked or decommissioned device is never trusted, whatever it attested`;
    case "NeverAttested":
      return `device ${c.deviceId} has never attested: boot it and submit evidence (device attest)`;
    case "Stale":
      return `device ${c.deviceId} last attested ${ago(c.now, c.attestedAt)}, more than ${c.maxAge.toString()} s: have it attest again (device attest)`;
    case "FirmwareRevoked":
      return `device ${c.deviceId} runs firmware ${String(c.firmwareId)}, which its maker or governance revoked: update it to a published good version, reboot and attest again`;
    case "FirmwareSunset":
      return `device ${c.deviceId} runs firmware ${String(c.firmwareId)}, deprecated with a sunset at ${c.sunset === undefined ? "a past time" : iso(c.sunset)}, which has passed: update it, reboot and attest again`;
    case "ModelMismatch":
      return `device ${c.deviceId}'s measurement belongs to firmware ${String(c.firmwareId)} of another maker or model: a device is trusted only on its own model's firmware; install the right image`;
  }
}

const PROBLEM_TEXT: Readonly<Record<EvidenceProblem, string>> = {
  WrongDevice: "the evidence names another device: appraise it against the device it names",
  WrongKey:
    "the evidence was signed by a key that is not the device's current key: sign with the key the registry holds (after a rotation, the new one)",
  InvalidSignature: "the evidence's signature does not verify",
  StaleChallenge:
    "the evidence answers another challenge than the one expected: a replay or an old report; ask for fresh evidence",
  FutureTimestamp:
    "the evidence is dated in the future: the device's clock is ahead; fix it and attest again",
  UnknownMeasurement:
    "the measurement matches no firmware any maker published: the device runs unknown code (or the maker has not published this version yet)",
};

/**
 * Appraises evidence as the contract would: the first failing rule is the verdict. Order: device not
 * active, no evidence, evidence not the device's or not validly signed (the contract's attest refuses
 * those), a challenge other than the expected one, a future timestamp, older than maxAge, then the
 * firmware it measured (another model's, unknown, revoked, past its sunset).
 */
export function appraise(input: AppraisalInput): Appraisal {
  const { device, evidence, now, maxAge } = input;
  const base = {
    deviceId: device.deviceId,
    now,
    maxAge,
    attestedAt: evidence?.message.timestamp ?? 0n,
    firmwareId: 0,
  };
  const result = (
    verdict: AppraisalVerdict,
    reason: string,
    extra: Partial<Pick<Appraisal, "signature" | "firmwareId">> = {},
  ): Appraisal => ({
    trusted: verdict === "Trusted",
    verdict,
    reason,
    signature: extra.signature ?? null,
    firmwareId: extra.firmwareId ?? 0,
    measurement: (evidence?.message.measurement.toLowerCase() as Hex | undefined) ?? null,
    attestedAt: base.attestedAt,
    bootCount: evidence?.message.bootCount ?? 0n,
  });
  const problem = (p: EvidenceProblem, detail = "", signature?: SignatureVerdict): Appraisal =>
    result(p, `${PROBLEM_TEXT[p]}${detail}`, signature === undefined ? {} : { signature });

  // The firmware the measurement names (its own model's, else another's): reported with the verdict,
  // as trustReport reports the recorded firmware whatever the verdict.
  const measurement = evidence?.message.measurement.toLowerCase();
  const matching = input.firmware.filter(
    (f) => f.measurement.toLowerCase() === measurement && f.status !== "Unknown",
  );
  const own = matching.find((f) => f.maker === device.maker && f.model === device.model);
  const named = own ?? matching[0];
  if (device.status !== DEVICE_STATUS_ACTIVE) {
    return result(
      "NotActive",
      explainVerdict("NotActive", { ...base, status: deviceStatusName(device.status) }),
      { firmwareId: named?.firmwareId ?? 0 },
    );
  }
  if (evidence === undefined) {
    return result("NeverAttested", explainVerdict("NeverAttested", base));
  }
  const m = evidence.message;
  if (m.deviceId.toLowerCase() !== device.deviceId.toLowerCase()) {
    return problem("WrongDevice", ` (${m.deviceId}, not ${device.deviceId})`);
  }
  if (keyHash(evidence.key).toLowerCase() !== device.keyHash.toLowerCase()) {
    return problem("WrongKey");
  }
  const signature = checkDeviceSignature(
    evidence.key,
    digest(input.domain, "Attestation", m),
    evidence.signature,
  );
  if (signature !== "valid") return problem("InvalidSignature", ` (${signature})`, signature);
  const known = { signature, firmwareId: named?.firmwareId ?? 0 };
  const ctx = { ...base, firmwareId: known.firmwareId, sunset: named?.sunset };
  if (
    input.expectedChallenge !== undefined &&
    asHex(input.expectedChallenge, "expected challenge", 32) !== m.challenge.toLowerCase()
  ) {
    return result("StaleChallenge", PROBLEM_TEXT.StaleChallenge, known);
  }
  if (m.timestamp > now) {
    return result(
      "FutureTimestamp",
      `${PROBLEM_TEXT.FutureTimestamp} (${m.timestamp.toString()} > ${now.toString()})`,
      known,
    );
  }
  if (now - m.timestamp > maxAge) return result("Stale", explainVerdict("Stale", ctx), known);
  if (named === undefined) {
    return result("UnknownMeasurement", PROBLEM_TEXT.UnknownMeasurement, known);
  }
  if (own === undefined) {
    return result("ModelMismatch", explainVerdict("ModelMismatch", ctx), known);
  }
  const verdict: TrustVerdictName =
    own.status === "Revoked"
      ? "FirmwareRevoked"
      : own.status === "Deprecated" && now >= own.sunset
        ? "FirmwareSunset"
        : "Trusted";
  return result(verdict, explainVerdict(verdict, ctx), known);
}

/** A reference value read from the contract. */
export async function readFirmware(
  registry: DeviceRegistry,
  firmwareId: number,
  blockTag: number | "latest" = "latest",
): Promise<FirmwareReference> {
  const [f, measurement] = await registry.firmware(firmwareId, { blockTag });
  return {
    firmwareId,
    maker: Number(f.maker),
    model: Number(f.model),
    status: firmwareStatusName(f.status),
    sunset: f.sunset,
    revokedAt: f.revokedAt,
    measurement: measurement.toLowerCase() as Hex,
  };
}

export interface OnChainAppraisalOptions {
  /** The evidence to appraise; without it, the device is appraised as never attested. */
  readonly evidence?: SignedEvidence | undefined;
  /** The device; default the one the evidence names. */
  readonly deviceId?: string | undefined;
  readonly maxAge: bigint;
  /** Default: the latest block's time. */
  readonly now?: bigint | undefined;
  readonly expectedChallenge?: Hex | undefined;
}

/**
 * Fetches what `appraise` needs from the registry (the device's record, the reference values with the
 * evidence's measurement — its own model's through `firmwareIdOfMeasurement`, else any model's from
 * FirmwarePublished events — the domain and the latest block time) and appraises.
 */
export async function appraiseOnChain(
  registry: DeviceRegistry,
  options: OnChainAppraisalOptions,
): Promise<Appraisal> {
  const provider = registry.runner?.provider;
  if (provider === undefined || provider === null) {
    throw new RangeError("the registry contract has no provider: connect it to one");
  }
  const deviceId = asHex(
    options.deviceId ?? options.evidence?.message.deviceId ?? "",
    "device id",
    32,
  );
  // Every read at one block, whose time is `now`: the verdict trustReport would give in that block.
  const latest = await provider.getBlock("latest");
  const blockTag = latest?.number ?? "latest";
  const [info, network, address] = await Promise.all([
    registry.deviceInfo(deviceId, { blockTag }),
    provider.getNetwork(),
    registry.getAddress(),
  ]);
  const device: DeviceFacts = {
    deviceId,
    status: Number(info.status),
    maker: Number(info.maker),
    model: Number(info.model),
    keyHash: info.keyHash.toLowerCase() as Hex,
  };
  const firmware: FirmwareReference[] = [];
  const measurement = options.evidence?.message.measurement;
  if (measurement !== undefined) {
    const id = Number(
      await registry.firmwareIdOfMeasurement(device.maker, device.model, measurement, {
        blockTag,
      }),
    );
    if (id !== 0) {
      firmware.push(await readFirmware(registry, id, blockTag));
    } else {
      // Not its own model's: any other model's firmware with this measurement (events keep them).
      const published = await registry.queryFilter(
        registry.filters.FirmwarePublished(),
        0,
        blockTag,
      );
      for (const e of published) {
        if (e.args.measurement.toLowerCase() === measurement.toLowerCase())
          firmware.push(await readFirmware(registry, Number(e.args.firmwareId), blockTag));
      }
    }
  }
  return appraise({
    domain: { chainId: network.chainId, verifyingContract: address.toLowerCase() as Hex },
    device,
    evidence: options.evidence,
    firmware,
    now: options.now ?? BigInt(latest?.timestamp ?? 0),
    maxAge: options.maxAge,
    expectedChallenge: options.expectedChallenge,
  });
}
