import { decodeReading, type SignedReading } from "../../src/protocol/index.js";
import assert from "node:assert/strict";
import { connect as tcpConnect, createServer, type AddressInfo } from "node:net";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import hre from "hardhat";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import type { NetworkHelpers } from "@nomicfoundation/hardhat-network-helpers/types";
import { connectAsync } from "mqtt";
import { feedAt, registryAt } from "../../src/client/index.js";
import { startEmbeddedBroker } from "../../src/gateway/index.js";
import { TEST_SCRYPT, tempDir } from "../client/fixture.js";
import { FEED_CONFIG, deployFeedSystem, type FeedSystem } from "../client/feed-fixture.js";
import { runTask } from "./run-task.js";

const PASSWORD = "fleet-test-password";
/** Each key file has a password of its own: fleet simulate takes them from a password file. */
const passwordOf = (i: number): string => `${PASSWORD}-${String(i)}`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("tasks: gateway start, fleet simulate", function () {
  let ethers: HardhatEthers;
  let helpers: NetworkHelpers;
  let s: FeedSystem;
  let dir: string;
  let cleanup: () => Promise<void>;
  let keyFiles: string[];

  before(async function () {
    ({ ethers, networkHelpers: helpers } = await hre.network.getOrCreate());
    s = await deployFeedSystem(ethers, { devices: 4 });
    ({ dir, cleanup } = await tempDir());
    keyFiles = [];
    for (const [i, d] of s.devices.entries()) {
      const path = join(dir, `device-${String(i)}.json`);
      await d.store.save(path, passwordOf(i), TEST_SCRYPT);
      keyFiles.push(path);
    }
  });
  after(async function () {
    await cleanup();
  });

  const gatewayArgs = (db: string) => ({
    registry: s.registryAddress,
    proofs: s.proofsAddress,
    from: "5",
    json: false,
    broker: "",
    brokerPort: 0,
    db: join(dir, db),
    group: "",
    clientId: "",
    batchSize: 8,
    batchInterval: 50,
    maxQueue: 1_000,
    maxBatchesPerTx: 32,
    httpPort: -1,
    logLevel: "silent",
    anchor: "",
    watchtower: false,
    watchtowerDb: "",
    watchtowerFrom: "",
    beneficiary: "",
    pqKeyRecovery: "",
  });

  const fleetArgs = (broker: string) => ({
    registry: s.registryAddress,
    from: "0",
    json: true,
    broker,
    feed: s.feedAddress,
    devices: 0,
    curve: "both",
    keyFiles: "",
    password: "",
    signingRecords: join(dir, "signing-records"),
    rounds: 1,
    rate: 0,
    batchSize: 0,
    connections: 2,
    // In the feed's units (8 decimals): 2000.00, 2000.01, ...
    value: "2000",
    step: "0.01",
    clone: 0,
    outOfBounds: 0,
    outOfBoundsValue: "",
    burst: 0,
    burstReadings: 3,
    burstJumpBps: 5_000,
  });

  for (const which of ["brokerPort", "httpPort"] as const) {
    it(`gateway start fails with a sentence when its ${which === "brokerPort" ? "broker" : "HTTP"} port is taken`, async function () {
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
      const port = (taken.address() as AddressInfo).port;
      try {
        const out = await runTask(["gateway", "start"], {
          ...gatewayArgs(`taken-${which}.sqlite`),
          brokerPort: which === "brokerPort" ? port : 0,
          httpPort: which === "httpPort" ? port : -1,
        });
        assert.equal(out.result.success, false, out.stdout);
        assert.equal(out.result.error?.code, "PORT_IN_USE");
        assert.match(
          out.stderr,
          new RegExp(
            `^Error PORT_IN_USE: port ${String(port)} on 127\\.0\\.0\\.1 is already in use: stop what listens there`,
            "m",
          ),
        );
      } finally {
        await new Promise<void>((resolve) => taken.close(() => resolve()));
      }
    });
  }

  it("gateway start --pq-key-recovery refuses an address that is not a PqKeyRecovery, or one of another registry", async function () {
    const foreign = await ethers.deployContract("PqKeyRecovery", [s.proofsAddress]);
    for (const [address, code, says] of [
      [
        s.registryAddress,
        "NOT_A_DEVICETRUST_CONTRACT",
        /is not a DeviceTrust PqKeyRecovery on chain 31337 \(does not answer .*\): check --pq-key-recovery/,
      ],
      [
        await foreign.getAddress(),
        "GATEWAY_BAD_OPTIONS",
        /recovers the devices of registry .*, not of the gateway's .*: check --pq-key-recovery/,
      ],
    ] as const) {
      const out = await runTask(["gateway", "start"], {
        ...gatewayArgs(`pq-${address.slice(2, 8)}.sqlite`),
        pqKeyRecovery: address,
      });
      assert.equal(out.result.success, false, out.stdout);
      assert.equal(out.result.error?.code, code, out.stderr);
      assert.match(out.stderr, says);
    }
  });

  it("gateway start (embedded broker, watchtower) takes a registered fleet into the feed, proves its clone, stops on SIGTERM", async function () {
    const port = await freePort();
    const gateway = runTask(["gateway", "start"], {
      ...gatewayArgs("gateway.sqlite"),
      json: true,
      brokerPort: port,
      anchor: s.anchorAddress,
      watchtower: true,
      watchtowerFrom: "4",
      pqKeyRecovery: await (
        await ethers.deployContract("PqKeyRecovery", [s.registryAddress])
      ).getAddress(),
    });
    let stopped = false;
    try {
      await until(() => accepts(port), "the embedded broker");
      const broker = `mqtt://127.0.0.1:${String(port)}`;
      const lines = join(dir, "passwords.txt");
      await writeFile(lines, `${keyFiles.map((_, i) => passwordOf(i)).join("\n")}\n`);
      const fleet = await runTask(["fleet", "simulate"], {
        ...fleetArgs(broker),
        keyFiles: keyFiles.join(","),
        passwordFile: lines,
      });
      assert.equal(fleet.result.success, true, fleet.stderr);
      const report = JSON.parse(fleet.stdout) as Record<string, number>;
      assert.deepEqual(
        [report.devices, report.p256, report.secp256k1, report.readings, report.clones],
        [4, 2, 2, 4, 0],
      );
      const feed = feedAt(s.feedAddress, s.watcher);
      await until(
        async () =>
          feed.latestRoundData().then(
            () => true,
            () => false,
          ),
        "the feed's answer",
      );
      // The median of 2000.00, 2000.01, 2000.02, 2000.03 (x 1e8).
      assert.equal((await feed.latestRoundData()).answer, 200_001_500_000n);

      // Later (past the feed's minimum interval), device 0's key is cloned: it resumes at sequence 2.
      await helpers.time.increase(30);
      const byName = join(dir, "passwords.json");
      await writeFile(byName, JSON.stringify({ "device-0.json": passwordOf(0) }));
      const cloned = await runTask(["fleet", "simulate"], {
        ...fleetArgs(broker),
        keyFiles: keyFiles[0] ?? "",
        passwordFile: byName,
        rounds: 0,
        clone: 1,
      });
      assert.equal(cloned.result.success, true, cloned.stderr);
      assert.equal((JSON.parse(cloned.stdout) as Record<string, number>).clones, 1);
      const device0 = s.devices[0]?.deviceId ?? "";
      const registry = registryAt(s.registryAddress, s.watcher);
      await until(async () => (await registry.statusOf(device0)) === 2n, "the clone's slash");

      // Device 1 on a machine without its signing record: the feed holds its sequence 1, which the
      // (empty) record does not know, so nothing is signed.
      const stale = await runTask(["fleet", "simulate"], {
        ...fleetArgs(broker),
        keyFiles: keyFiles[1] ?? "",
        password: passwordOf(1),
        signingRecords: join(dir, "elsewhere"),
      });
      assert.equal(stale.result.success, false);
      assert.match(
        stale.stderr,
        /Error SIGNING_RECORD_BEHIND: the feed 0x[0-9a-f]{64} holds sequence 1 of device 0x[0-9a-f]{64}, but its signing record .* knows sequences up to 0 only: .* Import the device's record/,
      );
      stopped = process.emit("SIGTERM");
      const out = await gateway;
      assert.equal(out.result.success, true, out.stderr);
      const summary = JSON.parse(out.stdout) as {
        broker: string;
        readings: Record<string, number>;
        refused: Record<string, number>;
        watchtower: { proofs: number };
      };
      assert.equal(summary.broker, `mqtt://127.0.0.1:${String(port)}`);
      // Device 0's honest reading #2 reaches the feed before or after the clone's proof suspended the
      // device (accepted, or refused with the feed's reason: never counted submitted when refused), or
      // is still queued at SIGTERM, which lets the transaction in flight finish and sends nothing more
      // (it stays pending for the next start).
      const { submitted = 0, rejected = 0, pending = 0 } = summary.readings;
      assert.equal(submitted + rejected + pending, 5, JSON.stringify(summary.readings));
      assert.ok(submitted >= 4, JSON.stringify(summary.readings));
      if (rejected === 1) {
        assert.deepEqual(Object.keys(summary.refused), ["InvalidSignature"], out.stdout);
      }
      assert.deepEqual(summary.watchtower, { proofs: 1 });
    } finally {
      if (!stopped) process.emit("SIGTERM");
      await gateway;
    }
  });

  it("fleet simulate keeps the feed's minInterval over several rounds (no honest device quarantined); a burst still quarantines its device", async function () {
    // A feed of its own with a 2 s minimum interval, so that three rounds take seconds, not half a minute.
    const paced = await deployFeedSystem(ethers, {
      devices: 4,
      config: { ...FEED_CONFIG, minInterval: 2 },
    });
    const files: string[] = [];
    for (const [i, d] of paced.devices.entries()) {
      const path = join(dir, `paced-${String(i)}.json`);
      await d.store.save(path, PASSWORD, TEST_SCRYPT);
      files.push(path);
    }
    const port = await freePort();
    const gateway = runTask(["gateway", "start"], {
      ...gatewayArgs("paced.sqlite"),
      registry: paced.registryAddress,
      proofs: paced.proofsAddress,
      brokerPort: port,
    });
    let stopped = false;
    try {
      await until(() => accepts(port), "the embedded broker");
      const fleet = await runTask(["fleet", "simulate"], {
        ...fleetArgs(`mqtt://127.0.0.1:${String(port)}`),
        registry: paced.registryAddress,
        feed: paced.feedAddress,
        keyFiles: files.join(","),
        password: PASSWORD,
        rounds: 3,
        burst: 1,
        burstReadings: 2,
        burstJumpBps: 0,
      });
      assert.equal(fleet.result.success, true, fleet.stderr);
      const report = JSON.parse(fleet.stdout) as Record<string, number>;
      assert.deepEqual([report.readings, report.bursts], [12, 2]);
      assert.match(fleet.stderr, /fleet: 4 devices → .*, 2 s between readings of a device/);
      assert.match(
        fleet.stderr,
        /fleet: round 2 waits for the feed's minInterval \(2 s\): device 0 is due at \d+, the clock is at \d+/,
      );
      const feed = feedAt(paced.feedAddress, paced.watcher);
      const [burster, ...honest] = paced.devices.map((d) => d.deviceId);
      await until(
        async () =>
          (await feed.quarantineOf(burster ?? "")).since !== 0n &&
          (await Promise.all(honest.map((id) => feed.sequenceOf(id)))).every((q) => q === 3n),
        "every honest reading and the burst in the feed",
      );
      assert.equal((await feed.quarantineOf(burster ?? "")).anomaly, 1n, "TooFrequent");
      assert.equal(await feed.quarantinedCount(), 1n, "only the bursting device");
      stopped = process.emit("SIGTERM");
      const out = await gateway;
      assert.equal(out.result.success, true, out.stderr);
    } finally {
      if (!stopped) process.emit("SIGTERM");
      await gateway;
    }
  });

  it("fleet simulate numbers readings from the device's signing record: after a run the feed never took, the next run moves on", async function () {
    // The incident: a run's reading never reached the feed (here no gateway listens), so the feed's
    // sequence of the device is still 0; the next run must not sign another reading #1.
    const fresh = await deployFeedSystem(ethers, { devices: 1 });
    const file = join(dir, "incident-0.json");
    await fresh.devices[0]?.store.save(file, PASSWORD, TEST_SCRYPT);
    const broker = await startEmbeddedBroker({ port: 0 });
    const heard: SignedReading[] = [];
    const client = await connectAsync(broker.url);
    client.on("message", (_topic, payload) => heard.push(decodeReading(payload)));
    await client.subscribeAsync("dt/devicetrust/+/+/reading", { qos: 1 });
    const simulate = (value: string) =>
      runTask(["fleet", "simulate"], {
        ...fleetArgs(broker.url),
        registry: fresh.registryAddress,
        feed: fresh.feedAddress,
        keyFiles: file,
        password: PASSWORD,
        signingRecords: join(dir, "incident-records"),
        value,
      });
    try {
      // A value outside the feed's range is refused before anything is signed (the incident's start).
      const outside = await simulate("2000000");
      assert.equal(outside.result.success, false);
      assert.match(
        outside.stderr,
        /--value 2000000 with --step 0\.01 puts the honest readings at 2000000\.\.2000000, outside the feed's range -1000\.\.1000000: the feed would refuse them/,
      );
      const first = await simulate("0.00000123");
      assert.equal(first.result.success, true, first.stderr);
      assert.match(first.stderr, /fleet: signing records under .*incident-records/);
      const second = await simulate("0.00000456");
      assert.equal(second.result.success, true, second.stderr);
      await until(() => Promise.resolve(heard.length === 2), "both readings at the broker");
      assert.deepEqual(
        heard.map((r) => [r.reading.sequence, r.reading.value]),
        [
          [1n, 123n],
          [2n, 456n],
        ],
      );
      const deviceId = fresh.devices[0]?.deviceId ?? "";
      assert.equal(await feedAt(fresh.feedAddress, fresh.watcher).sequenceOf(deviceId), 0n);
    } finally {
      await client.endAsync();
      await broker.close();
    }
  });

  it("fleet simulate reads --value, --step and --out-of-bounds-value in the feed's decimals, negative ones too", async function () {
    // A feed of 2 decimals: 21.5 is 2150.
    const cents = await deployFeedSystem(ethers, {
      devices: 1,
      config: { ...FEED_CONFIG, decimals: 2, minValue: -4_000n, maxValue: 10_000n },
    });
    const file = join(dir, "cents-0.json");
    await cents.devices[0]?.store.save(file, PASSWORD, TEST_SCRYPT);
    const broker = await startEmbeddedBroker({ port: 0 });
    const heard: SignedReading[] = [];
    const client = await connectAsync(broker.url);
    client.on("message", (_topic, payload) => heard.push(decodeReading(payload)));
    await client.subscribeAsync("dt/devicetrust/+/+/reading", { qos: 1 });
    const simulate = (args: Record<string, unknown>) =>
      runTask(["fleet", "simulate"], {
        ...fleetArgs(broker.url),
        registry: cents.registryAddress,
        feed: cents.feedAddress,
        keyFiles: file,
        password: PASSWORD,
        signingRecords: join(dir, "cents-records"),
        ...args,
      });
    try {
      // More decimals than the feed holds: refused before anything is signed, with what to do.
      const fine = await simulate({ value: "21.555" });
      assert.equal(fine.result.success, false);
      assert.equal(fine.result.error?.code, "INVALID_INPUT");
      assert.match(
        fine.stderr,
        /--value "21\.555" has 3 decimals, the feed only 2: give it with at most 2 decimals/,
      );
      const outside = await simulate({ value: "100.01" });
      assert.match(
        outside.stderr,
        /--value 100\.01 with --step 0\.01 puts the honest readings at 100\.01\.\.100\.01, outside the feed's range -40\.\.100: the feed would refuse them/,
      );
      const negative = await simulate({ value: " -21.5" });
      assert.equal(negative.result.success, true, negative.stderr);
      const injected = await simulate({
        rounds: 0,
        outOfBounds: 1,
        outOfBoundsValue: " -50.25",
      });
      assert.equal(injected.result.success, true, injected.stderr);
      await until(() => Promise.resolve(heard.length === 2), "both readings at the broker");
      assert.deepEqual(
        heard.map((r) => r.reading.value),
        [-2_150n, -5_025n],
      );
    } finally {
      await client.endAsync();
      await broker.close();
    }
  });

  it("fleet simulate says what to do when the broker does not answer", async function () {
    const port = await freePort();
    const out = await runTask(["fleet", "simulate"], {
      ...fleetArgs(`mqtt://127.0.0.1:${String(port)}`),
      devices: 2,
    });
    assert.equal(out.result.success, false);
    assert.match(
      out.stderr,
      /cannot connect to the broker mqtt:\/\/127\.0\.0\.1:\d+: check the address/,
    );
  });

  it("gateway start fails with a sentence when the broker cannot be reached", async function () {
    const port = await freePort();
    const out = await runTask(["gateway", "start"], {
      ...gatewayArgs("unreachable.sqlite"),
      broker: `mqtt://127.0.0.1:${String(port)}`,
    });
    assert.equal(out.result.success, false);
    assert.match(out.stderr, /Error GATEWAY_BROKER: cannot connect or subscribe/);
  });

  it("gateway start hands --max-batches-per-tx to the gateway, which refuses 0 with a sentence", async function () {
    const out = await runTask(["gateway", "start"], {
      ...gatewayArgs("max-batches.sqlite"),
      maxBatchesPerTx: 0,
    });
    assert.equal(out.result.success, false);
    assert.match(
      out.stderr,
      /Error GATEWAY_BAD_OPTIONS: .*maxBatchesPerTx.* must be at least 1: fix the options/,
    );
  });
});
