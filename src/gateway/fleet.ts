import { formatUnits } from "ethers";
import { connectAsync, type IClientOptions } from "mqtt";
import { DeviceSigner, type Signed } from "../device/device-signer.js";
import { SigningRecord } from "../device/signing-record.js";
import { SoftwareKeyStore } from "../device/software-key-store.js";
import {
  InvalidInputError,
  type Curve,
  type Domain,
  type Hex,
  type SignedReading,
} from "../protocol/index.js";
import { DevicePublisher } from "./publisher.js";

/**
 * A simulated device fleet: N devices, each with its own key store (fresh SoftwareKeyStores on both
 * curves, or the signers of devices already registered on chain), publishing signed readings over
 * MQTT at a given rate, one reading per device per round (or, in batch mode, one signed batch of
 * `batchSize` readings per device). Switches inject misbehaviour:
 *
 * - clone: a second device with the same key and its own (empty) signing record, on its own MQTT
 *   connection, sends a conflicting reading (same sequence, another value) — what a cloned key does;
 *   the watchtower proves equivocation. The device itself could not: its signer's record refuses;
 * - out of bounds: a reading with a value the sensor cannot produce;
 * - burst: several readings of one device within the feed's minimum interval, the first jumping
 *   `burstJumpBps` from the device's last value — the feed quarantines the device (its own anomaly) and
 *   refuses its later readings until it re-attests and is readmitted; the others keep the feed going.
 *
 * Honest readings keep the feed's minimum interval (FleetOptions.minInterval): the fleet waits rather
 * than get its own devices quarantined; the injections do not, on purpose.
 *
 * Sequences come from each device's own signing record (DeviceSigner.nextSequence: the highest it
 * signed + 1), never from the chain: a reading the feed refused still used its sequence, and signing
 * another reading with it would be equivocation. Give signers with durable records
 * (SigningRecord.open) to resume across runs; fresh devices keep theirs in memory (their keys die with
 * the run).
 *
 * Usable as a library (Fleet: round by round, inject on demand) or at once (simulateFleet).
 */
export interface FleetOptions {
  /** mqtt://host:port. */
  readonly brokerUrl: string;
  /** The feed the readings are for (the feed's address as bytes32). */
  readonly feedId: Hex;
  /**
   * Drive these devices (e.g. registered on chain); else `count` fresh ones are generated. Each one's
   * readings are numbered from its signer's record (DeviceSigner.nextSequence).
   */
  readonly signers?: readonly DeviceSigner[];
  /** Fresh devices to generate (default 7). */
  readonly count?: number;
  /** Curves of fresh devices: "both" alternates P-256 and secp256k1 (default). */
  readonly curve?: Curve | "both";
  /** The EIP-712 domain fresh devices sign under (required without `signers`). */
  readonly domain?: Domain;
  /**
   * The timestamp of each device's previous reading in the feed, if it has one (default: none).
   * Pass the feed's `slotOf(id).timestamp` to resume, so that `minInterval` also holds between a
   * previous run's last reading and this run's first.
   */
  readonly previousTimestamp?: (deviceId: Hex) => bigint | undefined;
  /**
   * The timestamp of readings made now (default: Unix time). Pass the chain's clock for a feed. It
   * must advance on its own while the fleet waits for `minInterval` (see there).
   */
  readonly clock?: () => bigint;
  /**
   * The feed's minimum interval between two readings of one device, in seconds (default 0; `fleet
   * simulate` reads it from the feed). An honest reading — every single reading of `publishRound`,
   * and the honest reading `injectClone` publishes first when the device has none yet — is never
   * dated earlier than the device's previous reading + `minInterval`: before signing it, the fleet
   * reads the clock every `clockPollMs` until it reaches that time (telling `onWait` once per wait),
   * so the feed never quarantines an honest simulated device as TooFrequent. With 0 it still never
   * dates a reading before the device's previous one (the feed would refuse it as stale).
   *
   * Not paced, on purpose: the injections (`injectBurst`, `injectOutOfBounds`, the clone's
   * conflicting reading), which exist to show the feed's defences; and batch mode, whose batches go
   * to the ReadingAnchor, which has no minimum interval.
   *
   * The fleet never mines a block or moves a chain's time. A clock that has not reached the due
   * time after `minInterval` s + `clockGraceMs` of waiting (one that does not move: a local chain's
   * latest block time while nothing is mined, a fixed test clock) fails the reading's round with
   * FleetClockStalledError instead of waiting forever; a clock that keeps pace with real time never
   * gets there.
   */
  readonly minInterval?: bigint;
  /** How often the fleet reads the clock while it waits for `minInterval` (default 200 ms). */
  readonly clockPollMs?: number;
  /** How much longer than `minInterval` the fleet waits for a clock that lags (default 60 000 ms). */
  readonly clockGraceMs?: number;
  /** Told when an honest reading must wait for its device's `minInterval`, as the wait begins. */
  readonly onWait?: (wait: FleetWait) => void;
  /** The honest value of device `device` in round `round` (default 2000e8 + device * 1e6). */
  readonly value?: (device: number, round: number) => bigint;
  /** MQTT connections the devices share, round-robin (default min(devices, 8)). */
  readonly connections?: number;
  /** Published messages waiting for their PUBACK at most (default 256). */
  readonly maxInFlight?: number;
  readonly mqtt?: IClientOptions;
}

