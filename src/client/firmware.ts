import {
  InvalidInputError,
  measure,
  measurementMatches,
  type Hex,
  type MeasurementStep,
} from "../protocol/index.js";
import { firmwareStatusName, type FirmwareStatusName } from "../verify/appraise.js";
import { contractError } from "./decode-error.js";
import type { FirmwareSignatures } from "./firmware-signatures.js";
import type { DeviceRegistry } from "./registry.js";
import { send, type TxResult } from "./transaction.js";

/**
 * A maker's reference values: the measurement of each (model, version), computed from the very image
 * files the device boots (src/protocol/measured-boot.ts), published, deprecated with a sunset, revoked.
 */

export interface PublishFirmwareOptions {
  /** Connected to the maker's signing account. */
  readonly registry: DeviceRegistry;
  readonly model: number;
  readonly version: string;
  /** The release images in boot order (files or bytes): bootloader, kernel, application. */
  readonly images: readonly (string | Uint8Array)[];
  /** Where the release's metadata lives (recorded in the event). */
  readonly uri?: string | undefined;
}

export interface PublishFirmwareResult extends TxResult {
  readonly firmwareId: number;
  readonly maker: number;
  readonly model: number;
  readonly version: string;
  readonly measurement: Hex;
  readonly imageDigests: readonly Hex[];
  readonly steps: readonly MeasurementStep[];
  readonly uri: string;
}

function checkModel(model: number): number {
  if (!Number.isInteger(model) || model < 0 || model > 0xffffffff) {
    throw new InvalidInputError(
      `--model must be an integer in [0, 4294967295], got ${String(model)}`,
    );
  }
  return model;
}

function checkVersion(version: string): string {
  if (version === "") {
    throw new InvalidInputError('--firmware-version is required: the release name, e.g. "1.4.2"');
  }
  return version;
}

/** Measures the release images and publishes the measurement as the reference value of (model, version). */
export async function publishFirmware(
  options: PublishFirmwareOptions,
): Promise<PublishFirmwareResult> {
  const { registry } = options;
  const model = checkModel(options.model);
  const version = checkVersion(options.version);
  const uri = options.uri ?? "";
  const measured = await measure(options.images);
  const tx = await send(() =>
    registry.publishFirmware(model, version, measured.measurement, uri, [...measured.imageDigests]),
  );
  let firmwareId = 0;
  let maker = 0;
  for (const log of tx.receipt.logs) {
    const parsed = registry.interface.parseLog(log);
    if (parsed?.name === "FirmwarePublished") {
      firmwareId = Number(parsed.args.firmwareId);
      maker = Number(parsed.args.maker);
    }
  }
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    firmwareId,
    maker,
    model,
    version,
    measurement: measured.measurement,
    imageDigests: measured.imageDigests,
    steps: measured.steps,
    uri,
  };
}

/** A firmware named by its id, or by (maker, model, version); the maker defaults to the sender's. */
export type FirmwareRef =
  | { readonly id: number }
  | { readonly maker?: number | undefined; readonly model: number; readonly version: string };

async function senderAddress(registry: DeviceRegistry): Promise<string> {
  const runner = registry.runner as { getAddress?: () => Promise<string> } | null;
  if (runner?.getAddress === undefined) {
    throw new InvalidInputError(
      "the registry contract is not connected to a signer: connect it to the maker's account",
    );
  }
  return runner.getAddress();
}

/** The firmware id a FirmwareRef names; throws AttestationUnknownVersion / AttestationUnknownFirmware. */
export async function resolveFirmwareId(
  registry: DeviceRegistry,
  ref: FirmwareRef,
): Promise<number> {
  if ("id" in ref) {
    if (!Number.isInteger(ref.id) || ref.id <= 0)
      throw new InvalidInputError(`--id must be a firmware id (1 or more), got ${String(ref.id)}`);
    const [f] = await registry.firmware(ref.id);
    if (f.status === 0n) throw contractError("AttestationUnknownFirmware", [ref.id]);
    return ref.id;
  }
  const model = checkModel(ref.model);
  const version = checkVersion(ref.version);
  const maker = ref.maker ?? Number(await registry.makerOf(await senderAddress(registry)));
  if (maker === 0) {
    throw new InvalidInputError(
      "the sender is not a maker's signing key: pass --maker (or --id), or send from the maker's account",
    );
  }
  const id = Number(await registry.firmwareIdOf(maker, model, version));
  if (id === 0) throw contractError("AttestationUnknownVersion", [maker, model, version]);
  return id;
}

/**
 * A sunset given as seconds from `now` ("86400") or as an ISO 8601 date ("2026-01-31T00:00:00Z"), as
 * unix seconds.
 */
