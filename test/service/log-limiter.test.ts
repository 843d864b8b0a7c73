import assert from "node:assert/strict";
import { LogLimiter } from "../../src/service/log-limiter.js";
import { memoryLogger } from "../watchtower/helpers.js";

describe("LogLimiter", function () {
  describe("info", function () {
    it("writes `burst` lines per key and interval, then one summary per key when the interval is over", function () {
      const { logger, lines } = memoryLogger();
      let now = 1_000;
      const limiter = new LogLimiter(logger, {
        event: "rejected",
        keyField: "reason",
        limit: { burst: 2, intervalMs: 100 },
        now: () => now,
      });
      for (let i = 0; i < 5; i++) limiter.info("a", { event: "rejected", n: i }, "a");
      limiter.info("b", { event: "rejected", n: 0 }, "b");
      assert.deepEqual(
        lines.map((l) => [l.msg, l.n]),
        [
          ["a", 0],
          ["a", 1],
          ["b", 0],
        ],
      );
      now += 100; // the interval of "a" is over: its next line first writes the summary
      limiter.info("a", { event: "rejected", n: 5 }, "a");
      assert.deepEqual(lines.slice(3), [
        {
          ...lines[3],
          event: "rejected_suppressed",
          reason: "a",
          suppressed: 3,
          intervalMs: 100,
        },
        { ...lines[4], event: "rejected", n: 5, msg: "a" },
      ]);
      for (let i = 0; i < 4; i++) limiter.info("a", { event: "rejected" }, "a");
      limiter.close(); // writes what is pending: 3 left out of "a"; "b" left nothing out
      const last = lines.at(-1);
      assert.equal(last?.event, "rejected_suppressed");
      assert.equal(last.suppressed, 3);
      assert.equal(lines.filter((l) => l.event === "rejected_suppressed").length, 2);
    });

    it("writes a summary by timer when no more lines come", async function () {
      const { logger, lines } = memoryLogger();
      const limiter = new LogLimiter(logger, { event: "x", limit: { burst: 1, intervalMs: 30 } });
      for (let i = 0; i < 4; i++) limiter.info("k", { event: "x" }, "x");
      assert.equal(lines.length, 1);
      await new Promise((resolve) => setTimeout(resolve, 80));
      assert.equal(lines.length, 2);
      assert.equal(lines[1]?.event, "x_suppressed");
      assert.equal(lines[1].key, "k");
      assert.equal(lines[1].suppressed, 3);
      limiter.close();
      assert.equal(lines.length, 2);
    });

    it("refuses a negative burst or an empty interval", function () {
      const { logger } = memoryLogger();
      assert.throws(
        () => new LogLimiter(logger, { event: "x", limit: { intervalMs: 0 } }),
        RangeError,
      );
      assert.throws(() => new LogLimiter(logger, { event: "x", limit: { burst: -1 } }), RangeError);
    });
  });
});
