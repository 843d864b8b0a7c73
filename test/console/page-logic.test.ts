import assert from "node:assert/strict";
import { pino } from "pino";
import type { ServiceView } from "../../src/console/api.js";
import { ServiceProbe } from "../../src/console/ops.js";
import type { GatewayHealth } from "../../src/gateway/gateway.js";
import { FeedEventMetrics, GatewayMetrics, RECOVERY_RESULTS } from "../../src/gateway/metrics.js";
import { dropRecoveryOff } from "../../src/gateway/recovery-intake.js";
import { LogLimiter } from "../../src/service/log-limiter.js";
import type { HealthReport } from "../../src/watchtower/watchtower.js";
import { WatchtowerMetrics } from "../../src/watchtower/metrics.js";
import {
  Figures,
  byCount,
  healthReport,
  humanSeconds,
  labelWords,
  parseKey,
  reasonRows,
  samples,
  secondsAgo,
} from "../../console/src/metrics.js";
import {
  gatewaySummary,
  recoverySummary,
  watchtowerSummary,
} from "../../console/src/ops-figures.js";
import {
  absolute,
  ago,
  count,
  day,
  duration,
  groupInt,
  plural,
  short,
  shortIds,
  words,
} from "../../console/src/text.js";

/**
 * The page's pure modules (console/src/metrics.ts, ops-figures.ts, text.ts), checked in Node: they
 * import neither the DOM nor Preact, so the root tsconfig checks them through this file. The services'
 * figures come from the real thing: a gateway's and a watchtower's metrics registries (prom-client),
 * read by the console's own probe (src/console/ops.ts) as /api/ops gives them to the page.
 */

/** A service's /health and /metrics, as its ops server answers them. */
interface Served {
  health: object;
  healthy: boolean;
  metrics: () => Promise<string>;
}

/** The console's probe of a fake service serving `served`; each probe() reads it again. */
function probeOf(name: ServiceView["name"], served: Served): ServiceProbe {
  return new ServiceProbe(name, "http://127.0.0.1:9465", async (url) => {
    const body = url.endsWith("/health") ? JSON.stringify(served.health) : await served.metrics();
    const status = url.endsWith("/health") && !served.healthy ? 503 : 200;
    return { ok: status === 200, status, text: () => Promise.resolve(body) };
  });
}

/** One probe with the clock at `ms` (the probe measures its rates on Date.now). */
async function probeAt(probe: ServiceProbe, ms: number): Promise<ServiceView> {
  const realNow = Date.now.bind(Date);
  Date.now = () => ms;
  try {
    return await probe.probe();
  } finally {
    Date.now = realNow;
  }
}

const T0 = 1_700_000_000_000;

/** The figures the page did not summarize (the raw table shows them undimmed). */
function unused(figures: Figures): string[] {
  return Object.keys(figures.raw)
    .filter((key) => !figures.used(key))
    .sort();
}

/**
 * The reasons both gateways' figures below carry (4 invalid signatures, 3 quarantines, 2 conflicts, 2
 * stale), as reasonRows lists them: by count, equal counts by label, intake rejects and feed refusals
 * in one list.
 */
const REASONS = [
  {
    label: "invalid_signature",
    count: 4,
    key: 'gateway_rejected_total{reason="invalid_signature"}',
    stage: "rejected",
  },
  {
    label: "MemberQuarantined:TooFrequent",
    count: 3,
    key: 'gateway_refused_total{reason="MemberQuarantined:TooFrequent"}',
    stage: "refused",
  },
  // Equal counts by label.
  {
    label: "conflict",
    count: 2,
    key: 'gateway_rejected_total{reason="conflict"}',
    stage: "rejected",
  },
  { label: "Stale", count: 2, key: 'gateway_refused_total{reason="Stale"}', stage: "refused" },
];

