import assert from "node:assert/strict";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { GatewayStore } from "../../src/gateway/index.js";
import type { SignedReading } from "../../src/protocol/index.js";
import { deviceSigner, memoryLogger, reading } from "../watchtower/helpers.js";
import {
  FakeFeeds,
  brokerPerTest,
  fillStore,
  gateway,
  slotOf,
  slowSubmitter,
  waitFor,
  tempFolderPerTest,
} from "./helpers.js";

describe("Gateway", function () {
  const broker = brokerPerTest();
  const folder = tempFolderPerTest("gateway-stop-");
  let template: SignedReading;

  before(async function () {
    template = await reading(deviceSigner("p256"), 1n, 21n);
  });

  describe("stop", function () {
    it("with 92,384 readings queued and slow submissions, stops after the one in flight; a restart submits the rest once", async function () {
      this.timeout(120_000);
      const dbPath = join(folder(), "gateway.sqlite");
      const queued = fillStore(dbPath, { submitted: 0, rejected: 0, pending: 92_384 }, template);
      const feeds = new FakeFeeds();
      const options = { brokerUrl: broker().url, dbPath, batchSize: 64, clientId: "gw-stop" };
      const a = gateway({ ...options, submitter: slowSubmitter(feeds, 100) });
      await a.start();
      await waitFor(() => feeds.calls.length >= 3, "three submissions");
      const t0 = performance.now();
      await a.stop();
      const stopMs = performance.now() - t0;
      // The submission in flight when stop() began went through and was recorded; nothing after it.
      const sent = feeds.counts.size;
      assert.ok(sent < queued.length);
      const store = new GatewayStore(dbPath);
      assert.deepEqual(store.counts(), {
        pending: queued.length - sent,
        submitted: sent,
        rejected: 0,
      });
      store.close();
      console.log(
        `      stop() with ${String(queued.length - sent)} readings queued: ${stopMs.toFixed(0)} ms (stopTimeoutMs 10000)`,
      );
      assert.ok(stopMs < 10_000, `stop() took ${stopMs.toFixed(0)} ms`);
      const b = gateway({ ...options, submitter: feeds });
      await b.start();
      await waitFor(() => feeds.counts.size === queued.length, "every reading submitted", 60_000);
      assert.deepEqual(feeds.duplicates(), []);
      assert.deepEqual(new Set(feeds.counts.keys()), new Set(queued.map(slotOf)));
      await b.stop();
      const after = new GatewayStore(dbPath);
      assert.deepEqual(after.counts(), { pending: 0, submitted: queued.length, rejected: 0 });
      after.close();
    });

    it("closes after stopTimeoutMs when a submission hangs: its readings stay pending and a restart submits them once", async function () {
      this.timeout(30_000);
      const dbPath = join(folder(), "gateway.sqlite");
      const queued = fillStore(dbPath, { submitted: 0, rejected: 0, pending: 1000 }, template);
      const hung = new FakeFeeds();
      hung.gate = new Promise<void>(() => undefined); // a transaction that never confirms
      const { logger, lines } = memoryLogger();
      const options = { brokerUrl: broker().url, dbPath, batchSize: 64, clientId: "gw-hung" };
      const a = gateway({ ...options, submitter: hung, stopTimeoutMs: 300, logger });
      await a.start();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const t0 = performance.now();
      await a.stop();
      const stopMs = performance.now() - t0;
      assert.ok(stopMs < 5000, `stop() took ${stopMs.toFixed(0)} ms`);
      const stopped = lines.find((l) => l.event === "stopped");
      assert.deepEqual(stopped?.cutShort, ["submission in flight"]);
      assert.equal(stopped.pending, queued.length);
      const feeds = new FakeFeeds();
      const b = gateway({ ...options, submitter: feeds });
      await b.start();
      await waitFor(() => feeds.counts.size === queued.length, "every reading submitted");
      assert.deepEqual(feeds.duplicates(), []);
      await b.stop();
    });
  });
});
