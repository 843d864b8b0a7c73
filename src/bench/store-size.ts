import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { id } from "ethers";
import { GatewayStore } from "../gateway/store.js";
import { KeyType, type Hex, type SignedReading } from "../protocol/index.js";
import { EvidenceStore } from "../watchtower/store.js";

/**
 * The stores' size on disk (retention issue): a GatewayStore fed 1,000,000 readings, each marked
 * submitted as the gateway would once its round is mined, then a steady state of `steady` more
 * readings under retention (the last `retain` readings kept, older submitted ones pruned); and an
 * EvidenceStore fed the same 1,000,000 readings. Rows are written through the stores' own methods;
 * signatures and struct hashes are well-formed bytes that need not verify (nothing here checks
 * them), so the run measures storage, not cryptography. Time is simulated: one reading per
 * millisecond, so a window of N readings is N ms of `received_at`.
 */

export interface StoreSizeResults {
  readonly bytes: Record<string, number>;
  readonly meta: Record<string, string | number>;
}

export interface StoreSizeOptions {
  /** Readings of the first fill (default 1,000,000). */
  readonly readings?: number;
  /** Readings of the steady state under retention (default 500,000: five windows). */
  readonly steady?: number;
  /** Readings the steady state retains (default 100,000). */
  readonly retain?: number;
  /** Readings between two prunes of the steady state (default 10,000). */
  readonly pruneEvery?: number;
  /** Devices the readings come from, round robin (default 1,000). */
  readonly devices?: number;
  /** Whether to measure the watchtower's EvidenceStore too (default true). */
  readonly watchtower?: boolean;
  /** Progress lines (default: stderr). */
  readonly progress?: (line: string) => void;
}

/** Readings per transaction: the gateway groups the writes of readings that arrive together. */
const GROUP = 1_000;
const FEED = id("bench-feed") as Hex;
const T0 = 1_700_000_000;
const TX_HASH = id("bench-round") as Hex;

interface Device {
  readonly id: Hex;
  readonly key: Hex;
}

function hexOf(seed: string, algorithm: "sha256" | "sha512"): Hex {
  return `0x${createHash(algorithm).update(seed).digest("hex")}`;
}

/** A P-256 device: a 32-byte id and a 64-byte public key (x ‖ y). */
function devicesOf(n: number): Device[] {
  return Array.from({ length: n }, (_, i) => ({
    id: hexOf(`device-${String(i)}`, "sha256"),
    key: hexOf(`key-${String(i)}`, "sha512"),
  }));
}

/** The i-th reading: devices in turn, each with its own sequence; a 64-byte signature. */
function readingAt(devices: readonly Device[], i: number): { signed: SignedReading; hash: Hex } {
  const device = devices[i % devices.length];
  if (device === undefined) throw new RangeError("no devices");
  const round = Math.floor(i / devices.length);
  return {
    signed: {
      reading: {
        deviceId: device.id,
        feedId: FEED,
        sequence: BigInt(round + 1),
        timestamp: BigInt(T0 + round),
        // A temperature in milli-degrees that moves a little from reading to reading.
        value: BigInt(20_000 + ((i * 7919) % 5_000) - 2_500),
      },
      key: { keyType: KeyType.P256, key: device.key },
      signature: hexOf(`signature-${String(i)}`, "sha512"),
    },
    hash: hexOf(`reading-${String(i)}`, "sha256"),
  };
}

/** Simulated receipt time of the i-th reading (ms): one reading per millisecond. */
const receivedAt = (i: number): number => T0 * 1000 + i;

/** Writes readings [from, to) in groups, each group then marked submitted under one round's hash. */
function fillGateway(
  store: GatewayStore,
  devices: readonly Device[],
  from: number,
  to: number,
  after?: (next: number) => void,
): void {
  for (let start = from; start < to; start += GROUP) {
    const end = Math.min(start + GROUP, to);
    const ids = store.transaction(() => {
      const out: { id: number; rejected: null }[] = [];
      for (let i = start; i < end; i++) {
        const { signed, hash } = readingAt(devices, i);
        const put = store.put(signed, hash, receivedAt(i));
        if (put.id !== undefined) out.push({ id: put.id, rejected: null });
      }
      return out;
    });
    store.markOutcomes(ids, TX_HASH);
    after?.(end);
  }
}

