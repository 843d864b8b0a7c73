import assert from "node:assert/strict";
import { pino } from "pino";
import { DevicePublisher, Gateway, startEmbeddedBroker } from "../../src/gateway/index.js";
import { readingTopic } from "../../src/protocol/index.js";
import { MqttSource, type Watchtower } from "../../src/watchtower/index.js";
import { FakeFeeds } from "../gateway/helpers.js";
import {
  DOMAIN,
  cloneOf,
  FEED,
  FakeDirectory,
  FakeSubmitter,
  deviceSigner,
  reading,
  tempDb,
  watchtower,
} from "./helpers.js";

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("Standalone watchtower on the broker (MqttSource)", function () {
  it("proves a clone from its own subscription, beside a gateway that stored the first reading of each pair", async function () {
    this.timeout(20_000);
    const broker = await startEmbeddedBroker({ port: 0 });
    const feeds = new FakeFeeds();
    const gateways = [0].map(
      (i) =>
        new Gateway({
          domain: DOMAIN,
          directory: new FakeDirectory(),
          submitter: feeds,
          dbPath: ":memory:",
          brokerUrl: broker.url,
          clientId: `gw-${String(i)}`,
          http: false,
          logger: pino({ level: "silent" }),
          batchSize: 1,
          batchIntervalMs: 5,
        }),
    );
    const submitter = new FakeSubmitter();
    const source = await MqttSource.connect({ brokerUrl: broker.url, clientId: "tower-1" });
    const w: Watchtower = watchtower({
      source,
      directory: new FakeDirectory(),
      submitter,
      dbPath: await tempDb(),
    });
    const pub = await DevicePublisher.connect(broker.url);
    try {
      for (const g of gateways) await g.start();
      await w.start();
      const device = deviceSigner("p256");
      const clone = cloneOf(device);
      // Eight pairs: a reading and its clone's (same sequence, another value).
      for (let i = 1n; i <= 8n; i++) {
        await pub.publish(await reading(device, i, 20n));
        await pub.publish(await reading(clone, i, 21n)); // same sequence, another value
      }
      await until(() => submitter.calls.length === 8, "8 equivocation proofs");
      assert.ok(submitter.calls.every((c) => c.kind === "equivocation"));
      const [g] = gateways;
      assert.ok(g !== undefined);
      await until(() => g.readings.counts().submitted === 8, "8 submitted");
    } finally {
      await pub.close();
      await source.close();
      await w.stop();
      for (const g of gateways) await g.stop();
      await broker.close();
    }
  });

  it("acknowledges only what the watchtower handled: a message in hand at close is redelivered to the same session", async function () {
    this.timeout(20_000);
    const broker = await startEmbeddedBroker({ port: 0 });
    const pub = await DevicePublisher.connect(broker.url);
    const device = deviceSigner("secp256k1");
    const first = await MqttSource.connect({ brokerUrl: broker.url, clientId: "tower-2" });
    try {
      await pub.publish(await reading(device, 1n, 20n));
      await pub.publish(await reading(device, 2n, 20n));
      const seen: bigint[] = [];
      for await (const m of first) {
        if ("reading" in m) seen.push(m.reading.sequence);
        // Handled #1 (asked for the next); #2 is in hand, not handled, when the stream closes.
        if (seen.length === 2) {
          await first.close();
          break;
        }
      }
      assert.deepEqual(seen, [1n, 2n]);
      await pub.publishRaw(readingTopic(FEED, device.deviceId), "not json");
      await pub.publish(await reading(device, 3n, 20n));
      const malformed: string[] = [];
      const again = await MqttSource.connect({
        brokerUrl: broker.url,
        clientId: "tower-2",
        onMalformed: (topic) => malformed.push(topic),
      });
      const resumed: bigint[] = [];
      for await (const m of again) {
        if ("reading" in m) resumed.push(m.reading.sequence);
        if (resumed.length === 2) {
          await again.close();
          break;
        }
      }
      assert.deepEqual(resumed, [2n, 3n], "#2 redelivered, #1 not");
      assert.equal(malformed.length, 1);
    } finally {
      await pub.close();
      await broker.close();
    }
  });
});
