/**
 * What more than one view shows: a view's frame, panels, a page's hero, stat cards, policies, a security
 * report, a rating, a timeline, a chart.
 */
import type { ComponentChildren } from "preact";
import type {
  FleetRow,
  PolicyEntry,
  Rating,
  SecurityView,
  TimelineEntry,
} from "../../../src/console/api.js";
import { Chart, type ChartProps } from "../chart.js";
import {
  Age,
  Amount,
  Badge,
  Empty,
  Field,
  Id,
  Loaded,
  absolute,
  count,
  day,
  firmwareTone,
  gradeTone,
  groupInt,
  plural,
  words,
  type Tone,
} from "../format.js";
import { useLive, type ApiState } from "../live.js";
import { DataTable, amountColumn, idColumn, type Column, type DataTableProps } from "./table.js";

/** A view: its name (a class), its heading when it has one, and its data once loaded. */
export function LoadedView<T>({
  name,
  title,
  head,
  state,
  what,
  children,
}: {
  name: string;
  /** The view's heading (none on a page with a hero). */
  title?: string;
  /** Next to the heading. */
  head?: ComponentChildren;
  state: ApiState<T>;
  what: string;
  children: (data: T) => ComponentChildren;
}) {
  return (
    <div class={`view ${name}`}>
      {title === undefined ? null : (
        <div class="view-head">
          <h1>{title}</h1>
          {head}
        </div>
      )}
      <Loaded state={state} what={what}>
        {children}
      </Loaded>
    </div>
  );
}

export function Panel({
  title,
  extra,
  children,
  class: className,
  testid,
  data,
}: {
  title: ComponentChildren;
  extra?: ComponentChildren;
  children: ComponentChildren;
  class?: string;
  testid?: string;
  /** More data-* hooks on the panel. */
  data?: Readonly<Record<`data-${string}`, string>>;
}) {
  return (
    <section
      class={`panel${className === undefined ? "" : ` ${className}`}`}
      data-testid={testid}
      {...data}
    >
      <header class="panel-head">
        <h2>{title}</h2>
        {extra === undefined ? null : <div class="panel-extra">{extra}</div>}
      </header>
      <div class="panel-body">{children}</div>
    </section>
  );
}

/** The head of one device's or one feed's page: where it sits, what it is, and its state at a glance. */
export function Hero({
  tone,
  up,
  kind,
  title,
  mono = false,
  testid,
  badges,
  why,
  figure,
}: {
  tone: Tone;
  /** The list the page belongs to. */
  up: { href: string; label: string };
  kind: string;
  title: ComponentChildren;
  /** The title is an id (monospace). */
  mono?: boolean;
  testid?: string;
  badges: ComponentChildren;
  /** A line under the badges: why it is in that state. */
  why?: ComponentChildren;
  /** A figure on the right. */
  figure?: ComponentChildren;
}) {
  return (
    <div class={`hero hero-${tone}`}>
      <div class="hero-main">
        <div class="crumbs">
          <a href={up.href}>{up.label}</a> › {kind}
        </div>
        <h1 class={mono ? "mono-title" : undefined} data-testid={testid}>
          {title}
        </h1>
        <div class="hero-badges">{badges}</div>
        {why}
      </div>
      {figure}
    </div>
  );
}

/** A card with a label and a figure (and a line under it). */
export function Stat({
  label,
  children,
  tone,
  sub,
  valueClass,
}: {
  label: string;
  children: ComponentChildren;
  tone?: string | undefined;
  sub?: ComponentChildren;
  valueClass?: string;
}) {
  return (
    <div class={`card stat${tone === undefined ? "" : ` ${tone}`}`}>
      <span class="card-label">{label}</span>{" "}
      <span class={valueClass === undefined ? "card-value" : `card-value ${valueClass}`}>
        {children}
      </span>
      {sub === undefined ? null : <span class="card-sub">{sub}</span>}
    </div>
  );
}

/** The maker's name, or its number when it has none. */
export function makerName(row: FleetRow): string {
  return row.makerName === "" ? `maker ${row.maker}` : row.makerName;
}

/** A device's firmware: its version (else its number) and its status. */
export function Firmware({ row, titled = false }: { row: FleetRow; titled?: boolean }) {
  return (
    <>
      <code class="ver" title={titled ? `firmware #${row.firmwareId}` : undefined}>
        {row.firmwareVersion ?? (row.firmwareId === 0 ? "—" : `#${row.firmwareId}`)}
      </code>{" "}
      {row.firmwareStatus === null ? null : (
        <Badge tone={firmwareTone(row.firmwareStatus)}>{row.firmwareStatus}</Badge>
      )}
    </>
  );
}