export interface FleetRunOptions {
  /** Rounds: readings per device (default 1). */
  readonly rounds?: number;
  /** Readings per second across the fleet (default 0: as fast as the broker acknowledges). */
  readonly rate?: number;
  /** Batch mode: each device publishes one signed batch of this many readings per round. */
  readonly batchSize?: number;
  /** Devices whose key is cloned after the rounds (the first `clones` devices). */
  readonly clones?: number;
  /** Devices that then send an out-of-bounds reading. */
  readonly outOfBounds?: number;
  /** The out-of-bounds value (default 10^30). */
  readonly outOfBoundsValue?: bigint;
  /** Devices that then burst. */
  readonly bursts?: number;
  /** Readings per burst (default 3). */
  readonly burstReadings?: number;
  /** Jump of a burst's first reading from the device's last value, in bps (default 5000). */
  readonly burstJumpBps?: number;
}

/** An honest reading that waits for its device's minimum interval (FleetOptions.onWait). */
export interface FleetWait {
  /** The device's index in the fleet. */
  readonly device: number;
  readonly deviceId: Hex;
  /** The round (from 0) the reading belongs to; undefined for the honest reading of injectClone. */
  readonly round: number | undefined;
  /** The feed's minimum interval, in seconds. */
  readonly minInterval: bigint;
  /** The earliest timestamp the reading may carry: the device's previous reading's + minInterval. */
  readonly due: bigint;
  /** The clock when the wait began (before `due`). */
  readonly clock: bigint;
}

/**
 * The fleet's clock did not reach a device's due time (its previous reading + the feed's
 * minInterval) within minInterval + clockGraceMs of waiting: a clock that does not move on its own,
 * such as a local chain's latest block time while nothing is mined. Code INVALID_INPUT.
 */
export class FleetClockStalledError extends InvalidInputError {
  readonly deviceId: Hex;
  readonly minInterval: bigint;
  readonly due: bigint;
  readonly clock: bigint;

  constructor(wait: Omit<FleetWait, "device" | "round">, waitedMs: number) {
    super(
      `the feed's minInterval is ${wait.minInterval} s: the next reading of device ${wait.deviceId} is due at ${wait.due}, but the clock is at ${wait.clock} after ${(waitedMs / 1000).toFixed(1)} s of waiting (a clock that does not move: a local chain's block time moves only with blocks); run the rounds further apart or with --rate, or give the fleet a clock that advances on its own`,
    );
    this.name = "FleetClockStalledError";
    this.deviceId = wait.deviceId;
    this.minInterval = wait.minInterval;
    this.due = wait.due;
    this.clock = wait.clock;
  }
}

export interface FleetReport {
  readonly devices: number;
  readonly p256: number;
  readonly secp256k1: number;
  /** Honest readings published (single or inside batches). */
  readonly readings: number;
  readonly batches: number;
  readonly clones: number;
  readonly outOfBounds: number;
  /** Readings published in bursts. */
  readonly bursts: number;
  readonly durationMs: number;
  readonly readingsPerSecond: number;
}

interface SimDevice {
  readonly index: number;
  readonly signer: DeviceSigner;
  readonly publisher: DevicePublisher;
  last: SignedReading | undefined;
  /** The latest timestamp of the device's single readings (at first: its reading in the feed's). */
  lastTimestamp: bigint | undefined;
}

const DEFAULT_OUT_OF_BOUNDS = 10n ** 30n;

function asSignedReading(s: Signed<"Reading">): SignedReading {
  return { reading: s.message, key: s.key, signature: s.signature };
}

function unixNow(): bigint {
  return BigInt(Math.floor(Date.now() / 1000));
}

function defaultValue(device: number): bigint {
  return 2_000n * 10n ** 8n + BigInt(device) * 10n ** 6n;
}

