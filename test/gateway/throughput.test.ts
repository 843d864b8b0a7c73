import assert from "node:assert/strict";
import {
  acceptRate,
  batchMessages,
  batchRate,
  intakeRate,
  signedReadings,
} from "../../src/bench/gateway.js";

/**
 * Rates on this thread, printed (the targets of issue 5 are checked by `npm run bench`, which runs
 * larger samples: a shared machine makes a rate assertion here flaky). Each run asserts that every
 * reading was accepted and stored.
 */
describe("Gateway throughput (in process, no MQTT)", function () {
  function print(what: string, rate: number): void {
    console.log(`      ${what}: ${String(Math.round(rate))} readings/s`);
  }

  it("verifies, deduplicates and persists single-signature readings; prints the rates", async function () {
    this.timeout(120_000);
    const p256 = await signedReadings("p256", 10, 300);
    const k1 = await signedReadings("secp256k1", 10, 30);
    const rates = {
      p256: await acceptRate(p256),
      secp256k1: await acceptRate(k1),
      wire: await intakeRate(p256),
    };
    print("P-256, verify + dedup + persist", rates.p256);
    print("secp256k1, verify + dedup + persist", rates.secp256k1);
    print("P-256 from the wire (topic, JSON, verify, persist)", rates.wire);
    for (const r of Object.values(rates)) assert.ok(r > 0);
  });

  it("verifies and persists batches of 1024 readings; prints the rate", async function () {
    this.timeout(120_000);
    const messages = await batchMessages(16, 1024, ["p256", "secp256k1"]);
    const rate = await batchRate(messages, 1024);
    print("batches of 1024 (decode, root, one signature, persist)", rate);
    assert.ok(rate > 0);
  });
});
