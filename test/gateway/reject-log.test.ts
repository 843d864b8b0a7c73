import { readingTopic } from "../../src/protocol/index.js";
import assert from "node:assert/strict";
import { FEED, deviceSigner, memoryLogger, sample } from "../watchtower/helpers.js";
import { FakeFeeds, brokerPerTest, gateway, waitFor } from "./helpers.js";

describe("Gateway", function () {
  const broker = brokerPerTest();

  describe("rejected-message log", function () {
    it("logs the first few per reason and interval, then one summary per reason; the metrics count all", async function () {
      const { logger, lines } = memoryLogger();
      const g = gateway({
        brokerUrl: broker().url,
        dbPath: ":memory:",
        submitter: new FakeFeeds(),
        logger,
        rejectLog: { burst: 3, intervalMs: 200 },
      });
      await g.start();
      const device = deviceSigner("p256");
      for (let i = 0; i < 50; i++) await g.onMessage(`bad/topic/${String(i)}`, Buffer.from("x"));
      for (let i = 0; i < 5; i++) {
        await g.onMessage(readingTopic(FEED, device.deviceId), Buffer.from("not json"));
      }
      const detailed = (reason: string): Record<string, unknown>[] =>
        lines.filter((l) => l.event === "rejected" && l.reason === reason);
      const summaries = (): Record<string, unknown>[] =>
        lines.filter((l) => l.event === "rejected_suppressed");
      assert.equal(detailed("bad_topic").length, 3);
      assert.equal(detailed("bad_topic")[0]?.topic, "bad/topic/0");
      assert.equal(detailed("malformed").length, 3);
      assert.deepEqual(summaries(), []);
      const text = await g.metrics.text();
      assert.equal(sample(text, 'gateway_rejected_total{reason="bad_topic"}'), 50);
      assert.equal(sample(text, 'gateway_rejected_total{reason="malformed"}'), 5);
      // The interval ends: one summary line per reason, with the count left out.
      await waitFor(() => summaries().length === 2, "two summaries", 2000);
      const byReason = new Map(summaries().map((l) => [l.reason, l.suppressed]));
      assert.deepEqual(
        byReason,
        new Map([
          ["bad_topic", 47],
          ["malformed", 2],
        ]),
      );
      // A new interval: details again.
      await g.onMessage("bad/topic/again", Buffer.from("x"));
      assert.equal(detailed("bad_topic").length, 4);
      await g.stop();
      assert.equal(summaries().length, 2, "nothing was left out since");
    });
  });
});