function curveAt(curve: Curve | "both", i: number): Curve {
  if (curve !== "both") return curve;
  return i % 2 === 0 ? "p256" : "secp256k1";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function count(value: number | undefined, fallback: number, what: string): number {
  const n = value ?? fallback;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new InvalidInputError(`${what} must be a whole number of at least 0, not ${String(n)}`);
  }
  return n;
}

export class Fleet {
  readonly devices: readonly SimDevice[];
  private readonly publishers: readonly DevicePublisher[];
  private readonly options: FleetOptions;
  private readonly clock: () => bigint;
  private readonly value: (device: number, round: number) => bigint;
  private readonly maxInFlight: number;
  private readonly minInterval: bigint;
  private readonly clockPollMs: number;
  private readonly clockGraceMs: number;
  private clonePublisher: DevicePublisher | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  private round = 0;
  readonly counts = { readings: 0, batches: 0, clones: 0, outOfBounds: 0, bursts: 0 };

  private constructor(
    options: FleetOptions,
    devices: SimDevice[],
    publishers: readonly DevicePublisher[],
  ) {
    this.options = options;
    this.devices = devices;
    this.publishers = publishers;
    this.clock = options.clock ?? unixNow;
    this.value = options.value ?? defaultValue;
    this.maxInFlight = count(options.maxInFlight, 256, "maxInFlight") || 1;
    this.minInterval = options.minInterval ?? 0n;
    this.clockPollMs = count(options.clockPollMs, 200, "clockPollMs") || 1;
    this.clockGraceMs = count(options.clockGraceMs, 60_000, "clockGraceMs");
  }

  /** Generates (or takes) the devices and opens the MQTT connections. */
  static async create(options: FleetOptions): Promise<Fleet> {
    let signers = options.signers;
    if (signers === undefined) {
      const n = count(options.count, 7, "the device count");
      const domain = options.domain;
      if (domain === undefined) {
        throw new InvalidInputError(
          "fresh fleet devices need the deployment's EIP-712 domain (domain)",
        );
      }
      const curve = options.curve ?? "both";
      const fresh: DeviceSigner[] = [];
      for (let i = 0; i < n; i++) {
        fresh.push(new DeviceSigner(SoftwareKeyStore.generate(curveAt(curve, i)), domain));
      }
      signers = fresh;
    }
    if (signers.length === 0) throw new InvalidInputError("the fleet needs at least one device");
    if ((options.minInterval ?? 0n) < 0n) {
      throw new InvalidInputError(
        `minInterval must be at least 0 seconds, not ${String(options.minInterval)}`,
      );
    }
    const connections = Math.max(
      1,
      Math.min(signers.length, count(options.connections, 8, "connections") || 1),
    );
    const publishers: DevicePublisher[] = [];
    try {
      // A probe that gives up (the publishers' clients retry a refused connection forever).
      const probe = await connectAsync(
        options.brokerUrl,
        { connectTimeout: 10_000, ...options.mqtt, reconnectPeriod: 0 },
        false,
      );
      await probe.endAsync();
      for (let i = 0; i < connections; i++) {
        publishers.push(await DevicePublisher.connect(options.brokerUrl, options.mqtt ?? {}));
      }
    } catch (err: unknown) {
      await Promise.allSettled(publishers.map((p) => p.close()));
      throw new InvalidInputError(
        `cannot connect to the broker ${options.brokerUrl}: check the address and that it runs (${err instanceof Error ? err.message : String(err)})`,
        { cause: err },
      );
    }
    const devices = signers.map((signer, index): SimDevice => ({
      index,
      signer,
      publisher: publishers[index % publishers.length] as DevicePublisher,
      last: undefined,
      lastTimestamp: options.previousTimestamp?.(signer.deviceId),
    }));
    return new Fleet(options, devices, publishers);
  }

  /** Closes every MQTT connection (after the publications in flight). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    const all = [
      ...this.publishers,
      ...(this.clonePublisher === undefined ? [] : [this.clonePublisher]),
    ];
    await Promise.allSettled(all.map((p) => p.close()));
  }

  /** Waits for every publication in flight; throws the first failure. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    if (this.failure !== undefined) {
      const err = this.failure;
      this.failure = undefined;
      throw err instanceof Error ? err : new InvalidInputError("a publication failed");
    }
  }

  private async track(p: Promise<void>): Promise<void> {
    const tracked = p.catch((err: unknown) => {
      this.failure ??= err;
    });
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
  }

  /** The sequence of device `d`'s next reading: from its own record, never from the chain. */
  nextSequence(d: SimDevice): bigint {
    return d.signer.nextSequence(this.options.feedId);
  }

