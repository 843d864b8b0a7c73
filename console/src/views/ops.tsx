/**
 * The services next to the chain (gateway, watchtower): up or not, and what they are doing, at a
 * glance; every raw figure below, folded.
 */
import type { ComponentChildren } from "preact";
import type { ServiceView } from "../../../src/console/api.js";
import { Badge, Empty, absolute, count, type Tone } from "../format.js";
import { useApi } from "../live.js";
import {
  Figures,
  healthReport,
  humanSeconds,
  labelWords,
  secondsAgo,
  type LabelCount,
  type ReasonRow,
  type Stage,
} from "../metrics.js";
import { gatewaySummary, watchtowerSummary, type RecoverySummary } from "../ops-figures.js";
import { LoadedView, Panel } from "./shared.js";

/** The services' figures move without the chain: the view asks for them this often too. */
const POLL_MS = 2000;

export function OpsView() {
  const state = useApi("ops", "", false, POLL_MS);
  return (
    <LoadedView
      name="ops"
      title="Ops"
      head={
        <span class="muted small">gateway and watchtower, refreshed every {POLL_MS / 1000} s</span>
      }
      state={state}
      what="the services"
    >
      {(page) =>
        page.services.length === 0 ? (
          <Empty>
            No gateway or watchtower URL was given: start the console with --gateway/--watchtower.
          </Empty>
        ) : (
          <div class="services">
            {page.services.map((service) => (
              <Service key={`${service.name}-${service.url}`} service={service} />
            ))}
          </div>
        )
      }
    </LoadedView>
  );
}

// ------------------------------------------------------------------ formatting

const RATE = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
const RATE_LARGE = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
const FIGURE = new Intl.NumberFormat("en-US", { maximumFractionDigits: 3 });

/** 0.25, 3.5, 12.3, 1,204.5 (per second). */
function perSecond(value: number): string {
  return (value < 10 ? RATE : RATE_LARGE).format(value);
}

/** A count, or "—" when the service did not give it. */
function n(value: number | undefined): string {
  return value === undefined ? "—" : count(value);
}

/** "98% of received" (nothing when the whole is 0 or unknown). */
function share(part: number | undefined, whole: number | undefined, of: string): string | null {
  if (part === undefined || whole === undefined || whole === 0) return null;
  const percent = (part / whole) * 100;
  // Never "100%" for a part that is not the whole.
  const text = part !== whole && percent >= 99.5 ? ">99" : String(Math.round(percent));
  return `${text}% of ${of}`;
}

/** ok when 0, `tone` when more (unknown: no tone). */
function zeroOk(value: number | undefined, tone: Tone = "warn"): Tone | undefined {
  if (value === undefined) return undefined;
  return value === 0 ? "ok" : tone;
}

// ------------------------------------------------------------------ pieces

/** A headline figure: a label, a big value (its unit beside it), a line under it. */
function Figure({
  label,
  value,
  unit,
  sub,
  tone,
  title,
  testid,
}: {
  label: string;
  value: ComponentChildren;
  unit?: string;
  sub?: ComponentChildren;
  tone?: Tone | undefined;
  title?: string;
  testid?: string;
}) {
  return (
    <div
      class={`card stat ops-card${tone === undefined ? "" : ` ${tone}`}`}
      title={title}
      data-testid={testid}
    >
      <span class="card-label">{label}</span>
      <span class={`ops-value${tone === "bad" || tone === "warn" ? ` text-${tone}` : ""}`}>
        {value}
        {unit === undefined ? null : <span class="unit"> {unit}</span>}
      </span>
      {sub === undefined || sub === null ? null : <span class="card-sub">{sub}</span>}
    </div>
  );
}

/** A small figure in a row of them (an outcome, a total). */
function Tally({
  label,
  value,
  tone,
  title,
  sub,
}: {
  label: string;
  value: number | undefined;
  tone?: Tone | undefined;
  title?: string;
  sub?: string | null;
}) {
  return (
    <div class={`tally${tone === undefined ? "" : ` ${tone}`}`} title={title}>
      <span class="tally-value">{n(value)}</span>
      <span class="tally-label">{label}</span>
      {sub === undefined || sub === null ? null : <span class="tally-sub">{sub}</span>}
    </div>
  );
}

