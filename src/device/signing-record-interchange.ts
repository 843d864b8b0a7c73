import { parseHex, type Hex } from "../protocol/index.js";
import { SigningRecordError } from "./signing-record-errors.js";

/**
 * The signing record's interchange format (version 1), modelled on EIP-3076's slashing-protection
 * interchange: what a device signed, per feed, with the metadata that binds it to one device on one
 * deployment, so that the record moves with the device to new hardware (`device protection export`,
 * then `device protection import` on the new one). uint64 values are decimal strings; digests are the
 * EIP-712 digests under the metadata's domain (a batch leaf appears as the digest its reading would have
 * signed alone).
 *
 *     {
 *       "kind": "devicetrust-signing-record", "version": 1,
 *       "metadata": { "chainId": "31337", "verifyingContract": "0x…", "deviceId": "0x…" },
 *       "feeds": [{
 *         "feedId": "0x…", "lowWater": "0", "highWater": "12",
 *         "readings": [{ "sequence": "12", "digest": "0x…" }],
 *         "batches": [{ "firstSequence": "1", "lastSequence": "8", "digest": "0x…" }]
 *       }],
 *       "attestation": { "bootCount": "3", "measurement": "0x…" }
 *     }
 *
 * `lowWater`: every sequence below it is forgotten (refused); `highWater`: the highest sequence signed.
 * A minimal record carries only the marks (lowWater = highWater + 1, no entries) and still keeps the
 * device from signing any sequence it may have used.
 */
export const INTERCHANGE_KIND = "devicetrust-signing-record";
export const INTERCHANGE_VERSION = 1;

export interface InterchangeMetadata {
  readonly chainId: string;
  readonly verifyingContract: Hex;
  readonly deviceId: Hex;
}

export interface InterchangeReading {
  readonly sequence: string;
  readonly digest: Hex;
}

export interface InterchangeBatch {
  readonly firstSequence: string;
  readonly lastSequence: string;
  readonly digest: Hex;
}

export interface InterchangeFeed {
  readonly feedId: Hex;
  readonly lowWater: string;
  readonly highWater: string;
  readonly readings: readonly InterchangeReading[];
  readonly batches: readonly InterchangeBatch[];
}

export interface InterchangeAttestation {
  readonly bootCount: string;
  readonly measurement: Hex;
}

export interface SigningRecordInterchange {
  readonly kind: typeof INTERCHANGE_KIND;
  readonly version: typeof INTERCHANGE_VERSION;
  readonly metadata: InterchangeMetadata;
  readonly feeds: readonly InterchangeFeed[];
  readonly attestation: InterchangeAttestation | null;
}

const UINT64_MAX = 2n ** 64n - 1n;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Validates a parsed interchange file (`where` names it in errors): its kind and version, every hex
 * field (the one hex parser), every uint64 as a decimal string, lowWater <= highWater + 1, and every
 * entry between the marks. Returns it with hex lower-cased.
 */
export function parseInterchange(value: unknown, where: string): SigningRecordInterchange {
  const bad = (what: string) =>
    new SigningRecordError(
      `${where} is not a DeviceTrust signing record interchange (version ${String(INTERCHANGE_VERSION)}): ${what}`,
    );
  const hex = (v: unknown, what: string, bytes?: number): Hex => {
    try {
      return parseHex(v, what, { bytes });
    } catch (cause: unknown) {
      throw new SigningRecordError(
        `${where}: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
    }
  };
  const uint = (v: unknown, what: string): bigint => {
    if (typeof v !== "string" || !/^(0|[1-9]\d*)$/.test(v) || BigInt(v) > UINT64_MAX) {
      throw bad(`${what} must be a uint64 as a decimal string, got ${JSON.stringify(v)}`);
    }
    return BigInt(v);
  };
  const list = (v: unknown, what: string): unknown[] => {
    if (!Array.isArray(v)) throw bad(`${what} must be a list`);
    return v as unknown[];
  };
  if (!isRecord(value) || value.kind !== INTERCHANGE_KIND)
    throw bad(`kind is not "${INTERCHANGE_KIND}"`);
  if (value.version !== INTERCHANGE_VERSION) {
    throw bad(`version ${JSON.stringify(value.version)} is not supported`);
  }
  const m = value.metadata;
  if (!isRecord(m)) throw bad("metadata is missing");
  const metadata: InterchangeMetadata = {
    chainId: uint(m.chainId, "metadata.chainId").toString(),
    verifyingContract: hex(m.verifyingContract, "metadata.verifyingContract", 20),
    deviceId: hex(m.deviceId, "metadata.deviceId", 32),
  };
  const seen = new Set<string>();
  const feeds = list(value.feeds, "feeds").map((f, i): InterchangeFeed => {
    const at = `feeds[${String(i)}]`;
    if (!isRecord(f)) throw bad(`${at} is not an object`);
    const feedId = hex(f.feedId, `${at}.feedId`, 32);
    if (seen.has(feedId)) throw bad(`feed ${feedId} appears twice`);
    seen.add(feedId);
    const low = uint(f.lowWater, `${at}.lowWater`);
    const high = uint(f.highWater, `${at}.highWater`);
    if (low > high + 1n) throw bad(`${at}: lowWater ${String(low)} is above highWater + 1`);
    const within = (s: bigint, what: string) => {
      if (s < low || s > high) {
        throw bad(`${what} ${String(s)} is outside ${String(low)}..${String(high)}`);
      }
    };
    const readings = list(f.readings, `${at}.readings`).map((r, j): InterchangeReading => {
      const rat = `${at}.readings[${String(j)}]`;
      if (!isRecord(r)) throw bad(`${rat} is not an object`);
      const sequence = uint(r.sequence, `${rat}.sequence`);
      within(sequence, `${rat}.sequence`);
      return { sequence: sequence.toString(), digest: hex(r.digest, `${rat}.digest`, 32) };
    });
    const batches = list(f.batches, `${at}.batches`).map((b, j): InterchangeBatch => {
      const bat = `${at}.batches[${String(j)}]`;
      if (!isRecord(b)) throw bad(`${bat} is not an object`);
      const first = uint(b.firstSequence, `${bat}.firstSequence`);
      const last = uint(b.lastSequence, `${bat}.lastSequence`);
      if (first > last) throw bad(`${bat}: firstSequence is above lastSequence`);
      // A batch may start below the low-water mark (its lower leaves forgotten), not end below it.
      within(last, `${bat}.lastSequence`);
      return {
        firstSequence: first.toString(),
        lastSequence: last.toString(),
        digest: hex(b.digest, `${bat}.digest`, 32),
      };
    });
    return { feedId, lowWater: low.toString(), highWater: high.toString(), readings, batches };
  });
  let attestation: InterchangeAttestation | null = null;
  if (value.attestation !== null && value.attestation !== undefined) {
    const a = value.attestation;
    if (!isRecord(a)) throw bad("attestation is not an object");
    attestation = {
      bootCount: uint(a.bootCount, "attestation.bootCount").toString(),
      measurement: hex(a.measurement, "attestation.measurement", 32),
    };
  }
  return { kind: INTERCHANGE_KIND, version: INTERCHANGE_VERSION, metadata, feeds, attestation };
}