describe("console page: sample keys (metrics.ts)", function () {
  it("reads a name without labels, and /api/ops's dotted and _per_second names", function () {
    assert.deepEqual(parseKey("gateway_queue_depth"), { name: "gateway_queue_depth", labels: {} });
    assert.deepEqual(parseKey("health.queued"), { name: "health.queued", labels: {} });
    assert.deepEqual(parseKey("health.lastMessageAt"), {
      name: "health.lastMessageAt",
      labels: {},
    });
    assert.deepEqual(parseKey("gateway_received_per_second"), {
      name: "gateway_received_per_second",
      labels: {},
    });
    assert.deepEqual(parseKey("m{}"), { name: "m", labels: {} });
  });

  it("reads labels, with spaces, a trailing comma and a brace inside a value", function () {
    assert.deepEqual(parseKey('gateway_rejected_total{reason="conflict"}'), {
      name: "gateway_rejected_total",
      labels: { reason: "conflict" },
    });
    assert.deepEqual(parseKey('m{ a = "1" , b="2",}'), { name: "m", labels: { a: "1", b: "2" } });
    assert.deepEqual(parseKey('m{v="a}b",w=""}'), { name: "m", labels: { v: "a}b", w: "" } });
    assert.deepEqual(parseKey('gateway_refused_total{reason="MemberQuarantined:TooFrequent"}'), {
      name: "gateway_refused_total",
      labels: { reason: "MemberQuarantined:TooFrequent" },
    });
  });

  it("reads the text format's escapes in label values", function () {
    // m{path="C:\\dir",msg="say \"hi\"\nbye"} as the exposition writes it.
    assert.deepEqual(parseKey(String.raw`m{path="C:\\dir",msg="say \"hi\"\nbye"}`), {
      name: "m",
      labels: { path: "C:\\dir", msg: 'say "hi"\nbye' },
    });
  });

  it("gives null for what is not a sample key", function () {
    for (const key of [
      "",
      "1abc",
      '{a="1"}',
      "m x",
      "m{",
      'm{a="1"',
      'm{a="1",',
      'm{a="1}',
      'm{a="1\\',
      "m{a=1}",
      'm{="1"}',
      'm{a"1"}',
      'm{a="1" b="2"}',
      'm{a="1"} 5',
      'm{a="1"}}',
    ]) {
      assert.equal(parseKey(key), null, key);
    }
  });

  it("keeps only the figures whose keys read (samples)", function () {
    assert.deepEqual(samples({ 'x_total{k="a"}': 2, "not a key": 1, y: 3 }), [
      { key: 'x_total{k="a"}', value: 2, name: "x_total", labels: { k: "a" } },
      { key: "y", value: 3, name: "y", labels: {} },
    ]);
  });
});

