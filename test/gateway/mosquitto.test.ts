import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectAsync } from "mqtt";
import { DevicePublisher } from "../../src/gateway/index.js";
import type { Hex, SignedReading } from "../../src/protocol/index.js";
import { deviceSigner, reading, tempDb } from "../watchtower/helpers.js";
import { FakeFeeds, batchOf, gateway, slotOf, waitFor } from "./helpers.js";

const MOSQUITTO = "/usr/sbin/mosquitto";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("Gateway on Mosquitto", function () {
  let mosquitto: ChildProcess | undefined;
  let url = "";

  before(async function () {
    if (!existsSync(MOSQUITTO)) {
      if (process.env.CI === "true") {
        throw new Error(
          `${MOSQUITTO} is missing: install the mosquitto package (apt-get install mosquitto)`,
        );
      }
      this.skip();
    }
    const dir = await mkdtemp(join(tmpdir(), "mosquitto-"));
    const port = await freePort();
    const conf = join(dir, "mosquitto.conf");
    await writeFile(
      conf,
      `listener ${String(port)} 127.0.0.1\nallow_anonymous true\npersistence false\n`,
    );
    const child = spawn(MOSQUITTO, ["-c", conf], { stdio: "ignore" });
    mosquitto = child;
    url = `mqtt://127.0.0.1:${String(port)}`;
    // Wait until it accepts connections.
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        const probe = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 500 });
        await probe.endAsync();
        break;
      } catch (err: unknown) {
        if (Date.now() > end) throw err;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  });

  after(function () {
    if (mosquitto?.pid !== undefined) process.kill(mosquitto.pid, "SIGTERM");
  });

  it("two gateways share one subscription: every reading submitted, every batch anchored, once", async function () {
    this.timeout(30_000);
    const feeds = new FakeFeeds();
    const common = { brokerUrl: url, submitter: feeds, sharedGroup: "devicetrust" };
    const g1 = gateway({ ...common, dbPath: await tempDb(), clientId: "gw-1" });
    const g2 = gateway({ ...common, dbPath: await tempDb(), clientId: "gw-2" });
    await g1.start();
    await g2.start();
    const devices = [deviceSigner("p256"), deviceSigner("secp256k1"), deviceSigner("p256")];
    const readings: SignedReading[] = [];
    for (const d of devices) {
      for (let i = 1n; i <= 70n; i++) readings.push(await reading(d, i, i, 1_700_000_000n + i));
    }
    const pub = await DevicePublisher.connect(url);
    for (const r of readings) await pub.publish(r);
    // Batch mode through the same shared subscription: each root anchored once, by one gateway.
    const batcher = deviceSigner("p256");
    const roots: Hex[] = [];
    for (let k = 0n; k < 6n; k++) {
      const signed = await pub.signAndPublishBatch(batcher, batchOf(64, k * 64n + 1n));
      roots.push(signed.batch.root);
    }
    await waitFor(
      () => feeds.counts.size === readings.length && g1.queued + g2.queued === 0,
      "every reading submitted",
      20_000,
    );
    await waitFor(() => feeds.anchored.length === roots.length, "every batch anchored", 20_000);
    assert.deepEqual(feeds.anchoredTwice(), []);
    assert.deepEqual(new Set(feeds.anchored.map((b) => b.batch.root)), new Set(roots));
    assert.equal(
      g1.readings.batchCounts().submitted + g2.readings.batchCounts().submitted,
      roots.length,
    );
    assert.deepEqual(feeds.duplicates(), []);
    assert.deepEqual(new Set(feeds.counts.keys()), new Set(readings.map(slotOf)));
    const n1 = g1.readings.counts().submitted;
    const n2 = g2.readings.counts().submitted;
    assert.equal(n1 + n2, readings.length);
    assert.ok(n1 > 0 && n2 > 0, `both gateways took a share (${String(n1)} and ${String(n2)})`);
    await pub.close();
    await g1.stop();
    await g2.stop();
  });
});
