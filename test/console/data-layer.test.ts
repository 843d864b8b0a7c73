import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  SYNTHETIC,
  syntheticDeviceId,
  syntheticFleet,
  syntheticOperator,
} from "../../src/bench/console.js";
import {
  ConsoleServer,
  EventIndex,
  ServiceProbe,
  accountsDetail,
  feedDetail,
  feedSummary,
  fleetPage,
  formatUnits,
  gradeOf,
  insuranceDetail,
  parsePrometheus,
  rateDevice,
  rateFeed,
  rates,
  isRangeRefusal,
  sharePrice,
  verdictOf,
  type FleetPage,
  type HexString,
  type IndexedEvent,
  type ViewContext,
} from "../../src/console/index.js";

const ctxOf = (index: EventIndex, now: number, maxAge = 86_400): ViewContext => ({
  index,
  now,
  maxAge,
});

/** Applies events numbered from `block` (one per block) at `time`. */
function applyAll(
  index: EventIndex,
  events: readonly Omit<IndexedEvent, "block" | "logIndex" | "tx" | "time">[],
  time: number,
  block = index.block + 1,
): void {
  events.forEach((e, i) => {
    index.apply({ ...e, block: block + i, logIndex: 0, tx: `0x${"ab".repeat(32)}`, time });
  });
}

const DEVICE = syntheticDeviceId(1);
const ACCOUNT = "0x00000000000000000000000000000000000000c2";
const registry = (name: string, args: Record<string, unknown>) => ({
  source: "registry" as const,
  address: SYNTHETIC.registry as HexString,
  name,
  args,
});

function oneDevice(): EventIndex {
  const index = new EventIndex();
  applyAll(
    index,
    [
      registry("MakerAdded", { maker: 1n, signer: `0x${"aa".repeat(20)}`, name: "Acme" }),
      registry("FirmwarePublished", {
        firmwareId: 1n,
        maker: 1n,
        model: 42n,
        version: "1.0.0",
        measurement: `0x${"01".repeat(32)}`,
      }),
      registry("DeviceRegistered", {
        deviceId: DEVICE,
        operator: syntheticOperator(1),
        maker: 1n,
        model: 42n,
        keyType: 2n,
        key: "0x",
      }),
    ],
    1000,
  );
  return index;
}

