import {
  encodeBatch,
  signBatch,
  type SignedReading,
  batchTopic,
  encodeReading,
  readingTopic,
} from "../protocol/index.js";
import { spawn } from "node:child_process";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ZeroHash, id } from "ethers";
import { pino } from "pino";
import { DeviceSigner } from "../device/device-signer.js";
import { SoftwareKeyStore } from "../device/software-key-store.js";
import {
  DevicePublisher,
  Gateway,
  startEmbeddedBroker,
  type GatewayOptions,
  type KeyDirectory,
  type ReadingSubmitter,
} from "../gateway/index.js";
import type { Curve, Domain, Hex } from "../protocol/index.js";

/**
 * The gateway's benchmark (issue 5): verified readings per second on this thread, single-signature
 * and batch mode, and the resident memory of a gateway process that 10,000 simulated devices (both
 * curves) stream through. Everything runs in process without Hardhat or a chain: a stub registry and
 * a submitter that takes everything at once stand in for the chain, SQLite is a real WAL file.
 * Rates are the fastest of ROUNDS timed parts of each sample, after a warm-up run.
 */

export interface GatewayBenchResults {
  readonly perSecond: Record<string, number>;
  readonly bytes: Record<string, number>;
  readonly meta: Record<string, string | number>;
}

export interface GatewayBenchOptions {
  /** Single readings measured per curve (default P-256 8000, secp256k1 1000). */
  readonly singleReadings?: { readonly p256: number; readonly secp256k1: number };
  /** Batches of 1024 readings measured (default 64). */
  readonly batches?: number;
  /** Devices of the memory run (default 10,000), half per curve; 0 skips it. */
  readonly devices?: number;
  /** Readings published over the embedded broker (default 4000); 0 skips the MQTT figure. */
  readonly mqttReadings?: number;
  /** Progress lines (default: stderr). */
  readonly progress?: (line: string) => void;
}

const DOMAIN: Domain = {
  chainId: 31337n,
  verifyingContract: "0x00000000000000000000000000000000000000aa",
};
const FEED = id("bench-feed") as Hex;
const T0 = 1_700_000_000n;

/** Every key is its device's first key and still current: the registry is asked once per device. */
const DIRECTORY: KeyDirectory = {
  keyOwner: () => Promise.resolve(ZeroHash as Hex),
  currentKeyHash: (deviceId) => Promise.resolve(deviceId),
  ping: () => Promise.resolve(),
};

/** Takes every submission at once (the chain is not what is measured). */
const SUBMITTER: ReadingSubmitter = {
  submitReadings: (readings) =>
    Promise.resolve({
      txHash: ZeroHash as Hex,
      outcomes: readings.map(() => ({ accepted: true as const })),
    }),
  anchorBatch: () => Promise.resolve({ txHash: ZeroHash as Hex }),
  anchorBatches: (batches) =>
    Promise.resolve({
      txHash: ZeroHash as Hex,
      outcomes: batches.map(() => ({ anchored: true as const })),
    }),
};

function signer(curve: Curve): DeviceSigner {
  return new DeviceSigner(SoftwareKeyStore.generate(curve), DOMAIN);
}