/** The write-ahead log's share of a size (the rest is the database's pages). */
function walBytes(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** Runs the measurement in a temporary folder (removed at the end). */
export async function benchStoreSize(options: StoreSizeOptions = {}): Promise<StoreSizeResults> {
  const progress =
    options.progress ??
    ((line: string) => {
      process.stderr.write(`${line}\n`);
    });
  const readings = options.readings ?? 1_000_000;
  const steady = options.steady ?? 500_000;
  const retain = options.retain ?? 100_000;
  const pruneEvery = options.pruneEvery ?? 10_000;
  const devices = devicesOf(options.devices ?? 1_000);
  const label = String(readings);
  const bytes: Record<string, number> = {};
  const meta: Record<string, string | number> = {};
  const folder = await mkdtemp(join(tmpdir(), "devicetrust-store-size-"));
  try {
    const started = performance.now();
    // SQLite's own checkpoints (every 1000 pages, on the writer): the gateway's checkpointer thread
    // runs every 250 ms, and a loop that writes without pause outruns it, so its WAL would measure
    // this loop, not the store.
    const store = new GatewayStore(join(folder, "gateway.sqlite"), "NORMAL", 0);
    try {
      fillGateway(store, devices, 0, readings, (next) => {
        if (next % 200_000 === 0)
          progress(`store: gateway ${String(next)} readings, ${mb(store.sizeBytes())}`);
      });
      bytes[`gateway.store.${label}readings`] = store.sizeBytes();
      bytes[`gateway.store.${label}readings.wal`] = walBytes(store.path);
      // Steady state: as many readings again, pruned every `pruneEvery` down to the last `retain`.
      let pruned = 0;
      let low = Number.MAX_SAFE_INTEGER;
      let high = 0;
      const pruneStarted = performance.now();
      let pruneMs = 0;
      fillGateway(store, devices, readings, readings + steady, (next) => {
        if (next % pruneEvery !== 0) return;
        const t = performance.now();
        pruned += store.prune(receivedAt(next - retain)).readings;
        pruneMs += performance.now() - t;
        // The size once the first prune has freed what the steady state reuses.
        if (next - readings > retain) {
          const size = store.sizeBytes();
          low = Math.min(low, size);
          high = Math.max(high, size);
        }
        if (next % 200_000 === 0) {
          progress(
            `store: gateway steady state at ${String(next)} readings, ${mb(store.sizeBytes())}`,
          );
        }
      });
      const counts = store.recount().readings;
      bytes[`gateway.store.${label}readings.pruned`] = store.sizeBytes();
      bytes[`gateway.store.${label}readings.pruned.wal`] = walBytes(store.path);
      meta.storeRetention = `gateway: ${String(readings)} readings, then ${String(steady)} more keeping the last ${String(retain)} (pruned every ${String(pruneEvery)}): ${String(pruned)} pruned, ${String(counts.submitted)} kept; size over the steady state ${mb(low)} to ${mb(high)}; prunes took ${String(Math.round(pruneMs))} ms of ${String(Math.round(performance.now() - pruneStarted))} ms`;
    } finally {
      store.close();
    }
    meta.storeGatewaySeconds = Math.round((performance.now() - started) / 1000);

    if (options.watchtower ?? true) {
      const wtStarted = performance.now();
      const evidence = new EvidenceStore(join(folder, "watchtower.sqlite"));
      try {
        for (let start = 0; start < readings; start += GROUP) {
          const end = Math.min(start + GROUP, readings);
          evidence.transaction(() => {
            for (let i = start; i < end; i++) {
              const { signed, hash } = readingAt(devices, i);
              evidence.putFirst(signed, hash, receivedAt(i));
            }
          });
          if (end % 200_000 === 0) progress(`store: watchtower ${String(end)} readings`);
        }
        bytes[`watchtower.store.${label}readings`] = evidence.sizeBytes();
        bytes[`watchtower.store.${label}readings.wal`] = walBytes(evidence.path);
      } finally {
        evidence.close();
      }
      meta.storeWatchtowerSeconds = Math.round((performance.now() - wtStarted) / 1000);
    }
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
  return { bytes, meta };
}