export function parseSunset(value: string, now: bigint): bigint {
  const v = value.trim();
  if (/^\d+$/.test(v)) return now + BigInt(v);
  const ms = Date.parse(v);
  if (v === "" || Number.isNaN(ms)) {
    throw new InvalidInputError(
      `--sunset "${value}" is neither seconds from now nor an ISO date (e.g. 2026-01-31T00:00:00Z)`,
    );
  }
  return BigInt(Math.floor(ms / 1000));
}

export interface FirmwareStatusResult extends TxResult {
  readonly firmwareId: number;
  readonly status: FirmwareStatusName;
  /** For Deprecated: when it stops being trusted. */
  readonly sunset: bigint;
  /** For Revoked: when it was revoked. */
  readonly revokedAt: bigint;
}

async function statusResult(
  registry: DeviceRegistry,
  firmwareId: number,
  tx: TxResult,
): Promise<FirmwareStatusResult> {
  const [f] = await registry.firmware(firmwareId);
  return {
    txHash: tx.txHash,
    blockNumber: tx.blockNumber,
    gasUsed: tx.gasUsed,
    firmwareId,
    status: firmwareStatusName(f.status),
    sunset: f.sunset,
    revokedAt: f.revokedAt,
  };
}

/** The maker deprecates a Good firmware: devices on it stay trusted until `sunset` (unix seconds). */
export async function deprecateFirmware(
  registry: DeviceRegistry,
  ref: FirmwareRef,
  sunset: bigint,
): Promise<FirmwareStatusResult> {
  const id = await resolveFirmwareId(registry, ref);
  const tx = await send(() => registry.deprecateFirmware(id, sunset));
  return statusResult(registry, id, tx);
}

/** The maker (or governance) revokes a firmware: every device on it is untrusted from this block. */
export async function revokeFirmware(
  registry: DeviceRegistry,
  ref: FirmwareRef,
): Promise<FirmwareStatusResult> {
  const id = await resolveFirmwareId(registry, ref);
  const tx = await send(() => registry.revokeFirmware(id));
  return statusResult(registry, id, tx);
}

export interface FirmwareSummary {
  readonly firmwareId: number;
  readonly maker: number;
  readonly model: number;
  readonly version: string;
  readonly status: FirmwareStatusName;
  readonly sunset: bigint | null;
  readonly revokedAt: bigint | null;
  readonly measurement: Hex;
  /** Whether the published image digests extend to the published measurement. */
  readonly consistent: boolean;
  readonly imageDigests: readonly Hex[];
  readonly uri: string;
  readonly publishedAtBlock: number;
  /** Who last changed its status (the maker, or governance for a revocation). */
  readonly changedBy: Hex | null;
  /**
   * Whether its maker's LMS key signed the release (FirmwareSignatures.isPqSigned); present when the
   * listing was given FirmwareSignatures.
   */
  readonly pqSigned?: boolean;
}

export interface FirmwareFilter {
  readonly maker?: number | undefined;
  readonly model?: number | undefined;
  readonly fromBlock?: number | undefined;
  /** Adds each release's pqSigned from this FirmwareSignatures (the registry's). */
  readonly signatures?: Pick<FirmwareSignatures, "isPqSigned"> | undefined;
}

/**
 * Lists reference values from FirmwarePublished events (version, URI, image digests: kept in events,
 * not storage), each with its current status from `firmware(id)` and its last FirmwareStatusChanged, and
 * whether it is PQ-signed when `filter.signatures` is given.
 */
export async function listFirmware(
  registry: DeviceRegistry,
  filter: FirmwareFilter = {},
): Promise<FirmwareSummary[]> {
  const from = filter.fromBlock ?? 0;
  const published = await registry.queryFilter(
    registry.filters.FirmwarePublished(undefined, filter.maker, filter.model),
    from,
  );
  const changes = await registry.queryFilter(registry.filters.FirmwareStatusChanged(), from);
  const changedBy = new Map<number, Hex>();
  for (const c of changes) changedBy.set(Number(c.args.firmwareId), c.args.by.toLowerCase() as Hex);
  const out: FirmwareSummary[] = [];
  for (const e of published) {
    const id = Number(e.args.firmwareId);
    const [f, measurement] = await registry.firmware(id);
    const status = firmwareStatusName(f.status);
    const imageDigests = e.args.imageDigests.map((d) => d.toLowerCase() as Hex);
    out.push({
      firmwareId: id,
      maker: Number(e.args.maker),
      model: Number(e.args.model),
      version: e.args.version,
      status,
      sunset: status === "Deprecated" ? f.sunset : null,
      revokedAt: status === "Revoked" ? f.revokedAt : null,
      measurement: measurement.toLowerCase() as Hex,
      consistent: measurementMatches(measurement, imageDigests),
      imageDigests,
      uri: e.args.uri,
      publishedAtBlock: e.blockNumber,
      changedBy: changedBy.get(id) ?? null,
      ...(filter.signatures === undefined
        ? {}
        : { pqSigned: await filter.signatures.isPqSigned(id) }),
    });
  }
  return out;
}
