import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Context } from "mocha";
import { network } from "hardhat";
import { chromium, type Browser, type Page } from "playwright-core";
import { runConsole, type RunningConsole } from "../../src/console/index.js";
import type { Hex } from "../../src/protocol/index.js";
import { CHROMIUM_PATH } from "../../src/bench/console.js";
import { freePort } from "../gateway/mosquitto-broker.js";
import { requireTool } from "../support/require-tool.js";
import { consoleStory, type Story } from "./story.js";

/**
 * The fleet console in a real browser: Debian's Chromium, headless, driven by playwright-core (never a
 * downloaded browser). The demo's story on an in-process chain, the console serving it, and the page
 * checked as a person would see it, live updates included (no reload: a marker set on the page's window
 * before each chain action must survive it). Screenshots of each view go to test-output/console/.
 */
const CHROMIUM = CHROMIUM_PATH;
export const SHOTS = join(process.cwd(), "test-output", "console");

/** What the test reads of a canvas inside the page (the root tsconfig has no DOM types). */
interface CanvasLike {
  readonly width: number;
  readonly height: number;
  getContext(kind: "2d"): {
    getImageData(x: number, y: number, w: number, h: number): { readonly data: ArrayLike<number> };
  } | null;
}

/**
 * A gateway's /health and /metrics as the real one serves them (names from src/gateway/metrics.ts);
 * `received(n)` moves its counters on, for the throughput.
 */
async function fakeGateway() {
  let received = 120;
  const server = createServer((req, res) => {
    if (req.url === "/health") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: "ok", queued: 2, submitted: received - 7 }));
      return;
    }
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    res.end(
      [
        `gateway_received_total ${String(received)}`,
        `gateway_verified_total ${String(received - 4)}`,
        `gateway_submitted_total ${String(received - 7)}`,
        'gateway_rejected_total{reason="conflict"} 3',
        'gateway_rejected_total{reason="invalid_signature"} 1',
        'gateway_refused_total{reason="Quarantined"} 2',
        "gateway_queue_depth 2",
        'gateway_recovery_requests_total{scheme="lms",result="recovered"} 2',
        'gateway_recovery_requests_total{scheme="ml-dsa-44",result="rejected"} 1',
        'gateway_recovery_rejected_total{reason="WrongPqKey"} 1',
        "gateway_lag_seconds 0.4",
        "",
      ].join("\n"),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`,
    received: (n: number) => {
      received += n;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function requireChromium(ctx: Context): void {
  requireTool(
    ctx,
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: install the chromium package (apt-get install chromium)`,
  );
}

