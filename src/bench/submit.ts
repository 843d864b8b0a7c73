import { performance } from "node:perf_hooks";
import type { Signer } from "ethers";
import { pino } from "pino";
import type { DeviceSigner } from "../device/index.js";
import { ChainSubmitter, GasModel, type GasItem } from "../gateway/index.js";
import {
  KeyType,
  signBatch,
  type DeviceKey,
  type Hex,
  type SignedBatch,
  type SignedReading,
} from "../protocol/index.js";

/**
 * On-chain submission throughput (`BENCH_ONLY=submit`): readings per second that a ChainSubmitter
 * gets accepted, end to end (calldata, signatures, nonces, receipts, the feed's events), on an
 * in-process EDR chain that mines a block every `blockMs` (interval mining, as a real chain does,
 * instead of a block per transaction). Three ways to put readings on chain:
 *
 * - per reading, one transaction in flight: submitMany chunks of 64 sent one at a time, each waiting
 *   for its receipt (as the submitter sent them before transactions went in flight);
 * - per reading, k transactions in flight: a call of k x 64 readings goes out back to back and its
 *   receipts are awaited together (the gateway's batchSize = maxPerTx x maxInFlight);
 * - batch anchoring: device-signed batches, 32 per anchorMany transaction (the gateway's
 *   maxBatchesPerTx), one transaction per call; each batch covers `readingsPerBatch` readings.
 *
 * Readings come as a gateway's fair queue hands them over: every device in turn, each device's
 * readings a second apart (a backlog within the feed's maxReadingAge), so a chunk of 64 holds two
 * readings of each of 32 members.
 *
 * The clock is the chain's: a rate is the readings (or batches) of the calls after the first, over
 * the blocks their transactions span times `blockMs`. EDR runs in this process and, on a loaded
 * machine, takes a while to execute a full block, so its blocks come further apart by the wall clock
 * than `blockMs` (see `meta`, `.edr`). What the gateway needs between a block and its next sends (a
 * receipt poll, 250 ms at most, and the sends, a few ms each) fits well inside 2 s, so every call's
 * transactions land in the next block, as on a chain that mines every `blockMs`; a call that missed a
 * block would show as a block spanned without readings.
 * Slower blocks are derived, not simulated: every call's transactions go into the next block (their
 * gas fits it, see `meta`), so a mode puts the same readings in a block whatever the interval.
 */
export interface SubmitBenchWorld {
  /** The gateway's account: the only sender of it. */
  readonly signer: Signer;
  /** Where `request` goes: interval mining, and a count of the JSON-RPC methods asked. */
  readonly provider: {
    request(args: { readonly method: string; readonly params?: unknown[] }): Promise<unknown>;
  };
  /** A feed with every device a member, its minInterval at most 1 s. */
  readonly feedId: Hex;
  readonly anchor: string;
  /** The feed's members, registered, attested and staked. */
  readonly devices: readonly { readonly signer: DeviceSigner }[];
}

export interface SubmitBenchOptions {
  readonly world: SubmitBenchWorld;
  /** Block interval of the simulated chain (default 2000 ms). */
  readonly blockMs?: number;
  /** Slower block intervals the figures are derived for (default 12000 ms). */
  readonly derivedBlockMs?: readonly number[];
  /** Measured time per mode (default 14000 ms). */
  readonly modeMs?: number;
  /** Transactions in flight of the per-reading modes (default 1, 8, 16). */
  readonly inFlight?: readonly number[];
  /** Readings each anchored batch covers (default 1024). */
  readonly readingsPerBatch?: number;
  readonly progress?: (line: string) => void;
}

export interface SubmitBenchResults {
  readonly perSecond: Record<string, number>;
  readonly gas: Record<string, number>;
  readonly meta: Record<string, string | number>;
}

const MAX_PER_TX = 64;
const BATCHES_PER_TX = 32;
const VALUE = 2_000n * 10n ** 8n;
/** Key types for the gas model (the key bytes do not matter to it). */
const P256_KEY: DeviceKey = { keyType: KeyType.P256, key: `0x${"00".repeat(64)}` };
const K1_KEY: DeviceKey = { keyType: KeyType.Secp256k1, key: `0x${"00".repeat(20)}` };

