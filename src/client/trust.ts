import { InvalidInputError, asHex, type Hex } from "../protocol/index.js";
import {
  deviceStatusName,
  explainVerdict,
  firmwareStatusName,
  trustVerdictName,
  type FirmwareStatusName,
  type TrustVerdictName,
} from "../verify/appraise.js";
import type { DeviceRegistry } from "./registry.js";

export interface TrustView {
  readonly deviceId: Hex;
  readonly trusted: boolean;
  readonly verdict: TrustVerdictName;
  /** One sentence: why, and what to do. */
  readonly reason: string;
  readonly status: string;
  /** The window the verdict was judged with, in seconds. */
  readonly maxAge: bigint;
  /** The latest block's time, at which the report was read. */
  readonly checkedAt: bigint;
  /** What the device last attested (0 / null when it never did). */
  readonly firmwareId: number;
  readonly firmwareVersion: string | null;
  readonly firmwareStatus: FirmwareStatusName | null;
  readonly measurement: Hex | null;
  readonly attestedAt: bigint;
  readonly bootCount: bigint;
}

/** The registry's trustReport for a device, with the firmware's version and a sentence for the verdict. */
export async function deviceTrust(
  registry: DeviceRegistry,
  deviceId: string,
  maxAge: bigint,
): Promise<TrustView> {
  const id = asHex(deviceId, "device id", 32);
  if (maxAge < 0n) throw new InvalidInputError("--max-age must be 0 or more seconds");
  const provider = registry.runner?.provider;
  if (provider === undefined || provider === null) {
    throw new InvalidInputError("the registry contract has no provider: connect it to one");
  }
  // One block for every read, so the sentence's facts are those the verdict was judged on.
  const latest = await provider.getBlock("latest");
  const blockTag = latest?.number ?? "latest";
  const [report, info] = await Promise.all([
    registry.trustReport(id, maxAge, { blockTag }),
    registry.deviceInfo(id, { blockTag }),
  ]);
  const verdict = trustVerdictName(report.verdict);
  const firmwareId = Number(report.firmwareId);
  let firmwareVersion: string | null = null;
  let firmwareStatus: FirmwareStatusName | null = null;
  let sunset: bigint | undefined;
  if (firmwareId !== 0) {
    const [f] = await registry.firmware(firmwareId, { blockTag });
    firmwareStatus = firmwareStatusName(f.status);
    sunset = f.sunset;
    const published = await registry.queryFilter(
      registry.filters.FirmwarePublished(firmwareId),
      0,
      blockTag,
    );
    firmwareVersion = published[0]?.args.version ?? null;
  }
  const now = BigInt(latest?.timestamp ?? 0);
  const status = deviceStatusName(info.status);
  return {
    deviceId: id,
    trusted: verdict === "Trusted",
    verdict,
    reason: explainVerdict(verdict, {
      deviceId: id,
      now,
      maxAge,
      attestedAt: report.attestedAt,
      firmwareId,
      sunset,
      status,
    }),
    status,
    maxAge,
    checkedAt: now,
    firmwareId,
    firmwareVersion,
    firmwareStatus,
    measurement: firmwareId === 0 ? null : (report.measurement.toLowerCase() as Hex),
    attestedAt: report.attestedAt,
    bootCount: report.bootCount,
  };
}
