import assert from "node:assert/strict";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { GatewayHealth } from "../../src/gateway/index.js";
import type { SignedReading } from "../../src/protocol/index.js";
import { FakeDirectory, deviceSigner, reading } from "../watchtower/helpers.js";
import {
  FakeFeeds,
  brokerPerTest,
  fillStore,
  gateway,
  sqliteOf,
  waitFor,
  tempFolderPerTest,
} from "./helpers.js";

describe("Gateway", function () {
  const broker = brokerPerTest();
  const folder = tempFolderPerTest("gateway-health-");
  let template: SignedReading;

  before(async function () {
    template = await reading(deviceSigner("p256"), 1n, 21n);
  });

  describe("health", function () {
    it("answers from running counts on a 200,000-row store, and the counts follow inserts and submissions", async function () {
      this.timeout(120_000);
      const dbPath = join(folder(), "gateway.sqlite");
      const rows = { submitted: 150_000, rejected: 40_000, pending: 10_000 };
      const pending = fillStore(dbPath, rows, template);
      const feeds = new FakeFeeds();
      let open: () => void = () => undefined;
      feeds.gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const g = gateway({
        brokerUrl: broker().url,
        dbPath,
        submitter: feeds,
        http: { port: 0 },
        batchSize: 64,
      });
      const address = await g.start();
      assert.ok(address !== null);
      const url = `http://127.0.0.1:${String(address.port)}/health`;
      const get = async (): Promise<GatewayHealth> => {
        const res = await fetch(url);
        assert.equal(res.status, 200);
        return (await res.json()) as GatewayHealth;
      };
      const first = await get();
      assert.equal(first.status, "ok");
      assert.equal(first.submitted, rows.submitted);
      assert.equal(first.queued, rows.pending);
      assert.deepEqual(g.readings.counts(), rows);
      // One more reading, accepted while the submissions wait.
      const device = deviceSigner("secp256k1");
      assert.equal(await g.accept(await reading(device, 1n, 5n)), "accepted");
      assert.deepEqual(g.readings.counts(), { ...rows, pending: rows.pending + 1 });
      assert.equal((await get()).queued, rows.pending + 1);
      // The latency, measured (not asserted): the store's size no longer shows in it.
      const ms: number[] = [];
      for (let i = 0; i < 50; i++) {
        const t0 = performance.now();
        await get();
        ms.push(performance.now() - t0);
      }
      ms.sort((a, b) => a - b);
      const t0 = performance.now();
      const recounted = sqliteOf(g).recount();
      const scanMs = performance.now() - t0;
      assert.deepEqual(recounted.readings, g.readings.counts());
      console.log(
        `      /health on ${String(rows.submitted + rows.rejected + rows.pending)} rows: median ${(ms[25] ?? 0).toFixed(2)} ms, max ${(ms[49] ?? 0).toFixed(2)} ms over 50 requests; the GROUP BY count it replaces: ${scanMs.toFixed(1)} ms`,
      );
      open();
      feeds.gate = undefined;
      await waitFor(() => g.queued === 0, "every pending reading submitted", 60_000);
      const done = await get();
      assert.equal(done.submitted, rows.submitted + rows.pending + 1);
      assert.equal(done.queued, 0);
      assert.deepEqual(g.readings.counts(), sqliteOf(g).recount().readings);
      assert.equal(feeds.counts.size, pending.length + 1);
      await g.stop();
    });

    it("bounds the chain ping by healthTimeoutMs, one ping for concurrent requests", async function () {
      let pings = 0;
      const directory = new FakeDirectory();
      directory.ping = () => {
        pings++;
        return new Promise<void>(() => undefined); // a chain that never answers
      };
      const g = gateway({
        brokerUrl: broker().url,
        dbPath: ":memory:",
        submitter: new FakeFeeds(),
        healthTimeoutMs: 100,
        directory,
      });
      await g.start();
      const t0 = performance.now();
      const reports = await Promise.all([g.health(), g.health(), g.health()]);
      const elapsed = performance.now() - t0;
      for (const r of reports) {
        assert.equal(r.status, "unavailable");
        assert.deepEqual(r.chain, { ok: false, error: "the chain did not answer in time" });
      }
      assert.equal(pings, 1);
      assert.ok(elapsed < 2000, `${elapsed.toFixed(0)} ms`);
      await g.stop();
    });
  });
});