function Section({
  title,
  extra,
  children,
  testid,
}: {
  title: string;
  extra?: ComponentChildren;
  children: ComponentChildren;
  testid?: string;
}) {
  return (
    <section class="ops-section" data-testid={testid}>
      <h3>
        {title}
        {extra === undefined ? null : <span class="ops-section-extra">{extra}</span>}
      </h3>
      {children}
    </section>
  );
}

/** A bar as long as `value` against `max`. */
function Bar({ value, max, tone }: { value: number; max: number; tone: Tone }) {
  const width = max <= 0 ? 0 : Math.max(2, Math.round((value / max) * 100));
  return (
    <span class="share-bar" aria-hidden="true">
      <span class={tone} style={{ width: `${width}%` }} />
    </span>
  );
}

interface CountRow {
  readonly label: string;
  readonly count: number;
  readonly key: string;
  readonly tone: Tone;
  readonly what?: ComponentChildren;
  readonly title?: string | undefined;
}

/** Label → count, largest first, with a bar each; `what` in a middle column when any row has one. */
function CountTable({
  rows,
  testid,
  head,
  whatHead,
}: {
  rows: readonly CountRow[];
  testid: string;
  head: string;
  whatHead?: string;
}) {
  const max = Math.max(0, ...rows.map((r) => r.count));
  const total = rows.reduce((sum, r) => sum + r.count, 0);
  return (
    <table class="grid ops-table" data-testid={testid}>
      <thead>
        <tr>
          <th>{head}</th>
          {whatHead === undefined ? null : <th>{whatHead}</th>}
          <th class="r">Count</th>
          <th class="bar-cell">Share</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.key} data-label={row.label}>
            <td title={row.title ?? row.key}>{labelWords(row.label)}</td>
            {whatHead === undefined ? null : <td>{row.what}</td>}
            <td
              class={`r num${row.tone === "bad" || row.tone === "warn" ? ` text-${row.tone}` : ""}`}
            >
              {count(row.count)}
            </td>
            <td
              class="bar-cell"
              title={total === 0 ? undefined : `${String(Math.round((row.count / total) * 100))}%`}
            >
              <Bar value={row.count} max={max} tone={row.tone} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// ------------------------------------------------------------------ a service

function healthOf(service: ServiceView): { tone: Tone; label: string } {
  if (service.healthy === null) return { tone: "bad", label: "unreachable" };
  return service.healthy ? { tone: "ok", label: "healthy" } : { tone: "warn", label: "unhealthy" };
}

function Service({ service }: { service: ServiceView }) {
  const health = healthOf(service);
  // Read the figures now (not in a child component), so the raw table knows which ones it shows above.
  const figures = new Figures(service.figures);
  const hasFigures = Object.keys(service.figures).length > 0;
  const body = !hasFigures
    ? null
    : service.name === "gateway"
      ? renderGateway(figures)
      : renderWatchtower(figures);
  return (
    <Panel
      title={service.name}
      extra={<Badge tone={health.tone}>{health.label}</Badge>}
      class={`service service-${health.tone}`}
      testid={`service-${service.name}`}
      data={{ "data-health": health.label }}
    >
      <div class="muted small service-url">
        <code>{service.url}</code>
      </div>
      {service.error === null ? null : <ServiceProblem service={service} tone={health.tone} />}
      {body}
      {hasFigures ? (
        <AllFigures figures={figures} />
      ) : (
        <Empty>No figures: the console could not read this service.</Empty>
      )}
    </Panel>
  );
}

/** Why the service is unreachable or unhealthy, big: what failed, in its own words. */
function ServiceProblem({ service, tone }: { service: ServiceView; tone: Tone }) {
  const error = service.error ?? "";
  const report = service.healthy === null ? null : healthReport(error);
  const headline =
    service.healthy === null
      ? `The ${service.name} does not answer`
      : `The ${service.name} reports itself unavailable`;
  return (
    <div class={`service-problem ${tone}`} role="alert" data-testid="service-error">
      <strong>{headline}</strong>
      {report === null || report.problems.length === 0 ? (
        <div class="service-problem-text">{error}</div>
      ) : (
        <>
          <ul>
            {report.problems.map((problem) => (
              <li key={problem}>{problem}</li>
            ))}
          </ul>
          <div class="muted small" title={error}>
            /health answered {report.status}
          </div>
        </>
      )}
    </div>
  );
}

/** Every figure the service gave, folded; the ones summarized above dimmed. */
function AllFigures({ figures }: { figures: Figures }) {
  const rows = Object.entries(figures.raw).sort(([a], [b]) => a.localeCompare(b));
  const left = rows.filter(([key]) => !figures.used(key)).length;
  return (
    <details class="all-figures">
      <summary>
        All figures <span class="muted">· {rows.length}</span>
        {left === 0 ? null : <span class="muted"> · {left} not shown above</span>}
      </summary>
      <table class="grid figures">
        <tbody>
          {rows.map(([name, value]) => (
            <tr key={name} class={figures.used(name) ? "row-dim" : ""}>
              <td>
                <code class="metric">{name}</code>
              </td>
              <td class="r num">{FIGURE.format(value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

// ------------------------------------------------------------------ gateway

/** What each intake reason (gateway RejectReason) and feed refusal (IDeviceFeed.Rejection) means. */
const REASONS: Readonly<Record<string, string>> = {
  bad_topic: "the MQTT topic is not one the gateway reads",
  malformed: "the payload could not be decoded",
  topic_mismatch: "the topic does not match the payload's device or feed",
  invalid_signature: "the signature does not verify",
  old_key: "signed with a key the device rotated away from (evidence for the watchtower)",
  unknown_key: "no registered device holds or held the signing key",
  wrong_device: "signed with another device's key",
  conflict: "a different reading for a sequence already stored (an equivocation)",
  bad_batch: "the batch's count, sequence or time range does not match its readings",
  bad_root: "the readings' Merkle root is not the signed one",
  overlap: "the batch does not start after the device's last accepted batch",
  future_timestamp: "dated beyond the allowed clock skew",
  oversize: "a payload above its topic kind's limit",
  rate_limited: "beyond the device's rate",
  not_member: "a reading for a feed the device is not a member of",
  inactive_device: "the device is suspended, revoked or decommissioned",
  stale: "older than the retention window",
  error: "the gateway failed to handle it",
  NotMember: "the device is not a member of the feed",
  WrongFeed: "the reading names another feed",
  InvalidSignature: "the feed could not verify the signature",
  Untrusted: "the device is not trusted (its attestation)",
  Unstaked: "the device's operator has too little stake",
  SequenceNotIncreasing: "not after the member's last accepted reading",
  Stale: "too old for the feed",
  FutureTimestamp: "dated in the feed's future",
  OutOfBounds: "outside the range declared for the device's model",
  Quarantined: "the member is quarantined: readmit it after a re-attestation",
  NoOutcome: "the transaction gave no outcome for it",
};

function reasonTitle(row: ReasonRow): string {
  const [head = "", anomaly] = row.label.split(":");
  const meaning =
    head === "MemberQuarantined" && anomaly !== undefined
      ? `the reading quarantined its member (${anomaly}): its operator must re-attest and readmit it`
      : REASONS[row.label];
  return meaning === undefined ? row.key : `${meaning}\n${row.key}`;
}

function lagTone(lag: number | undefined): Tone | undefined {
  if (lag === undefined) return undefined;
  if (lag >= 300) return "bad";
  if (lag >= 30) return "warn";
  return "ok";
}

function renderGateway(figures: Figures) {
  const g = gatewaySummary(figures);
  const turnedAway = g.rejected + g.refused;
  const retried = g.submitErrors.find((e) => e.label === "retried")?.count;
  const finalErrors = g.submitErrors.find((e) => e.label === "rejected")?.count;
  const hasBatches =
    (g.batchesVerified ?? 0) > 0 || (g.batchesAnchored ?? 0) > 0 || (g.batchQueue ?? 0) > 0;
  const rateSub =
    g.verifiedRate === undefined ? (
      "rates from the next poll"
    ) : (
      <>
        {g.submittedRate === undefined ? "—" : perSecond(g.submittedRate)}/s submitted ·{" "}
        {g.receivedRate === undefined ? "—" : perSecond(g.receivedRate)}/s received
      </>
    );
  return (
    <>
      <div class="cards ops-cards four">
        <Figure
          label="Throughput"
          value={g.verifiedRate === undefined ? "—" : perSecond(g.verifiedRate)}
          unit="/s verified"
          sub={rateSub}
          tone="info"
          title="Readings verified per second, and readings the feeds accepted per second, between the console's last two probes of the gateway"
          testid="gateway-throughput"
        />
        <Figure
          label="Queue"
          value={n(g.queue)}
          unit={g.queue === 1 ? "reading" : "readings"}
          sub={
            g.batchQueue === undefined
              ? "waiting for submission"
              : `+ ${count(g.batchQueue)} batch${g.batchQueue === 1 ? "" : "es"} to anchor`
          }
          tone={g.queue === undefined ? undefined : g.queue === 0 ? "ok" : lagTone(g.lag)}
          title="Accepted readings waiting for submission (gateway_queue_depth), batches waiting to be anchored (gateway_batch_queue_depth)"
          testid="gateway-queue"
        />
        <Figure
          label="Lag"
          value={g.lag === undefined ? "—" : humanSeconds(g.lag)}
          sub={g.lag === 0 ? "nothing waiting" : "oldest reading not yet submitted"}
          tone={lagTone(g.lag)}
          title="Age of the oldest accepted reading not yet submitted (gateway_lag_seconds): amber from 30 s, red from 5 min"
          testid="gateway-lag"
        />
        <Figure
          label="Turned away"
          value={count(turnedAway)}
          unit={turnedAway === 1 ? "reading" : "readings"}
          sub={`${count(g.rejected)} rejected at intake · ${count(g.refused)} refused by feeds`}
          tone={zeroOk(turnedAway)}
          testid="gateway-turned-away"
        />
      </div>

      <Section title="Pipeline" extra="since the gateway started">
        <div class="tallies">
          <Tally label="received" value={g.received} title="MQTT messages received" />
          <Tally
            label="verified"
            value={g.verified}
            sub={share(g.verified, g.received, "received")}
            title="Readings verified and stored (accepted)"
          />
          <Tally
            label="submitted"
            value={g.submitted}
            tone={g.submitted === undefined ? undefined : "ok"}
            sub={share(g.submitted, g.verified, "verified")}
            title="Readings the feeds accepted (ReadingAccepted)"
          />
          <Tally
            label="duplicates"
            value={g.duplicates}
            title="Readings already stored (redeliveries, replays): dropped, harmless"
          />
          <Tally
            label="submit errors"
            value={(retried ?? 0) + (finalErrors ?? 0)}
            tone={(finalErrors ?? 0) > 0 ? "bad" : (retried ?? 0) > 0 ? "warn" : undefined}
            sub={`${count(retried ?? 0)} retried · ${count(finalErrors ?? 0)} final`}
            title="Failed submissions: retried (transient) or rejected for good (gateway_submit_errors_total)"
          />
          {hasBatches ? (
            <Tally
              label="batches anchored"
              value={g.batchesAnchored}
              sub={`of ${n(g.batchesVerified)} verified`}
              title="Batch roots anchored on chain, of the device-signed batches verified"
            />
          ) : null}
        </div>
      </Section>

      <Section
        title="Rejected and refused by reason"
        extra={g.reasons.length === 0 ? undefined : `${count(turnedAway)} in all`}
        testid="gateway-reasons"
      >
        {g.reasons.length === 0 ? (
          <Empty>Nothing rejected or refused.</Empty>
        ) : (
          <CountTable
            testid="reasons"
            head="Reason"
            whatHead="Where"
            rows={reasonCountRows(g.reasons, READING_STAGES, reasonTitle)}
          />
        )}
      </Section>

      {g.quarantines.length === 0 && g.trips.length === 0 ? null : (
        <Section title="Feed events" extra="seen in submissions" testid="gateway-feed-events">
          <CountTable
            testid="feed-events"
            head="Event"
            whatHead="Kind"
            rows={[
              ...g.trips.map((row) => feedEvent(row, "trip")),
              ...g.quarantines.map((row) => feedEvent(row, "quarantine")),
            ]}
          />
        </Section>
      )}

      {g.recovery === null ? null : <KeyRecoveries recovery={g.recovery} />}
    </>
  );
}

/** What a reason row's badge says of where it was turned away, and its title. */
type Stages = Readonly<Record<Stage, { readonly words: string; readonly title: string }>>;

const READING_STAGES: Stages = {
  rejected: {
    words: "rejected at intake",
    title: "Dropped by the gateway before submission (gateway_rejected_total)",
  },
  refused: {
    words: "refused by the feed",
    title: "Sent to its feed, which did not accept it (gateway_refused_total)",
  },
};

/** Reasons (reasonRows) as a CountTable's rows: rejected amber, refused red, a badge saying where. */
function reasonCountRows(
  rows: readonly ReasonRow[],
  stages: Stages,
  title: (row: ReasonRow) => string,
): CountRow[] {
  return rows.map((row) => {
    const tone: Tone = row.stage === "refused" ? "bad" : "warn";
    const stage = stages[row.stage];
    return {
      label: row.label,
      count: row.count,
      key: row.key,
      tone,
      title: title(row),
      what: (
        <Badge tone={tone} title={stage.title}>
          {stage.words}
        </Badge>
      ),
    };
  });
}

function feedEvent(row: LabelCount, kind: "trip" | "quarantine"): CountRow {
  return {
    label: row.label,
    count: row.count,
    key: row.key,
    tone: kind === "trip" ? "bad" : "warn",
    title:
      kind === "trip"
        ? `A feed-wide circuit breaker trip (${row.label}): a guardian must reset the feed\n${row.key}`
        : `A member quarantined by its own reading (${row.label}): its operator must re-attest and readmit it\n${row.key}`,
    what: (
      <Badge tone={kind === "trip" ? "bad" : "warn"}>
        {kind === "trip" ? "feed tripped" : "member quarantined"}
      </Badge>
    ),
  };
}

// ------------------------------------------------------------------ gateway: key recoveries

const RECOVERY_STAGES: Stages = {
  rejected: {
    words: "rejected at intake",
    title: "Dropped by the gateway before the chain (gateway_recovery_rejected_total)",
  },
  refused: {
    words: "refused by the chain",
    title:
      "Verified, sent to PqKeyRecovery, which reverted with this error (gateway_recovery_refused_total)",
  },
};

/** What each recovery reject reason (recovery-intake.ts's RecoveryRejectReason) means. */
const RECOVERY_REASONS: Readonly<Record<string, string>> = {
  Expired: "its deadline passed: the device signs a new request",
  NotCommitted: "the device never committed to a post-quantum key",
  SchemeMismatch: "signed with another scheme than the committed key's",
  WrongPqKey: "the post-quantum key is not the one the device committed to",
  StaleNonce: "signed for another nonce than the committed key's next",
  InvalidPqSignature: "the post-quantum signature of RecoverKey does not verify",
  StaleRegistryNonce: "the new key signed another registry nonce than the device's",
  InvalidNewKeySignature: "the new key did not sign RotateKey (no proof of possession)",
  malformed: "the request could not be decoded",
  oversize: "above the gateway's size limit for requests",
  topic_mismatch: "the topic names another device than the request",
  rate_limited: "beyond the device's allowance of recovery requests",
  recovery_off: "this gateway runs without --pq-key-recovery",
  reverted: "the transaction reverted without a custom error",
};

function recoveryReasonTitle(row: ReasonRow): string {
  const meaning =
    RECOVERY_REASONS[row.label] ??
    (row.stage === "refused" ? "the chain's custom error, decoded" : undefined);
  return meaning === undefined ? row.key : `${meaning}\n${row.key}`;
}

const SCHEMES: Readonly<Record<string, string>> = {
  lms: "LMS",
  "ml-dsa-44": "ML-DSA-44",
  unknown: "not parsed",
};

/** "5 requests · LMS 3 · ML-DSA-44 2". */
function recoveryExtra(r: RecoverySummary): string {
  const schemes = r.schemes
    .filter((s) => s.count > 0)
    .map((s) => `${SCHEMES[s.label] ?? s.label} ${count(s.count)}`);
  return [`${count(r.requests)} request${r.requests === 1 ? "" : "s"}`, ...schemes].join(" · ");
}

/**
 * The gateway's post-quantum key recovery requests since it started: what became of them, and why
 * some did not go through; "off" alone for a gateway without --pq-key-recovery that dropped some.
 */
function KeyRecoveries({ recovery: r }: { recovery: RecoverySummary }) {
  const o = r.outcomes;
  if (r.off > 0 && r.off === r.requests) {
    return (
      <Section
        title="Key recoveries"
        extra={<Badge tone="muted">off</Badge>}
        testid="gateway-key-recoveries"
      >
        <div class="muted small" data-state="off">
          This gateway runs without --pq-key-recovery: it dropped {count(r.off)} recovery request
          {r.off === 1 ? "" : "s"} (recovery_off). Start it with --pq-key-recovery to take them.
        </div>
      </Section>
    );
  }
  return (
    <Section title="Key recoveries" extra={recoveryExtra(r)} testid="gateway-key-recoveries">
      <div class="tallies">
        <Tally
          label="recovered on chain"
          value={o.recovered}
          tone={o.recovered > 0 ? "ok" : undefined}
          title="LMS requests whose recoverKey transaction was mined: the device signs with its new key"
        />
        <Tally
          label="recorded for governance"
          value={o.recorded}
          title="ML-DSA-44 requests verified off chain and recorded: a KEY_RECOVERY_ROLE holder applies them (the gateway's GET /recoveries)"
        />
        <Tally
          label="refused by the chain"
          value={o.refused}
          tone={zeroOk(o.refused, "bad")}
          title="LMS requests verified, then refused by PqKeyRecovery (reasons below)"
        />
        <Tally
          label="rejected"
          value={o.rejected}
          tone={zeroOk(o.rejected)}
          title="Dropped before the chain (reasons below)"
        />
        <Tally
          label="duplicates"
          value={o.duplicate}
          title="Requests handled before (redeliveries, replays): dropped, harmless"
        />
        {o.error === 0 ? null : (
          <Tally
            label="errors"
            value={o.error}
            tone="bad"
            title="The chain could not be asked: not acknowledged, the broker redelivers them"
          />
        )}
        {o.other.map((other) => (
          <Tally
            key={other.key}
            label={labelWords(other.label)}
            value={other.count}
            title={other.key}
          />
        ))}
      </div>
      {r.reasons.length === 0 ? null : (
        <CountTable
          testid="key-recovery-reasons"
          head="Reason"
          whatHead="Where"
          rows={reasonCountRows(r.reasons, RECOVERY_STAGES, recoveryReasonTitle)}
        />
      )}
    </Section>
  );
}

// ------------------------------------------------------------------ watchtower

/** The tone of what the watchtower did with a message (or a batch). */
function resultTone(result: string): Tone {
  switch (result) {
    case "stored":
      return "ok";
    case "duplicate":
      return "muted";
    case "conflict":
    case "invalid_signature":
    case "wrong_device":
    case "error":
      return "bad";
    default:
      return "warn";
  }
}

const RESULTS: Readonly<Record<string, string>> = {
  stored: "kept as evidence",
  duplicate: "already stored",
  conflict: "contradicts a stored reading: an equivocation",
  invalid_signature: "the signature does not verify",
  wrong_device: "signed with another device's key",
  unknown_device: "no registered device has the key",
  retired_key: "signed by a key a rotation retired (kept as evidence of a leaked key)",
  malformed: "could not be decoded",
  bad_batch: "the batch does not match its readings",
  bad_root: "the readings' Merkle root is not the signed one",
  error: "the watchtower failed to handle it",
};

function resultRows(rows: readonly LabelCount[]): CountRow[] {
  return rows.map((row) => ({
    label: row.label,
    count: row.count,
    key: row.key,
    tone: resultTone(row.label),
    title: RESULTS[row.label] === undefined ? row.key : `${RESULTS[row.label] ?? ""}\n${row.key}`,
  }));
}

function renderWatchtower(figures: Figures) {
  const w = watchtowerSummary(figures);
  const now = Date.now() / 1000;
  const last = w.lastMessage === undefined || w.lastMessage === 0 ? undefined : w.lastMessage;
  const stored = w.messages.find((m) => m.label === "stored")?.count;
  const proofs = w.proofs;
  return (
    <>
      <div class="cards ops-cards three">
        <Figure
          label="Last message"
          value={last === undefined ? "never" : secondsAgo(last, now)}
          sub={
            last === undefined ? (
              "no signed message yet"
            ) : (
              <time dateTime={new Date(last * 1000).toISOString()}>{clock(last)}</time>
            )
          }
          {...(last === undefined ? {} : { title: absolute(Math.floor(last)) })}
          testid="watchtower-last-message"
        />
        <Figure
          label="Messages"
          value={w.messageRate === undefined ? "—" : perSecond(w.messageRate)}
          unit="/s"
          sub={
            w.messageTotal === undefined
              ? "none yet"
              : `${count(w.messageTotal)} in all · ${n(stored ?? 0)} stored`
          }
          tone="info"
          title="Signed messages received per second between the console's last two probes of the watchtower, and in all"
        />
        <Figure
          label="Proofs pending"
          value={n(w.pendingProofs)}
          sub="found, not yet proven on chain"
          tone={zeroOk(w.pendingProofs)}
          testid="watchtower-pending"
        />
        <Figure
          label="Equivocations seen"
          value={n(w.equivocations)}
          sub={
            (w.batchEquivocations ?? 0) > 0
              ? `${count(w.batchEquivocations ?? 0)} inside batches`
              : "two readings for one sequence"
          }
          tone={zeroOk(w.equivocations, "bad")}
          title="A device signed two different readings for one feed and sequence (watchtower_equivocations_total)"
        />
        <Figure
          label="Out of bounds seen"
          value={n(w.outOfBounds)}
          sub={
            (w.batchOutOfBounds ?? 0) > 0
              ? `${count(w.batchOutOfBounds ?? 0)} inside batches`
              : "outside the model's range"
          }
          tone={zeroOk(w.outOfBounds, "bad")}
          title="Signed readings outside the range declared for the device's model (watchtower_out_of_bounds_total)"
        />
        <Figure
          label="Evidence"
          value={n(w.readings)}
          unit={w.readings === 1 ? "reading" : "readings"}
          sub="in the watchtower's store"
        />
      </div>

      <Section title="Fraud proofs" extra="since the watchtower started" testid="watchtower-proofs">
        <div class="tallies">
          <Tally
            label="submitted"
            value={proofs.submitted}
            tone={proofs.submitted > 0 ? "ok" : undefined}
            title="Proofs the chain took: the device was slashed"
          />
          <Tally
            label="already proven"
            value={proofs.alreadyProven}
            title="Someone proved it first: nothing to do"
          />
          <Tally
            label="rejected"
            value={proofs.rejected}
            tone={zeroOk(proofs.rejected, "bad")}
            title="The chain refused the proof"
          />
          <Tally
            label="failed"
            value={proofs.failed}
            tone={zeroOk(proofs.failed, "bad")}
            title="Gave up after the retries"
          />
          <Tally
            label="retried"
            value={proofs.retried}
            tone={proofs.retried > 0 ? "warn" : undefined}
            title="Transient failures, tried again"
          />
          <Tally
            label="key retired"
            value={proofs.keyRetired}
            tone={proofs.keyRetired > 0 ? "warn" : undefined}
            title="Not sent: a key of its evidence was rotated out by then"
          />
          {proofs.other.map((other) => (
            <Tally
              key={other.key}
              label={labelWords(other.label)}
              value={other.count}
              title={other.key}
            />
          ))}
        </div>
      </Section>

      <Section
        title="Messages by result"
        extra={w.messageTotal === undefined ? undefined : `${count(w.messageTotal)} in all`}
        testid="watchtower-messages"
      >
        {w.messages.length === 0 ? (
          <Empty>No signed message yet.</Empty>
        ) : (
          <CountTable testid="messages" head="Result" rows={resultRows(w.messages)} />
        )}
      </Section>

      {w.batches.length === 0 ? null : (
        <Section title="Batches by result" testid="watchtower-batches">
          <CountTable testid="batches" head="Result" rows={resultRows(w.batches)} />
        </Section>
      )}
    </>
  );
}

const CLOCK = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const CLOCK_DAY = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** The time of day, with the date when it is not today. */
function clock(time: number): string {
  const date = new Date(time * 1000);
  return (date.toDateString() === new Date().toDateString() ? CLOCK : CLOCK_DAY).format(date);
}
