/** One feed: its answers against each member's readings, its breaker, its members, what backs it. */
import { useMemo } from "preact/hooks";
import type { FeedPage } from "../../../src/console/api.js";
import { Chart, align, type ChartSeries } from "../chart.js";
import {
  Age,
  Badge,
  Empty,
  FeedValue,
  Field,
  GradeBadge,
  Id,
  Loaded,
  VerdictBadge,
  count,
  plural,
  short,
} from "../format.js";
import { useApi } from "../live.js";
import { Panel, PoliciesTable, RatingPanel, SecurityReport, Timeline } from "./shared.js";

const MEMBER_COLORS = [
  "#8b5cf6",
  "#0d9488",
  "#d97706",
  "#db2777",
  "#0891b2",
  "#65a30d",
  "#9333ea",
  "#ea580c",
];

export function FeedView({ address }: { address: string }) {
  const state = useApi("feed", `/${encodeURIComponent(address)}`);
  return (
    <div class="view feed">
      <Loaded state={state} what={`feed ${short(address)}`}>
        {(data) => <Feed page={data} />}
      </Loaded>
    </div>
  );
}

function toNumber(value: string, decimals: number): number {
  return Number(value) / 10 ** decimals;
}

function Feed({ page }: { page: FeedPage }) {
  const summary = page.summary;
  const decimals = page.decimals;
  const shown = Math.min(decimals, 4);
  const valueFormat = useMemo(
    () => new Intl.NumberFormat("en-US", { maximumFractionDigits: shown }),
    [shown],
  );

  const chart = useMemo(() => {
    // The members first, the answer last: uPlot draws in order, and the median belongs on top.
    const series: ChartSeries[] = [
      ...page.members.map((member, i): ChartSeries => ({
        label: `${short(member.deviceId)}${member.quarantined ? " (quarantined)" : ""}`,
        stroke: member.quarantined
          ? "#dc2626"
          : (MEMBER_COLORS[i % MEMBER_COLORS.length] ?? "#888"),
        width: 1,
        ...(member.quarantined ? { dash: [4, 3] } : {}),
      })),
      { label: "answer (median)", stroke: "#2563eb", width: 2.5 },
    ];
    const data = align([
      ...page.members.map((member) =>
        member.readings.map((r) => ({ time: r.time, y: toNumber(r.value, decimals) })),
      ),
      page.answers.map((a) => ({ time: a.time, y: toNumber(a.value, decimals) })),
    ]);
    return { series, data };
  }, [page, decimals]);

  const activeCoverage = page.coverage.filter((p) => p.active).length;

  return (
    <>
      <div
        class={`hero ${summary.tripped ? "hero-bad" : summary.quarantined > 0 ? "hero-warn" : "hero-ok"}`}
      >
        <div class="hero-main">
          <div class="crumbs">
            <a href="#/feeds">Feeds</a> › feed
          </div>
          <h1>{summary.description}</h1>
          <div class="hero-badges">
            {summary.tripped ? (
              <Badge tone="bad" title={page.tripReason}>
                breaker tripped
              </Badge>
            ) : (
              <Badge tone="ok">answering</Badge>
            )}
            {summary.quarantined > 0 ? (
              <Badge tone="warn">{summary.quarantined} quarantined</Badge>
            ) : null}
            <GradeBadge rating={summary.rating} />
          </div>
          {summary.tripped && page.tripReason !== "" ? (
            <p class="why-line">Tripped: {page.tripReason}</p>
          ) : null}
        </div>
        <div class="hero-figure" data-testid="feed-answer">
          <div class="label">Latest answer</div>
          <div class="big num">
            {summary.latestAnswer === null ? (
              <span class="muted">none</span>
            ) : (
              <FeedValue value={summary.latestAnswer} decimals={decimals} />
            )}
          </div>
          <div class="muted small">
            round {count(summary.latestRound)} · <Age time={summary.updatedAt} />
          </div>
        </div>
      </div>

      <div class="fields wide">
        <Field label="Feed">
          <Id id={summary.address} />
        </Field>
        <Field label="Feed id">
          <Id id={summary.feedId} />
        </Field>
        <Field label="Quorum">
          {page.quorum} of {page.members.length} members
        </Field>
        <Field label="Quarantined">
          <span class={summary.quarantined > 0 ? "text-warn" : ""}>{summary.quarantined}</span>
        </Field>
        <Field label="Heartbeat">{page.heartbeat} s</Field>
        <Field label="Decimals">{decimals}</Field>
      </div>

      <Panel
        title="Answers and readings"
        extra={`${plural(page.answers.length, "answer")} · ${plural(page.members.length, "member")}`}
      >
        {page.answers.length === 0 && page.members.every((m) => m.readings.length === 0) ? (
          <Empty>No answer or reading indexed yet.</Empty>
        ) : null}
        <Chart
          testid="feed-chart"
          points={page.answers.length}
          data={chart.data}
          series={chart.series}
          format={(v) => valueFormat.format(v)}
          height={300}
        />
      </Panel>

      <div class="columns">
        <div class="column">
          <Panel title="Breaker and membership" extra={plural(page.events.length, "event")}>
            <Timeline
              entries={page.events}
              testid="feed-events"
              attribute="data-kind"
              kindOf={(entry) => entry.kind}
            />
            {page.events.length === 0 ? (
              <Empty>No trip, quarantine or membership change yet.</Empty>
            ) : null}
          </Panel>
        </div>
        <div class="column">
          <Panel title="Rating" extra={`${summary.rating.score}/100`}>
            <RatingPanel rating={summary.rating} />
          </Panel>
          <Panel title="Cost of corruption">
            {page.security === null ? (
              <Empty>
                {page.securityNote ?? "The console has no security report for this feed."}
              </Empty>
            ) : (
              <SecurityReport view={page.security} testid="feed-security" />
            )}
          </Panel>
        </div>
      </div>

      <Panel title="Members" extra={`${page.members.length}`}>
        {page.members.length === 0 ? (
          <Empty>This feed has no members.</Empty>
        ) : (
          <div class="table-wrap">
            <table class="grid" data-testid="members">
              <thead>
                <tr>
                  <th>Device</th>
                  <th>Operator</th>
                  <th>Verdict</th>
                  <th>State</th>
                  <th class="r">Last reading</th>
                  <th>Read</th>
                  <th class="r">Readings</th>
                  <th class="r">Rejected</th>
                </tr>
              </thead>
              <tbody>
                {page.members.map((member) => {
                  const last = member.readings[member.readings.length - 1];
                  const rowClass = member.quarantined
                    ? "row-warn"
                    : member.verdict === "Trusted"
                      ? ""
                      : "row-bad";
                  return (
                    <tr
                      key={member.deviceId}
                      class={rowClass}
                      data-device={member.deviceId}
                      data-quarantined={member.quarantined ? "true" : "false"}
                    >
                      <td>
                        <Id id={member.deviceId} href={`#/device/${member.deviceId}`} />
                      </td>
                      <td>
                        <Id id={member.operator} />
                      </td>
                      <td>
                        <VerdictBadge verdict={member.verdict} />
                      </td>
                      <td>
                        {member.quarantined ? (
                          <Badge tone="warn" title={member.anomaly ?? undefined}>
                            quarantined{member.anomaly === null ? "" : `: ${member.anomaly}`}
                          </Badge>
                        ) : (
                          <Badge tone="ok">in quorum</Badge>
                        )}
                      </td>
                      <td class="r">
                        {last === undefined ? (
                          <span class="muted">—</span>
                        ) : (
                          <FeedValue value={last.value} decimals={decimals} />
                        )}
                      </td>
                      <td>{last === undefined ? null : <Age time={last.time} />}</td>
                      <td class="r num">{count(member.readings.length)}</td>
                      <td class={`r num${member.rejected > 0 ? " text-warn" : ""}`}>
                        {count(member.rejected)}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Panel>

      <Panel title="Coverage" extra={`${activeCoverage} in force`}>
        <PoliciesTable
          policies={page.coverage}
          showTarget={false}
          testid="coverage"
          empty="No insurance policy covers this feed."
        />
      </Panel>
    </>
  );
}
