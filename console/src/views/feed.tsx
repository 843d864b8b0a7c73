/** One feed: its answers against each member's readings, its breaker, its members, what backs it. */
import { useMemo } from "preact/hooks";
import type { FeedPage, MemberView } from "../../../src/console/api.js";
import { align, type ChartSeries } from "../chart.js";
import {
  Age,
  Badge,
  FeedValue,
  Field,
  GradeBadge,
  Id,
  VerdictBadge,
  count,
  plural,
  short,
} from "../format.js";
import { useApi } from "../live.js";
import {
  ChartPanel,
  CoveragePanel,
  Hero,
  LoadedView,
  TablePanel,
  TimelinePanel,
  TrustColumn,
} from "./shared.js";
import { deviceColumn, idColumn, type Column } from "./table.js";

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
    <LoadedView name="feed" state={state} what={`feed ${short(address)}`}>
      {(data) => <Feed page={data} />}
    </LoadedView>
  );
}

function toNumber(value: string, decimals: number): number {
  return Number(value) / 10 ** decimals;
}

/** A member's latest accepted reading, if any. */
function lastReading(member: MemberView): MemberView["readings"][number] | undefined {
  return member.readings[member.readings.length - 1];
}

/** The feed's members: their verdicts, whether they are in the quorum, and their readings. */
function memberColumns(decimals: number): Column<MemberView>[] {
  return [
    deviceColumn("Device", (member) => member.deviceId),
    idColumn("Operator", (member) => member.operator),
    { head: "Verdict", cell: (member) => <VerdictBadge verdict={member.verdict} /> },
    {
      head: "State",
      cell: (member) =>
        member.quarantined ? (
          <Badge tone="warn" title={member.anomaly ?? undefined}>
            quarantined{member.anomaly === null ? "" : `: ${member.anomaly}`}
          </Badge>
        ) : (
          <Badge tone="ok">in quorum</Badge>
        ),
    },
    {
      head: "Last reading",
      class: "r",
      cell: (member) => {
        const last = lastReading(member);
        return last === undefined ? (
          <span class="muted">—</span>
        ) : (
          <FeedValue value={last.value} decimals={decimals} />
        );
      },
    },
    {
      head: "Read",
      cell: (member) => {
        const last = lastReading(member);
        return last === undefined ? null : <Age time={last.time} />;
      },
    },
    {
      head: "Readings",
      class: "r",
      cellClass: "r num",
      cell: (member) => count(member.readings.length),
    },
    {
      head: "Rejected",
      class: "r",
      cellClass: (member) => `r num${member.rejected > 0 ? " text-warn" : ""}`,
      cell: (member) => count(member.rejected),
    },
  ];
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

  return (
    <>
      <Hero
        tone={summary.tripped ? "bad" : summary.quarantined > 0 ? "warn" : "ok"}
        up={{ href: "#/feeds", label: "Feeds" }}
        kind="feed"
        title={summary.description}
        badges={
          <>
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
          </>
        }
        why={
          summary.tripped && page.tripReason !== "" ? (
            <p class="why-line">Tripped: {page.tripReason}</p>
          ) : null
        }
        figure={
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
        }
      />

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

      <ChartPanel
        title="Answers and readings"
        extra={`${plural(page.answers.length, "answer")} · ${plural(page.members.length, "member")}`}
        empty={
          page.answers.length === 0 && page.members.every((m) => m.readings.length === 0)
            ? "No answer or reading indexed yet."
            : null
        }
        testid="feed-chart"
        points={page.answers.length}
        data={chart.data}
        series={chart.series}
        format={(v) => valueFormat.format(v)}
        height={300}
      />

      <div class="columns">
        <div class="column">
          <TimelinePanel
            title="Breaker and membership"
            entries={page.events}
            testid="feed-events"
            attribute="data-kind"
            kindOf={(entry) => entry.kind}
            empty="No trip, quarantine or membership change yet."
          />
        </div>
        <TrustColumn
          rating={summary.rating}
          security={page.security}
          securityNote={page.securityNote}
          what="feed"
          testid="feed-security"
        />
      </div>

      <TablePanel
        title="Members"
        rows={page.members}
        columns={memberColumns(decimals)}
        rowKey={(member) => member.deviceId}
        rowAttributes={(member) => ({
          class: member.quarantined ? "row-warn" : member.verdict === "Trusted" ? "" : "row-bad",
          "data-device": member.deviceId,
          "data-quarantined": member.quarantined ? "true" : "false",
        })}
        testid="members"
        empty="This feed has no members."
      />

      <CoveragePanel policies={page.coverage} what="feed" />
    </>
  );
}