describe("console page: Figures and reasonRows (metrics.ts)", function () {
  const raw = {
    gateway_queue_depth: 7,
    'gateway_rejected_total{reason="conflict"}': 2,
    'gateway_rejected_total{reason="invalid_signature"}': 4,
    'gateway_rejected_total{reason="rate_limited"}': 0,
    'gateway_refused_total{reason="Stale"}': 2,
    'gateway_refused_total{reason="MemberQuarantined:TooFrequent"}': 3,
    'gateway_submit_errors_total{kind="retried"}': 1,
    "health.queued": 7,
    "not a key": 9,
  };

  it("reads a figure by name: unlabelled only, the first given, none when missing", function () {
    const figures = new Figures(raw);
    assert.equal(figures.value("gateway_queue_depth"), 7);
    assert.equal(figures.value("gateway_rejected_total"), undefined, "labelled only");
    assert.equal(figures.value("gateway_lag_seconds"), undefined);
    assert.equal(figures.first("gateway_lag_seconds", "health.queued"), 7);
    assert.equal(figures.first("gateway_lag_seconds"), undefined);
  });

  it("reads one label, sums a counter over its labels, groups by label largest first", function () {
    const figures = new Figures(raw);
    assert.equal(figures.labelled("gateway_rejected_total", "reason", "conflict"), 2);
    assert.equal(figures.labelled("gateway_rejected_total", "reason", "stale"), undefined);
    assert.equal(figures.total("gateway_rejected_total"), 6);
    assert.equal(figures.total("gateway_duplicates_total"), undefined);
    assert.deepEqual(figures.byLabel("gateway_rejected_total", "reason"), [
      {
        label: "invalid_signature",
        count: 4,
        key: 'gateway_rejected_total{reason="invalid_signature"}',
      },
      { label: "conflict", count: 2, key: 'gateway_rejected_total{reason="conflict"}' },
      { label: "rate_limited", count: 0, key: 'gateway_rejected_total{reason="rate_limited"}' },
    ]);
    assert.deepEqual(figures.byLabel("gateway_rejected_total", "kind"), [], "no such label");
  });

  it("remembers which figures it was asked for", function () {
    const figures = new Figures(raw);
    assert.deepEqual(unused(figures), Object.keys(raw).sort(), "none yet");
    figures.value("gateway_queue_depth");
    figures.value("gateway_lag_seconds");
    figures.labelled("gateway_refused_total", "reason", "Stale");
    figures.byLabel("gateway_rejected_total", "reason");
    assert.deepEqual(unused(figures), [
      'gateway_refused_total{reason="MemberQuarantined:TooFrequent"}',
      'gateway_submit_errors_total{kind="retried"}',
      "health.queued",
      "not a key",
    ]);
    assert.equal(figures.used("gateway_queue_depth"), true);
    assert.equal(figures.used("gateway_lag_seconds"), false, "asked for, not given");
    figures.total("gateway_refused_total");
    assert.equal(
      figures.used('gateway_refused_total{reason="MemberQuarantined:TooFrequent"}'),
      true,
    );
  });

  it("lists rejected (intake) and refused (feed) reasons in one list by count, zeros left out", function () {
    assert.deepEqual(reasonRows(new Figures(raw)), REASONS);
    assert.deepEqual(
      reasonRows(new Figures({ 'gw_refused_total{reason="Untrusted"}': 1 }), "gw_"),
      [
        {
          label: "Untrusted",
          count: 1,
          key: 'gw_refused_total{reason="Untrusted"}',
          stage: "refused",
        },
      ],
      "another metrics prefix",
    );
    assert.deepEqual(reasonRows(new Figures({})), []);
  });

  it("sums a counter with more labels by one of them, keyed as sum by (label) shows it", function () {
    const figures = new Figures({
      'gw_requests_total{scheme="lms",result="recovered"}': 3,
      'gw_requests_total{scheme="ml-dsa-44",result="rejected"}': 1,
      'gw_requests_total{scheme="unknown",result="rejected"}': 2,
      'gw_requests_total{scheme="lms",result="odd \\"one\\""}': 1,
      'gw_other_total{result="rejected"}': 9,
    });
    assert.deepEqual(figures.byLabel("gw_requests_total", "result"), [
      { label: "recovered", count: 3, key: 'gw_requests_total{result="recovered"}' },
      { label: "rejected", count: 3, key: 'gw_requests_total{result="rejected"}' },
      { label: 'odd "one"', count: 1, key: 'gw_requests_total{result="odd \\"one\\""}' },
    ]);
    assert.deepEqual(figures.byLabel("gw_requests_total", "scheme"), [
      { label: "lms", count: 4, key: 'gw_requests_total{scheme="lms"}' },
      { label: "unknown", count: 2, key: 'gw_requests_total{scheme="unknown"}' },
      { label: "ml-dsa-44", count: 1, key: 'gw_requests_total{scheme="ml-dsa-44"}' },
    ]);
    assert.deepEqual(unused(figures), ['gw_other_total{result="rejected"}']);
  });

  it("orders by count, then by label (byCount)", function () {
    const rows = [
      { label: "b", count: 1 },
      { label: "a", count: 1 },
      { label: "c", count: 5 },
    ];
    assert.deepEqual(
      rows.sort(byCount).map((r) => r.label),
      ["c", "a", "b"],
    );
  });
});

