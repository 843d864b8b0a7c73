import assert from "node:assert/strict";
import pg from "pg";
import { pino } from "pino";
import { runGateway } from "../../src/app/index.js";
import { DeviceSigner } from "../../src/device/device-signer.js";
import { Fleet, startEmbeddedBroker, type EmbeddedBroker } from "../../src/gateway/index.js";
import { ethers, networkHelpers } from "../client/fixture.js";
import { chainTime, deployFeedSystem, type FeedSystem } from "../client/feed-fixture.js";
import { tempDb } from "../watchtower/helpers.js";
import { waitFor } from "./helpers.js";
import { postgresPerFile } from "./postgres.js";

async function feedSystem(): Promise<FeedSystem> {
  return deployFeedSystem(ethers);
}

describe("gateway start on a PostgreSQL store (runGateway with a postgres:// URL)", function () {
  const postgres = postgresPerFile();
  let broker: EmbeddedBroker | undefined;

  beforeEach(async function () {
    broker = await startEmbeddedBroker({ port: 0 });
  });

  afterEach(async function () {
    await broker?.close();
  });

  it("streams into the feed through the shared store; its watchtower proves a clone under a claim; the summary counts from the store", async function () {
    this.timeout(60_000);
    const s = await networkHelpers.loadFixture(feedSystem);
    const url = postgres.database();
    const brokerUrl = broker?.url ?? "";
    const running = await runGateway({
      registry: s.registryAddress,
      proofs: s.proofsAddress,
      signer: s.watcher,
      brokerUrl,
      dbPath: url,
      clientId: "gw-pg",
      batchIntervalMs: 20,
      httpPort: false,
      logger: pino({ level: "silent" }),
      submitter: { pollMs: 10 },
      watchtower: { dbPath: await tempDb(), signer: s.loss },
      handleSignals: false,
      admission: { maxClockSkewMs: 30 * 86_400_000 },
    });
    const base = await chainTime(ethers);
    const started = Date.now();
    const fleet = await Fleet.create({
      brokerUrl,
      feedId: s.feedId,
      signers: s.devices.map((d) => new DeviceSigner(d.store, d.signer.domain, d.deviceId)),
      clock: () => base + BigInt(Math.floor((Date.now() - started) / 1000)),
    });
    try {
      assert.equal(running.gateway.readings.kind, "postgres");
      await fleet.publishRound();
      await waitFor(() => running.gateway.readings.counts().submitted === 7, "7 submitted");
      const { clone } = await fleet.injectClone(0);
      const wt = running.watchtower;
      assert.ok(wt !== null);
      await waitFor(
        () => wt.watchtower.evidence.proofs().some((p) => p.status === "submitted"),
        "the equivocation proof",
        30_000,
      );
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const claims = await client.query("SELECT claim_key, owner, done FROM proof_claims");
        assert.equal(claims.rows.length, 1);
        const claim = claims.rows[0] as { claim_key: string; owner: string; done: boolean };
        assert.ok(claim.claim_key.includes(clone.reading.deviceId.toLowerCase()));
        assert.deepEqual([claim.owner, claim.done], ["gw-pg", true]);
      } finally {
        await client.end();
      }
    } finally {
      await fleet.close();
      const summary = await running.stop();
      assert.equal(summary.readings?.submitted, 7, "counted from the shared store after the stop");
      assert.equal(summary.readings.pending, 0);
    }
  });
});
