import { randomInt } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, connectAsync, type IConnackPacket, type MqttClient } from "mqtt";
import { MOSQUITTO, MosquittoProcess, configWith, freePort } from "../gateway/mosquitto.js";

/**
 * Mosquitto's persistence settings measured against each other (config/mosquitto.conf, README
 * "Broker"). Mosquitto 2.0 persists by rewriting a snapshot of its whole in-memory store; the snapshot
 * setting trades what a broker SIGKILL loses against how fast a backlog drains (each snapshot rewrites
 * the whole queue). For each candidate, /usr/sbin/mosquitto runs on the shipped configuration with
 * only that setting replaced, on loopback with a fresh persistence folder:
 * - drain: the gateway's persistent session (clean session off, fixed client id, QoS 1) is away while
 *   DRAIN_MESSAGES QoS 1 messages of MESSAGE_BYTES arrive from PUBLISHERS connections; it reconnects
 *   and acknowledges each message. Figures: messages/s taken in, and drained (all of them, or what
 *   arrived within DRAIN_CAP_MS when the setting is too slow to finish).
 * - loss: with the session away, one connection publishes QoS 1 messages at LOSS_RATE/s for LOSS_MS,
 *   waiting for each PUBACK; the broker is SIGKILLed right after the last PUBACK and restarted on the
 *   same folder; the session reconnects and counts what arrives. Figure: PUBACKed messages lost.
 */

/** A snapshot setting: `autosave_on_changes` and `autosave_interval` (changes, or seconds). */
export interface PersistenceCandidate {
  /** Key suffix in bench/results.json. */
  readonly name: string;
  readonly onChanges: boolean;
  readonly interval: number;
}

export const CANDIDATES: readonly PersistenceCandidate[] = [
  { name: "changes1", onChanges: true, interval: 1 },
  { name: "changes10", onChanges: true, interval: 10 },
  { name: "changes100", onChanges: true, interval: 100 },
  { name: "changes1000", onChanges: true, interval: 1000 },
  // Time-based snapshots (autosave_on_changes false): autosave_interval counts seconds.
  { name: "seconds1", onChanges: false, interval: 1 },
];

export interface BrokerBenchResults {
  readonly perSecond: Record<string, number>;
  readonly count: Record<string, number>;
  readonly meta: Record<string, string | number>;
}

export interface BrokerBenchOptions {
  readonly candidates?: readonly PersistenceCandidate[];
  /** The shipped configuration (default config/mosquitto.conf under the working directory). */
  readonly configPath?: string;
  /** Progress lines (default: stderr). */
  readonly progress?: (line: string) => void;
}

const DRAIN_MESSAGES = 20_000;
/** Publishing connections filling the backlog: Mosquitto reads one packet per connection per loop pass. */
const PUBLISHERS = 100;
const MESSAGE_BYTES = 200;
/** A drain slower than this is cut short and its rate taken over what arrived. */
const DRAIN_CAP_MS = 15_000;
const LOSS_RATE = 500;
const LOSS_MS = 3000;
/** SIGKILLs per candidate, each after a random extra of up to one second of messages. */
const KILLS = 3;
/** After the restart, the count ends when the session has had nothing for this long. */
const QUIET_MS = 1500;
const TOPIC = "dt/bench/broker";
const GATEWAY_ID = "bench-broker-gateway";

/** The shipped configuration with the listener, folder, user and snapshot setting replaced. */
export function candidateConfig(
  shipped: string,
  port: number,
  dir: string,
  candidate: PersistenceCandidate,
): string {
  return configWith(shipped, port, dir, {
    autosave_on_changes: String(candidate.onChanges),
    autosave_interval: String(candidate.interval),
  });
}

/** A fresh folder, configuration and running broker for `candidate`; `use` runs on it, then it goes. */
async function withBroker<T>(
  shipped: string,
  candidate: PersistenceCandidate,
  use: (broker: MosquittoProcess, dir: string) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "bench-broker-"));
  const port = await freePort();
  let broker: MosquittoProcess | undefined;
  try {
    broker = await MosquittoProcess.start(
      dir,
      port,
      candidateConfig(shipped, port, dir, candidate),
    );
    return await use(broker, dir);
  } finally {
    await broker?.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  }
}

