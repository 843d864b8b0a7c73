import { ZeroHash } from "ethers";
import pg from "pg";
import { pino } from "pino";
import {
  Gateway,
  PgReadingStore,
  type KeyDirectory,
  type ReadingSubmitter,
  type StoreWrite,
} from "../gateway/index.js";
import { structHash, type Domain, type Hex, type SignedReading } from "../protocol/index.js";
import { freshDatabase, startPostgres } from "../service/scratch-postgres.js";
import { signedReadings } from "./gateway.js";

/**
 * The shared PostgreSQL store's benchmark, on a scratch server with durable commits (fsync and full
 * page writes on, as in production; src/service/scratch-postgres.ts):
 *
 * - gateway.postgres.p256.single: two gateway instances in this process, each with its own
 *   PgReadingStore (own pool, own instance id) on one database, take pre-signed single P-256 readings
 *   through accept() (verify, admission, persist in groups) at once; readings per second of the two
 *   together from the first accept to the last one resolved, each resolved accept being a row
 *   committed in PostgreSQL. A device's readings alternate between the instances, as a shared MQTT
 *   subscription hands them out. `.1instance`: one instance alone with every reading.
 * - store.postgres.write.256*: rows per second PgReadingStore.write stores in groups of 256: one
 *   instance with one group at a time, with 8 groups in flight, and two instances with 8 each (on
 *   distinct slots).
 *
 * Nothing is submitted: the instances are opened (open()), never started, and a shared store's
 * accepted readings wait in the database for the leader that start() would run; the submitter
 * counts calls and the bench fails if it got any. Both instances share this thread, so the figures
 * are those of one core of gateways beside the server's processes.
 */

export interface PostgresBenchResults {
  readonly perSecond: Record<string, number>;
  readonly bytes: Record<string, number>;
  readonly meta: Record<string, string | number>;
}

export interface PostgresBenchOptions {
  /** Readings of each gateway run (default 12,000), signed before any is measured. */
  readonly readings?: number;
  /** Devices the readings come from (default 32). */
  readonly devices?: number;
  /** Groups of 256 per store write figure (default 40). */
  readonly groups?: number;
  /** Progress lines (default: stderr). */
  readonly progress?: (line: string) => void;
}

/** The domain signedReadings (src/bench/gateway.ts) signs for: every reading fails without it. */
const DOMAIN: Domain = {
  chainId: 31337n,
  verifyingContract: "0x00000000000000000000000000000000000000aa",
};

/** Every key is its device's first key and still current (as in src/bench/gateway.ts). */
const DIRECTORY: KeyDirectory = {
  keyOwner: () => Promise.resolve(ZeroHash as Hex),
  currentKeyHash: (deviceId) => Promise.resolve(deviceId),
  ping: () => Promise.resolve(),
};

/** accept() calls in flight per instance, as the MQTT intake's default maxInFlight. */
const IN_FLIGHT = 256;
/** Rows per PgReadingStore.write in the store figures. */
const GROUP = 256;
/** Groups in flight per instance in the store figures' .inflight8 and .2instances. */
const STORE_IN_FLIGHT = 8;
/** The gateway's most writes per transaction (its default). */
const PERSIST_GROUP = 512;
/** Runs per gateway figure, each on a fresh database; the fastest counts. */
const RUNS = 2;

/** A submitter that must never be called: the bench measures intake, not submission. */
function idleSubmitter(): { readonly submitter: ReadingSubmitter; readonly calls: () => number } {
  let calls = 0;
  const called = (): Promise<never> => {
    calls++;
    return Promise.reject(new Error("bench: the postgres bench submits nothing"));
  };
  return {
    submitter: {
      submitReadings: called,
      anchorBatch: called,
      anchorBatches: called,
    },
    calls: () => calls,
  };
}

/** Runs `run` on each item with at most `lanes` calls in flight; resolves when all have. */
async function inFlight<T>(
  items: readonly T[],
  lanes: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) {
      await run(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(lanes, items.length) }, lane));
}