/** A run of calls, timed by the chain's blocks. */
interface Run {
  /** Per second of block time (blocks spanned x blockMs). */
  readonly perSecond: number;
  /** Per second of wall clock. */
  readonly wallPerSecond: number;
  /** Blocks the measured calls' transactions span, and wall-clock seconds per block. */
  readonly blocks: number;
  readonly wallPerBlock: number;
  readonly gasUsed: bigint;
  readonly items: number;
}

interface Call {
  readonly items: number;
  readonly gasUsed: bigint;
  readonly txHashes: readonly string[];
}

async function latestBlock(
  world: SubmitBenchWorld,
): Promise<{ timestamp: bigint; gasLimit: bigint }> {
  const block = (await world.provider.request({
    method: "eth_getBlockByNumber",
    params: ["latest", false],
  })) as { timestamp: string; gasLimit: string };
  return { timestamp: BigInt(block.timestamp), gasLimit: BigInt(block.gasLimit) };
}

async function blockOf(world: SubmitBenchWorld, hash: string): Promise<number> {
  const receipt = (await world.provider.request({
    method: "eth_getTransactionReceipt",
    params: [hash],
  })) as { blockNumber: string } | null;
  if (receipt === null) throw new Error(`bench: transaction ${hash} has no receipt`);
  return Number(receipt.blockNumber);
}

/**
 * Calls `call` on each of `inputs` in turn until `ms` of wall clock passed since the first call ended
 * (or the inputs ran out). The calls after the first are measured.
 */
async function timed<T>(
  world: SubmitBenchWorld,
  blockMs: number,
  inputs: readonly T[],
  ms: number,
  call: (input: T) => Promise<Call>,
): Promise<Run> {
  let firstEnd: number | undefined;
  let lastEnd = 0;
  const measured: Call[] = [];
  for (const input of inputs) {
    const done = await call(input);
    const now = performance.now();
    if (firstEnd === undefined) {
      firstEnd = now;
      continue;
    }
    lastEnd = now;
    measured.push(done);
    if (now - firstEnd >= ms) break;
  }
  const hashes = measured.flatMap((c) => c.txHashes);
  if (firstEnd === undefined || hashes.length === 0) {
    throw new Error("bench: the submission run was empty");
  }
  const blocks = await Promise.all(hashes.map((h) => blockOf(world, h)));
  const spanned = Math.max(...blocks) - Math.min(...blocks) + 1;
  const items = measured.reduce((a, c) => a + c.items, 0);
  const wall = (lastEnd - firstEnd) / 1000;
  return {
    perSecond: items / ((spanned * blockMs) / 1000),
    wallPerSecond: items / wall,
    blocks: spanned,
    wallPerBlock: wall / spanned,
    gasUsed: measured.reduce((a, c) => a + c.gasUsed, 0n),
    items,
  };
}