describe("console page: words and times (metrics.ts)", function () {
  it("writes label values for people (labelWords)", function () {
    assert.equal(labelWords("invalid_signature"), "Invalid signature");
    assert.equal(labelWords("MemberQuarantined:TooFrequent"), "Member quarantined: too frequent");
    assert.equal(labelWords("already_proven"), "Already proven");
    assert.equal(labelWords("QuorumLost"), "Quorum lost");
    assert.equal(labelWords("stored"), "Stored");
    assert.equal(labelWords(""), "");
  });

  it("writes seconds for people (humanSeconds)", function () {
    assert.equal(humanSeconds(0), "0 s");
    assert.equal(humanSeconds(0.44), "0.4 s");
    assert.equal(humanSeconds(4.5), "4.5 s");
    assert.equal(humanSeconds(12.4), "12 s");
    assert.equal(humanSeconds(60), "1 min");
    assert.equal(humanSeconds(200), "3 min 20 s");
    assert.equal(humanSeconds(3600), "1 h");
    assert.equal(humanSeconds(7500), "2 h 5 min");
    assert.equal(humanSeconds(86_400), "1 d");
    assert.equal(humanSeconds(3 * 86_400 + 4 * 3600 + 59), "3 d 4 h");
    assert.equal(humanSeconds(-1), "—");
    assert.equal(humanSeconds(Number.NaN), "—");
    assert.equal(humanSeconds(Number.POSITIVE_INFINITY), "—");
  });

  it("writes how long ago, or ahead for a clock ahead of ours (secondsAgo)", function () {
    assert.equal(secondsAgo(100, 100.5), "just now");
    assert.equal(secondsAgo(100.5, 100), "just now");
    assert.equal(secondsAgo(100, 112.9), "12 s ago");
    assert.equal(secondsAgo(0, 200), "3 min ago");
    assert.equal(secondsAgo(0, 7300), "2 h ago");
    assert.equal(secondsAgo(0, 2 * 86_400 + 5), "2 d ago");
    assert.equal(secondsAgo(104, 100), "in 4 s");
    assert.equal(secondsAgo(4000, 100), "in 1 h");
  });
});

describe("console page: what an unhealthy service says failed (healthReport)", function () {
  const failing: GatewayHealth = {
    status: "unavailable",
    running: true,
    mqtt: { connected: false },
    chain: { ok: false, error: "the chain did not answer in time" },
    store: { ok: true },
    queued: 3,
    submitted: 10,
    queuedBatches: 0,
  };

  it("turns the probe's /health sentence into what failed", async function () {
    const metrics = new GatewayMetrics();
    const probe = probeOf("gateway", {
      health: failing,
      healthy: false,
      metrics: () => metrics.text(),
    });
    const view = await probeAt(probe, T0);
    assert.equal(view.healthy, false);
    assert.equal(view.error, `/health answered 503: ${JSON.stringify(failing)}`);
    assert.deepEqual(healthReport(view.error), {
      status: 503,
      problems: ["the chain: the chain did not answer in time", "the MQTT broker: not connected"],
    });
  });

  it("names a service not running and a store that does not answer", function () {
    const watchtower: HealthReport = {
      status: "unavailable",
      running: false,
      chain: { ok: true },
      store: { ok: false },
      readings: 0,
      pendingProofs: 0,
      lastMessageAt: null,
    };
    assert.deepEqual(healthReport(`/health answered 503: ${JSON.stringify(watchtower)}`), {
      status: 503,
      problems: ["not running (stopping or not started)", "the store: not answering"],
    });
    assert.deepEqual(
      healthReport(
        `/health answered 503: ${JSON.stringify({ ...watchtower, running: true, store: { ok: false, error: "SQLITE_BUSY: database is locked" } })}`,
      ),
      { status: 503, problems: ["the store: SQLITE_BUSY: database is locked"] },
    );
    assert.deepEqual(healthReport('/health answered 500: {"status":"ok"}'), {
      status: 500,
      problems: [],
    });
  });

  it("gives null when the sentence does not carry /health's JSON whole", async function () {
    // The console keeps 200 characters of the body: a long error cuts the JSON.
    const long: GatewayHealth = {
      ...failing,
      chain: { ok: false, error: `could not detect network (${"x".repeat(150)})` },
    };
    const metrics = new GatewayMetrics();
    const view = await probeAt(
      probeOf("gateway", { health: long, healthy: false, metrics: () => metrics.text() }),
      T0,
    );
    assert.ok(view.error !== null);
    assert.equal(view.error.length, "/health answered 503: ".length + 200);
    assert.equal(healthReport(view.error), null);
    assert.equal(healthReport("/health answered 503"), null);
    assert.equal(healthReport("/health answered 503: {not json}"), null);
    assert.equal(healthReport("/health answered 503: [1]"), null);
    assert.equal(healthReport("http://127.0.0.1:9465 did not answer: fetch failed"), null);
  });
});

