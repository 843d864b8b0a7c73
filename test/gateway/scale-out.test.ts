import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { DevicePublisher } from "../../src/gateway/index.js";
import type { SignedReading } from "../../src/protocol/index.js";
import { deviceSigner, reading } from "../watchtower/helpers.js";
import { slotOf, waitFor } from "./helpers.js";
import { MosquittoProcess, freePort, requireMosquitto } from "./mosquitto-broker.js";
import { postgresPerFile } from "./postgres.js";

/** What the stand-in chain (scale-out-child.ts) holds. */
interface ChainView {
  readonly readings: number;
  readonly incidents: number;
  readonly attempts: number;
  readonly replays: number;
  readonly outOfOrder: number;
  readonly byInstance: Record<string, number>;
  /** Conflicts whose two readings came in through different instances. */
  readonly split: number;
}

async function chainView(url: string): Promise<ChainView> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const exists = await client.query("SELECT to_regclass('chain_readings') AS t");
    if ((exists.rows[0] as { t: string | null }).t === null) {
      return {
        readings: 0,
        incidents: 0,
        attempts: 0,
        replays: 0,
        outOfOrder: 0,
        byInstance: {},
        split: 0,
      };
    }
    const count = async (sql: string): Promise<number> =>
      Number((((await client.query(sql)).rows[0] ?? {}) as { n?: string }).n ?? 0);
    // A device's readings taken out of sequence order: one taken after a higher sequence of its device.
    const outOfOrder = await count(`SELECT count(*) AS n FROM (SELECT sequence,
      max(sequence) OVER (PARTITION BY device ORDER BY taken ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
      FROM chain_readings) t WHERE before > sequence`);
    const proved = await client.query(
      "SELECT instance, count(*) AS n FROM chain_incidents GROUP BY instance",
    );
    return {
      readings: await count("SELECT count(*) AS n FROM chain_readings"),
      incidents: await count("SELECT count(*) AS n FROM chain_incidents"),
      attempts: await count("SELECT count(*) AS n FROM chain_proof_attempts"),
      replays: await count("SELECT count(*) AS n FROM chain_replays"),
      outOfOrder,
      split: await count("SELECT count(DISTINCT slot) AS n FROM split_pairs"),
      byInstance: Object.fromEntries(
        (proved.rows as { instance: string; n: string }[]).map((r) => [r.instance, Number(r.n)]),
      ),
    };
  } finally {
    await client.end();
  }
}

/** Waits until the stand-in chain holds `slots` readings and `incidents` proven equivocations. */
async function chainHolds(
  url: string,
  slots: number,
  incidents: number,
  timeoutMs: number,
): Promise<void> {
  let last: ChainView | undefined;
  try {
    await waitFor(
      async () => {
        last = await chainView(url);
        return last.readings >= slots && last.incidents >= incidents;
      },
      "every slot on chain and every equivocation proven",
      timeoutMs,
    );
  } catch (err: unknown) {
    // Say what was missing: readings (lost or refused) or proofs.
    const missing = `${String(slots - (last?.readings ?? 0))} readings and ${String(incidents - (last?.incidents ?? 0))} proofs missing`;
    throw new Error(
      `${err instanceof Error ? err.message : String(err)}: ${missing}; the chain holds ${JSON.stringify(last)}; the store ${JSON.stringify(await storeCounts(url))}`,
    );
  }
}

async function storeCounts(url: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query("SELECT status, count(*) AS n FROM readings GROUP BY status");
    return Object.fromEntries(
      (res.rows as { status: string; n: string }[]).map((r) => [r.status, Number(r.n)]),
    );
  } finally {
    await client.end();
  }
}

/** The readings of the run: honest devices, and a device whose clone signs other values for some sequences. */
async function workload(
  honestDevices: number,
  perDevice: number,
  conflicts: number,
): Promise<{ honest: SignedReading[]; genuine: SignedReading[]; cloned: SignedReading[] }> {
  const honest: SignedReading[] = [];
  for (let d = 0; d < honestDevices; d++) {
    const device = deviceSigner(d % 2 === 0 ? "p256" : "secp256k1");
    for (let i = 1n; i <= BigInt(perDevice); i++) {
      honest.push(await reading(device, i, 20n + i, 1_700_000_000n + i));
    }
  }
  const victim = deviceSigner("p256");
  const genuine: SignedReading[] = [];
  const cloned: SignedReading[] = [];
  for (let i = 1n; i <= BigInt(perDevice); i++) {
    genuine.push(await reading(victim, i, 20n, 1_700_000_000n + i));
    if (i <= BigInt(conflicts)) cloned.push(await reading(victim, i, 30n, 1_700_000_000n + i));
  }
  return { honest, genuine, cloned };
}

/**
 * A killed instance's unacknowledged messages come back when it reconnects with its client id
 * (Mosquitto keeps them in its session), a few seconds here: the other instance holds the devices'
 * later readings that long (GatewayOptions.gapWaitMs), or the feed would refuse the late ones.
 */
const GAP_WAIT_OVER_RESTART = 8000;

