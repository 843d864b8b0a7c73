import assert from "node:assert/strict";
import type { SignedReading } from "../../src/watchtower/index.js";
import { deviceSigner, reading, tempDb } from "../watchtower/helpers.js";
import { FakeFeeds, gateway } from "./helpers.js";

describe("Gateway throughput (in process, no MQTT)", function () {
  it("verifies, deduplicates and persists signed readings; prints the rate", async function () {
    this.timeout(60_000);
    for (const curve of ["p256", "secp256k1"] as const) {
      const readings: SignedReading[] = [];
      const devices = Array.from({ length: 10 }, () => deviceSigner(curve));
      for (const d of devices) {
        for (let i = 1n; i <= 200n; i++) readings.push(await reading(d, i, i, 1_700_000_000n + i));
      }
      const g = gateway({
        brokerUrl: "unused",
        dbPath: await tempDb(),
        submitter: new FakeFeeds(),
        maxQueue: readings.length,
        batchSize: readings.length,
      });
      g.open();
      const start = process.hrtime.bigint();
      for (const r of readings) assert.equal(await g.accept(r), "accepted");
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      console.log(
        `      ${curve}: ${String(readings.length)} readings in ${seconds.toFixed(3)} s = ${String(Math.round(readings.length / seconds))} verified readings/s`,
      );
      assert.equal(g.queued, readings.length);
      await g.stop();
    }
  });
});