export function targetHref(kind: "device" | "feed", target: string): string {
  return kind === "device" ? `#/device/${target}` : `#/feed/${target}`;
}

function policyState(
  policy: PolicyEntry,
  now: number,
): { label: string; tone: "ok" | "muted" | "info" } {
  if (policy.active) return { label: "in force", tone: "ok" };
  if (policy.released) return { label: "released", tone: "muted" };
  if (policy.start > now) return { label: "not started", tone: "info" };
  return { label: "expired", tone: "muted" };
}

const TARGET_COLUMN: Column<PolicyEntry> = {
  head: "Target",
  cell: (policy) => <Id id={policy.target} href={targetHref(policy.kind, policy.target)} />,
};

/** Insurance policies: what they cover, for whom, how much, when, and what they paid. */
export function PoliciesTable({
  policies,
  showTarget = true,
  testid,
  empty,
}: {
  policies: readonly PolicyEntry[];
  showTarget?: boolean;
  testid: string;
  empty: string;
}) {
  const { status } = useLive();
  const now = status.blockTime;
  const columns: Column<PolicyEntry>[] = [
    {
      head: "Kind",
      cell: (policy) => (
        <>
          {policy.kind}
          {policy.members.length > 0 ? (
            <span class="muted" title={policy.members.join("\n")}>
              {" "}
              · {policy.members.length} members
            </span>
          ) : null}
        </>
      ),
    },
    { head: "Serial", class: "r", cellClass: "r num", cell: (policy) => policy.serial },
    idColumn("Beneficiary", (policy) => policy.beneficiary),
    amountColumn("Cover", (policy) => policy.amount),
    amountColumn("Premium", (policy) => policy.premium),
    {
      head: "Term",
      cell: (policy) => (
        <>
          {day(policy.start)} → {day(policy.end)}
        </>
      ),
      cellTitle: (policy) => `${absolute(policy.start)} → ${absolute(policy.end)}`,
    },
    amountColumn("Paid out", (policy) => policy.paid, "—"),
    {
      head: "State",
      cell: (policy) => {
        const state = policyState(policy, now);
        return <Badge tone={state.tone}>{state.label}</Badge>;
      },
    },
  ];
  return (
    <DataTable
      rows={policies}
      columns={showTarget ? [TARGET_COLUMN, ...columns] : columns}
      rowKey={(policy) => `${policy.target}-${policy.serial}`}
      rowAttributes={(policy) => ({
        "data-policy": `${policy.target}-${policy.serial}`,
        class: policy.active ? "" : "row-dim",
      })}
      testid={testid}
      empty={empty}
    />
  );
}

/** A table in a panel titled `title` that counts its rows. */
export function TablePanel<T>({ title, ...table }: DataTableProps<T> & { title: string }) {
  return (
    <Panel title={title} extra={`${table.rows.length}`}>
      <DataTable {...table} />
    </Panel>
  );
}

/** The policies that cover one device or one feed, and how many are in force. */
export function CoveragePanel({
  policies,
  what,
}: {
  policies: readonly PolicyEntry[];
  what: "device" | "feed";
}) {
  return (
    <Panel title="Coverage" extra={`${policies.filter((p) => p.active).length} in force`}>
      <PoliciesTable
        policies={policies}
        showTarget={false}
        testid="coverage"
        empty={`No insurance policy covers this ${what}.`}
      />
    </Panel>
  );
}

/** Cost of corruption against value at risk and coverage: is corrupting it worth it? */
export function SecurityReport({ view, testid }: { view: SecurityView; testid?: string }) {
  return (
    <div class={`security ${view.secure ? "secure" : "insecure"}`} data-testid={testid}>
      <div class="security-verdict">
        <Badge tone={view.secure ? "ok" : "bad"}>{view.secure ? "secure" : "not secure"}</Badge>
        <span>{view.verdict}</span>
      </div>
      <div class="fields">
        <Field label="Cost of corruption">
          <Amount value={view.costOfCorruption} />
        </Field>
        <Field label="Value at risk">
          <Amount value={view.valueAtRisk} />
        </Field>
        <Field label="Coverage in force">
          <Amount value={view.coverageInForce} />
        </Field>
        <Field
          label="Margin"
          valueClass={view.margin.startsWith("-") ? "text-bad" : view.secure ? "text-ok" : ""}
        >
          <Amount value={view.margin} />
        </Field>
        <Field label="Operators to control" valueClass="num">
          {groupInt(view.operatorsToControl)}
        </Field>
      </div>
    </div>
  );
}