export async function benchSubmit(options: SubmitBenchOptions): Promise<SubmitBenchResults> {
  const { world } = options;
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const blockMs = options.blockMs ?? 2000;
  const derived = options.derivedBlockMs ?? [12_000];
  const modeMs = options.modeMs ?? 14_000;
  const inFlight = options.inFlight ?? [1, 8, 16];
  const perBatch = options.readingsPerBatch ?? 1024;
  const devices = world.devices;
  const perSecond: Record<string, number> = {};
  const gas: Record<string, number> = {};
  const meta: Record<string, string | number> = {};

  // Readings each mode may need: its calls, one per block, plus a margin.
  const blocksPerMode = Math.ceil(modeMs / blockMs) + 3;
  const need = inFlight.map((k) => k * MAX_PER_TX * blocksPerMode);
  const perDevice = need.map((n) => Math.ceil(n / devices.length));
  const totalPerDevice = perDevice.reduce((a, b) => a + b, 0);
  // One second apart per device, ending now: every reading is in the past and within the feed's
  // maxReadingAge (3600 s) for the whole run.
  const start = (await latestBlock(world)).timestamp - BigInt(totalPerDevice) - 5n;
  let offset = 0;
  let sequence = 0n;
  /** The next `count` readings of every device in turn, as a fair queue hands them over. */
  const sign = async (count: number): Promise<SignedReading[]> => {
    const out: SignedReading[] = [];
    for (let i = 0; i < count; i++) {
      const timestamp = start + BigInt(offset + i);
      for (const d of devices) {
        const s = await d.signer.signReading({
          feedId: world.feedId,
          sequence: sequence + BigInt(i) + 1n,
          timestamp,
          value: VALUE,
        });
        out.push({ reading: s.message, key: s.key, signature: s.signature });
      }
    }
    offset += count;
    sequence += BigInt(count);
    return out;
  };

  /** A mode's rate at `blockMs` and derived for the slower blocks; its blocks and wall clock in meta. */
  const record = (key: string, run: Run): void => {
    const perBlock = (run.perSecond * blockMs) / 1000;
    perSecond[key] = Math.round(run.perSecond);
    for (const slow of derived) {
      perSecond[`${key}.${String(slow / 1000)}s`] = Math.round(perBlock / (slow / 1000));
    }
    meta[`${key}.perBlock`] = Math.round(perBlock);
    meta[`${key}.edr`] =
      `${String(run.blocks)} blocks, ${run.wallPerBlock.toFixed(1)} s of wall clock each on this machine (EDR executing them): ${String(Math.round(run.wallPerSecond))}/s by the wall clock`;
  };
  const estimates = countEstimates(world);
  const limit = (await latestBlock(world)).gasLimit;
  await world.provider.request({ method: "evm_setAutomine", params: [false] });
  await world.provider.request({ method: "evm_setIntervalMining", params: [blockMs] });
  const quiet = pino({ level: "silent" });
  try {
    const best = { rate: 0, k: 0 };
    for (const [m, k] of inFlight.entries()) {
      const count = perDevice[m] ?? 0;
      progress(
        `submit: signing ${String(count * devices.length)} readings for ${String(k)} in flight`,
      );
      const readings = await sign(count);
      const calls: SignedReading[][] = [];
      for (let i = 0; i < readings.length; i += k * MAX_PER_TX) {
        calls.push(readings.slice(i, i + k * MAX_PER_TX));
      }
      const sub = new ChainSubmitter({
        signer: world.signer,
        anchor: world.anchor,
        maxPerTx: MAX_PER_TX,
        maxInFlight: k,
        logger: quiet,
      });
      progress(`submit: submitMany, ${String(k)} in flight, ${String(blockMs)} ms blocks`);
      const run = await timed(world, blockMs, calls, modeMs, async (batch) => {
        const r = await sub.submitReadings(batch);
        if (r.accepted !== batch.length) {
          throw new Error(
            `bench: the feed accepted ${String(r.accepted)} of ${String(batch.length)} readings (${JSON.stringify(r.outcomes.find((o) => !o.accepted))})`,
          );
        }
        return { items: r.accepted, gasUsed: r.gasUsed, txHashes: r.txHashes };
      });
      const key = `gateway.submit.readings.inflight${String(k)}`;
      record(key, run);
      gas[`gateway.submit.perReading.inflight${String(k)}`] = Number(
        run.gasUsed / BigInt(run.items),
      );
      if (run.perSecond > best.rate) {
        best.rate = run.perSecond;
        best.k = k;
      }
    }
    perSecond["gateway.submit.readings"] = Math.round(best.rate);
    meta["gateway.submit.readings.mode"] =
      `submitMany, ${String(best.k)} transactions of ${String(MAX_PER_TX)} readings in flight`;

    // Batch anchoring: every device's next batch, 32 per anchorMany.
    const groups = Math.ceil(modeMs / blockMs) + 3;
    progress(
      `submit: signing ${String(groups * BATCHES_PER_TX)} batches of ${String(perBatch)} readings`,
    );
    const now = (await latestBlock(world)).timestamp;
    const batches: SignedBatch[][] = [];
    for (let g = 0; g < groups; g++) {
      const group: SignedBatch[] = [];
      for (let b = 0; b < BATCHES_PER_TX; b++) {
        const i = g * BATCHES_PER_TX + b;
        const d = devices[i % devices.length];
        if (d === undefined) continue;
        const first = 1_000_000n + BigInt(Math.floor(i / devices.length) * perBatch);
        const readings = Array.from({ length: perBatch }, (_, j) => ({
          feedId: world.feedId,
          sequence: first + BigInt(j),
          timestamp: now - BigInt(perBatch - j),
          value: VALUE,
        }));
        group.push((await signBatch(d.signer, readings)).signed);
      }
      batches.push(group);
    }
    const anchorer = new ChainSubmitter({
      signer: world.signer,
      anchor: world.anchor,
      logger: quiet,
    });
    progress(
      `submit: anchorMany of ${String(BATCHES_PER_TX)} batches, ${String(blockMs)} ms blocks`,
    );
    const anchored = await timed(world, blockMs, batches, modeMs, async (group) => {
      const r = await anchorer.anchorBatches(group);
      if (!r.outcomes.every((o) => o.anchored))
        throw new Error("bench: the anchor refused a batch");
      return { items: group.length, gasUsed: r.gasUsed, txHashes: [r.txHash] };
    });
    record("gateway.submit.anchored.batches", anchored);
    record("gateway.submit.anchored", {
      ...anchored,
      perSecond: anchored.perSecond * perBatch,
      wallPerSecond: anchored.wallPerSecond * perBatch,
    });
    gas["gateway.submit.perBatch"] = Number(anchored.gasUsed / BigInt(anchored.items));
  } finally {
    await world.provider.request({ method: "evm_setIntervalMining", params: [0] });
    await world.provider.request({ method: "evm_setAutomine", params: [true] });
    estimates.restore();
  }

  // What a block holds when the gas limits fill it (builders count limits, not gas used): the gas
  // model's limits for a chunk of 64 readings and a group of 32 batches of returning members, half
  // per curve.
  const model = new GasModel();
  const items = (n: number): GasItem[] =>
    Array.from({ length: n }, (_, i) => ({ key: i % 2 === 0 ? P256_KEY : K1_KEY, first: false }));
  const reserved = model.submitMany(items(MAX_PER_TX), true).limit;
  const batchGroup = model.anchorMany(items(BATCHES_PER_TX), true).limit;
  const chunksPerBlock = Number(limit / reserved);
  gas["gateway.submit.limit.perReading"] = Number(reserved / BigInt(MAX_PER_TX));
  gas["gateway.submit.limit.perBatch"] = Number(batchGroup / BigInt(BATCHES_PER_TX));
  meta["gateway.submit.blockGasLimit"] = Number(limit);
  meta["gateway.submit.blockMs"] = blockMs;
  meta["gateway.submit.chunksPerBlock"] = chunksPerBlock;
  meta["gateway.submit.estimateGasCalls"] = estimates.count();
  meta["gateway.submit.readingsPerBatch"] = perBatch;
  meta["gateway.submit.method"] =
    `EDR (osaka) interval mining at ${String(blockMs)} ms, block gas limit ${String(limit)}; a feed of ${String(devices.length)} members (both curves), readings a second apart per device; rates by block time (blocks spanned x ${String(blockMs)} ms) over ~${String(modeMs / 1000)} s of calls per mode after the first call; ${derived.map((d) => `${String(d / 1000)} s`).join(", ")} blocks derived from the readings per block (each call's transactions fit one block)`;
  return { perSecond, gas, meta };
}

/** Counts the eth_estimateGas requests `world.provider` gets until `restore`. */
function countEstimates(world: SubmitBenchWorld): { count: () => number; restore: () => void } {
  const provider = world.provider;
  const original = provider.request.bind(provider);
  let n = 0;
  provider.request = (args) => {
    if (args.method === "eth_estimateGas") n++;
    return original(args);
  };
  return {
    count: () => n,
    restore: () => {
      provider.request = original;
    },
  };
}
