/** One device: who holds it, what it runs, whether to trust it, and what backs it. */
import type { DevicePage } from "../../../src/console/api.js";
import {
  Age,
  Amount,
  Badge,
  Empty,
  FeedValue,
  Field,
  GradeBadge,
  Id,
  Loaded,
  StatusBadge,
  VerdictBadge,
  count,
  firmwareTone,
  groupInt,
  plural,
  short,
  shortIds,
  verdictTone,
} from "../format.js";
import { useApi } from "../live.js";
import { Panel, PoliciesTable, RatingPanel, SecurityReport, Timeline } from "./shared.js";

export function DeviceView({ id }: { id: string }) {
  const state = useApi("device", `/${encodeURIComponent(id)}`);
  return (
    <div class="view device">
      <Loaded state={state} what={`device ${short(id)}`}>
        {(page) => <Device page={page} />}
      </Loaded>
    </div>
  );
}

function Device({ page }: { page: DevicePage }) {
  const row = page.row;
  const names = new Map(row.lastReadings.map((r) => [r.feed.toLowerCase(), r.feedName]));
  return (
    <>
      <div class={`hero hero-${verdictTone(row.verdict)}`}>
        <div class="hero-main">
          <div class="crumbs">
            <a href="#/fleet">Fleet</a> › device
          </div>
          <h1 class="mono-title" data-testid="device-id">
            {row.deviceId}
          </h1>
          <div class="hero-badges">
            <StatusBadge status={row.status} />
            <VerdictBadge verdict={row.verdict} why={row.why} />
            <GradeBadge rating={row.rating} />
            {row.incidents > 0 ? (
              <Badge tone="bad">
                {row.incidents} incident{row.incidents === 1 ? "" : "s"}
              </Badge>
            ) : null}
          </div>
          {row.why === "" ? null : (
            <p class="why-line" title={row.why}>
              {shortIds(row.why)}
            </p>
          )}
        </div>
      </div>

      <div class="fields wide">
        <Field label="Operator">
          <Id id={row.operator} />
        </Field>
        <Field label="Maker / model">
          {row.makerName === "" ? `maker ${row.maker}` : row.makerName}{" "}
          <span class="muted">· model {row.model}</span>
        </Field>
        <Field label="Firmware">
          <code class="ver">
            {row.firmwareVersion ?? (row.firmwareId === 0 ? "—" : `#${row.firmwareId}`)}
          </code>{" "}
          {row.firmwareStatus === null ? null : (
            <Badge tone={firmwareTone(row.firmwareStatus)}>{row.firmwareStatus}</Badge>
          )}
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
          <Panel title="Custody chain" extra={plural(page.custody.length, "event")}>
            <Timeline entries={page.custody} testid="custody" attribute="data-event" />
            {page.custody.length === 0 ? <Empty>No custody events indexed.</Empty> : null}
          </Panel>
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
        <div class="column">
          <Panel title="Rating" extra={`${row.rating.score}/100`}>
            <RatingPanel rating={row.rating} />
          </Panel>
          <Panel title="Cost of corruption">
            {page.security === null ? (
              <Empty>
                {page.securityNote ?? "The console has no security report for this device."}
              </Empty>
            ) : (
              <SecurityReport view={page.security} testid="device-security" />
            )}
          </Panel>
        </div>
      </div>

      <Panel title="Attestations" extra={`${page.attestations.length}`}>
        {page.attestations.length === 0 ? (
          <Empty>This device has never attested.</Empty>
        ) : (
          <div class="table-wrap">
            <table class="grid" data-testid="attestations">
              <thead>
                <tr>
                  <th>Block</th>
                  <th>Indexed</th>
                  <th>Evidence time</th>
                  <th>Firmware</th>
                  <th class="r">Boot count</th>
                </tr>
              </thead>
              <tbody>
                {page.attestations.map((a) => (
                  <tr key={`${a.block}-${a.bootCount}`}>
                    <td class="num">#{count(a.block)}</td>
                    <td>
                      <Age time={a.time} />
                    </td>
                    <td>
                      <Age time={a.evidenceTime} />
                    </td>
                    <td>
                      <code class="ver">{a.firmwareVersion ?? `#${a.firmwareId}`}</code>
                    </td>
                    <td class="r num">{groupInt(a.bootCount)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Panel>

      <Panel title="Incidents" extra={`${page.incidents.length}`}>
        {page.incidents.length === 0 ? (
          <Empty>No incidents: this device was never slashed.</Empty>
        ) : (
          <div class="table-wrap">
            <table class="grid" data-testid="incidents">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Kind</th>
                  <th>Incident</th>
                  <th class="r">Slashed</th>
                  <th>Beneficiary</th>
                  <th>Block</th>
                  <th>Tx</th>
                </tr>
              </thead>
              <tbody>
                {page.incidents.map((incident) => (
                  <tr key={incident.incident} class="row-bad" data-incident={incident.incident}>
                    <td>
                      <Age time={incident.time} />
                    </td>
                    <td>
                      <Badge tone="bad">{incident.kind}</Badge>
                    </td>
                    <td>
                      <Id id={incident.incident} />
                    </td>
                    <td class="r">
                      <Amount value={incident.slashed} />
                    </td>
                    <td>
                      <Id id={incident.beneficiary} />
                    </td>
                    <td class="num">#{count(incident.block)}</td>
                    <td>
                      <Id id={incident.tx} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Panel>

      <Panel title="Coverage" extra={`${page.coverage.filter((p) => p.active).length} in force`}>
        <PoliciesTable
          policies={page.coverage}
          showTarget={false}
          testid="coverage"
          empty="No insurance policy covers this device."
        />
      </Panel>
    </>
  );
}
