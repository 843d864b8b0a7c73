import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { id } from "ethers";
import { pino } from "pino";
import { Gateway, type ReadingSubmitter } from "../../src/gateway/index.js";
import type { Hex } from "../../src/protocol/index.js";
import { DOMAIN, FakeDirectory } from "../watchtower/helpers.js";
import { slotOf } from "./helpers.js";

/**
 * The gateway process of the SIGKILL crash test (crash.test.ts spawns it; loaded by mocha it does
 * nothing). Its submitter is a stand-in for the feeds contract: it appends each reading's slot to
 * CRASH_LOG (synchronously, before returning) and, like the contract (sequences strictly increase),
 * refuses a slot it already took; those refusals go to CRASH_LOG.replays. Anchored batch roots go
 * to CRASH_LOG.anchors, and a root anchored again to CRASH_LOG.anchor-replays.
 */
async function main(): Promise<void> {
  const log = process.env.CRASH_LOG ?? "";
  const taken = new Set(
    existsSync(log)
      ? readFileSync(log, "utf8")
          .split("\n")
          .filter((l) => l !== "")
      : [],
  );
  const anchored = new Set(
    existsSync(`${log}.anchors`)
      ? readFileSync(`${log}.anchors`, "utf8")
          .split("\n")
          .filter((l) => l !== "")
      : [],
  );
  // Like ReadingAnchor (a batch starts after the last anchored one), a root is taken once.
  const take = (rootHex: string): void => {
    const root = rootHex.toLowerCase();
    if (anchored.has(root)) appendFileSync(`${log}.anchor-replays`, "1\n");
    else appendFileSync(`${log}.anchors`, `${root}\n`);
    anchored.add(root);
  };
  const submitter: ReadingSubmitter = {
    submitReadings: (readings) => {
      const fresh = readings.map(slotOf).filter((s) => !taken.has(s));
      const replays = readings.length - fresh.length;
      if (replays > 0) appendFileSync(`${log}.replays`, `${String(replays)}\n`);
      if (fresh.length > 0) appendFileSync(log, `${fresh.join("\n")}\n`);
      for (const s of fresh) taken.add(s);
      return Promise.resolve({
        txHash: id("tx") as Hex,
        outcomes: readings.map(() => ({ accepted: true as const })),
      });
    },
    anchorBatch: (signed) => {
      take(signed.batch.root);
      return Promise.resolve({ txHash: id("anchor") as Hex });
    },
    anchorBatches: (batches) => {
      for (const b of batches) take(b.batch.root);
      return Promise.resolve({
        txHash: id("anchor") as Hex,
        outcomes: batches.map(() => ({ anchored: true as const })),
      });
    },
  };
  const g = new Gateway({
    domain: DOMAIN,
    directory: new FakeDirectory(),
    submitter,
    dbPath: process.env.CRASH_DB ?? "",
    brokerUrl: process.env.CRASH_BROKER ?? "",
    clientId: "gw-crash",
    http: false,
    logger: pino({ level: "silent" }),
    batchSize: 8,
    batchIntervalMs: 20,
  });
  await g.start();
  process.stdout.write("ready\n");
  process.once("SIGTERM", () => {
    void g.stop().then(() => process.exit(0));
  });
}

if (process.env.GATEWAY_CRASH_CHILD === "1") await main();