describe("fleet console in headless Chromium", function () {
  this.timeout(180_000);
  let conn: Awaited<ReturnType<typeof network.create>> | undefined;
  let story: Story;
  let running: RunningConsole | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let incident: Hex | undefined;
  let ops: { url: string; received: (n: number) => void; close: () => Promise<void> } | undefined;

  before(async function () {
    requireChromium(this);
    await mkdir(SHOTS, { recursive: true });
    conn = await network.create();
    story = await consoleStory(conn);
    ops = await fakeGateway();
    running = await runConsole({
      provider: conn.ethers.provider,
      addresses: story.addresses,
      pollMs: 200,
      gateway: ops.url,
      // Nothing listens there: the view must say the watchtower does not answer.
      watchtower: `http://127.0.0.1:${String(await freePort())}`,
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    (page as unknown as { errors: string[] }).errors = errors;
  });

  after(async function () {
    await browser?.close();
    await running?.stop();
    await ops?.close();
    await conn?.close();
  });

  afterEach(function () {
    const errors = (page as unknown as { errors?: string[] } | undefined)?.errors ?? [];
    assert.deepEqual(errors, [], "the page logged no errors");
  });

  const go = async (route: string): Promise<void> => {
    if (running === undefined) throw new Error("the console is not running");
    await page.goto(`${running.url}#${route}`);
  };
  const shot = (name: string) =>
    page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  /** Marks the page: a reload or navigation would drop the mark. */
  const mark = () =>
    page.evaluate(() => ((globalThis as unknown as { dtMark: number }).dtMark = 42));
  const marked = () =>
    page.evaluate(() => (globalThis as unknown as { dtMark?: number }).dtMark === 42);

  it("shows the fleet with its counts by verdict and one row per device", async function () {
    await go("/fleet");
    await page.waitForSelector("tr[data-device]");
    const trusted = await page.textContent('[data-testid="count-Trusted"]');
    assert.match(trusted ?? "", new RegExp(`\\b${String(story.devices.length)}\\b`));
    assert.match((await page.textContent('[data-testid="count-all"]')) ?? "", /\b5\b/);
    assert.equal(await page.locator("tr[data-device]").count(), story.devices.length);
    assert.equal(
      await page.locator('tr[data-verdict="Trusted"].row-ok').count(),
      story.devices.length,
    );
    await shot("fleet");
  });

  it("shows a device's custody chain from its registration", async function () {
    const id = story.devices[1]?.deviceId ?? "";
    await go(`/device/${id}`);
    await page.waitForSelector('[data-testid="custody"] li');
    const events = await page
      .locator('[data-testid="custody"] li')
      .evaluateAll((lis: unknown[]) =>
        lis.map((li) =>
          (li as { getAttribute(name: string): string | null }).getAttribute("data-event"),
        ),
      );
    assert.equal(events[0], "DeviceRegistered");
    assert.ok((await page.locator('[data-testid="attestations"] tbody tr').count()) >= 1);
    await shot("device");
  });

  it("draws the feed's answers on its chart", async function () {
    await go(`/feed/${story.feed}`);
    const chart = page.locator('[data-testid="feed-chart"]');
    await chart.locator("canvas").waitFor();
    const answers = running?.index.feeds.get(story.feed)?.answers.length ?? 0;
    assert.ok(answers >= 3);
    assert.equal(Number(await chart.getAttribute("data-points")), answers);
    const painted = await chart.locator("canvas").evaluate((element: unknown) => {
      const c = element as CanvasLike;
      const ctx = c.getContext("2d");
      if (ctx === null) return 0;
      const data = ctx.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if ((data[i] ?? 0) > 0) n++;
      return n;
    });
    assert.ok(painted > 500, `the chart painted ${String(painted)} pixels`);
    await shot("feed");
  });

  it("shows a breaker trip live, without a reload", async function () {
    await page.waitForSelector('[data-testid="feed-events"]');
    await mark();
    assert.equal(await page.locator('[data-testid="feed-events"] li[data-kind="trip"]').count(), 0);
    await story.trip();
    await page.waitForSelector('[data-testid="feed-events"] li[data-kind="trip"]', {
      timeout: 15_000,
    });
    assert.equal(await marked(), true, "updated in place");
    assert.equal(
      await page.locator('[data-testid="feed-events"] li[data-kind="quarantine"]').count(),
      3,
    );
    await shot("feed-tripped");
  });

  it("turns a device red when its clone is proven", async function () {
    await go("/fleet");
    const victim = story.devices[0]?.deviceId ?? "";
    await page.waitForSelector(`tr[data-device="${victim}"].row-ok`);
    await mark();
    incident = await story.cloneProven();
    await page.waitForSelector(`tr[data-device="${victim}"].row-bad[data-verdict="NotActive"]`, {
      timeout: 15_000,
    });
    assert.equal(await marked(), true, "updated in place");
    assert.match((await page.textContent('[data-testid="count-NotActive"]')) ?? "", /\b1\b/);
    await shot("fleet-incident");
    await go(`/device/${victim}`);
    await page.waitForSelector('[data-testid="incidents"] tbody tr');
    await shot("device-incident");
  });

  it("shows the claim the policy paid in the pool view", async function () {
    assert.ok(incident !== undefined, "the previous test proved the clone");
    await go("/insurance");
    await page.waitForSelector('[data-testid="policies"] tbody tr');
    await mark();
    await story.claim(incident);
    await page.waitForSelector(`[data-testid="claims"] tr[data-claim="${incident}"]`, {
      timeout: 15_000,
    });
    assert.equal(await marked(), true, "updated in place");
    assert.ok((await page.locator('[data-testid="recoveries"] tbody tr').count()) >= 1);
    const chart = page.locator('[data-testid="share-price-chart"]');
    assert.ok(Number(await chart.getAttribute("data-points")) >= 2);
    await shot("insurance");
  });

  it("renders the accounts view, and the operations view of a live gateway and a watchtower that does not answer", async function () {
    await go("/accounts");
    await page.waitForSelector('[data-testid="accounts"], .empty');
    await shot("accounts");
    await go("/ops");
    await page.waitForSelector('[data-testid="service-gateway"][data-health="healthy"]');
    await page.waitForSelector('[data-testid="service-watchtower"][data-health="unreachable"]');
    const gateway = page.locator('[data-testid="service-gateway"]');
    // Rejects by reason, in words; the throughput once the console probed twice (it probes as the
    // page asks, every 2 s).
    await gateway.getByText("Conflict").first().waitFor();
    ops?.received(1_000);
    await page.waitForFunction(
      () =>
        /\d+(\.\d+)?\s*\/s/.test(
          (
            globalThis as unknown as {
              document: { querySelector(s: string): { textContent: string | null } | null };
            }
          ).document.querySelector('[data-testid="service-gateway"]')?.textContent ?? "",
        ),
      undefined,
      { timeout: 15_000 },
    );
    // Key recoveries: results summed over schemes, and why one did not go through.
    const recoveries = gateway.locator('[data-testid="gateway-key-recoveries"]');
    await recoveries.locator('tr[data-label="WrongPqKey"]').waitFor();
    const recoveryText = (await recoveries.textContent()) ?? "";
    assert.match(recoveryText, /3 requests · LMS 2 · ML-DSA-44 1/);
    assert.match(recoveryText, /2\s*recovered on chain/);
    assert.match(recoveryText, /Wrong pq key/);
    assert.match(
      (await page.locator('[data-testid="service-watchtower"]').textContent()) ?? "",
      /did not answer/,
    );
    await shot("ops");
  });
});
