import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DevicePublisher } from "../../src/gateway/index.js";
import type { Hex, SignedReading } from "../../src/protocol/index.js";
import { deviceSigner, reading, tempDb } from "../watchtower/helpers.js";
import { FakeFeeds, batchOf, gateway, slotOf, waitFor } from "./helpers.js";
import { MosquittoProcess, freePort, requireMosquitto } from "./mosquitto-broker.js";

describe("Gateway on Mosquitto", function () {
  let mosquitto: MosquittoProcess | undefined;
  let dir: string | undefined;
  let url = "";

  before(async function () {
    requireMosquitto(this);
    dir = await mkdtemp(join(tmpdir(), "mosquitto-"));
    const port = await freePort();
    mosquitto = await MosquittoProcess.start(
      dir,
      port,
      `listener ${String(port)} 127.0.0.1\nallow_anonymous true\npersistence false\n`,
    );
    url = mosquitto.url;
  });

  after(async function () {
    await mosquitto?.kill("SIGTERM");
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
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