async function countRows(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>("SELECT COUNT(*) AS n FROM readings");
    return Number(rows[0]?.n);
  } finally {
    await client.end();
  }
}

/**
 * Readings per second through `instances` gateways on a fresh database of `server`, each taking
 * its share of `readings` through accept() with IN_FLIGHT calls in flight; the clock runs from the
 * first accept to the last one resolved. Throws unless every reading was accepted and stored.
 */
async function gatewayRate(
  server: string,
  readings: readonly SignedReading[],
  instances: number,
  devices: number,
): Promise<{ readonly perSecond: number; readonly groups: number }> {
  const url = await freshDatabase(server);
  const idle = idleSubmitter();
  const gateways: Gateway[] = [];
  let groups = 0;
  try {
    for (let i = 0; i < instances; i++) {
      const store = await PgReadingStore.open(url, { instanceId: `bench-${String(i)}` });
      // Counts the groups (one transaction each) the gateway writes.
      const write = store.write.bind(store);
      store.write = (writes) => {
        groups++;
        return write(writes);
      };
      const g = new Gateway({
        domain: DOMAIN,
        directory: DIRECTORY,
        submitter: idle.submitter,
        store,
        dbPath: "unused: the PostgreSQL store is given",
        brokerUrl: "unused",
        http: false,
        logger: pino({ level: "silent" }),
        // The bench replays minutes of a fleet's readings in a second: no device keeps to its rate.
        deviceRate: false,
        persistGroupSize: PERSIST_GROUP,
      });
      gateways.push(g);
      await g.open();
    }
    // Reading k of a device goes to instance k mod `instances`: a device's readings alternate.
    const shares = gateways.map((_, i) =>
      readings.filter((_, n) => (n + Math.floor(n / devices)) % instances === i),
    );
    const outcomes = new Map<string, number>();
    const start = process.hrtime.bigint();
    await Promise.all(
      gateways.map((g, i) =>
        inFlight(shares[i] ?? [], IN_FLIGHT, async (r) => {
          const o = await g.accept(r);
          outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
        }),
      ),
    );
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (outcomes.get("accepted") !== readings.length) {
      throw new Error(
        `bench: not every reading was accepted: ${JSON.stringify(Object.fromEntries(outcomes))}`,
      );
    }
    const stored = await countRows(url);
    if (stored !== readings.length) {
      throw new Error(
        `bench: PostgreSQL holds ${String(stored)} readings, not ${String(readings.length)}`,
      );
    }
    if (idle.calls() !== 0) throw new Error("bench: the gateways submitted during the measurement");
    return { perSecond: readings.length / seconds, groups };
  } finally {
    for (const g of gateways) await g.stop();
  }
}

/** Rows per second of `groups` through `stores` (a share each), `lanes` writes in flight per store. */
async function storeRate(
  stores: readonly PgReadingStore[],
  groups: readonly (readonly StoreWrite[])[],
  lanes: number,
): Promise<number> {
  const rows = groups.reduce((n, g) => n + g.length, 0);
  const start = process.hrtime.bigint();
  await Promise.all(
    stores.map((s, i) =>
      inFlight(
        groups.filter((_, n) => n % stores.length === i),
        lanes,
        async (g) => {
          const results = await s.write(g);
          if (results.some((r) => r instanceof Error || r.result !== "inserted")) {
            throw new Error("bench: a store write did not insert every row");
          }
        },
      ),
    ),
  );
  return rows / (Number(process.hrtime.bigint() - start) / 1e9);
}

