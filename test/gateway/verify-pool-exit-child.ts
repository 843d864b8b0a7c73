/**
 * Run by test/gateway/verify-pool.test.ts as its own process: opens a gateway with 2 verify workers,
 * accepts one reading, stops the gateway and prints the outcome and the threads left. The process must
 * end by itself. Loaded by mocha it does nothing.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deviceSigner, reading } from "../watchtower/helpers.js";
import { FakeFeeds, gateway } from "./helpers.js";

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "gateway-pool-exit-"));
  const g = gateway({
    brokerUrl: "unused",
    dbPath: join(dir, "gateway.sqlite"),
    submitter: new FakeFeeds(),
    verifyWorkers: 2,
  });
  await g.open();
  const outcome = await g.accept(await reading(deviceSigner("p256"), 1n, 1n));
  const running = g.verifyThreads;
  await g.stop();
  await rm(dir, { recursive: true, force: true });
  process.stdout.write(`${outcome} ${String(running)} ${String(g.verifyThreads)}\n`);
}

if (process.env.GATEWAY_POOL_EXIT_CHILD === "1") await main();