describe("console page: gateway summary from a gateway's figures (ops-figures.ts)", function () {
  /** A gateway some way into its work, its feeds' events registered on its registry as runGateway does. */
  function busyGateway(): { metrics: GatewayMetrics; health: GatewayHealth } {
    const metrics = new GatewayMetrics();
    const feedEvents = new FeedEventMetrics();
    feedEvents.registerOn(metrics.registry);
    metrics.received.inc(100);
    metrics.verified.inc(90);
    metrics.duplicates.inc(3);
    metrics.submitted.inc(80);
    metrics.rejected.inc({ reason: "invalid_signature" }, 4);
    metrics.rejected.inc({ reason: "conflict" }, 2);
    metrics.rejected.inc({ reason: "rate_limited" }, 0);
    metrics.refused.inc({ reason: "MemberQuarantined:TooFrequent" }, 3);
    metrics.refused.inc({ reason: "Stale" }, 2);
    metrics.submitErrors.inc({ kind: "retried" }, 2);
    metrics.submitErrors.inc({ kind: "rejected" }, 1);
    metrics.queueDepth.set(10);
    metrics.lag.set(4.5);
    metrics.batchesVerified.inc(2);
    metrics.batchesAnchored.inc(1);
    metrics.batchQueueDepth.set(1);
    metrics.keyRotations.inc(1);
    metrics.pruned.inc({ table: "readings" }, 5);
    feedEvents.memberQuarantined.inc({ anomaly: "TooFrequent" }, 3);
    feedEvents.memberQuarantined.inc({ anomaly: "Jump" }, 1);
    feedEvents.feedTripped.inc({ reason: "Quarantines" }, 1);
    const health: GatewayHealth = {
      status: "ok",
      running: true,
      mqtt: { connected: true },
      chain: { ok: true },
      store: { ok: true },
      queued: 10,
      submitted: 80,
      queuedBatches: 1,
    };
    return { metrics, health };
  }

  it("has no rates from the first probe, the server's from the second", async function () {
    const { metrics, health } = busyGateway();
    const served: Served = { health, healthy: true, metrics: () => metrics.text() };
    const probe = probeOf("gateway", served);

    const first = await probeAt(probe, T0);
    assert.deepEqual(
      Object.keys(first.figures).filter((k) => k.endsWith("_per_second")),
      [],
    );
    const before = gatewaySummary(new Figures(first.figures));
    assert.equal(before.receivedRate, undefined);
    assert.equal(before.verifiedRate, undefined);
    assert.equal(before.submittedRate, undefined);

    metrics.received.inc(10);
    metrics.verified.inc(7);
    metrics.submitted.inc(3);
    served.health = { ...health, submitted: 83 };
    const second = await probeAt(probe, T0 + 2000);
    assert.equal(second.figures.gateway_received_per_second, 5);

    const figures = new Figures(second.figures);
    assert.deepEqual(gatewaySummary(figures), {
      receivedRate: 5,
      verifiedRate: 3.5,
      submittedRate: 1.5,
      queue: 10,
      batchQueue: 1,
      lag: 4.5,
      received: 110,
      verified: 97,
      submitted: 83,
      duplicates: 3,
      reasons: REASONS,
      rejected: 6,
      refused: 5,
      submitErrors: [
        { label: "retried", count: 2, key: 'gateway_submit_errors_total{kind="retried"}' },
        { label: "rejected", count: 1, key: 'gateway_submit_errors_total{kind="rejected"}' },
      ],
      batchesVerified: 2,
      batchesAnchored: 1,
      quarantines: [
        {
          label: "TooFrequent",
          count: 3,
          key: 'gateway_feed_member_quarantined_total{anomaly="TooFrequent"}',
        },
        { label: "Jump", count: 1, key: 'gateway_feed_member_quarantined_total{anomaly="Jump"}' },
      ],
      trips: [
        { label: "Quarantines", count: 1, key: 'gateway_feed_tripped_total{reason="Quarantines"}' },
      ],
      // No recovery request counted: prom-client gives no sample of a labelled counter never counted.
      recovery: null,
    });
    // Everything else is summarized: the raw table shows these two undimmed.
    assert.deepEqual(unused(figures), [
      "gateway_key_rotations_total",
      'gateway_pruned_rows_total{table="readings"}',
    ]);
  });

  it("shows no rate after a restart (the counters went back), and reads /health's gauges alone", async function () {
    const { metrics, health } = busyGateway();
    const served: Served = { health, healthy: true, metrics: () => metrics.text() };
    const probe = probeOf("gateway", served);
    await probeAt(probe, T0);
    const restarted = new GatewayMetrics();
    restarted.received.inc(1);
    served.metrics = () => restarted.text();
    const after = gatewaySummary(new Figures((await probeAt(probe, T0 + 2000)).figures));
    assert.equal(after.receivedRate, undefined);
    assert.equal(after.received, 1);

    // /health's figures stand in for the metrics the page did not get.
    const healthOnly = gatewaySummary(
      new Figures({ "health.queued": 4, "health.submitted": 12, "health.queuedBatches": 2 }),
    );
    assert.equal(healthOnly.queue, 4);
    assert.equal(healthOnly.submitted, 12);
    assert.equal(healthOnly.batchQueue, 2);
    assert.equal(healthOnly.received, undefined);
    assert.deepEqual(healthOnly.reasons, []);
    assert.equal(healthOnly.rejected, 0);
  });
});