  private async sign(d: SimDevice, value: bigint, timestamp: bigint): Promise<SignedReading> {
    const s = await d.signer.signReading({
      feedId: this.options.feedId,
      sequence: this.nextSequence(d),
      timestamp,
      value,
    });
    const signed = asSignedReading(s);
    d.last = signed;
    if (d.lastTimestamp === undefined || timestamp > d.lastTimestamp) d.lastTimestamp = timestamp;
    return signed;
  }

  /**
   * The timestamp of device `d`'s next honest reading: the clock, once it has reached the device's
   * previous reading + minInterval (polled every clockPollMs). Throws FleetClockStalledError when the
   * clock has not got there after minInterval s + clockGraceMs.
   */
  private async honestTimestamp(d: SimDevice, round: number | undefined): Promise<bigint> {
    let now = this.clock();
    if (d.lastTimestamp === undefined) return now;
    const due = d.lastTimestamp + this.minInterval;
    if (now >= due) return now;
    const wait = {
      device: d.index,
      deviceId: d.signer.deviceId,
      round,
      minInterval: this.minInterval,
      due,
      clock: now,
    };
    this.options.onWait?.(wait);
    const started = Date.now();
    const limit = Number(this.minInterval) * 1000 + this.clockGraceMs;
    for (;;) {
      await sleep(this.clockPollMs);
      now = this.clock();
      if (now >= due) return now;
      const waited = Date.now() - started;
      if (waited >= limit) throw new FleetClockStalledError({ ...wait, clock: now }, waited);
    }
  }