describe("console data layer", function () {
  describe("EventIndex and verdicts", function () {
    it("follows trustReport's rules in its order: NeverAttested, Stale, FirmwareSunset, FirmwareRevoked, NotActive", function () {
      const index = oneDevice();
      const d = index.device(DEVICE);
      assert.ok(d !== undefined);
      assert.equal(verdictOf(ctxOf(index, 1000), d), "NeverAttested");
      applyAll(
        index,
        [
          registry("DeviceAttested", {
            deviceId: DEVICE,
            firmwareId: 1n,
            timestamp: 1000n,
            bootCount: 3n,
          }),
        ],
        1000,
      );
      assert.equal(verdictOf(ctxOf(index, 1000 + 86_400), d), "Trusted");
      assert.equal(
        verdictOf(ctxOf(index, 1001 + 86_400), d),
        "Stale",
        "one second past the window",
      );
      applyAll(
        index,
        [
          registry("FirmwareStatusChanged", {
            firmwareId: 1n,
            status: 2n,
            sunset: 5000n,
            by: `0x${"aa".repeat(20)}`,
          }),
        ],
        1000,
      );
      assert.equal(verdictOf(ctxOf(index, 4999), d), "Trusted", "deprecated, before its sunset");
      assert.equal(verdictOf(ctxOf(index, 5000), d), "FirmwareSunset");
      applyAll(
        index,
        [registry("FirmwareStatusChanged", { firmwareId: 1n, status: 3n, sunset: 0n, by: "0x" })],
        1000,
      );
      assert.equal(verdictOf(ctxOf(index, 1000), d), "FirmwareRevoked");
      applyAll(
        index,
        [registry("DeviceSuspended", { deviceId: DEVICE, by: "0x", reason: "0x" })],
        1000,
      );
      assert.equal(verdictOf(ctxOf(index, 1000), d), "NotActive", "status comes first");
      const row = fleetPage(ctxOf(index, 1000)).rows[0];
      assert.equal(row?.verdict, "NotActive");
      assert.match(row.why, /Suspended, not Active/);
      assert.equal(row.rating.grade, "F");
    });

    it("names another model's firmware ModelMismatch", function () {
      const index = oneDevice();
      applyAll(
        index,
        [
          registry("FirmwarePublished", {
            firmwareId: 2n,
            maker: 1n,
            model: 43n,
            version: "9",
            measurement: `0x${"02".repeat(32)}`,
          }),
          registry("DeviceAttested", {
            deviceId: DEVICE,
            firmwareId: 2n,
            timestamp: 1000n,
            bootCount: 0n,
          }),
        ],
        1000,
      );
      const d = index.device(DEVICE);
      assert.ok(d !== undefined);
      assert.equal(verdictOf(ctxOf(index, 1000), d), "ModelMismatch");
    });

    it("keeps the custody chain in chain order: registration, rotation, transfer offered and taken, and the operator it names", function () {
      const index = oneDevice();
      const to = `0x${"cc".repeat(20)}`;
      applyAll(
        index,
        [
          registry("KeyRotated", {
            deviceId: DEVICE,
            newKeyHash: `0x${"0e".repeat(32)}`,
            nonce: 0n,
            keyType: 1n,
            key: "0x",
          }),
          registry("CustodyTransferStarted", { deviceId: DEVICE, from: syntheticOperator(1), to }),
          registry("CustodyTransferred", { deviceId: DEVICE, from: syntheticOperator(1), to }),
        ],
        2000,
      );
      const d = index.device(DEVICE);
      assert.deepEqual(
        d?.custody.map((c) => c.event),
        ["DeviceRegistered", "KeyRotated", "CustodyTransferStarted", "CustodyTransferred"],
      );
      assert.equal(d.operator, to);
      assert.equal(d.pendingOperator, null);
      assert.match(d.custody[1]?.summary ?? "", /rotation 1/);
      // The search finds it by its new operator, not its old one.
      assert.equal(fleetPage(ctxOf(index, 2000), { q: "cccc" }).matching, 1);
      assert.equal(fleetPage(ctxOf(index, 2000), { q: syntheticOperator(1) }).matching, 0);
    });

    it("ignores events of unknown devices and feeds, and a device registered twice", function () {
      const index = oneDevice();
      const before = index.deviceOrder.length;
      applyAll(
        index,
        [
          registry("DeviceSuspended", { deviceId: syntheticDeviceId(99), by: "0x", reason: "0x" }),
          {
            source: "feed",
            address: "0x00000000000000000000000000000000000000ff",
            name: "FeedTripped",
            args: { reason: 1n, value: 0n },
          },
          registry("DeviceRegistered", {
            deviceId: DEVICE,
            operator: `0x${"dd".repeat(20)}`,
            maker: 1n,
            model: 42n,
            keyType: 1n,
            key: "0x",
          }),
        ],
        3000,
      );
      assert.equal(index.deviceOrder.length, before);
      assert.equal(index.device(DEVICE)?.operator, syntheticOperator(1));
      assert.equal(index.feeds.size, 0);
    });
  });

  describe("fleet page", function () {
    const fleet = syntheticFleet(1000);
    const index = new EventIndex();
    for (const e of fleet.events) index.apply(e);
    index.advance(index.block + 1, fleet.now);
    const ctx = ctxOf(index, fleet.now);

    it("counts verdicts over the whole fleet and pages the matching rows", function () {
      const page: FleetPage = fleetPage(ctx, { offset: 100, limit: 50 });
      assert.equal(page.total, 1000);
      assert.equal(page.rows.length, 50);
      assert.equal(page.rows[0]?.deviceId, syntheticDeviceId(100));
      const sum = Object.values(page.counts).reduce((a, b) => a + b, 0);
      assert.equal(sum, 1000);
      // Every 13th suspended, every 10th never attested (unless suspended), every 7th stale...
      assert.equal(page.counts.NotActive, Math.floor(1000 / 13));
      assert.ok(
        page.counts.NeverAttested > 0 && page.counts.Stale > 0 && page.counts.FirmwareRevoked > 0,
      );
      const stale = fleetPage(ctx, { verdict: "Stale", limit: 500 });
      assert.equal(stale.matching, page.counts.Stale);
      assert.ok(stale.rows.every((r) => r.verdict === "Stale" && r.why.includes("attest again")));
    });

    it("searches by id or operator, case-insensitive, and clamps paging", function () {
      const byOperator = fleetPage(ctx, {
        q: syntheticOperator(3).toUpperCase().replace("0X", "0x"),
      });
      assert.equal(byOperator.matching, 20, "operators repeat every 50 devices");
      assert.equal(fleetPage(ctx, { q: syntheticDeviceId(777).slice(-6) }).matching, 1);
      const clamped = fleetPage(ctx, { offset: -5, limit: 100_000 });
      assert.equal(clamped.offset, 0);
      assert.equal(clamped.limit, 500);
    });

    it("shows each member's last reading and the feed's answers", function () {
      const row = fleetPage(ctx, { limit: 1 }).rows[0];
      assert.equal(row?.lastReadings.length, 1);
      assert.equal(row.lastReadings[0]?.sequence, "20");
      const f = index.feeds.get(SYNTHETIC.feed);
      assert.ok(f !== undefined);
      const detail = feedDetail(ctx, f);
      assert.equal(detail.answers.length, 20);
      assert.equal(detail.members.length, 5);
      assert.equal(feedSummary(ctx, f).latestRound, 20);
    });
  });

  describe("feeds, pool and accounts", function () {
    it("tracks quarantines, trips and resets; policies, claims and recoveries; account locks", function () {
      const index = oneDevice();
      const feed = "0x00000000000000000000000000000000000000f2" as HexString;
      const target = `0x${feed.slice(2).padStart(64, "0")}`;
      const ev = (
        source: IndexedEvent["source"],
        address: string,
        name: string,
        args: Record<string, unknown>,
      ) => ({
        source,
        address: address as HexString,
        name,
        args,
      });
      applyAll(
        index,
        [
          ev("feedFactory", SYNTHETIC.feedFactory, "FeedCreated", {
            feed,
            owner: "0x01",
            feedId: target,
            description: "F",
          }),
          ev("feed", feed, "MemberAdded", { deviceId: DEVICE }),
          ev("feed", feed, "MemberQuarantined", {
            deviceId: DEVICE,
            anomaly: 1n,
            sequence: 7n,
            value: 5n,
            lockedDown: false,
          }),
          ev("feed", feed, "FeedTripped", { reason: 2n, value: 3n }),
          ev("pool", SYNTHETIC.pool, "CoverageBought", {
            target,
            serial: 1n,
            beneficiary: "0x02",
            kind: 1n,
            amount: 300n,
            premium: 3n,
            start: 100n,
            end: 10_000n,
          }),
          ev("pool", SYNTHETIC.pool, "CoverageMembers", {
            target,
            serial: 1n,
            members: [DEVICE, syntheticDeviceId(2)],
          }),
          ev("pool", SYNTHETIC.pool, "LossBooked", {
            deviceId: DEVICE,
            scope: "0x",
            incidentId: "0x0a",
            liability: 50n,
            recovery: 90n,
            vested: 10n,
          }),
          ev("pool", SYNTHETIC.pool, "ClaimPaid", {
            target,
            serial: 1n,
            incidentId: "0x0a",
            deviceId: DEVICE,
            beneficiary: "0x02",
            payout: 100n,
          }),
          // The clone's setup events come before the factory's AccountCreated, as in its transaction.
          ev("account", ACCOUNT, "AccountInitialized", {
            operator: "0x03",
            lowThreshold: 1n,
            highThreshold: 2n,
          }),
          ev("account", ACCOUNT, "ConfigSet", {
            config: {
              operator: "0x03",
              highThreshold: 3n,
              maxAttestationAge: 86_400n,
              changeDelay: 3_600n,
              velocityShareBps: 5_000n,
            },
          }),
          ev("account", ACCOUNT, "TokenLimitsSet", {
            token: "0x04",
            limits: { periodCap: 30n, perCallCap: 10n, period: 86_400n, velocityWindow: 3_600n },
          }),
          ev("account", ACCOUNT, "TokenLimitsSet", {
            token: "0x05",
            limits: { periodCap: 1n, perCallCap: 1n, period: 0n, velocityWindow: 0n },
          }),
          ev("account", ACCOUNT, "CounterpartyLimitsSet", {
            token: "0x04",
            counterparty: "0x06",
            limits: { periodCap: 20n, perCallCap: 5n, allowed: true },
          }),
          ev("accountFactory", "0x00000000000000000000000000000000000000c1", "AccountCreated", {
            account: ACCOUNT,
            operator: "0x03",
            salt: "0x",
          }),
          ev("account", ACCOUNT, "DeviceSignerDistrusted", {
            deviceId: DEVICE,
            keyHash: "0x",
            until: 550n,
          }),
          ev("account", ACCOUNT, "VelocityBreakerTripped", {
            token: "0x04",
            level: 9n,
            capacity: 5n,
          }),
        ],
        500,
      );
      const ctx = ctxOf(index, 500);
      const f = index.feeds.get(feed);
      assert.ok(f !== undefined);
      assert.deepEqual(
        [f.tripped, f.tripReason, f.quarantined.get(DEVICE)],
        [true, "Quarantines", "TooFrequent"],
      );
      assert.equal(feedSummary(ctx, f).rating.grade, "F");
      assert.deepEqual(
        feedDetail(ctx, f).events.map((e) => e.kind),
        ["member", "quarantine", "trip"],
      );
      applyAll(
        index,
        [
          ev("feed", feed, "FeedReset", { by: "0x05" }),
          ev("feed", feed, "MemberReadmitted", { deviceId: DEVICE, by: "0x05" }),
        ],
        600,
      );
      assert.deepEqual([f.tripped, f.quarantined.size], [false, 0]);
      const pool = insuranceDetail(ctx, SYNTHETIC.pool);
      assert.equal(pool.claimsPaid, "100");
      assert.equal(pool.recovered, "90");
      const [policy] = pool.policies;
      assert.deepEqual([policy?.paid, policy?.active], ["100", true]);
      const [account] = accountsDetail(ctx, "0x00000000000000000000000000000000000000c1").accounts;
      assert.ok(account !== undefined);
      assert.equal(account.locked, true);
      assert.match(account.why, /velocity breaker is locked.*; frozen for 1 device signer/);
      assert.deepEqual(account.distrusted, [DEVICE]);
      assert.equal(account.operator, "0x03");
      assert.equal(account.history[0]?.event, "AccountCreated", "the creation heads the history");
      assert.deepEqual(account.policy, {
        lowThreshold: 1,
        highThreshold: 3,
        maxAttestationAge: 86_400,
        changeDelay: 3_600,
        velocityShareBps: 5_000,
        tokens: [
          {
            token: "0x04",
            periodCap: "30",
            perCallCap: "10",
            period: 86_400,
            velocityWindow: 3_600,
          },
        ],
        counterparties: [
          { token: "0x04", counterparty: "0x06", periodCap: "20", perCallCap: "5", allowed: true },
        ],
      });
      const later = accountsDetail(ctxOf(index, 551), null).accounts[0];
      assert.deepEqual(later?.distrusted, [], "a distrust ends at its time");
    });
  });

  describe("ratings", function () {
    const base = {
      verdict: "Trusted" as const,
      attestationAge: 0,
      maxAge: 86_400,
      firmwareDeprecated: false,
      provenFrauds: 0,
      recordedIncidents: 0,
      activeStake: 100n,
      coverageInForce: 0n,
    };

    it("rates a fresh, staked, uncovered device A 100 and names every deduction", function () {
      assert.deepEqual(rateDevice(base), { score: 100, grade: "A", factors: [] });
      const r = rateDevice({
        ...base,
        attestationAge: 43_200,
        firmwareDeprecated: true,
        coverageInForce: 200n,
      });
      assert.deepEqual(
        r.factors.map((f) => [f.factor, f.points]),
        [
          ["stake below coverage", 15],
          ["attestation age", 10],
          ["deprecated firmware", 10],
        ],
      );
      assert.deepEqual([r.score, r.grade], [65, "C"]);
      assert.equal(rateDevice({ ...base, activeStake: 0n }).score, 70);
      assert.equal(
        rateDevice({ ...base, provenFrauds: 1, recordedIncidents: 3 }).score,
        100 - 30 - 20,
      );
      assert.equal(rateDevice({ ...base, provenFrauds: 5 }).score, 0);
      assert.equal(rateDevice({ ...base, verdict: "Stale" }).grade, "F");
    });

    it("rates a feed F when it cannot answer, and deducts for cheap corruption, one operator, quarantines and staleness", function () {
      const feed = {
        tripped: false,
        quorum: 3,
        members: 5,
        usable: 5,
        quarantined: 0,
        costOfCorruption: 1000n,
        coverageInForce: 500n,
        operatorsToControl: 3n,
        answerAge: 10,
        heartbeat: 60,
      };
      assert.equal(rateFeed(feed).score, 100);
      assert.equal(rateFeed({ ...feed, tripped: true }).grade, "F");
      assert.equal(rateFeed({ ...feed, usable: 2 }).grade, "F");
      assert.equal(rateFeed({ ...feed, coverageInForce: 2000n }).score, 80);
      assert.equal(rateFeed({ ...feed, costOfCorruption: 0n }).score, 60);
      assert.equal(
        rateFeed({ ...feed, operatorsToControl: 1n, quarantined: 1, answerAge: 121 }).score,
        100 - 20 - 6 - 10,
      );
      assert.deepEqual([90, 89, 75, 60, 40, 39].map(gradeOf), ["A", "B", "B", "C", "D", "E"]);
    });
  });

  describe("isRangeRefusal", function () {
    it("knows nodes' ways of refusing a log range, and not a rate limit or a dead node", function () {
      for (const text of [
        "query returned more than 10000 results",
        "eth_getLogs block range is too large",
        "exceed maximum block range: 50000",
        "Log response size exceeded.",
      ]) {
        assert.equal(isRangeRefusal(new Error(text)), true, text);
      }
      for (const text of [
        "rate limit exceeded",
        "429 Too Many Requests",
        "connect ECONNREFUSED 127.0.0.1:8545",
      ]) {
        assert.equal(isRangeRefusal(new Error(text)), false, text);
      }
    });
  });

  describe("sharePrice", function () {
    it("prices a whole share in whole asset units, whatever the two decimals", function () {
      // The pool's shares carry 6 more decimals than its 18-decimal asset (ERC-4626 offset).
      assert.equal(sharePrice(10n ** 21n, 10n ** 27n, 18, 24), 1);
      assert.equal(sharePrice(1_053n * 10n ** 18n, 10n ** 27n, 18, 24), 1.053);
      assert.equal(sharePrice(5n * 10n ** 6n, 4n * 10n ** 18n, 6, 18), 1.25);
      assert.equal(sharePrice(0n, 0n, 18, 24), 1, "before the first deposit");
    });
  });

  describe("formatUnits", function () {
    it("formats exactly with grouping, negatives and decimals", function () {
      assert.equal(formatUnits("123456789000000000000000", 18), "123,456.78");
      assert.equal(formatUnits("-5", 2), "-0.05");
      assert.equal(formatUnits("7", 0), "7");
      assert.equal(formatUnits("2150000000", 8, 4), "21.5000");
    });
  });

  describe("operations probes", function () {
    let server: Server;
    let url = "";
    let healthy = true;
    let received = 10;

    before(async function () {
      server = createServer((req, res) => {
        if (req.url === "/health") {
          res.writeHead(healthy ? 200 : 503, { "content-type": "application/json" });
          res.end(JSON.stringify({ status: healthy ? "ok" : "unavailable", pendingProofs: 2 }));
          return;
        }
        res.writeHead(200, { "content-type": "text/plain" });
        res.end(
          `# HELP gateway_received_total x\n# TYPE gateway_received_total counter\ngateway_received_total ${String(received)}\ngateway_rejected_total{reason="conflict"} 3\nprocess_cpu 1\nbad line\n`,
        );
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
    });

    after(async function () {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    it("parses Prometheus text and derives rates of counters", function () {
      const a = parsePrometheus('x_total 1\ny{a="b"} 2.5\n# c\nnope\nz NaN');
      assert.deepEqual(
        [...a],
        [
          ["x_total", 1],
          ['y{a="b"}', 2.5],
        ],
      );
      assert.deepEqual(
        rates(new Map([["x_total", 1]]), new Map([["x_total", 11]]), 2, ["x_total"]),
        {
          x_per_second: 5,
        },
      );
      assert.deepEqual(
        rates(new Map([["x_total", 9]]), new Map([["x_total", 1]]), 2, ["x_total"]),
        {},
      );
      const labelled = (stored: number, conflict: number) =>
        new Map([
          ['m_total{result="stored"}', stored],
          ['m_total{result="conflict"}', conflict],
          ["m_totally_other", 1000],
        ]);
      assert.deepEqual(rates(labelled(10, 1), labelled(16, 3), 4, ["m_total"]), {
        m_per_second: 2,
      });
    });

    it("reports a service healthy with its own figures, unhealthy with the reason, and unreachable", async function () {
      const probe = new ServiceProbe("gateway", `${url}/`);
      const first = await probe.probe();
      assert.equal(first.healthy, true);
      assert.equal(first.figures.gateway_received_total, 10);
      assert.equal(first.figures['gateway_rejected_total{reason="conflict"}'], 3);
      assert.equal(first.figures["health.pendingProofs"], 2);
      assert.equal(
        first.figures.process_cpu,
        undefined,
        "another service's samples are not its figures",
      );
      received = 30;
      healthy = false;
      const second = await probe.probe();
      assert.equal(second.healthy, false);
      assert.match(second.error ?? "", /503/);
      assert.ok((second.figures.gateway_received_per_second ?? 0) > 0);
      const gone = await new ServiceProbe("watchtower", "http://127.0.0.1:1").probe(500);
      assert.equal(gone.healthy, null);
      assert.match(gone.error ?? "", /did not answer/);
    });
  });

  describe("ConsoleServer (no chain)", function () {
    let dir = "";
    let console_: ConsoleServer;
    let base = "";

    before(async function () {
      dir = await mkdtemp(join(tmpdir(), "console-static-"));
      await writeFile(join(dir, "index.html"), "<!doctype html><title>console</title>");
      const fleet = syntheticFleet(300);
      const index = new EventIndex();
      for (const e of fleet.events) index.apply(e);
      index.advance(index.block + 1, fleet.now);
      console_ = new ConsoleServer({
        index,
        addresses: { registry: SYNTHETIC.registry },
        chainId: "31337",
        maxAge: 86_400,
        staticDir: dir,
      });
      base = await console_.start();
    });

    after(async function () {
      await console_.stop();
      await rm(dir, { recursive: true, force: true });
    });

    const get = async (path: string, init?: RequestInit) => {
      const res = await fetch(new URL(path, base), init);
      return {
        status: res.status,
        body: (await res.json().catch(() => null)) as Record<string, unknown> | null,
        res,
      };
    };

    it("answers the status, a fleet page and a device, and 4xx sentences for bad input", async function () {
      const status = await get("/api/status");
      assert.equal(status.body?.devices, 300);
      assert.equal(status.status, 200);
      assert.match(String(status.body.live), /^polling/);
      const fleet = await get("/api/fleet?offset=10&limit=5&verdict=Trusted");
      assert.equal((fleet.body?.rows as unknown[]).length, 5);
      const device = await get(`/api/device/${syntheticDeviceId(3)}`);
      assert.equal((device.body?.row as { deviceId: string }).deviceId, syntheticDeviceId(3));
      assert.equal(device.body?.security, null, "no pool, no provider: no report");
      const cases: [string, number, RegExp][] = [
        ["/api/device/0x12", 400, /64 hex digits/],
        [`/api/device/${syntheticDeviceId(5000)}`, 404, /not registered/],
        ["/api/fleet?verdict=Good", 400, /one of Trusted/],
        ["/api/feed/0x00000000000000000000000000000000000000ee", 404, /no feed/],
        ["/api/insurance", 404, /--pool/],
        ["/api/security?kind=pool&target=0x", 400, /device or feed/],
        ["/api/nothing", 404, /no such API route/],
      ];
      for (const [path, code, message] of cases) {
        const r = await get(path);
        assert.equal(r.status, code, path);
        assert.match(String(r.body?.error), message, path);
      }
      const post = await get("/api/status", { method: "POST" });
      assert.equal(post.status, 405);
    });

    it("answers only requests addressed to its loopback name (no DNS rebinding)", async function () {
      const status = (host: string) =>
        new Promise<number>((resolve, reject) => {
          const req = request(new URL("/api/status", base), { headers: { host } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on("error", reject);
          req.end();
        });
      const port = new URL(base).port;
      assert.equal(await status(`127.0.0.1:${port}`), 200);
      assert.equal(await status(`localhost:${port}`), 200);
      assert.equal(await status(`evil.example:${port}`), 403);
      assert.equal(await status("127.0.0.1.evil.example"), 403);
    });

    it("serves the page for every client route, never a file outside its folder", async function () {
      const page = await fetch(new URL("/device/0x1234", base));
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>console<\/title>/);
      const missing = await fetch(new URL("/assets/none.js", base));
      assert.equal(missing.status, 404);
      const escape = await fetch(new URL("/..%2f..%2fetc%2fpasswd", base));
      assert.equal(escape.status, 404);
      const malformed = await fetch(new URL("/%E0%A4%A", base));
      assert.equal(malformed.status, 400);
    });
  });
});