describe("console page: key recoveries from a gateway's figures (ops-figures.ts)", function () {
  /** The figures of a gateway's registry as the console's probe reads them. */
  async function probed(metrics: GatewayMetrics): Promise<Figures> {
    const health = { status: "ok", running: true };
    const probe = probeOf("gateway", { health, healthy: true, metrics: () => metrics.text() });
    return new Figures((await probeAt(probe, T0)).figures);
  }

  it("sums the requests' results over schemes, and lists rejected and refused reasons", async function () {
    const metrics = new GatewayMetrics();
    metrics.received.inc(5);
    metrics.rejected.inc({ reason: "conflict" }, 1);
    const request = (scheme: string, result: string, n: number) =>
      metrics.recoveryRequests.inc({ scheme, result }, n);
    request("lms", "recovered", 3);
    request("lms", "refused", 2);
    metrics.recoveryRefused.inc({ reason: "PqKeyRecoveryExpired" }, 1);
    metrics.recoveryRefused.inc({ reason: "DeviceRegistryKeyTaken" }, 1);
    request("ml-dsa-44", "recorded", 4);
    request("lms", "rejected", 2);
    metrics.recoveryRejected.inc({ reason: "WrongPqKey" }, 2);
    request("unknown", "rejected", 3);
    metrics.recoveryRejected.inc({ reason: "malformed" }, 3);
    metrics.recoveryRejected.inc({ reason: "rate_limited" }, 0);
    request("lms", "duplicate", 1);
    request("ml-dsa-44", "duplicate", 1);
    request("lms", "error", 1);

    const figures = await probed(metrics);
    const g = gatewaySummary(figures);
    const key = (label: string, value: string) =>
      `gateway_recovery_requests_total{${label}="${value}"}`;
    assert.deepEqual(g.recovery, {
      requests: 17,
      outcomes: {
        recovered: 3,
        recorded: 4,
        refused: 2,
        rejected: 5,
        duplicate: 2,
        error: 1,
        other: [],
      },
      schemes: [
        { label: "lms", count: 9, key: key("scheme", "lms") },
        { label: "ml-dsa-44", count: 5, key: key("scheme", "ml-dsa-44") },
        { label: "unknown", count: 3, key: key("scheme", "unknown") },
      ],
      reasons: [
        {
          label: "malformed",
          count: 3,
          key: 'gateway_recovery_rejected_total{reason="malformed"}',
          stage: "rejected",
        },
        {
          label: "WrongPqKey",
          count: 2,
          key: 'gateway_recovery_rejected_total{reason="WrongPqKey"}',
          stage: "rejected",
        },
        {
          label: "DeviceRegistryKeyTaken",
          count: 1,
          key: 'gateway_recovery_refused_total{reason="DeviceRegistryKeyTaken"}',
          stage: "refused",
        },
        {
          label: "PqKeyRecoveryExpired",
          count: 1,
          key: 'gateway_recovery_refused_total{reason="PqKeyRecoveryExpired"}',
          stage: "refused",
        },
      ],
      off: 0,
    });
    // The readings' reasons stay the readings' own.
    assert.deepEqual(
      g.reasons.map((r) => r.label),
      ["conflict"],
    );
    assert.equal(g.rejected, 1);
    // Every recovery figure is summarized (the zero rate_limited too: read, left out of the reasons).
    assert.deepEqual(
      unused(figures).filter((k) => k.includes("recovery")),
      [],
    );
  });

  it("knows every result the gateway counts, and keeps the ones it does not know", async function () {
    const metrics = new GatewayMetrics();
    for (const result of RECOVERY_RESULTS) metrics.recoveryRequests.inc({ scheme: "lms", result });
    const recovery = recoverySummary(await probed(metrics));
    assert.ok(recovery !== null);
    assert.deepEqual(recovery.outcomes.other, [], "no result of RECOVERY_RESULTS left unknown");
    assert.equal(recovery.requests, RECOVERY_RESULTS.length);

    const future = recoverySummary(
      new Figures({
        'gw_recovery_requests_total{scheme="lms",result="queued"}': 2,
        'gw_recovery_requests_total{scheme="lms",result="recovered"}': 1,
      }),
      "gw_",
    );
    assert.ok(future !== null);
    assert.deepEqual(future.outcomes.other, [
      { label: "queued", count: 2, key: 'gw_recovery_requests_total{result="queued"}' },
    ]);
    assert.equal(future.outcomes.recovered, 1);
    assert.equal(future.outcomes.refused, 0, "a result not counted is 0");
  });

  it("says off for a gateway without --pq-key-recovery that dropped requests, none when it got none", async function () {
    const metrics = new GatewayMetrics();
    metrics.received.inc(3);
    assert.equal(gatewaySummary(await probed(metrics)).recovery, null, "no request: no block");

    const rejectLog = new LogLimiter(pino({ level: "silent" }), { event: "gateway_rejects" });
    try {
      dropRecoveryOff(metrics, rejectLog, "dt/devicetrust/recovery/0x01");
      dropRecoveryOff(metrics, rejectLog, "dt/devicetrust/recovery/0x02");
    } finally {
      rejectLog.close();
    }
    const recovery = gatewaySummary(await probed(metrics)).recovery;
    assert.deepEqual(recovery, {
      requests: 2,
      outcomes: {
        recovered: 0,
        recorded: 0,
        refused: 0,
        rejected: 2,
        duplicate: 0,
        error: 0,
        other: [],
      },
      schemes: [
        { label: "unknown", count: 2, key: 'gateway_recovery_requests_total{scheme="unknown"}' },
      ],
      reasons: [
        {
          label: "recovery_off",
          count: 2,
          key: 'gateway_recovery_rejected_total{reason="recovery_off"}',
          stage: "rejected",
        },
      ],
      off: 2,
    });
  });
});