  /**
   * One round: every device publishes its next reading (or, with `batchSize`, a signed batch of that
   * many readings), paced to `rate` readings per second across the fleet (0: unpaced). A single
   * reading also waits for its device's minInterval (FleetOptions.minInterval).
   */
  async publishRound(options: { rate?: number; batchSize?: number } = {}): Promise<number> {
    const round = this.round++;
    const rate = options.rate ?? 0;
    const batchSize = count(options.batchSize, 0, "batchSize");
    const start = Date.now();
    let sent = 0;
    for (const d of this.devices) {
      if (rate > 0) {
        const due = start + (sent * 1000) / rate;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      if (batchSize > 0) {
        // Batches go to the ReadingAnchor, which has no minimum interval: not paced.
        const timestamp = this.clock();
        const first = this.nextSequence(d);
        const readings = [];
        for (let i = 0; i < batchSize; i++) {
          readings.push({
            feedId: this.options.feedId,
            sequence: first + BigInt(i),
            timestamp,
            value: this.value(d.index, round),
          });
        }
        await this.track(d.publisher.signAndPublishBatch(d.signer, readings).then(() => undefined));
        this.counts.batches++;
        this.counts.readings += batchSize;
        sent += batchSize;
      } else {
        const timestamp = await this.honestTimestamp(d, round);
        const signed = await this.sign(d, this.value(d.index, round), timestamp);
        await this.track(d.publisher.publish(signed));
        this.counts.readings++;
        sent++;
      }
    }
    await this.flush();
    return sent;
  }

  private device(index: number): SimDevice {
    const d = this.devices[index];
    if (d === undefined) {
      throw new InvalidInputError(
        `device ${String(index)} does not exist: the fleet has ${String(this.devices.length)}`,
      );
    }
    return d;
  }

  /**
   * A clone of device `index` sends a reading with the same sequence as the device's last one and
   * another value (`value`, default the honest value + 1). The clone is a second device: the same key
   * in a signer with its own, empty, signing record (the device's own record would refuse), publishing
   * on its own MQTT connection. Returns both readings (the evidence).
   */
  async injectClone(
    index: number,
    value?: bigint,
  ): Promise<{ honest: SignedReading; clone: SignedReading }> {
    const d = this.device(index);
    const honest =
      d.last ??
      (await this.publishOne(
        d,
        this.value(d.index, this.round),
        await this.honestTimestamp(d, undefined),
      ));
    const r = honest.reading;
    const { keyStore, domain, deviceId } = d.signer;
    const clone = new DeviceSigner(
      keyStore,
      domain,
      deviceId,
      SigningRecord.inMemory({ domain, deviceId }),
    );
    const s = await clone.signReading({
      feedId: r.feedId,
      sequence: r.sequence,
      timestamp: r.timestamp,
      value: value !== undefined && value !== r.value ? value : r.value + 1n,
    });
    const conflicting = asSignedReading(s);
    clone.record.close();
    this.clonePublisher ??= await DevicePublisher.connect(
      this.options.brokerUrl,
      this.options.mqtt ?? {},
    );
    await this.clonePublisher.publish(conflicting);
    this.counts.clones++;
    return { honest, clone: conflicting };
  }

  /** Signs and publishes one reading now: not paced (honest callers pass an honestTimestamp). */
  private async publishOne(d: SimDevice, value: bigint, timestamp = this.clock()) {
    const signed = await this.sign(d, value, timestamp);
    await d.publisher.publish(signed);
    return signed;
  }

  /** Device `index` sends a reading of `value` (default 10^30), which no sensor can produce. */
  async injectOutOfBounds(index: number, value = DEFAULT_OUT_OF_BOUNDS): Promise<SignedReading> {
    const signed = await this.publishOne(this.device(index), value);
    this.counts.outOfBounds++;
    return signed;
  }

  /**
   * Device `index` sends `readings` readings at once (one second apart at most: faster than any
   * feed's minimum interval above 1 s), the first jumping `jumpBps` from its last value.
   */
  async injectBurst(index: number, readings = 3, jumpBps = 5_000): Promise<SignedReading[]> {
    const d = this.device(index);
    const base = d.last?.reading.value ?? this.value(d.index, this.round);
    const jumped = base + (base * BigInt(jumpBps)) / 10_000n;
    const after = d.lastTimestamp ?? 0n;
    const now = this.clock();
    const timestamp = now > after ? now : after;
    const out: SignedReading[] = [];
    for (let i = 0; i < readings; i++) {
      out.push(await this.publishOne(d, jumped + BigInt(i), timestamp));
    }
    this.counts.bursts += readings;
    return out;
  }

  /** Curves of the fleet's devices. */
  curves(): { p256: number; secp256k1: number } {
    let p256 = 0;
    for (const d of this.devices) if (d.signer.keyStore.curve === "p256") p256++;
    return { p256, secp256k1: this.devices.length - p256 };
  }
}

/** Creates a fleet, runs its rounds and injections, closes it, and reports the counts. */
export async function simulateFleet(options: FleetOptions & FleetRunOptions): Promise<FleetReport> {
  const rounds = count(options.rounds, 1, "rounds");
  const injections = {
    clones: count(options.clones, 0, "clones"),
    outOfBounds: count(options.outOfBounds, 0, "outOfBounds"),
    bursts: count(options.bursts, 0, "bursts"),
  };
  const fleet = await Fleet.create(options);
  const start = Date.now();
  try {
    const n = fleet.devices.length;
    for (const [what, k] of Object.entries(injections)) {
      if (k > n) {
        throw new InvalidInputError(
          `${what} ${String(k)} exceeds the fleet's ${String(n)} devices`,
        );
      }
    }
    for (let r = 0; r < rounds; r++) {
      await fleet.publishRound({
        ...(options.rate === undefined ? {} : { rate: options.rate }),
        ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      });
    }
    for (let i = 0; i < injections.clones; i++) await fleet.injectClone(i);
    for (let i = 0; i < injections.outOfBounds; i++) {
      await fleet.injectOutOfBounds(n - 1 - i, options.outOfBoundsValue);
    }
    for (let i = 0; i < injections.bursts; i++) {
      await fleet.injectBurst(i, options.burstReadings, options.burstJumpBps);
    }
    await fleet.flush();
  } finally {
    await fleet.close();
  }
  const durationMs = Date.now() - start;
  const c = fleet.counts;
  const all = c.readings + c.clones + c.outOfBounds + c.bursts;
  return {
    devices: fleet.devices.length,
    ...fleet.curves(),
    ...c,
    durationMs,
    readingsPerSecond: durationMs === 0 ? all : Math.round((all * 1000) / durationMs),
  };
}

/**
 * Refuses (InvalidInputError) honest values the feed would refuse as outside its range: device i
 * reports `value + i * step`, for `devices` devices. Readings the feed refuses are not honest ones.
 * The sentence gives the values in the feed's units (`range.decimals`, default 0: as integers).
 */
export function checkHonestValues(
  value: bigint,
  step: bigint,
  devices: number,
  range: { readonly minValue: bigint; readonly maxValue: bigint; readonly decimals?: number },
): void {
  const last = value + BigInt(Math.max(devices, 1) - 1) * step;
  const [low, high] = value <= last ? [value, last] : [last, value];
  if (low >= range.minValue && high <= range.maxValue) return;
  const units = (v: bigint): string => {
    const text = formatUnits(v, range.decimals ?? 0);
    return text.endsWith(".0") ? text.slice(0, -2) : text;
  };
  throw new InvalidInputError(
    `--value ${units(value)} with --step ${units(step)} puts the honest readings at ${units(low)}..${units(high)}, outside the feed's range ${units(range.minValue)}..${units(range.maxValue)}: the feed would refuse them; pick --value and --step inside it (feed show prints the range)`,
  );
}