/** Runs the PostgreSQL benchmark; figures keyed `component.operation.variant`. */
export async function benchPostgres(
  options: PostgresBenchOptions = {},
): Promise<PostgresBenchResults> {
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const devices = options.devices ?? 32;
  const perDevice = Math.ceil((options.readings ?? 12_000) / devices);
  const groupCount = options.groups ?? 40;
  const perSecond: Record<string, number> = {};
  const meta: Record<string, string | number> = {};
  const started = Date.now();

  progress("postgres: a scratch PostgreSQL server (fsync on)");
  const server = await startPostgres({ durable: true });
  try {
    progress(
      `postgres: signing ${String(devices * perDevice)} P-256 readings of ${String(devices)} devices`,
    );
    const readings = await signedReadings("p256", devices, perDevice);
    // Warm-up (JIT, connections, plans), on a database of its own.
    await gatewayRate(server.url, readings.slice(0, 2048), 2, devices);
    for (const [key, instances] of [
      ["gateway.postgres.p256.single", 2],
      ["gateway.postgres.p256.single.1instance", 1],
    ] as const) {
      let best = { perSecond: 0, groups: 0 };
      for (let run = 1; run <= RUNS; run++) {
        const rate = await gatewayRate(server.url, readings, instances, devices);
        progress(
          `postgres: ${key} run ${String(run)}/${String(RUNS)}: ${rate.perSecond.toFixed(0)} readings/s, ${String(rate.groups)} transactions`,
        );
        if (rate.perSecond > best.perSecond) best = rate;
      }
      perSecond[key] = Math.round(best.perSecond);
      meta[`${key}.meanGroup`] = Math.round(readings.length / best.groups);
    }

    const template = readings[0];
    if (template === undefined) throw new Error("bench: no reading to write");
    let next = 1n << 40n;
    const group = (): StoreWrite[] =>
      Array.from({ length: GROUP }, () => {
        const sequence = next++;
        const signed: SignedReading = {
          ...template,
          reading: { ...template.reading, sequence, value: sequence },
        };
        return {
          kind: "reading",
          signed,
          structHash: structHash("Reading", signed.reading),
          receivedAt: Date.now(),
        };
      });
    const groups = (): StoreWrite[][] => Array.from({ length: groupCount }, group);
    const url = await freshDatabase(server.url);
    const a = await PgReadingStore.open(url, { poolSize: STORE_IN_FLIGHT, instanceId: "bench-a" });
    const b = await PgReadingStore.open(url, { poolSize: STORE_IN_FLIGHT, instanceId: "bench-b" });
    try {
      await storeRate([a, b], groups().slice(0, 8), STORE_IN_FLIGHT);
      for (const [key, stores, lanes] of [
        [`store.postgres.write.${String(GROUP)}`, [a], 1],
        [
          `store.postgres.write.${String(GROUP)}.inflight${String(STORE_IN_FLIGHT)}`,
          [a],
          STORE_IN_FLIGHT,
        ],
        [`store.postgres.write.${String(GROUP)}.2instances`, [a, b], STORE_IN_FLIGHT],
      ] as const) {
        const rate = await storeRate(stores, groups(), lanes);
        progress(`postgres: ${key}: ${rate.toFixed(0)} rows/s`);
        perSecond[key] = Math.round(rate);
      }
    } finally {
      await a.close();
      await b.close();
    }
  } finally {
    await server.stop();
  }
  return {
    perSecond,
    bytes: {},
    meta: {
      ...meta,
      "gateway.postgres.readings": devices * perDevice,
      "gateway.postgres.devices": devices,
      "gateway.postgres.persistGroupSize": PERSIST_GROUP,
      "gateway.postgres.method": `pre-signed single P-256 readings through Gateway.accept(), ${String(IN_FLIGHT)} in flight per instance (a device's readings alternating between the instances), each instance with its own PgReadingStore on one database of a scratch PostgreSQL with fsync on; the clock from the first accept to the last resolved (stored); fastest of ${String(RUNS)} runs on fresh databases after a warm-up; nothing submitted (the instances are opened, not started); both instances and the bench on one Node thread`,
      "store.postgres.method": `PgReadingStore.write of groups of ${String(GROUP)} new readings, ${String(groupCount)} groups per figure (per pair of instances in .2instances, on distinct slots), pools of ${String(STORE_IN_FLIGHT)}; fsync on`,
      "postgres.secondsTaken": Math.round((Date.now() - started) / 1000),
    },
  };
}