describe("console page: watchtower summary from a watchtower's figures (ops-figures.ts)", function () {
  it("summarizes messages, proofs and batches; the message rate from the server's second probe", async function () {
    const metrics = new WatchtowerMetrics();
    metrics.messages.inc({ result: "stored" }, 50);
    metrics.messages.inc({ result: "duplicate" }, 5);
    metrics.messages.inc({ result: "conflict" }, 2);
    metrics.messages.inc({ result: "invalid_signature" }, 1);
    metrics.equivocations.inc(2);
    metrics.batchEquivocations.inc(1);
    metrics.outOfBounds.inc(1);
    metrics.batches.inc({ result: "stored" }, 3);
    metrics.batches.inc({ result: "bad_root" }, 1);
    metrics.proofs.inc({ result: "submitted" }, 2);
    metrics.proofs.inc({ result: "already_proven" }, 1);
    metrics.proofs.inc({ result: "failed" }, 1);
    metrics.lastMessage.set(1_700_000_000);
    metrics.pruned.inc({ table: "readings" }, 4);
    const health: HealthReport = {
      status: "ok",
      running: true,
      chain: { ok: true },
      store: { ok: true },
      readings: 53,
      pendingProofs: 1,
      lastMessageAt: 1_700_000_000_000,
    };
    const probe = probeOf("watchtower", { health, healthy: true, metrics: () => metrics.text() });

    const first = watchtowerSummary(new Figures((await probeAt(probe, T0)).figures));
    assert.equal(first.messageRate, undefined, "no rate before the server's second probe");
    assert.equal(first.messageTotal, 58);

    metrics.messages.inc({ result: "stored" }, 6);
    metrics.messages.inc({ result: "duplicate" }, 2);
    const second = await probeAt(probe, T0 + 4000);
    assert.equal(second.figures.watchtower_messages_per_second, 2);
    const figures = new Figures(second.figures);
    assert.deepEqual(watchtowerSummary(figures), {
      pendingProofs: 1,
      proofs: {
        submitted: 2,
        alreadyProven: 1,
        rejected: 0,
        failed: 1,
        retried: 0,
        keyRetired: 0,
        other: [],
      },
      equivocations: 2,
      batchEquivocations: 1,
      outOfBounds: 1,
      batchOutOfBounds: 0,
      messages: [
        { label: "stored", count: 56, key: 'watchtower_messages_total{result="stored"}' },
        { label: "duplicate", count: 7, key: 'watchtower_messages_total{result="duplicate"}' },
        { label: "conflict", count: 2, key: 'watchtower_messages_total{result="conflict"}' },
        {
          label: "invalid_signature",
          count: 1,
          key: 'watchtower_messages_total{result="invalid_signature"}',
        },
      ],
      messageTotal: 66,
      messageRate: 2,
      batches: [
        { label: "stored", count: 3, key: 'watchtower_batches_total{result="stored"}' },
        { label: "bad_root", count: 1, key: 'watchtower_batches_total{result="bad_root"}' },
      ],
      readings: 53,
      lastMessage: 1_700_000_000,
    });
    assert.deepEqual(unused(figures), ['watchtower_pruned_rows_total{table="readings"}']);
  });

  it("keeps proof results it does not know, and the last message from /health (ms) alone", function () {
    const w = watchtowerSummary(
      new Figures({
        'watchtower_proofs_submitted_total{result="bounced"}': 2,
        'watchtower_proofs_submitted_total{result="key_retired"}': 1,
        "health.lastMessageAt": 1_700_000_123_500,
      }),
    );
    assert.deepEqual(w.proofs, {
      submitted: 0,
      alreadyProven: 0,
      rejected: 0,
      failed: 0,
      retried: 0,
      keyRetired: 1,
      other: [
        { label: "bounced", count: 2, key: 'watchtower_proofs_submitted_total{result="bounced"}' },
      ],
    });
    assert.equal(w.lastMessage, 1_700_000_123.5);
    assert.deepEqual(w.messages, []);
    assert.equal(w.messageTotal, undefined);
    assert.equal(w.messageRate, undefined);
    assert.equal(w.pendingProofs, undefined);
  });
});

