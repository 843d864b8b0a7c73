/** One device: who holds it, what it runs, whether to trust it, and what backs it. */
import type { AttestationEntry, DevicePage, IncidentEntry } from "../../../src/console/api.js";
import {
  Age,
  Amount,
  Badge,
  Empty,
  FeedValue,
  Field,
  GradeBadge,
  Id,
  StatusBadge,
  VerdictBadge,
  groupInt,
  short,
  shortIds,
  verdictTone,
} from "../format.js";
import { useApi } from "../live.js";
import {
  CoveragePanel,
  Firmware,
  Hero,
  LoadedView,
  Panel,
  TablePanel,
  TimelinePanel,
  TrustColumn,
  makerName,
} from "./shared.js";
import { ageColumn, amountColumn, blockColumn, idColumn, type Column } from "./table.js";

const ATTESTATION_COLUMNS: readonly Column<AttestationEntry>[] = [
  blockColumn((a) => a.block),
  ageColumn("Indexed", (a) => a.time),
  ageColumn("Evidence time", (a) => a.evidenceTime),
  {
    head: "Firmware",
    cell: (a) => <code class="ver">{a.firmwareVersion ?? `#${a.firmwareId}`}</code>,
  },
  { head: "Boot count", class: "r", cellClass: "r num", cell: (a) => groupInt(a.bootCount) },
];

const INCIDENT_COLUMNS: readonly Column<IncidentEntry>[] = [
  ageColumn("When", (incident) => incident.time),
  { head: "Kind", cell: (incident) => <Badge tone="bad">{incident.kind}</Badge> },
  idColumn("Incident", (incident) => incident.incident),
  amountColumn("Slashed", (incident) => incident.slashed),
  idColumn("Beneficiary", (incident) => incident.beneficiary),
  blockColumn((incident) => incident.block),
  idColumn("Tx", (incident) => incident.tx),
];

export function DeviceView({ id }: { id: string }) {
  const state = useApi("device", `/${encodeURIComponent(id)}`);
  return (
    <LoadedView name="device" state={state} what={`device ${short(id)}`}>
      {(page) => <Device page={page} />}
    </LoadedView>
  );
}

function Device({ page }: { page: DevicePage }) {
  const row = page.row;
  const names = new Map(row.lastReadings.map((r) => [r.feed.toLowerCase(), r.feedName]));
  return (
    <>
      <Hero
        tone={verdictTone(row.verdict)}
        up={{ href: "#/fleet", label: "Fleet" }}
        kind="device"
        title={row.deviceId}
        mono
        testid="device-id"
        badges={
          <>
            <StatusBadge status={row.status} />
            <VerdictBadge verdict={row.verdict} why={row.why} />
            <GradeBadge rating={row.rating} />
            {row.incidents > 0 ? (
              <Badge tone="bad">
                {row.incidents} incident{row.incidents === 1 ? "" : "s"}
              </Badge>
            ) : null}
          </>
        }
        why={
          row.why === "" ? null : (
            <p class="why-line" title={row.why}>
              {shortIds(row.why)}
            </p>
          )
        }
      />

      <div class="fields wide">
        <Field label="Operator">
          <Id id={row.operator} />
        </Field>
        <Field label="Maker / model">
          {makerName(row)} <span class="muted">· model {row.model}</span>
        </Field>
        <Field label="Firmware">
          <Firmware row={row} />
        </Field>
        <Field label="Key type">{page.keyType}</Field>
        <Field label="Last attested">
          <Age time={row.attestedAt} />
        </Field>
        <Field label="Stake">
          <Amount value={row.stake} />
        </Field>
        <Field label="Pending withdrawal">
          <Amount value={row.pendingWithdrawal} zero="none" />
        </Field>
      </div>

      <div class="columns">
        <div class="column">
          <TimelinePanel
            title="Custody chain"
            entries={page.custody}
            testid="custody"
            attribute="data-event"
            empty="No custody events indexed."
          />
          <Panel title="Feeds" extra={`${page.feeds.length}`}>
            {page.feeds.length === 0 ? (
              <Empty>This device is a member of no feed.</Empty>
            ) : (
              <ul class="links" data-testid="device-feeds">
                {page.feeds.map((feed) => {
                  const reading = row.lastReadings.find(
                    (r) => r.feed.toLowerCase() === feed.toLowerCase(),
                  );
                  return (
                    <li key={feed}>
                      <a href={`#/feed/${feed}`} title={feed}>
                        {names.get(feed.toLowerCase()) ?? short(feed)}
                      </a>
                      {reading === undefined ? (
                        <span class="muted"> · no reading yet</span>
                      ) : (
                        <span class="muted">
                          {" "}
                          · last <FeedValue
                            value={reading.value}
                            decimals={reading.decimals}
                          />{" "}
                          <Age time={reading.time} />
                        </span>
                      )}
                    </li>
                  );
                })}
              </ul>
            )}
          </Panel>
        </div>
        <TrustColumn
          rating={row.rating}
          security={page.security}
          securityNote={page.securityNote}
          what="device"
          testid="device-security"
        />
      </div>

      <TablePanel
        title="Attestations"
        rows={page.attestations}
        columns={ATTESTATION_COLUMNS}
        rowKey={(a) => `${a.block}-${a.bootCount}`}
        testid="attestations"
        empty="This device has never attested."
      />

      <TablePanel
        title="Incidents"
        rows={page.incidents}
        columns={INCIDENT_COLUMNS}
        rowKey={(incident) => incident.incident}
        rowAttributes={(incident) => ({ class: "row-bad", "data-incident": incident.incident })}
        testid="incidents"
        empty="No incidents: this device was never slashed."
      />

      <CoveragePanel policies={page.coverage} what="device" />
    </>
  );
}
