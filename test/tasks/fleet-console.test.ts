import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import hre from "hardhat";
import type { FleetPage, Status } from "../../src/console/index.js";
import { consoleStory, type Story } from "../console/story.js";
import { freePort } from "../gateway/mosquitto-broker.js";
import { waitFor } from "../gateway/helpers.js";
import { runTask } from "./run-task.js";

describe("tasks: fleet console", function () {
  this.timeout(120_000);
  let story: Story;
  let snapshot = "";

  // The tasks share one in-process chain: the story (and the time it moves) is undone afterwards.
  before(async function () {
    const conn = await hre.network.getOrCreate();
    snapshot = (await conn.provider.request({ method: "evm_snapshot" })) as string;
    story = await consoleStory(conn);
  });

  after(async function () {
    const conn = await hre.network.getOrCreate();
    await conn.provider.request({ method: "evm_revert", params: [snapshot] });
  });

  const args = (port: number) => ({
    registry: story.addresses.registry,
    staking: story.addresses.staking,
    proofs: story.addresses.proofs,
    pool: story.addresses.pool,
    factory: story.addresses.feedFactory,
    port,
    pollMs: 100,
  });

  it("serves the deployed system on loopback, prints its address at once, and stops on SIGTERM", async function () {
    const port = await freePort();
    const running = runTask(["fleet", "console"], { ...args(port), json: true });
    const base = `http://127.0.0.1:${String(port)}`;
    try {
      await waitFor(
        () =>
          fetch(`${base}/api/status`).then(
            (r) => r.ok,
            () => false,
          ),
        "the console",
        60_000,
      );
      const status = (await (await fetch(`${base}/api/status`)).json()) as Status;
      assert.equal(status.devices, story.devices.length);
      assert.equal(status.contracts.pool, story.addresses.pool);
      assert.equal(status.asset?.decimals, 18);
      const fleet = (await (await fetch(`${base}/api/fleet`)).json()) as FleetPage;
      assert.equal(fleet.counts.Trusted, story.devices.length);
      const page = await fetch(`${base}/`);
      assert.match(await page.text(), /<div id="app">|<script/);
    } finally {
      process.emit("SIGTERM");
    }
    const out = await running;
    assert.equal(out.result.success, true, out.stderr);
    const [first, ...rest] = out.stdout.trim().split("\n");
    assert.deepEqual(JSON.parse(first ?? ""), { url: `${base}/` });
    const summary = JSON.parse(rest.join("\n")) as { events: number; block: number };
    assert.ok(summary.events > 0);
    assert.match(out.stderr, /serving until Ctrl-C/);
  });

  it("says so when its port is taken", async function () {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const out = await runTask(["fleet", "console"], { ...args(port), json: false });
      assert.equal(out.result.success, false);
      assert.equal(out.result.error?.code, "PORT_IN_USE");
      assert.match(out.stderr, /is already in use: stop what listens there or choose another port/);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it("refuses an address that is not the contract it names, and a window of no time", async function () {
    const wrong = await runTask(["fleet", "console"], {
      ...args(0),
      pool: story.addresses.staking,
    });
    assert.equal(wrong.result.success, false);
    assert.match(wrong.stderr, /is not a DeviceTrust InsurancePool/);
    const zero = await runTask(["fleet", "console"], { ...args(0), maxAge: 0 });
    assert.equal(zero.result.success, false);
    assert.match(zero.stderr, /--max-age must be a positive number of seconds/);
  });
});
