/** Panels more than one view shows: policies, a security report, a rating, a timeline. */
import type { ComponentChildren } from "preact";
import type { PolicyEntry, Rating, SecurityView, TimelineEntry } from "../../../src/console/api.js";
import {
  Age,
  Amount,
  Badge,
  Empty,
  Id,
  absolute,
  count,
  day,
  gradeTone,
  groupInt,
  words,
} from "../format.js";
import { useLive } from "../live.js";

export function Panel({
  title,
  extra,
  children,
  class: className,
  testid,
}: {
  title: ComponentChildren;
  extra?: ComponentChildren;
  children: ComponentChildren;
  class?: string;
  testid?: string;
}) {
  return (
    <section class={`panel${className === undefined ? "" : ` ${className}`}`} data-testid={testid}>
      <header class="panel-head">
        <h2>{title}</h2>
        {extra === undefined ? null : <div class="panel-extra">{extra}</div>}
      </header>
      <div class="panel-body">{children}</div>
    </section>
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

/** Insurance policies: what they cover, for whom, how much, when, and what they paid. */
export function PoliciesTable({
  policies,
  showTarget = true,
  testid,
  empty,
}: {
  policies: readonly PolicyEntry[];
  showTarget?: boolean;
  testid?: string;
  empty: string;
}) {
  const { status } = useLive();
  const now = status.blockTime;
  if (policies.length === 0) return <Empty>{empty}</Empty>;
  return (
    <div class="table-wrap">
      <table class="grid" data-testid={testid}>
        <thead>
          <tr>
            {showTarget ? <th>Target</th> : null}
            <th>Kind</th>
            <th class="r">Serial</th>
            <th>Beneficiary</th>
            <th class="r">Cover</th>
            <th class="r">Premium</th>
            <th>Term</th>
            <th class="r">Paid out</th>
            <th>State</th>
          </tr>
        </thead>
        <tbody>
          {policies.map((policy) => {
            const state = policyState(policy, now);
            return (
              <tr
                key={`${policy.target}-${policy.serial}`}
                data-policy={`${policy.target}-${policy.serial}`}
                class={policy.active ? "" : "row-dim"}
              >
                {showTarget ? (
                  <td>
                    <Id id={policy.target} href={targetHref(policy.kind, policy.target)} />
                  </td>
                ) : null}
                <td>
                  {policy.kind}
                  {policy.members.length > 0 ? (
                    <span class="muted" title={policy.members.join("\n")}>
                      {" "}
                      · {policy.members.length} members
                    </span>
                  ) : null}
                </td>
                <td class="r num">{policy.serial}</td>
                <td>
                  <Id id={policy.beneficiary} />
                </td>
                <td class="r">
                  <Amount value={policy.amount} />
                </td>
                <td class="r">
                  <Amount value={policy.premium} />
                </td>
                <td title={`${absolute(policy.start)} → ${absolute(policy.end)}`}>
                  {day(policy.start)} → {day(policy.end)}
                </td>
                <td class="r">
                  <Amount value={policy.paid} zero="—" />
                </td>
                <td>
                  <Badge tone={state.tone}>{state.label}</Badge>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
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
        <div class="field">
          <div class="label">Cost of corruption</div>
          <div class="value">
            <Amount value={view.costOfCorruption} />
          </div>
        </div>
        <div class="field">
          <div class="label">Value at risk</div>
          <div class="value">
            <Amount value={view.valueAtRisk} />
          </div>
        </div>
        <div class="field">
          <div class="label">Coverage in force</div>
          <div class="value">
            <Amount value={view.coverageInForce} />
          </div>
        </div>
        <div class="field">
          <div class="label">Margin</div>
          <div
            class={`value ${view.margin.startsWith("-") ? "text-bad" : view.secure ? "text-ok" : ""}`}
          >
            <Amount value={view.margin} />
          </div>
        </div>
        <div class="field">
          <div class="label">Operators to control</div>
          <div class="value num">{groupInt(view.operatorsToControl)}</div>
        </div>
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
  kindOf?: (entry: T) => string;
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