async function withGateway<T>(
  options: Partial<GatewayOptions>,
  run: (g: Gateway) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "gateway-bench-"));
  const g = new Gateway({
    domain: DOMAIN,
    directory: DIRECTORY,
    submitter: SUBMITTER,
    dbPath: join(dir, "gateway.sqlite"),
    brokerUrl: "unused",
    http: false,
    logger: pino({ level: "silent" }),
    batchSize: 256,
    batchIntervalMs: 50,
    // The bench replays hours of a fleet's readings in seconds: no device could keep to its rate.
    deviceRate: false,
    ...options,
  });
  try {
    await g.open();
    return await run(g);
  } finally {
    await g.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Signed readings of `devices` devices, `perDevice` each, interleaved as devices would send them. */
export async function signedReadings(
  curve: Curve,
  devices: number,
  perDevice: number,
): Promise<SignedReading[]> {
  const signers = Array.from({ length: devices }, () => signer(curve));
  const out: SignedReading[] = [];
  for (let i = 1n; i <= BigInt(perDevice); i++) {
    for (const d of signers) {
      const s = await d.signReading({ feedId: FEED, sequence: i, timestamp: T0 + i, value: i });
      out.push({ reading: s.message, key: s.key, signature: s.signature });
    }
  }
  return out;
}

function assertAll(outcomes: readonly string[], what: string): void {
  const bad = outcomes.find((o) => o !== "accepted");
  if (bad !== undefined) throw new Error(`bench: a ${what} was not accepted (${bad})`);
}

/** Throws unless the gateway stored `readings` readings and `batches` batches. */
function assertStored(g: Gateway, readings: number, batches: number): void {
  const r = g.readings.counts();
  const b = g.readings.batchCounts();
  if (r.pending + r.submitted !== readings || b.pending + b.submitted !== batches) {
    throw new Error(
      `bench: the gateway stored ${String(r.pending + r.submitted)} readings and ${String(b.pending + b.submitted)} batches, not ${String(readings)} and ${String(batches)}`,
    );
  }
}

/** How many equal parts a sample is timed in; the fastest part's rate counts (as in measure.ts). */
const ROUNDS = 4;

/**
 * Feeds `items` to `handle` in windows of `window` concurrent calls (as the MQTT intake does,
 * maxInFlight), timing each of ROUNDS consecutive parts; returns the fastest part's items per
 * second. The fastest part measures the code rather than what else the shared machine ran meanwhile.
 */
async function bestRate<T>(
  items: readonly T[],
  window: number,
  handle: (item: T) => Promise<unknown>,
): Promise<number> {
  const part = Math.max(window, Math.ceil(items.length / ROUNDS / window) * window);
  let best = 0;
  for (let p = 0; p < items.length; p += part) {
    const chunk = items.slice(p, p + part);
    const start = process.hrtime.bigint();
    for (let i = 0; i < chunk.length; i += window) {
      await Promise.all(chunk.slice(i, i + window).map(handle));
    }
    best = Math.max(best, chunk.length / (Number(process.hrtime.bigint() - start) / 1e9));
  }
  return best;
}

/**
 * Readings per second through `accept` (verify + dedup + persisted, the ack condition), fed in
 * windows of `window` concurrent calls as the MQTT intake does (maxInFlight).
 */
export async function acceptRate(
  readings: readonly SignedReading[],
  window = 256,
): Promise<number> {
  return withGateway({ maxQueue: readings.length + 1 }, async (g) => {
    const outcomes: string[] = [];
    const rate = await bestRate(readings, window, async (r) => {
      outcomes.push(await g.accept(r));
    });
    assertAll(outcomes, "reading");
    return rate;
  });
}

/** Readings per second through `onMessage` from the wire bytes (topic, JSON decode, accept). */
export async function intakeRate(
  readings: readonly SignedReading[],
  window = 256,
): Promise<number> {
  const messages = readings.map((r) => ({
    topic: readingTopic(r.reading.feedId, r.reading.deviceId),
    payload: encodeReading(r),
  }));
  return withGateway({ maxQueue: readings.length + 1 }, async (g) => {
    const rate = await bestRate(messages, window, (m) => g.onMessage(m.topic, m.payload));
    assertStored(g, messages.length, 0);
    return rate;
  });
}

export interface BatchMessage {
  readonly topic: string;
  readonly payload: Buffer;
}

export async function batchMessages(
  count: number,
  size: number,
  curves: readonly Curve[],
): Promise<BatchMessage[]> {
  const devices = curves.map((c) => signer(c));
  const out: BatchMessage[] = [];
  for (let b = 0; b < count; b++) {
    const d = devices[b % devices.length] ?? devices[0];
    if (d === undefined) throw new Error("bench: no batch device");
    const base = BigInt(Math.floor(b / devices.length) * size);
    const readings = Array.from({ length: size }, (_, i) => ({
      feedId: FEED,
      sequence: base + BigInt(i) + 1n,
      timestamp: T0 + base + BigInt(i),
      value: BigInt(20_000 + ((b * 7 + i * 13) % 1000)),
    }));
    const { signed, readings: full } = await signBatch(d, readings);
    out.push({ topic: batchTopic(FEED, d.deviceId), payload: encodeBatch(signed, full) });
  }
  return out;
}

/** Readings per second in batch mode, from the wire bytes (decode, root, signature, persist). */
export async function batchRate(messages: readonly BatchMessage[], size: number): Promise<number> {
  return withGateway({ maxBatchQueue: messages.length + 1 }, async (g) => {
    const rate = await bestRate(messages, 8, (m) => g.onMessage(m.topic, m.payload));
    assertStored(g, 0, messages.length);
    return rate * size;
  });
}

/**
 * End to end over the embedded aedes broker in this process: one device client publishes P-256
 * readings with QoS 1 (up to 256 unacknowledged), the gateway verifies, persists and acknowledges.
 * Readings per second from the first publish until the gateway verified the last one. Broker,
 * publisher and gateway share this one thread, so this is a lower bound of the gateway alone.
 */
async function mqttRate(readings: readonly SignedReading[]): Promise<number> {
  const broker = await startEmbeddedBroker({ port: 0 });
  const dir = await mkdtemp(join(tmpdir(), "gateway-bench-mqtt-"));
  const g = new Gateway({
    domain: DOMAIN,
    directory: DIRECTORY,
    submitter: SUBMITTER,
    dbPath: join(dir, "gateway.sqlite"),
    brokerUrl: broker.url,
    clientId: "bench-gateway",
    http: false,
    logger: pino({ level: "silent" }),
    batchSize: 256,
    batchIntervalMs: 50,
    deviceRate: false,
  });
  const pub = await DevicePublisher.connect(broker.url);
  try {
    await g.start();
    const start = process.hrtime.bigint();
    const inFlight = new Set<Promise<void>>();
    for (const r of readings) {
      const p = pub.publish(r).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= 256) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    for (;;) {
      const accepted = g.readings.counts();
      if (accepted.pending + accepted.submitted >= readings.length) break;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return readings.length / (Number(process.hrtime.bigint() - start) / 1e9);
  } finally {
    await pub.close();
    await g.stop();
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The traffic of the memory run, written to `path` so that the gateway process holds none of the
 * simulator's state (10,000 device keys weigh more than the gateway): `devices` devices, half P-256
 * and half secp256k1, each with its own key, each sending a signed reading, then a batch of 16
 * readings, then another signed reading. Records: u16 topic length, topic, u32 payload length,
 * payload. Returns the number of messages.
 */
export async function writeDeviceTraffic(
  path: string,
  devices: number,
  progress: (line: string) => void,
): Promise<number> {
  const signers = Array.from({ length: devices }, (_, i) =>
    signer(i % 2 === 0 ? "p256" : "secp256k1"),
  );
  const single = async (d: DeviceSigner, sequence: bigint): Promise<BatchMessage> => {
    const s = await d.signReading({ feedId: FEED, sequence, timestamp: T0 + sequence, value: 1n });
    const r = { reading: s.message, key: s.key, signature: s.signature };
    return { topic: readingTopic(FEED, d.deviceId), payload: encodeReading(r) };
  };
  const rounds: ((d: DeviceSigner) => Promise<BatchMessage>)[] = [
    (d) => single(d, 1n),
    async (d) => {
      const readings = Array.from({ length: 16 }, (_, i) => ({
        feedId: FEED,
        sequence: 2n + BigInt(i),
        timestamp: T0 + 2n + BigInt(i),
        value: BigInt(i),
      }));
      const { signed, readings: full } = await signBatch(d, readings);
      return { topic: batchTopic(FEED, d.deviceId), payload: encodeBatch(signed, full) };
    },
    (d) => single(d, 100n),
  ];
  const out = await open(path, "w");
  try {
    for (const [n, round] of rounds.entries()) {
      for (let i = 0; i < signers.length; i += 500) {
        const messages = await Promise.all(signers.slice(i, i + 500).map(round));
        const records = messages.flatMap((m) => {
          const head = Buffer.alloc(2);
          head.writeUInt16BE(m.topic.length);
          const len = Buffer.alloc(4);
          len.writeUInt32BE(m.payload.length);
          return [head, Buffer.from(m.topic), len, m.payload];
        });
        await out.write(Buffer.concat(records));
      }
      progress(
        `  memory run: traffic round ${String(n + 1)}/3 of ${String(devices)} devices signed`,
      );
    }
  } finally {
    await out.close();
  }
  return rounds.length * devices;
}

/**
 * The gateway side of the memory run (in a process of its own, see gatewayRss): feeds the messages of
 * `path` through one gateway from the wire, in windows of 256 as the MQTT intake takes them, and
 * returns the highest RSS sampled, in bytes.
 */
export async function streamTraffic(
  path: string,
  progress: (line: string) => void,
): Promise<number> {
  let peak = process.memoryUsage().rss;
  const sample = (): void => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const input = await open(path, "r");
  let pending = Buffer.alloc(0);
  let eof = false;
  /** The next record, or undefined at the end of the file. */
  const next = async (): Promise<BatchMessage | undefined> => {
    for (;;) {
      if (pending.length >= 2) {
        const topicEnd = 2 + pending.readUInt16BE(0);
        if (pending.length >= topicEnd + 4) {
          const end = topicEnd + 4 + pending.readUInt32BE(topicEnd);
          if (pending.length >= end) {
            const m = {
              topic: pending.toString("utf8", 2, topicEnd),
              payload: Buffer.from(pending.subarray(topicEnd + 4, end)),
            };
            pending = pending.subarray(end);
            return m;
          }
        }
      }
      if (eof) return undefined;
      const chunk = Buffer.alloc(1 << 20);
      const { bytesRead } = await input.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) eof = true;
      pending = Buffer.concat([pending, chunk.subarray(0, bytesRead)]);
    }
  };
  let count = 0;
  try {
    await withGateway({}, async (g) => {
      for (;;) {
        const window: BatchMessage[] = [];
        for (let m = await next(); m !== undefined; m = await next()) {
          window.push(m);
          if (window.length === 256) break;
        }
        if (window.length === 0) break;
        await Promise.all(window.map((m) => g.onMessage(m.topic, m.payload)));
        count += window.length;
        sample();
        if (count % 10_000 < 256) {
          const m = process.memoryUsage();
          const mib = (n: number): string => `${String(Math.round(n / 2 ** 20))} MiB`;
          progress(
            `  memory run: ${String(count)} messages, rss ${mib(peak)} (V8 heap ${mib(m.heapTotal)}, external ${mib(m.external)})`,
          );
        }
      }
      await g.flushNow();
      sample();
      const r = g.readings.counts();
      const b = g.readings.batchCounts();
      progress(
        `  memory run: stored ${String(r.pending + r.submitted)} readings and ${String(b.pending + b.submitted)} batches`,
      );
      if (r.pending + r.submitted + b.pending + b.submitted !== count) {
        throw new Error("bench: the memory run did not accept every message");
      }
    });
  } finally {
    await input.close();
  }
  return peak;
}

/** Runs streamTraffic on `path` in a fresh Node process with `flags`; its peak RSS in bytes. */
async function rssOfChild(
  path: string,
  flags: readonly string[],
  progress: (line: string) => void,
): Promise<number> {
  const node = join(process.cwd(), "node_modules/.bin/node");
  const self = fileURLToPath(import.meta.url);
  const child = spawn(node, [...flags, "--no-warnings", "--import", "tsx", self], {
    env: { ...process.env, DT_GATEWAY_RSS_TRAFFIC: path },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) if (line.trim() !== "") progress(line);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  const peak = Number(/rss=(\d+)/.exec(out)?.[1]);
  if (code !== 0 || !Number.isFinite(peak)) {
    throw new Error(`bench: the memory run exited with ${String(code)}: ${out}`);
  }
  return peak;
}

/** The V8 flag the gateway's memory figure is measured with (see GATEWAY_MEMORY in gateway.ts). */
export const GATEWAY_V8_FLAGS = ["--max-semi-space-size=8"] as const;

/**
 * Writes the traffic of `devices` devices, then runs streamTraffic in fresh Node processes (so the
 * figure is a gateway's: not this process's, nor the simulator's): with GATEWAY_V8_FLAGS (`tuned`)
 * and with Node's defaults, whose young generation grows to about 150 MiB before it is collected.
 */
export async function gatewayRss(
  devices: number,
  progress: (line: string) => void,
): Promise<{ readonly tuned: number; readonly defaults: number }> {
  const dir = await mkdtemp(join(tmpdir(), "gateway-bench-traffic-"));
  const path = join(dir, "traffic.bin");
  try {
    await writeDeviceTraffic(path, devices, progress);
    return {
      tuned: await rssOfChild(path, GATEWAY_V8_FLAGS, progress),
      defaults: await rssOfChild(path, [], progress),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs the gateway benchmark; figures keyed `component.operation.variant`. */
export async function benchGateway(
  options: GatewayBenchOptions = {},
): Promise<GatewayBenchResults> {
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const single = options.singleReadings ?? { p256: 8000, secp256k1: 1000 };
  const batches = options.batches ?? 64;
  const devices = options.devices ?? 10_000;
  const mqttReadings = options.mqttReadings ?? 4000;
  const perSecond: Record<string, number> = {};
  const bytes: Record<string, number> = {};
  const meta: Record<string, string | number> = {};

  progress("gateway: signing readings");
  const p256 = await signedReadings("p256", 16, Math.ceil(single.p256 / 16));
  const k1 = await signedReadings("secp256k1", 16, Math.ceil(single.secp256k1 / 16));
  progress("gateway: single-signature readings (verify + dedup + persist)");
  // Each figure is measured after a warm-up run on a slice (JIT, caches), on a fresh store.
  await acceptRate(p256.slice(0, 1024));
  perSecond["gateway.verify.p256.single"] = Math.round(await acceptRate(p256));
  perSecond["gateway.verify.secp256k1.single"] = Math.round(await acceptRate(k1));
  await intakeRate(p256.slice(0, 1024));
  perSecond["gateway.intake.p256.single"] = Math.round(await intakeRate(p256));
  progress(`gateway: ${String(batches)} batches of 1024 readings`);
  const messages = await batchMessages(batches, 1024, ["p256", "p256", "secp256k1", "p256"]);
  await batchRate(messages.slice(0, 8), 1024);
  perSecond["gateway.readings.batch.1024"] = Math.round(await batchRate(messages, 1024));
  if (mqttReadings > 0) {
    progress("gateway: end to end over the embedded broker");
    const readings = await signedReadings("p256", 16, Math.ceil(mqttReadings / 16));
    perSecond["gateway.mqtt.p256.single"] = Math.round(await mqttRate(readings));
  }
  if (devices > 0) {
    progress(`gateway: memory with ${String(devices)} devices (a child process)`);
    const rss = await gatewayRss(devices, progress);
    const idle = await gatewayRss(0, progress);
    bytes[`gateway.rss.${String(devices)}devices`] = rss.tuned;
    bytes[`gateway.rss.${String(devices)}devices.nodeDefaults`] = rss.defaults;
    bytes["gateway.rss.idle"] = idle.tuned;
    meta["gateway.rss.v8Flags"] = GATEWAY_V8_FLAGS.join(" ");
  }
  meta["gateway.singleReadings.p256"] = p256.length;
  meta["gateway.singleReadings.secp256k1"] = k1.length;
  meta["gateway.batches"] = batches;
  meta["gateway.devices"] = devices;
  return { perSecond, bytes, meta };
}

const traffic = process.env.DT_GATEWAY_RSS_TRAFFIC;
if (traffic !== undefined) {
  const peak = await streamTraffic(traffic, (line) => {
    process.stderr.write(`${line}\n`);
  });
  process.stdout.write(`rss=${String(peak)}\n`);
}