function payload(sequence: number): Buffer {
  const body = Buffer.alloc(MESSAGE_BYTES, 0x2e);
  body.write(String(sequence), "ascii");
  return body;
}

function sequenceOf(message: Buffer): number {
  return Number.parseInt(message.toString("ascii", 0, 12), 10);
}

/** The gateway's session: persistent, subscribed with QoS 1. */
function connectGateway(url: string): Promise<MqttClient> {
  return connectAsync(url, { clientId: GATEWAY_ID, clean: false, reconnectPeriod: 0 });
}

async function createSession(url: string): Promise<void> {
  const gateway = await connectGateway(url);
  await gateway.subscribeAsync(`${TOPIC}/#`, { qos: 1 });
  await gateway.endAsync();
}

/**
 * Reconnects the session and collects the sequence numbers delivered (mqtt.js sends each PUBACK after
 * the message handler). Resolves when `expected` distinct messages arrived, after `capMs`, or once
 * nothing arrived for `quietMs`.
 */
async function collect(
  url: string,
  expected: number,
  capMs: number,
  quietMs: number,
): Promise<{ received: Set<number>; ms: number; sessionPresent: boolean }> {
  const received = new Set<number>();
  const started = performance.now();
  let last = started;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  // Handlers first: messages can follow the CONNACK in the same read.
  const gateway = connect(url, { clientId: GATEWAY_ID, clean: false, reconnectPeriod: 0 });
  // Each PUBACK on a later turn of the event loop, as the gateway sends its own once a reading is
  // stored, not in one burst with the delivery that brought it.
  gateway.handleMessage = (_packet, callback) => {
    setImmediate(() => callback());
  };
  gateway.on("message", (_topic: string, message: Buffer) => {
    received.add(sequenceOf(message));
    last = performance.now();
    if (received.size >= expected) done();
  });
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - started > capMs || now - last > quietMs) done();
  }, 20);
  try {
    const ack = await new Promise<IConnackPacket>((resolve, reject) => {
      gateway.once("connect", resolve);
      gateway.once("error", reject);
    });
    await finished;
    return { received, ms: last - started, sessionPresent: ack.sessionPresent };
  } finally {
    clearInterval(timer);
    await gateway.endAsync(true);
  }
}

/** Backlog of DRAIN_MESSAGES for the away session, then its drain. */
async function drain(
  broker: MosquittoProcess,
): Promise<{ takenIn: number; drained: number; count: number; ms: number }> {
  await createSession(broker.url);
  const publishers = await Promise.all(
    Array.from({ length: PUBLISHERS }, () => connectAsync(broker.url, { reconnectPeriod: 0 })),
  );
  const per = DRAIN_MESSAGES / PUBLISHERS;
  const t0 = performance.now();
  // Each connection sends its share without waiting (QoS 1, every PUBACK awaited at the end).
  await Promise.all(
    publishers.map((p, c) =>
      Promise.all(
        Array.from({ length: per }, (_, i) =>
          p.publishAsync(`${TOPIC}/${String(c)}`, payload(c * per + i), { qos: 1 }),
        ),
      ),
    ),
  );
  const takenIn = DRAIN_MESSAGES / ((performance.now() - t0) / 1000);
  await Promise.all(publishers.map((p) => p.endAsync()));
  const { received, ms } = await collect(broker.url, DRAIN_MESSAGES, DRAIN_CAP_MS, DRAIN_CAP_MS);
  return { takenIn, drained: received.size / (ms / 1000), count: received.size, ms };
}

/** Waits until Mosquitto has (re)written its snapshot after `since` (mosquitto.db is renamed over). */
async function snapshotAfter(file: string, since: number): Promise<void> {
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    if (existsSync(file) && (await stat(file)).mtimeMs > since) return;
    await sleep(20);
  }
  throw new Error(`mosquitto wrote no snapshot to ${file}`);
}