describe("Gateway scale-out: two instances on one PostgreSQL store and one shared subscription", function () {
  const postgres = postgresPerFile();
  let mosquitto: MosquittoProcess | undefined;
  let dir = "";
  const children = new Set<ChildProcess>();

  before(async function () {
    requireMosquitto(this);
    dir = await mkdtemp(join(tmpdir(), "scale-out-"));
    const port = await freePort();
    mosquitto = await MosquittoProcess.start(
      dir,
      port,
      `listener ${String(port)} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nmax_inflight_messages 0\n`,
    );
  });

  let testRun = 0;
  beforeEach(function () {
    testRun++;
  });

  afterEach(function () {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    children.clear();
  });

  after(async function () {
    await mosquitto?.kill("SIGTERM");
    await rm(dir, { recursive: true, force: true });
  });

  function brokerUrl(): string {
    if (mosquitto === undefined) throw new Error("Mosquitto did not start");
    return mosquitto.url;
  }

  /** `gapWaitMs`: the instance's GatewayOptions.gapWaitMs. */
  function startInstance(instance: string, gapWaitMs = 2000): Promise<ChildProcess> {
    const child = spawn(
      join(process.cwd(), "node_modules/.bin/node"),
      ["--no-warnings", "--import", "tsx", "test/gateway/scale-out-child.ts"],
      {
        env: {
          ...process.env,
          SCALE_CHILD: "1",
          SCALE_PG: postgres.database(),
          SCALE_BROKER: brokerUrl(),
          SCALE_INSTANCE: instance,
          SCALE_GAP_WAIT_MS: String(gapWaitMs),
          // An instance restarted after a kill has its own disk back (its pending proofs resume).
          SCALE_WATCHTOWER_DB: join(dir, `${instance}-${String(testRun)}.sqlite`),
        },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    children.add(child);
    return new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => {
        reject(new Error(`instance ${instance} exited with ${String(code)} before it was ready`));
      });
      child.stdout.once("data", () => {
        child.removeAllListeners("exit");
        resolve(child);
      });
    });
  }

  async function stopInstance(child: ChildProcess): Promise<void> {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }

  /** Publishes honest readings from one connection and the clone's from another, interleaved. */
  async function publish(w: Awaited<ReturnType<typeof workload>>): Promise<void> {
    const devices = await DevicePublisher.connect(brokerUrl());
    const clone = await DevicePublisher.connect(brokerUrl());
    try {
      const perDevice = w.genuine.length;
      const honestDevices = w.honest.length / perDevice;
      for (let i = 0; i < perDevice; i++) {
        for (let d = 0; d < honestDevices; d++) {
          const r = w.honest[d * perDevice + i];
          if (r !== undefined) await devices.publish(r);
        }
        const g = w.genuine[i];
        if (g !== undefined) await devices.publish(g);
        const c = w.cloned[i];
        if (c !== undefined) await clone.publish(c);
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
    } finally {
      await devices.close();
      await clone.close();
    }
  }

  it("every reading on chain once, each device's in sequence order, every equivocation proven once", async function () {
    this.timeout(120_000);
    const w = await workload(4, 40, 10);
    const a = await startInstance("gw-a");
    const b = await startInstance("gw-b");
    await publish(w);
    const slots = new Set([...w.honest, ...w.genuine].map(slotOf));
    const url = postgres.database();
    await chainHolds(url, slots.size, w.cloned.length, 60_000);
    await stopInstance(a);
    await stopInstance(b);
    const v = await chainView(url);
    assert.equal(v.readings, slots.size, "every slot once (a clone's reading or the genuine one)");
    assert.equal(v.incidents, w.cloned.length, "every equivocation proven");
    assert.equal(
      v.attempts,
      w.cloned.length,
      "each proven once: no second proof reached the chain",
    );
    assert.equal(v.outOfOrder, 0, "each device's readings taken in sequence order");
    const counts = await storeCounts(url);
    assert.deepEqual(counts, { submitted: slots.size }, "each recorded as its feed answered");
    assert.ok(v.split > 0, "some conflicting pairs came in through different instances");
    console.log(
      `      ${String(slots.size)} slots on chain; ${String(v.incidents)} equivocations proven (by ${JSON.stringify(v.byInstance)}), ${String(v.split)} of them split across the instances; store ${JSON.stringify(counts)}`,
    );
  });

  it("with instances SIGKILLed and restarted mid-stream: nothing lost, nothing taken twice, every equivocation proven exactly once", async function () {
    this.timeout(180_000);
    const w = await workload(4, 60, 16);
    const running = new Map<string, ChildProcess>([
      ["gw-a", await startInstance("gw-a", GAP_WAIT_OVER_RESTART)],
      ["gw-b", await startInstance("gw-b", GAP_WAIT_OVER_RESTART)],
    ]);
    let kills = 0;
    const publishing = publish(w);
    for (const victim of ["gw-a", "gw-b", "gw-a"]) {
      await new Promise((resolve) => setTimeout(resolve, 150 + Math.floor(Math.random() * 250)));
      const child = running.get(victim);
      if (child === undefined) continue;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      kills++;
      running.set(victim, await startInstance(victim, GAP_WAIT_OVER_RESTART));
    }
    await publishing;
    const slots = new Set([...w.honest, ...w.genuine].map(slotOf));
    const url = postgres.database();
    await chainHolds(url, slots.size, w.cloned.length, 90_000);
    for (const child of running.values()) await stopInstance(child);
    const v = await chainView(url);
    assert.equal(kills, 3);
    assert.equal(v.readings, slots.size, "none lost, none taken twice");
    assert.equal(v.incidents, w.cloned.length, "every equivocation proven exactly once");
    assert.equal(v.outOfOrder, 0, "each device's readings taken in sequence order");
    const counts = await storeCounts(url);
    assert.deepEqual(counts, { submitted: slots.size }, "nothing pending, nothing refused");
    console.log(
      `      ${String(kills)} SIGKILLs; ${String(v.split)} of ${String(w.cloned.length)} equivocations split across the instances; ${String(v.replays)} readings sent again after a kill (on chain already); ${String(v.attempts - v.incidents)} second proofs refused by the contract`,
    );
  });
});