/** A rating: grade and score, and every deduction with its points. */
export function RatingPanel({ rating }: { rating: Rating }) {
  return (
    <div class="rating">
      <div class="rating-head">
        <span class={`grade large ${gradeTone(rating.grade)}`}>{rating.grade}</span>
        <div>
          <div class="rating-score">
            <strong>{rating.score}</strong>
            <span class="muted">/100</span>
          </div>
          <div class="meter">
            <span
              class={`meter-fill ${gradeTone(rating.grade)}`}
              style={{ width: `${Math.max(0, Math.min(100, rating.score))}%` }}
            />
          </div>
        </div>
      </div>
      {rating.factors.length === 0 ? (
        <p class="muted small">No deductions.</p>
      ) : (
        <ul class="factors">
          {rating.factors.map((factor) => (
            <li key={factor.factor}>
              <span class="points">−{factor.points}</span>
              <span class="factor">{words(factor.factor)}</span>
              <span class="detail">{factor.detail}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * Whether to trust a device or a feed, in a column: its rating, and its cost of corruption (or why the
 * console has no report).
 */
export function TrustColumn({
  rating,
  security,
  securityNote,
  what,
  testid,
}: {
  rating: Rating;
  security: SecurityView | null;
  securityNote: string | null;
  what: "device" | "feed";
  testid: string;
}) {
  return (
    <div class="column">
      <Panel title="Rating" extra={`${rating.score}/100`}>
        <RatingPanel rating={rating} />
      </Panel>
      <Panel title="Cost of corruption">
        {security === null ? (
          <Empty>{securityNote ?? `The console has no security report for this ${what}.`}</Empty>
        ) : (
          <SecurityReport view={security} testid={testid} />
        )}
      </Panel>
    </div>
  );
}

/** A vertical timeline of events (newest last, as they happened). */
export function Timeline<T extends TimelineEntry>({
  entries,
  testid,
  attribute,
  kindOf,
}: {
  entries: readonly T[];
  testid: string;
  attribute: "data-event" | "data-kind";
  kindOf?: ((entry: T) => string) | undefined;
}) {
  return (
    <ol class="timeline" data-testid={testid}>
      {entries.map((entry, i) => {
        const kind = kindOf === undefined ? entry.event : kindOf(entry);
        return (
          <li
            key={`${entry.tx}-${entry.event}-${i}`}
            {...{ [attribute]: kind }}
            class={`tl-${eventTone(kind)}`}
          >
            <span class="tl-dot" aria-hidden="true" />
            <div class="tl-main">
              <span class="tl-event">{words(entry.event)}</span>
              <span class="tl-summary">{entry.summary}</span>
            </div>
            <div class="tl-meta">
              <span title={`block ${entry.block}`}>#{count(entry.block)}</span>
              <Age time={entry.time} />
              <Id id={entry.tx} />
            </div>
          </li>
        );
      })}
    </ol>
  );
}

/** A timeline in a panel that counts its events, and says `empty` when there is none. */
export function TimelinePanel<T extends TimelineEntry>({
  title,
  entries,
  testid,
  attribute,
  kindOf,
  empty,
}: {
  title: string;
  entries: readonly T[];
  testid: string;
  attribute: "data-event" | "data-kind";
  kindOf?: (entry: T) => string;
  empty: string;
}) {
  return (
    <Panel title={title} extra={plural(entries.length, "event")}>
      <Timeline entries={entries} testid={testid} attribute={attribute} kindOf={kindOf} />
      {entries.length === 0 ? <Empty>{empty}</Empty> : null}
    </Panel>
  );
}

/** A chart in a panel, with `empty` (when not null) above it: why there is nothing to draw yet. */
export function ChartPanel({
  title,
  extra,
  empty,
  ...chart
}: ChartProps & { title: string; extra: string; empty: string | null }) {
  return (
    <Panel title={title} extra={extra}>
      {empty === null ? null : <Empty>{empty}</Empty>}
      <Chart {...chart} />
    </Panel>
  );
}

/** The tone of an event's dot. */
export function eventTone(kind: string): "ok" | "warn" | "bad" | "info" {
  const k = kind.toLowerCase();
  if (/unlock|unfreeze|reset|readmit|restor/.test(k)) return "ok";
  if (/trip|revok|slash|incident|frozen|freeze|lock|suspend|refus|decommission|deactivat/.test(k))
    return "bad";
  if (/quarantine|deprecat|sunset|stale|withdraw/.test(k)) return "warn";
  if (/register|activat|attest/.test(k)) return "ok";
  return "info";
}