/** PUBACKed messages a SIGKILL loses, publishing at LOSS_RATE/s with the session away. */
async function loss(
  broker: MosquittoProcess,
  dir: string,
): Promise<{ acked: number; lost: number; rate: number; sessionPresent: boolean }> {
  await createSession(broker.url);
  // The session is older than any reading in a real deployment: it is in a snapshot before they come.
  const since = Date.now() - 1;
  broker.signal("SIGUSR1");
  await snapshotAfter(join(dir, "mosquitto.db"), since);
  const publisher = await connectAsync(broker.url, { reconnectPeriod: 0 });
  const acked: number[] = [];
  const t0 = performance.now();
  // A crash comes at any moment: the count since the last snapshot is what matters, so it varies.
  const total = (LOSS_RATE * LOSS_MS) / 1000 + randomInt(LOSS_RATE);
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / LOSS_RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    await publisher.publishAsync(`${TOPIC}/0`, payload(i), { qos: 1 });
    acked.push(i);
  }
  const rate = acked.length / ((performance.now() - t0) / 1000);
  // Right after the last PUBACK: no later packet tells the broker to finish anything first.
  await broker.kill("SIGKILL");
  await publisher.endAsync(true);
  await broker.restart();
  const { received, sessionPresent } = await collect(broker.url, acked.length, 30_000, QUIET_MS);
  const lost = acked.filter((s) => !received.has(s)).length;
  return { acked: acked.length, lost, rate, sessionPresent };
}

export async function benchBroker(options: BrokerBenchOptions = {}): Promise<BrokerBenchResults> {
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const perSecond: Record<string, number> = {};
  const count: Record<string, number> = {};
  const meta: Record<string, string | number> = {};
  if (!existsSync(MOSQUITTO)) {
    progress(`broker: ${MOSQUITTO} is absent (apt-get install mosquitto): skipped`);
    return { perSecond, count, meta };
  }
  const shipped = await readFile(
    options.configPath ?? join(process.cwd(), "config/mosquitto.conf"),
    "utf8",
  );
  for (const c of options.candidates ?? CANDIDATES) {
    const setting = `autosave_on_changes ${String(c.onChanges)}, autosave_interval ${String(c.interval)}`;
    progress(`broker: ${setting}: a backlog of ${String(DRAIN_MESSAGES)} and its drain`);
    const d = await withBroker(shipped, c, (broker) => drain(broker));
    perSecond[`broker.takeIn.${c.name}`] = Math.round(d.takenIn);
    perSecond[`broker.drain.${c.name}`] = Math.round(d.drained);
    progress(`broker: ${setting}: a SIGKILL after ${String(LOSS_MS)} ms at ${String(LOSS_RATE)}/s`);
    const kills = [];
    for (let k = 0; k < KILLS; k++) {
      kills.push(await withBroker(shipped, c, (broker, dir) => loss(broker, dir)));
    }
    // The worst of the kills: loss depends on where the kill lands between two snapshots.
    count[`broker.lostOnKill.${c.name}`] = Math.max(...kills.map((l) => l.lost));
    meta[`broker.${c.name}`] =
      `${setting}; drained ${String(d.count)} of ${String(DRAIN_MESSAGES)} in ${(d.ms / 1000).toFixed(1)} s; ` +
      `lost on kill: ${kills.map((l) => `${String(l.lost)} of ${String(l.acked)} at ${String(Math.round(l.rate))}/s${l.sessionPresent ? "" : " (session not restored)"}`).join(", ")}`;
    progress(`broker: ${String(meta[`broker.${c.name}`])}`);
  }
  meta["broker.method"] =
    `Mosquitto ${MOSQUITTO} on loopback, config/mosquitto.conf with the snapshot setting replaced; ` +
    `drain: ${String(DRAIN_MESSAGES)} QoS 1 messages of ${String(MESSAGE_BYTES)} bytes from ${String(PUBLISHERS)} connections ` +
    `queued for an away persistent session, then drained by it (capped at ${String(DRAIN_CAP_MS / 1000)} s); ` +
    `each PUBACK sent on a later event-loop turn; lostOnKill: the worst of ${String(KILLS)} runs, one connection at ` +
    `${String(LOSS_RATE)}/s for ${String(LOSS_MS / 1000)} s plus a random extra of up to 1 s, each PUBACK awaited, ` +
    `SIGKILL right after the last, restart on the same folder, PUBACKed messages the session never got`;
  return { perSecond, count, meta };
}