describe("console page: text helpers (text.ts)", function () {
  const id = `0x1234${"0".repeat(56)}abcd`;

  it("shortens ids, alone and inside a sentence", function () {
    assert.equal(short(id), "0x1234…abcd");
    assert.equal(short("0xabcdef"), "0xabcdef");
    const address = `0xdead${"1".repeat(32)}beef`;
    assert.equal(
      shortIds(`device ${id} revoked by ${address}; 0xabc stays`),
      "device 0x1234…abcd revoked by 0xdead…beef; 0xabc stays",
    );
  });

  it("groups counts and integers, and writes plurals", function () {
    assert.equal(count(10_000), "10,000");
    assert.equal(count(0), "0");
    assert.equal(plural(1, "event"), "1 event");
    assert.equal(plural(1200, "event"), "1,200 events");
    assert.equal(plural(2, "batch", "batches"), "2 batches");
    assert.equal(groupInt("1234567890123456789012"), "1,234,567,890,123,456,789,012");
    assert.equal(groupInt("-1000"), "-1,000");
    assert.equal(groupInt("999"), "999");
  });

  it("writes durations and ages", function () {
    assert.equal(duration(59), "59 s");
    assert.equal(duration(3599), "59 min");
    assert.equal(duration(3600), "1 h");
    assert.equal(duration(86_400), "24 h");
    assert.equal(duration(7 * 86_400), "7 d");
    assert.equal(duration(400 * 86_400), "1.1 y");
    assert.equal(ago(0, 1000), "never");
    assert.equal(ago(100, 104), "just now");
    assert.equal(ago(100, 400), "5 min ago");
    assert.equal(ago(500, 400), "in 1 min");
  });

  it("writes enum names as words, and dates with their unix seconds", function () {
    assert.equal(words("NeverAttested"), "Never attested");
    assert.equal(words("FirmwareSunset"), "Firmware sunset");
    assert.equal(words("Trusted"), "Trusted");
    assert.equal(absolute(0), "never");
    assert.match(absolute(1_700_000_000), /2023.*\(unix 1700000000\)$/);
    assert.match(day(1_700_000_000), /2023/);
  });
});
