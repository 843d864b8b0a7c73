import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { pino } from "pino";
import { humanLogLine, humanLogStream } from "../../src/gateway/index.js";

describe("humanLogStream", function () {
  it("turns pino JSON lines into one line for people each, fields as key=value", async function () {
    let out = "";
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        out += chunk.toString();
        done();
      },
    });
    const log = pino({ name: "gateway", level: "info" }, humanLogStream(sink));
    log.warn({ event: "submission_retry", attempt: 2, err: { code: "X" } }, "submission failed");
    log.debug({ event: "hidden" }, "below the level");
    await new Promise((resolve) => setImmediate(resolve));
    assert.match(
      out,
      /^\d\d:\d\d:\d\d {2}WARN {3}gateway {2}submission failed {2}event=submission_retry attempt=2 err=\{"code":"X"\}\n$/,
    );
    assert.equal(humanLogLine("not json"), "not json");
  });
});
